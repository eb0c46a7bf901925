"""The Overview's health checks read what grows with the rows from the watcher's newest
snapshot (figures.watched_checks): the same checks as counting now, stuck jobs still counted
now, every figure counted live when the snapshot cannot stand for now, and the page says whose
counts it shows and how old they are."""
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from r2w_db.demo.builder import build_demo
from r2w_db.engine import timeutil
from r2w_db.figures import health, snapshot, watched_checks
from r2w_db.monitor.history_store import HistoryStore
from r2w_db.monitor.store import MonitorStore

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 12, 0, 0)
TAKEN = NOW - timedelta(minutes=5)


@pytest.fixture
def demo(tmp_path, monkeypatch):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    path = tmp_path / "demo.db"
    build_demo(path, scale="small", seed=0, now=NOW)
    return path


def record(db, taken_at=TAKEN, thresholds=None):
    snap = snapshot.take_snapshot(db, thresholds, now=taken_at)
    HistoryStore().record_snapshot(db, snap["metrics"], taken_at=taken_at)
    return snap


def shown(checks):
    return [(c.key, c.status, c.value, c.detail) for c in checks]


def test_the_snapshot_keeps_the_cleanups_with_their_grace(demo):
    metrics = record(demo)["metrics"]
    live = health.cleanup_figures(demo)
    for task, grace in health.CLEANUP_GRACE.items():
        assert (metrics[f"cleanups.{task}.waiting"], metrics[f"cleanups.{task}.overdue"]) \
            == live[task]
        assert metrics[f"cleanups.{task}.grace_days"] == getattr(health.Thresholds(), grace)


def test_the_checks_from_the_snapshot_are_the_live_checks(demo):
    record(demo)
    checks, counted_at = watched_checks.checks(demo, now=NOW)
    assert counted_at == TAKEN
    assert shown(checks) == shown(health.run_checks(demo, now=NOW))
    assert any(c.key == "stuck" and c.value != "0" for c in checks)


def test_stuck_jobs_are_counted_now(demo):
    kept = record(demo, taken_at=NOW - timedelta(seconds=30))["metrics"]["stats.uploads.stuck"]
    with sqlite3.connect(demo) as conn:
        conn.execute("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, "
                     "upload_date, status) VALUES ('late', 'anonymous_late', 'job-late', 'a.pdf', "
                     "'.pdf', ?, 'processing')", (timeutil.iso(NOW - timedelta(hours=2)),))
    checks, counted_at = watched_checks.checks(demo, now=NOW)
    stuck = {c.key: c for c in checks}["stuck"]
    assert counted_at == NOW - timedelta(seconds=30)
    assert stuck.value == f"{kept + 1:,}"
    assert stuck.value == {c.key: c for c in health.run_checks(demo, now=NOW)}["stuck"].value


def test_without_a_usable_snapshot_everything_is_counted_now(demo):
    assert watched_checks.checks(demo, now=NOW)[1] is None               # none yet
    record(demo, taken_at=NOW - watched_checks.MAX_AGE - timedelta(seconds=1))
    assert watched_checks.checks(demo, now=NOW)[1] is None               # too old
    record(demo)
    other = replace(health.Thresholds(), sessions_grace_days=3)
    checks, counted_at = watched_checks.checks(demo, other, now=NOW)     # other grace
    assert counted_at is None and shown(checks) == shown(health.run_checks(demo, other, now=NOW))
    assert watched_checks.checks(demo, now=NOW)[1] == TAKEN
    MonitorStore().log_start(user="t", task="sessions", database=demo)   # a run since
    assert watched_checks.checks(demo, now=NOW + timedelta(seconds=1))[1] is None


def overview(demo, monkeypatch):
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)
    monkeypatch.setenv("DATABASE_URL", str(demo))
    st.cache_data.clear()
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()


def captions(at):
    return " ".join(c.value for c in at.caption)


def test_the_overview_shows_the_counts_age(demo, monkeypatch):
    record(demo)
    at = overview(demo, monkeypatch)
    assert not at.exception
    assert ("Counts as of the watcher's snapshot of 2026-11-24 11:55:00 UTC (5 min ago); stuck "
            "jobs, the schema and the file read now.") in captions(at)


def test_the_overview_says_when_it_counted_now(demo, monkeypatch):
    at = overview(demo, monkeypatch)
    assert not at.exception
    assert "Every check counted now." in captions(at)


def test_on_both_engines_the_snapshot_gives_the_live_checks(tmp_path, monkeypatch, pg_templates):
    """SQLite and PostgreSQL alike: the checks from the snapshot are run_checks' own."""
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)
    path, url = pg_templates.moved_demo(tmp_path, seed=0, now=NOW, prefix="watched")
    got = {}
    for db in (path, url):
        record(db)
        checks, counted_at = watched_checks.checks(db, now=NOW)
        assert counted_at == TAKEN
        assert shown(checks) == shown(health.run_checks(db, now=NOW))
        got[db] = {c.key: (c.status, c.value) for c in checks
                   if c.key in ("stuck", "sessions", "cache_cleanup", "anonymous",
                                "below_threshold")}
    assert got[path] == got[url] and len(got[path]) == 5
