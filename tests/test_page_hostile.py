"""Every page in front of a bad location or a bad file: one clear message, never an exception,
never a password."""
import os
import sqlite3
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from r2w_db.engine import schema

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["app.py", "pages/1_Cache_hits.py", "pages/3_Uploads.py", "pages/6_Maintenance.py"]


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def page_text(at):
    return " ".join(str(e.value) for e in [*at.error, *at.warning, *at.markdown, *at.code])


def open_page(page, monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", str(url))
    return AppTest.from_file(str(ROOT / page), default_timeout=30).run()


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("url, fragment", [
    ("", "empty"), ("sqlite:///", "names no file"), ("file:/tmp/x.db?mode=rwc", "SQLite URI"),
    (":memory:", "in-memory"), ("~nosuchuser_r2w/x.db", "does not exist"),
    # an unreachable server (no socket there): one line, its password redacted
    ("postgresql://app:s3cret@/r2w?host=/nonexistent-r2w", "PostgreSQL postgresql://app:***@/r2w"),
])
def test_bad_locations_are_one_message(page, monkeypatch, url, fragment):
    at = open_page(page, monkeypatch, url)
    assert not at.exception
    assert len(at.error) == 1 and fragment in at.error[0].value
    assert "s3cret" not in page_text(at)
    assert not at.metric


def test_a_fifo_is_a_message_not_a_hang(tmp_path, monkeypatch):
    fifo = tmp_path / "r2w.db"
    os.mkfifo(fifo)
    at = open_page("app.py", monkeypatch, fifo)
    assert not at.exception and "not a regular file" in at.error[0].value


def test_a_hot_journal_says_what_it_is_and_what_fixes_it(tmp_path, monkeypatch):
    from .test_hostile_engine import hot_journal_db

    path = hot_journal_db(tmp_path)
    at = open_page("app.py", monkeypatch, path)
    assert not at.exception and "hot rollback journal" in at.error[0].value
    assert any("recover" in c.value for c in at.code)
    assert Path(str(path) + "-journal").exists()


def test_a_newer_schema_is_shown_with_a_warning(db_path, monkeypatch):
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {schema.CURRENT_VERSION + 5}")
    conn.commit()
    conn.close()
    at = open_page("app.py", monkeypatch, db_path)
    assert not at.exception
    assert any("newer than this r2w monitor knows" in w.value for w in at.warning)
    assert at.metric  # the figures are still shown


def test_a_damaged_file_says_damaged(tmp_path, monkeypatch):
    from .test_hostile_engine import damaged_copy

    path = damaged_copy(tmp_path, [(0.05, 0.95)])
    at = open_page("app.py", monkeypatch, path)
    assert not at.exception
    assert any("is damaged" in e.value for e in at.error)
    assert "not an SQLite database" not in page_text(at)
