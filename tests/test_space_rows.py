"""The Space page's rows come from the watcher's recent snapshot (no count(*) per table per
page view), with the snapshot's time and age shown; counted now without one."""
import sqlite3
from datetime import timedelta
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from r2w_db.engine import timeutil
from r2w_db.figures import space, watched_checks

from .test_watched_checks import NOW, TAKEN, demo, record  # noqa: F401  (demo: a fixture)

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("users", "sessions", "cv_uploads", "cv_extraction_cache")


def rows(got):
    frame = got["relations"]
    return {r["name"]: int(r["rows"]) for _, r in frame[frame["kind"] == "table"].iterrows()
            if r["name"] in TABLES}


def counted(path):
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def test_without_a_snapshot_the_rows_are_counted_now(demo):
    got = space.space(demo, now=NOW)
    assert (got["rows"], got["rows_as_of"]) == ("count", None)
    assert rows(got) == counted(demo)


def test_with_a_recent_snapshot_the_rows_are_its_counts(demo):
    record(demo)
    before = counted(demo)
    with sqlite3.connect(demo) as conn:   # a row after the snapshot: not counted per view
        conn.execute("DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions LIMIT 3)")
    got = space.space(demo, now=NOW)
    assert (got["rows"], got["rows_as_of"]) == ("snapshot", TAKEN)
    assert rows(got) == before and counted(demo)["sessions"] == before["sessions"] - 3


def test_an_old_snapshot_is_not_used(demo):
    record(demo, taken_at=NOW - watched_checks.MAX_AGE - timedelta(minutes=1))
    got = space.space(demo, now=NOW)
    assert (got["rows"], got["rows_as_of"]) == ("count", None)


def test_the_page_shows_the_rows_age(demo, monkeypatch):
    record(demo)
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)
    monkeypatch.setenv("DATABASE_URL", str(demo))
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "pages" / "9_Space.py"), default_timeout=60).run()
    assert not at.exception
    assert ("Rows: the counts of the watcher's snapshot of 2026-11-24 11:55:00 UTC (5 min ago); "
            "bytes read now.") in " ".join(c.value for c in at.caption)


def test_postgresql_shows_the_snapshot_rows_too(tmp_path, monkeypatch, pg_templates):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    path, url = pg_templates.moved_demo(tmp_path, seed=0, now=NOW, prefix="spacerows")
    got = {}
    for db in (path, url):
        record(db)
        found = space.space(db, now=NOW)
        assert (found["rows"], found["rows_as_of"]) == ("snapshot", TAKEN)
        got[db] = rows(found)
    assert got[path] == got[url] == counted(path)
