"""User accounts and portfolios on PostgreSQL: users.py and portfolio.py dispatch here
(backends.per_backend) with the same validation, results and errors.

- create_user inserts with ON CONFLICT (email) DO NOTHING: a taken email (even one taken by a
  concurrent sign-up) is errors.DuplicateEmail, never a constraint error;
- timestamps are written as aware UTC instants and read back in the stored form (timeutil.iso);
- profile columns are named through psycopg.sql, from users.PROFILE_FIELDS only.
"""
import uuid
from datetime import timedelta

from r2w_db import config, errors
from r2w_db.backends.postgresql.operations import USER_EXISTS, USER_ROW, _now, _stored, stored_row, writing
from r2w_db.app.portfolio import _expires
from r2w_db.app.users import PROFILE_FIELDS, _required
from r2w_db.engine import timeutil
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.database import as_pg

NEW_USER = """
INSERT INTO users (user_id, email, password_hash, name, phone, created_at)
VALUES (%(user_id)s, %(email)s, %(password_hash)s, %(name)s, %(phone)s, %(now)s)
ON CONFLICT (email) DO NOTHING RETURNING user_id"""
USER_BY_EMAIL = "SELECT * FROM users WHERE email = %(email)s"
SET_PORTFOLIO = """
UPDATE users SET active_portfolio_id = %(portfolio_id)s, active_portfolio_url = %(portfolio_url)s,
    portfolio_created_at = %(created)s, portfolio_expires_at = %(expires)s
WHERE user_id = %(user_id)s"""
PORTFOLIO = ("SELECT active_portfolio_id, active_portfolio_url, portfolio_created_at,"
             " portfolio_expires_at FROM users WHERE user_id = %(user_id)s")
CLEAR_PORTFOLIO = """
UPDATE users SET active_portfolio_id = NULL, active_portfolio_url = NULL,
    portfolio_created_at = NULL, portfolio_expires_at = NULL
WHERE user_id = %(user_id)s"""


# ------------------------------------------------------------------------- users

def create_user(db, email, password_hash, name=None, phone=None) -> str:
    _required(email, "email")
    _required(password_hash, "password_hash")
    user_id = str(uuid.uuid4())
    with writing(db) as conn:
        if conn.execute(NEW_USER, {"user_id": user_id, "email": email,
                                   "password_hash": password_hash, "name": name,
                                   "phone": phone, "now": _now()}).fetchone() is None:
            raise errors.DuplicateEmail(email)
    return user_id


def _one(db, statement, params):
    from psycopg.rows import dict_row

    with as_pg(db).read() as conn:
        row = conn.cursor(row_factory=dict_row).execute(statement, params).fetchone()
    return stored_row(row) if row is not None else None


def get_user_by_email(db, email):
    return _one(db, USER_BY_EMAIL, {"email": email})


def get_user_by_id(db, user_id):
    return _one(db, USER_ROW, {"user_id": user_id})


def update_user_profile(db, user_id, name=None, phone=None, date_of_birth=None,
                        location=None) -> bool:
    from psycopg import sql

    given = zip(PROFILE_FIELDS, (name, phone, date_of_birth, location))
    changes = {col: value for col, value in given if value is not None}
    with writing(db) as conn:
        if not changes:
            return conn.execute(USER_EXISTS, {"user_id": user_id}).fetchone() is not None
        sets = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(identifier(col), sql.Placeholder(col)) for col in changes)
        statement = sql.SQL("UPDATE users SET {} WHERE user_id = {}").format(
            sets, sql.Placeholder("user_id"))
        return conn.execute(statement, {**changes, "user_id": user_id}).rowcount > 0


# --------------------------------------------------------------------- portfolio

def update_user_portfolio(db, user_id, portfolio_id, portfolio_url) -> bool:
    for value, what in ((portfolio_id, "portfolio_id"), (portfolio_url, "portfolio_url")):
        if not isinstance(value, str) or not value:
            raise errors.InvalidValue(f"{what} must be a non-empty string")
    now = _now()
    with writing(db) as conn:
        return conn.execute(SET_PORTFOLIO, {
            "portfolio_id": portfolio_id, "portfolio_url": portfolio_url, "created": now,
            "expires": now + timedelta(days=config.PORTFOLIO_DAYS), "user_id": user_id,
        }).rowcount > 0


def get_user_portfolio(db, user_id):
    """{portfolio_id, portfolio_url, created_at, expires_at, expired}, or None without one."""
    with as_pg(db).read() as conn:
        row = conn.execute(PORTFOLIO, {"user_id": user_id}).fetchone()
    if row is None or not row[0]:
        return None
    created_at, expires_at = _stored(row[2]), _stored(row[3])
    moment = _expires(created_at, expires_at)
    return {
        "portfolio_id": row[0],
        "portfolio_url": row[1],
        "created_at": created_at,
        "expires_at": expires_at,
        "expired": moment is None or moment <= timeutil.utcnow(),
    }


def clear_user_portfolio(db, user_id) -> bool:
    with writing(db) as conn:
        return conn.execute(CLEAR_PORTFOLIO, {"user_id": user_id}).rowcount > 0
