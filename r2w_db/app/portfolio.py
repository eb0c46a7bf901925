"""A user's active portfolio: set (expires after config.PORTFOLIO_DAYS), read, clear (the
statements: db.backend.accounts)."""
from datetime import timedelta

from r2w_db import config, errors
from r2w_db.backends import open_database
from r2w_db.engine import timeutil


def update_user_portfolio(db, user_id, portfolio_id, portfolio_url) -> bool:
    """Set the portfolio (created now, expires in PORTFOLIO_DAYS); True if the user exists."""
    for value, what in ((portfolio_id, "portfolio_id"), (portfolio_url, "portfolio_url")):
        if not isinstance(value, str) or not value:
            raise errors.InvalidValue(f"{what} must be a non-empty string")
    db = open_database(db)
    now = timeutil.utcnow()
    with db.backend.accounts.write_transaction(db) as conn:
        return db.backend.accounts.set_portfolio(
            conn, user_id, portfolio_id, portfolio_url, now,
            now + timedelta(days=config.PORTFOLIO_DAYS))


def _expires(created_at, expires_at):
    moment = timeutil.parse(expires_at)
    if moment is None:
        created = timeutil.parse(created_at)
        if created is not None:
            moment = created + timedelta(days=config.PORTFOLIO_DAYS)
    return moment


def get_user_portfolio(db, user_id):
    """{portfolio_id, portfolio_url, created_at, expires_at, expired}, or None without one.

    Expired is decided as an instant; with no readable expiry (nor creation) it is True.
    """
    db = open_database(db)
    with db.read() as conn:
        row = db.backend.accounts.portfolio(conn, user_id)
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


def clear_user_portfolio(db, user_id) -> bool:
    """Forget the active portfolio; True when the user exists."""
    db = open_database(db)
    with db.backend.accounts.write_transaction(db) as conn:
        return db.backend.accounts.clear_portfolio(conn, user_id)
