"""Users, sign-in sessions and portfolios on SQLite: the statements of app/users.py,
app/sessions.py and app/portfolio.py (which validate and shape). Timestamps are stored as
naive UTC ISO text (ops.instant); a session is active while its created_at, read as an instant
(julianday), is at or after the cutoff, so an unreadable time is never active."""
from r2w_db.backends.sqlite.ops import instant


def write_transaction(db):
    """One BEGIN IMMEDIATE transaction of an application write; a wait past the busy timeout
    is errors.DatabaseLocked (the connection's translation)."""
    return db.transaction()


def _dict(row):
    return dict(row) if row is not None else None


# ------------------------------------------------------------------------- users

def user_exists(conn, user_id) -> bool:
    return conn.execute("SELECT 1 FROM users WHERE user_id = ?", (user_id,)).fetchone() is not None


def insert_user(conn, user_id, email, password_hash, name, phone, now) -> bool:
    """Insert a user; False (nothing written) when the email is taken."""
    if conn.execute("SELECT 1 FROM users WHERE email = ?", (email,)).fetchone():
        return False
    conn.execute(
        "INSERT INTO users (user_id, email, password_hash, name, phone, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (user_id, email, password_hash, name, phone, instant(now)),
    )
    return True


def user_by_email(conn, email):
    return _dict(conn.execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone())


def user_by_id(conn, user_id):
    return _dict(conn.execute("SELECT * FROM users WHERE user_id = ?", (user_id,)).fetchone())


def update_profile(conn, user_id, changes) -> bool:
    """Set the columns of `changes` (profile columns only: users.PROFILE_FIELDS); True when the
    user exists."""
    sets = ", ".join(f"{col} = ?" for col in changes)
    return conn.execute(f"UPDATE users SET {sets} WHERE user_id = ?",
                        (*changes.values(), user_id)).rowcount > 0


# ---------------------------------------------------------------------- sessions

def insert_session(conn, session_id, user_id, now):
    conn.execute("INSERT INTO sessions (session_id, user_id, created_at) VALUES (?, ?, ?)",
                 (session_id, user_id, instant(now)))


def active_session_user(conn, session_id, cutoff):
    """The session's user_id when it was created at or after `cutoff`, else None."""
    row = conn.execute(
        "SELECT user_id FROM sessions WHERE session_id = ?"
        " AND julianday(created_at) >= julianday(?)",
        (session_id, instant(cutoff)),
    ).fetchone()
    return row[0] if row is not None else None


def delete_session(conn, session_id) -> bool:
    return conn.execute("DELETE FROM sessions WHERE session_id = ?",
                        (session_id,)).rowcount > 0


# --------------------------------------------------------------------- portfolio

def set_portfolio(conn, user_id, portfolio_id, portfolio_url, created, expires) -> bool:
    return conn.execute(
        "UPDATE users SET active_portfolio_id = ?, active_portfolio_url = ?,"
        " portfolio_created_at = ?, portfolio_expires_at = ? WHERE user_id = ?",
        (portfolio_id, portfolio_url, instant(created), instant(expires), user_id),
    ).rowcount > 0


def portfolio(conn, user_id):
    """(portfolio_id, portfolio_url, created_at, expires_at) as stored, or None (no user)."""
    row = conn.execute(
        "SELECT active_portfolio_id, active_portfolio_url, portfolio_created_at,"
        " portfolio_expires_at FROM users WHERE user_id = ?", (user_id,)).fetchone()
    return tuple(row) if row is not None else None


def clear_portfolio(conn, user_id) -> bool:
    return conn.execute(
        "UPDATE users SET active_portfolio_id = NULL, active_portfolio_url = NULL,"
        " portfolio_created_at = NULL, portfolio_expires_at = NULL WHERE user_id = ?",
        (user_id,),
    ).rowcount > 0
