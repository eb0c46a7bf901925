"""User accounts: create, look up, update the profile."""
import uuid

from r2w_db import errors
from r2w_db.engine import timeutil
from r2w_db.backends.dispatch import per_backend
from r2w_db.backends.sqlite.connection import transaction
from r2w_db.backends.sqlite.database import as_database

PROFILE_FIELDS = ("name", "phone", "date_of_birth", "location")


def _required(value, what):
    if not isinstance(value, str) or not value.strip():
        raise errors.InvalidValue(f"{what} must be a non-empty string")


@per_backend("r2w_db.backends.postgresql.accounts")
def create_user(db, email, password_hash, name=None, phone=None) -> str:
    """Insert a user and return its new uuid4 user_id; DuplicateEmail if the email is taken."""
    _required(email, "email")
    _required(password_hash, "password_hash")
    user_id = str(uuid.uuid4())
    with as_database(db).write() as conn:
        with transaction(conn):
            if conn.execute("SELECT 1 FROM users WHERE email = ?", (email,)).fetchone():
                raise errors.DuplicateEmail(email)
            conn.execute(
                "INSERT INTO users (user_id, email, password_hash, name, phone, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, email, password_hash, name, phone, timeutil.now_iso()),
            )
    return user_id


def _one(db, sql, params):
    with as_database(db).read() as conn:
        row = conn.execute(sql, params).fetchone()
    return dict(row) if row is not None else None


@per_backend("r2w_db.backends.postgresql.accounts")
def get_user_by_email(db, email):
    """The users row as a dict (password_hash included, for sign-in), or None."""
    return _one(db, "SELECT * FROM users WHERE email = ?", (email,))


@per_backend("r2w_db.backends.postgresql.accounts")
def get_user_by_id(db, user_id):
    """The users row as a dict, or None."""
    return _one(db, "SELECT * FROM users WHERE user_id = ?", (user_id,))


@per_backend("r2w_db.backends.postgresql.accounts")
def update_user_profile(db, user_id, name=None, phone=None, date_of_birth=None,
                        location=None) -> bool:
    """Set the profile fields given (not None); True when the user exists."""
    given = {"name": name, "phone": phone, "date_of_birth": date_of_birth, "location": location}
    changes = [(col, value) for col, value in given.items() if value is not None]
    with as_database(db).write() as conn:
        with transaction(conn):
            if not changes:
                return conn.execute(
                    "SELECT 1 FROM users WHERE user_id = ?", (user_id,)).fetchone() is not None
            sets = ", ".join(f"{col} = ?" for col, _ in changes)  # columns from PROFILE_FIELDS only
            cur = conn.execute(f"UPDATE users SET {sets} WHERE user_id = ?",
                               (*(value for _, value in changes), user_id))
            return cur.rowcount > 0
