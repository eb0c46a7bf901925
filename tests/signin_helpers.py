"""Shared by the sign-in, read-only, embedding and privacy tests: a demo database, team
accounts with fast bcrypt hashes (rounds=4), and AppTest helpers."""
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from r2w_db.app.passwords import hash_password
from r2w_db.demo.builder import build_demo
from r2w_db.engine import timeutil

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 12, 0, 0)
OVERVIEW = "app.py"
PAGES = [OVERVIEW] + sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py"))
MAINTENANCE = "pages/6_Maintenance.py"
PASSWORDS = {"ada": "ada-admin-password", "vic": "vic-viewer-password"}
TEAM = {
    "ada": {"password_hash": hash_password(PASSWORDS["ada"], rounds=4), "role": "admin"},
    "vic": {"password_hash": hash_password(PASSWORDS["vic"], rounds=4), "role": "viewer"},
}


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("signin_demo") / "demo.db"
    build_demo(path, scale="small", seed=0, now=NOW)
    return path


@contextmanager
def pages_on(db_path, tmp_path, monkeypatch):
    """Pages read db_path, with a fresh monitor database and backup folder in tmp_path,
    frozen time, the read-only switch off, and Streamlit's caches cleared around them."""
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)
    monkeypatch.setenv("DATABASE_URL", str(db_path))
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.setenv("R2W_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.setenv("R2W_READ_ONLY", "0")
    st.cache_data.clear()
    try:
        yield
    finally:
        st.cache_data.clear()


@pytest.fixture
def env(demo_path, tmp_path, monkeypatch):
    """The demo database, a fresh monitor database, frozen time, the read-only switch off."""
    with pages_on(demo_path, tmp_path, monkeypatch):
        yield tmp_path


def app(page, team=None, query=None, monitor=None):
    """An AppTest of a page, with team accounts (and a [monitor] table) in its secrets."""
    at = AppTest.from_file(str(ROOT / page), default_timeout=60)
    if team is not None:
        at.secrets["team"] = team
    if monitor is not None:
        at.secrets["monitor"] = monitor
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if str((query or {}).get("embed", "")).lower() == "true":
        # a browser reports ?embed=true as st.context.is_embedded (st.query_params hides it)
        at.context["is_embedded"] = True
    return at


def sign_in(at, name, password):
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    at.button[0].click()   # the form's "Sign in"
    return at.run()


def signed_in(page, name, team=TEAM, query=None, monitor=None):
    at = app(page, team, query, monitor).run()
    assert not at.exception, at.exception
    at = sign_in(at, name, PASSWORDS[name])
    assert not at.exception, at.exception
    return at


def figures(at):
    """How many figures the page shows: metrics, charts, tables."""
    return len(at.metric) + len(at.get("vega_lite_chart")) + len(at.dataframe)


def texts(at):
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "success", "info",
                                                "warning", "error", "title") for e in getattr(at, kind))
