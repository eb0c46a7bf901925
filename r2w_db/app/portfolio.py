"""A user's active portfolio: set (expires after config.PORTFOLIO_DAYS), read, clear."""
from datetime import timedelta

from r2w_db import config, errors
from r2w_db.engine import timeutil
from r2w_db.backends.dispatch import per_backend
from r2w_db.backends.sqlite.connection import transaction
from r2w_db.backends.sqlite.database import as_database


@per_backend("r2w_db.backends.postgresql.accounts")
def update_user_portfolio(db, user_id, portfolio_id, portfolio_url) -> bool:
    """Set the portfolio (created now, expires in PORTFOLIO_DAYS); True if the user exists."""
    for value, what in ((portfolio_id, "portfolio_id"), (portfolio_url, "portfolio_url")):
        if not isinstance(value, str) or not value:
            raise errors.InvalidValue(f"{what} must be a non-empty string")
    now = timeutil.utcnow()
    created, expires = timeutil.iso(now), timeutil.iso(now + timedelta(days=config.PORTFOLIO_DAYS))
    with as_database(db).write() as conn:
        with transaction(conn):
            return conn.execute(
                "UPDATE users SET active_portfolio_id = ?, active_portfolio_url = ?,"
                " portfolio_created_at = ?, portfolio_expires_at = ? WHERE user_id = ?",
                (portfolio_id, portfolio_url, created, expires, user_id),
            ).rowcount > 0


def _expires(created_at, expires_at):
    moment = timeutil.parse(expires_at)
    if moment is None:
        created = timeutil.parse(created_at)
        if created is not None:
            moment = created + timedelta(days=config.PORTFOLIO_DAYS)
    return moment


@per_backend("r2w_db.backends.postgresql.accounts")
def get_user_portfolio(db, user_id):
    """{portfolio_id, portfolio_url, created_at, expires_at, expired}, or None without one.

    Expired is decided as an instant; with no readable expiry (nor creation) it is True.
    """
    with as_database(db).read() as conn:
        row = conn.execute(
            "SELECT active_portfolio_id, active_portfolio_url, portfolio_created_at,"
            " portfolio_expires_at FROM users WHERE user_id = ?", (user_id,)).fetchone()
    if row is None or not row[0]:
        return None
    moment = _expires(row[2], row[3])
    return {
        "portfolio_id": row[0],
        "portfolio_url": row[1],
        "created_at": row[2],
        "expires_at": row[3],
        "expired": moment is None or moment <= timeutil.utcnow(),
    }


@per_backend("r2w_db.backends.postgresql.accounts")
def clear_user_portfolio(db, user_id) -> bool:
    """Forget the active portfolio; True when the user exists."""
    with as_database(db).write() as conn:
        with transaction(conn):
            return conn.execute(
                "UPDATE users SET active_portfolio_id = NULL, active_portfolio_url = NULL,"
                " portfolio_created_at = NULL, portfolio_expires_at = NULL WHERE user_id = ?",
                (user_id,),
            ).rowcount > 0
