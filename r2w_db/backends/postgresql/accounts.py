"""Users, sign-in sessions and portfolios on PostgreSQL: the statements of app/users.py,
app/sessions.py and app/portfolio.py (which validate and shape), with SQLite's results.

- insert_user uses ON CONFLICT (email) DO NOTHING: a taken email (even one taken by a
  concurrent sign-up) is refused, never a constraint error;
- timestamps are written as aware UTC instants (ops.instant) and read back in the stored form
  (timeutil.iso), so a row looks the same on both backends;
- a session is active while created_at >= the cutoff (an instant comparison);
- profile columns are named through psycopg.sql;
- a writer held up past the 5 s lock (or statement) timeout, or chosen as a deadlock victim,
  raises errors.DatabaseLocked, as a write past SQLite's busy timeout does: these writes touch
  a row or two by key, so a statement cancelled after 5 s was waiting for another's lock.
"""
from contextlib import contextmanager
from datetime import datetime

from r2w_db import errors
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.ops import instant
from r2w_db.engine import timeutil

USER_EXISTS = "SELECT 1 FROM users WHERE user_id = %(user_id)s"
USER_ROW = "SELECT * FROM users WHERE user_id = %(user_id)s"
USER_BY_EMAIL = "SELECT * FROM users WHERE email = %(email)s"
NEW_USER = """
INSERT INTO users (user_id, email, password_hash, name, phone, created_at)
VALUES (%(user_id)s, %(email)s, %(password_hash)s, %(name)s, %(phone)s, %(now)s)
ON CONFLICT (email) DO NOTHING RETURNING user_id"""
NEW_SESSION = ("INSERT INTO sessions (session_id, user_id, created_at)"
               " VALUES (%(session_id)s, %(user_id)s, %(now)s)")
ACTIVE_SESSION_USER = ("SELECT user_id FROM sessions WHERE session_id = %(session_id)s"
                       " AND created_at >= %(session_cutoff)s")
DELETE_SESSION = "DELETE FROM sessions WHERE session_id = %(session_id)s"
SET_PORTFOLIO = """
UPDATE users SET active_portfolio_id = %(portfolio_id)s, active_portfolio_url = %(portfolio_url)s,
    portfolio_created_at = %(created)s, portfolio_expires_at = %(expires)s
WHERE user_id = %(user_id)s"""
PORTFOLIO = ("SELECT active_portfolio_id, active_portfolio_url, portfolio_created_at,"
             " portfolio_expires_at FROM users WHERE user_id = %(user_id)s")
# the profile columns given ({}: "col" = %(col)s, ...), composed by update_profile
PROFILE_UPDATE = "UPDATE users SET {} WHERE user_id = %(user_id)s"
CLEAR_PORTFOLIO = """
UPDATE users SET active_portfolio_id = NULL, active_portfolio_url = NULL,
    portfolio_created_at = NULL, portfolio_expires_at = NULL
WHERE user_id = %(user_id)s"""


@contextmanager
def write_transaction(db):
    """One write transaction; a wait past the lock or statement timeout is DatabaseLocked."""
    from psycopg import errors as pg_errors

    with db.write() as conn:
        try:
            yield conn
        except (pg_errors.LockNotAvailable, pg_errors.QueryCanceled, pg_errors.DeadlockDetected):
            raise errors.DatabaseLocked(db.display) from None


def _stored(value):
    """A value read from PostgreSQL in the form SQLite stores it (timestamps as timeutil.iso)."""
    return timeutil.iso(value) if isinstance(value, datetime) else value


def _stored_row(row):
    """A dict_row with every value in its stored form (None stays None)."""
    return {k: _stored(v) for k, v in row.items()} if row is not None else None


def _dicts(conn):
    from psycopg.rows import dict_row

    return conn.cursor(row_factory=dict_row)


# ------------------------------------------------------------------------- users

def user_exists(conn, user_id) -> bool:
    return conn.execute(USER_EXISTS, {"user_id": user_id}).fetchone() is not None


def insert_user(conn, user_id, email, password_hash, name, phone, now) -> bool:
    """Insert a user; False (nothing written) when the email is taken."""
    return conn.execute(NEW_USER, {"user_id": user_id, "email": email,
                                   "password_hash": password_hash, "name": name,
                                   "phone": phone, "now": instant(now)}).fetchone() is not None


def user_by_email(conn, email):
    return _stored_row(_dicts(conn).execute(USER_BY_EMAIL, {"email": email}).fetchone())


def user_by_id(conn, user_id):
    return _stored_row(_dicts(conn).execute(USER_ROW, {"user_id": user_id}).fetchone())


def update_profile(conn, user_id, changes) -> bool:
    """Set the columns of `changes` (profile columns only: users.PROFILE_FIELDS); True when the
    user exists."""
    from psycopg import sql

    sets = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(identifier(col), sql.Placeholder(col)) for col in changes)
    statement = sql.SQL(PROFILE_UPDATE).format(sets)
    return conn.execute(statement, {**changes, "user_id": user_id}).rowcount > 0


# ---------------------------------------------------------------------- sessions

def insert_session(conn, session_id, user_id, now):
    conn.execute(NEW_SESSION, {"session_id": session_id, "user_id": user_id, "now": instant(now)})


def active_session_user(conn, session_id, cutoff):
    """The session's user_id when it was created at or after `cutoff`, else None."""
    row = conn.execute(ACTIVE_SESSION_USER,
                       {"session_id": session_id, "session_cutoff": instant(cutoff)}).fetchone()
    return row[0] if row is not None else None


def delete_session(conn, session_id) -> bool:
    return conn.execute(DELETE_SESSION, {"session_id": session_id}).rowcount > 0


# --------------------------------------------------------------------- portfolio

def set_portfolio(conn, user_id, portfolio_id, portfolio_url, created, expires) -> bool:
    return conn.execute(SET_PORTFOLIO, {
        "portfolio_id": portfolio_id, "portfolio_url": portfolio_url,
        "created": instant(created), "expires": instant(expires), "user_id": user_id,
    }).rowcount > 0


def portfolio(conn, user_id):
    """(portfolio_id, portfolio_url, created_at, expires_at) in the stored form, or None."""
    row = conn.execute(PORTFOLIO, {"user_id": user_id}).fetchone()
    return tuple(_stored(value) for value in row) if row is not None else None


def clear_portfolio(conn, user_id) -> bool:
    return conn.execute(CLEAR_PORTFOLIO, {"user_id": user_id}).rowcount > 0
