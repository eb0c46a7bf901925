import sqlite3
from datetime import timedelta

import pytest

from r2w_db import config, errors
from r2w_db.app.portfolio import clear_user_portfolio, get_user_portfolio, update_user_portfolio
from r2w_db.app.users import create_user
from r2w_db.engine import timeutil


@pytest.fixture
def user(db):
    return create_user(db, "p@example.com", "h")


def set_columns(db, user_id, **values):
    conn = sqlite3.connect(db)
    with conn:
        for column, value in values.items():
            conn.execute(f"UPDATE users SET {column} = ? WHERE user_id = ?", (value, user_id))
    conn.close()


def test_no_portfolio_is_none(db, user):
    assert get_user_portfolio(db, user) is None
    assert get_user_portfolio(db, "ghost") is None


def test_update_then_get(db, user):
    before = timeutil.utcnow()
    assert update_user_portfolio(db, user, "pf-1", "https://pf-1.vercel.app") is True
    after = timeutil.utcnow()
    got = get_user_portfolio(db, user)
    assert set(got) == {"portfolio_id", "portfolio_url", "created_at", "expires_at", "expired"}
    assert (got["portfolio_id"], got["portfolio_url"], got["expired"]) == \
        ("pf-1", "https://pf-1.vercel.app", False)
    created, expires = timeutil.parse(got["created_at"]), timeutil.parse(got["expires_at"])
    assert before <= created <= after
    assert expires - created == timedelta(days=config.PORTFOLIO_DAYS) == timedelta(days=30)
    assert got["created_at"] == timeutil.iso(created)  # stored in the naive ISO form


def test_update_replaces_previous_portfolio(db, user):
    update_user_portfolio(db, user, "pf-1", "url-1")
    update_user_portfolio(db, user, "pf-2", "url-2")
    got = get_user_portfolio(db, user)
    assert (got["portfolio_id"], got["portfolio_url"]) == ("pf-2", "url-2")


def test_update_missing_user_is_false(db):
    assert update_user_portfolio(db, "ghost", "pf", "url") is False


@pytest.mark.parametrize("pid,url", [("", "url"), ("pf", ""), (None, "url")])
def test_update_needs_id_and_url(db, user, pid, url):
    with pytest.raises(errors.InvalidValue):
        update_user_portfolio(db, user, pid, url)
    assert get_user_portfolio(db, user) is None


def test_expired_is_decided_by_instant(db, user):
    now = timeutil.utcnow()
    set_columns(db, user, active_portfolio_id="pf", active_portfolio_url="u",
                portfolio_created_at=timeutil.iso(now - timedelta(days=31)))
    cases = [
        (timeutil.iso(now - timedelta(minutes=1)), True),
        (timeutil.iso(now + timedelta(minutes=1)), False),
        # a space separator would compare as earlier than now as a string
        ((now + timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M:%S"), False),
        # reads as the future, is 1 hour in the past
        ((now - timedelta(hours=1) + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S+05:00"), True),
        ((now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"), False),
    ]
    for expires_at, expired in cases:
        set_columns(db, user, portfolio_expires_at=expires_at)
        got = get_user_portfolio(db, user)
        assert (got["expires_at"], got["expired"]) == (expires_at, expired)


def test_unreadable_expiry_falls_back_to_creation_then_expired(db, user):
    now = timeutil.utcnow()
    set_columns(db, user, active_portfolio_id="pf", active_portfolio_url="u",
                portfolio_created_at=timeutil.iso(now - timedelta(days=1)),
                portfolio_expires_at="soon")
    assert get_user_portfolio(db, user)["expired"] is False
    set_columns(db, user, portfolio_created_at=timeutil.iso(now - timedelta(days=31)))
    assert get_user_portfolio(db, user)["expired"] is True
    set_columns(db, user, portfolio_created_at=None, portfolio_expires_at=None)
    assert get_user_portfolio(db, user)["expired"] is True


def test_clear(db, user):
    other = create_user(db, "o@example.com", "h")
    update_user_portfolio(db, user, "pf", "url")
    update_user_portfolio(db, other, "pf-o", "url-o")
    assert clear_user_portfolio(db, user) is True
    assert get_user_portfolio(db, user) is None
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT active_portfolio_id, active_portfolio_url, portfolio_created_at,"
                        " portfolio_expires_at FROM users WHERE user_id = ?",
                        (user,)).fetchone() == (None, None, None, None)
    conn.close()
    assert get_user_portfolio(db, other)["portfolio_id"] == "pf-o"
    assert clear_user_portfolio(db, user) is True  # the user exists, nothing left to clear
    assert clear_user_portfolio(db, "ghost") is False
