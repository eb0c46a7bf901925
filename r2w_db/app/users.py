"""User accounts: create, look up, update the profile (the statements: db.backend.accounts)."""
import uuid

from r2w_db import errors
from r2w_db.backends import open_database
from r2w_db.engine import timeutil

PROFILE_FIELDS = ("name", "phone", "date_of_birth", "location")


def _required(value, what):
    if not isinstance(value, str) or not value.strip():
        raise errors.InvalidValue(f"{what} must be a non-empty string")


def create_user(db, email, password_hash, name=None, phone=None) -> str:
    """Insert a user and return its new uuid4 user_id; DuplicateEmail if the email is taken."""
    _required(email, "email")
    _required(password_hash, "password_hash")
    db = open_database(db)
    user_id = str(uuid.uuid4())
    with db.backend.accounts.write_transaction(db) as conn:
        if not db.backend.accounts.insert_user(conn, user_id, email, password_hash, name, phone,
                                               timeutil.utcnow()):
            raise errors.DuplicateEmail(email)
    return user_id


def get_user_by_email(db, email):
    """The users row as a dict (password_hash included, for sign-in), or None."""
    db = open_database(db)
    with db.read() as conn:
        return db.backend.accounts.user_by_email(conn, email)


def get_user_by_id(db, user_id):
    """The users row as a dict, or None."""
    db = open_database(db)
    with db.read() as conn:
        return db.backend.accounts.user_by_id(conn, user_id)


def update_user_profile(db, user_id, name=None, phone=None, date_of_birth=None,
                        location=None) -> bool:
    """Set the profile fields given (not None); True when the user exists."""
    given = zip(PROFILE_FIELDS, (name, phone, date_of_birth, location))
    changes = {col: value for col, value in given if value is not None}
    db = open_database(db)
    with db.backend.accounts.write_transaction(db) as conn:
        if not changes:
            return db.backend.accounts.user_exists(conn, user_id)
        return db.backend.accounts.update_profile(conn, user_id, changes)
