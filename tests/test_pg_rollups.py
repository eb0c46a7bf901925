"""Roll-ups on PostgreSQL (issue 22): the pages read them once the watcher has run and say so;
the data's own clock is SQLite's on the same data, and a period recorded before the data closed
it is recomputed there as on SQLite. Parity of every windowed figure with PostgreSQL's live
answer and SQLite's roll-ups: tests/test_conformance.py."""
from datetime import datetime, timedelta

import pytest

from r2w_db.backends import open_database
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.engine import timeutil
from r2w_db.figures import rollups
from r2w_db.monitor.history_store import HistoryStore

from .test_hardening_history import forward_jump_found_later
from .test_pg_pages import fresh_pages, run_page  # noqa: F401  (fresh_pages: a fixture)

NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)   # the moved demo's now
NOTE = "from the watcher's roll-ups"


@pytest.fixture(scope="module")
def moved(tmp_path_factory, pg_templates):
    return pg_templates.moved_demo(tmp_path_factory.mktemp("pg_rollups"), seed=11, now=NOW,
                                   prefix="rollups_demo")


@pytest.mark.parametrize("page", ["app.py", "pages/1_Cache_hits.py", "pages/2_Confidence.py",
                                  "pages/3_Uploads.py", "pages/4_Anonymous_users.py"])
def test_a_page_on_postgresql_says_its_figures_come_from_the_rollups(page, moved, monkeypatch,
                                                                    fresh_pages, tmp_path):
    import streamlit as st

    from .test_pages import assert_clean, metric_values

    _, url = moved
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    at = run_page(page, url, monkeypatch, window="7d")
    assert_clean(at)
    assert not [c.value for c in at.caption if NOTE in c.value]
    live = metric_values(at)
    rollups.roll_up(url, HistoryStore(tmp_path / "monitor.db"), now=NOW)   # the watcher ran
    st.cache_data.clear()
    at = run_page(page, url, monkeypatch, window="7d")
    assert_clean(at)
    assert [c.value for c in at.caption if NOTE in c.value]
    assert metric_values(at) == live


def test_the_data_clock_is_sqlites(moved):
    """The newest timestamp of the four tables, to SQLite's millisecond (SQLite's julianday
    keeps no finer), before now and before a bound in the past."""
    path, url = moved
    for until in (NOW + timeutil.SLACK, NOW - timedelta(days=3, minutes=7)):
        clocks = []
        for db in (open_database(path), open_database(url)):
            with db.read() as conn:
                clocks.append(timeutil.parse(db.backend.rollups.data_clock(
                    conn, rollups.TIME_COLUMNS, until)))
        assert None not in clocks and clocks[0] <= until
        assert abs(clocks[0] - clocks[1]) < timedelta(milliseconds=1), clocks


def add_uploads(db, moments, start=0):
    with db.write() as conn:
        conn.cursor().executemany(
            "INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
            " upload_date, status) VALUES (%s, 'r1', %s, 'cv.pdf', '.pdf', %s, 'completed')",
            [(f"u{start + i}", f"j{start + i}", timeutil.iso(m) + "+00:00")
             for i, m in enumerate(moments)])


def test_periods_recorded_ahead_of_the_data_are_recomputed(pg_url, tmp_path):
    """The watcher ran with its clock 48 hours ahead, then again once the real time had passed
    those hours: PostgreSQL's data clock shows they were recorded too early, they are
    recomputed with the uploads that arrived in them, and the pages equal the live figures."""
    pg_schema.init(pg_url)
    db = open_database(pg_url)
    real = datetime(2026, 11, 24, 10, 20)
    add_uploads(db, [real - timedelta(minutes=30 * i) for i in range(1, 193)])
    forward_jump_found_later(db, add_uploads, HistoryStore(tmp_path / "monitor.db"), real)
