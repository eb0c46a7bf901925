"""The Uploads page's waiting uploads, the Overview's active sessions and the Maintenance page's
cleanup previews read what grows with the rows from the watcher's newest snapshot
(figures.watched_now, maintenance.watched_previews): the same figures as counting now, counted
live when the snapshot cannot stand for now, and each page says how old they are. The foreign
statuses and the oldest waiting upload are index seeks with the live answers."""
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from r2w_db import config, errors
from r2w_db.app import anonymous
from r2w_db.backends import open_database
from r2w_db.backends.sqlite.window_sql import in_window
from r2w_db.demo.builder import build_demo
from r2w_db.engine import timeutil
from r2w_db.figures import overview, snapshot, uploads, watched_checks, watched_now, windowed
from r2w_db.figures.periods import Window, read
from r2w_db.maintenance import registry, watched_previews
from r2w_db.monitor.history_store import HistoryStore
from r2w_db.monitor.store import MonitorStore

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 12, 0, 0)
TAKEN = NOW - timedelta(minutes=5)
AGE = "as of the watcher's snapshot of 2026-11-24 11:55:00 UTC (5 min ago)"
CLEANUPS = ("sessions", "cache", "anonymous")


@pytest.fixture
def demo(tmp_path, monkeypatch):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)   # the retention cut-offs' now
    path = tmp_path / "demo.db"
    build_demo(path, scale="small", seed=0, now=NOW)
    return path


def record(db, taken_at=TAKEN):
    snap = snapshot.take_snapshot(db, now=taken_at)
    HistoryStore().record_snapshot(db, snap["metrics"], taken_at=taken_at)
    return snap


def add_uploads(path, rows):
    """rows: (upload_id, user_id, upload_date, status)."""
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                         " upload_date, status) VALUES (?, ?, ?, 'a.pdf', '.pdf', ?, ?)",
                         [(u, who, f"job-{u}", when, status) for u, who, when, status in rows])


# ------------------------------------------------------------------ index seeks, exact

FOREIGN = [("f1", "r", "2026-11-23T10:00:00.000000", None),
           ("f2", "r", "2026-11-23T11:00:00.000000", "Completed"),
           ("f3", "r", "2026-11-20T11:00:00.000000", "queued"),
           ("f4", "r", "2026-11-23T12:00:00.000000", ""),
           ("f5", "r", "2026-11-23T12:00:00.000000", "zzz"),
           ("f6", "r", "2026-11-23T13:00:00.000000", 7),
           ("f7", "r", "2026-11-23T14:00:00.000000", b"\x00"),
           ("f8", "r", "2026-11-23T15:00:00.000000", "queued"),
           ("f9", "r", "2026-10-01T15:00:00.000000", "uploadedx")]


def test_foreign_statuses_read_between_the_documented_ones_are_not_in_s(demo):
    add_uploads(demo, FOREIGN)
    db = open_database(demo)
    documented = ", ".join(f"'{s}'" for s in config.STATUSES)
    for key in ("24h", "7d", "90d", "all"):
        window = Window.of(key, now=NOW)
        got = uploads.other_statuses(demo, window)
        where, params = in_window("upload_date", window)
        with read(db) as conn:   # the statement before: NOT IN, over the whole index
            expected = [tuple(r) for r in conn.execute(
                f"SELECT coalesce(status, 'NULL') AS status, count(*) AS uploads FROM cv_uploads"
                f" WHERE (status IS NULL OR status NOT IN ({documented})) AND {where}"
                " GROUP BY status ORDER BY uploads DESC, status", params)]
        assert [tuple(r) for r in got.itertuples(index=False)] == expected
    shown = set(uploads.other_statuses(demo, Window.of("all", now=NOW))["status"])
    assert {"NULL", "Completed", "queued", "", "zzz", "7", b"\x00", "uploadedx"} <= shown


class Statements:
    """A connection that keeps the statements it runs."""

    def __init__(self, conn):
        self.conn, self.run = conn, []

    def execute(self, sql, params=()):
        self.run.append((sql, params))
        return self.conn.execute(sql, params)


def test_the_other_statuses_walk_no_documented_row(demo):
    db = open_database(demo)
    with read(db) as conn:
        kept = Statements(conn)
        db.backend.uploads.other_statuses(kept, Window.of("all", now=NOW))
        sql, params = kept.run[-1]
        plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "SCAN cv_uploads" not in plan and "idx_cv_uploads_status_date" in plan


def test_the_oldest_waiting_upload_is_the_live_ones(demo):
    db = open_database(demo)
    live = uploads.awaiting_extraction(demo, NOW)
    with read(db) as conn:
        assert db.backend.uploads.awaiting_oldest(conn, NOW) == (
            live["oldest_at"], live["oldest_age_minutes"], live["unreadable"])
    add_uploads(demo, [("o1", "anonymous_o1", "0100-01-01T00:00:00", "uploaded"),   # odd, reads
                       ("o2", "anonymous_o2", "not a date", "uploaded"),            # unreadable
                       ("o3", "anonymous_o3", "2020-01-01 10:00:00", "completed")])
    live = uploads.awaiting_extraction(demo, NOW)
    assert live["oldest_at"].startswith("0100-01-01") and live["unreadable"] == 1
    with read(db) as conn:
        assert db.backend.uploads.awaiting_oldest(conn, NOW) == (
            live["oldest_at"], live["oldest_age_minutes"], live["unreadable"])


# ------------------------------------------------------------------ from the snapshot

def test_the_snapshot_keeps_the_previews_counts(demo):
    metrics = record(demo)["metrics"]
    for task in CLEANUPS:
        pv = registry.preview(demo, task, signed_out=False)
        assert metrics[f"preview.{task}.days"] == registry.TASKS[task].default_days
        assert metrics[f"preview.{task}.count"] == pv.count > 0
    assert metrics["preview.anonymous.uploads"] == anonymous.count_stale(demo)[1] > 0


def test_waiting_uploads_from_the_snapshot_are_the_live_ones(demo):
    record(demo)
    got, counted_at = watched_now.awaiting_extraction(demo, NOW)
    assert counted_at == TAKEN
    assert got == uploads.awaiting_extraction(demo, NOW) and got["count"] > 0


def test_active_sessions_from_the_snapshot_are_the_live_ones(demo):
    record(demo)
    for key in ("7d", "all"):
        window = Window.of(key, now=NOW)
        got, counted_at = watched_now.headline(demo, window)
        assert counted_at == TAKEN
        assert got == windowed.headline(demo, window) == overview.headline(demo, window)
        assert got["now"]["active_sessions"] > 0


def test_the_previews_from_the_snapshot_are_the_live_ones(demo):
    record(demo)
    for task in CLEANUPS:
        pv, counted_at = watched_previews.preview(demo, task, signed_out=False, now=NOW)
        assert counted_at == TAKEN
        assert pv == registry.preview(demo, task, signed_out=False)
    pv, counted_at = watched_previews.preview(demo, "stuck", now=NOW)   # an index seek: live
    assert counted_at is None and pv == registry.preview(demo, "stuck", now=NOW)


def test_a_run_counts_live_whatever_the_snapshot_says(demo):
    record(demo)
    kept = watched_previews.preview(demo, "anonymous", now=NOW)[0].count
    with sqlite3.connect(demo) as conn:   # the application adds stale uploads meanwhile
        conn.execute("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                     " upload_date, status) VALUES ('s', 'anonymous_s', 'job-s', 'a.pdf',"
                     " '.pdf', ?, 'uploaded')", (timeutil.iso(NOW - timedelta(days=90)),))
    assert watched_previews.preview(demo, "anonymous", now=NOW)[0].count == kept
    assert registry.preview(demo, "anonymous").count == kept + 1   # the confirmation's count


def unusable(demo, read_figure):
    """Each way the snapshot cannot stand for now: none, too old, a maintenance run after it."""
    assert read_figure(NOW) is None                                            # none yet
    record(demo, taken_at=NOW - watched_checks.MAX_AGE - timedelta(seconds=1))
    assert read_figure(NOW) is None                                            # too old
    record(demo)
    assert read_figure(NOW) == TAKEN
    MonitorStore().log_start(user="t", task="vacuum", database=demo)           # a run since
    assert read_figure(NOW + timedelta(seconds=1)) is None


def waiting(demo, now):
    return watched_now.awaiting_extraction(demo, now), uploads.awaiting_extraction(demo, now)


def headline(demo, now):
    window = Window.of("7d", now=now)
    return watched_now.headline(demo, window), windowed.headline(demo, window)


@pytest.mark.parametrize("figure", [waiting, headline], ids=["waiting", "active_sessions"])
def test_counted_live_without_a_usable_snapshot(demo, figure):
    def counted_at(now):
        (got, at), live = figure(demo, now)
        assert got == live
        return at
    unusable(demo, counted_at)


def test_previews_are_counted_live_without_a_usable_snapshot_or_at_other_days(demo):
    def counted_at(now):
        pv, at = watched_previews.preview(demo, "anonymous", now=now)
        assert pv == registry.preview(demo, "anonymous")
        return at
    unusable(demo, counted_at)
    record(demo, taken_at=NOW + timedelta(seconds=2))
    later = NOW + timedelta(seconds=3)
    for task in CLEANUPS:
        days = registry.TASKS[task].default_days + 1
        pv, at = watched_previews.preview(demo, task, days=days, signed_out=False, now=later)
        assert at is None and pv == registry.preview(demo, task, days=days, signed_out=False)
    # the sessions preview that names the users it signs out is never the snapshot's
    assert watched_previews.preview(demo, "sessions", now=later)[1] is None
    with pytest.raises(errors.InvalidValue) as bad:
        watched_previews.preview(demo, "cache", days=0, now=later)
    assert "days must be a whole number" in str(bad.value)


# ------------------------------------------------------------------ the pages say how old

def page(name, demo, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", str(demo))
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / name), default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def text(at):
    return " ".join([c.value for c in at.caption] + [m.value for m in at.markdown])


def test_the_pages_show_the_snapshots_age(demo, monkeypatch):
    record(demo)
    count = f"{uploads.awaiting_extraction(demo, NOW)['count']:,}"
    shown = text(page("pages/3_Uploads.py", demo, monkeypatch))
    assert f"**Waiting for extraction ('uploaded'):** {count} {AGE}; the oldest" in shown
    assert f"Active sessions {AGE}." in text(page("app.py", demo, monkeypatch))
    shown = text(page("pages/6_Maintenance.py", demo, monkeypatch))
    assert shown.count("As of the watcher's snapshot of 2026-11-24 11:55:00 UTC (5 min ago); "
                       "Run counts again before it asks for confirmation.") == 3


def test_the_pages_say_now_without_a_snapshot(demo, monkeypatch):
    count = f"{uploads.awaiting_extraction(demo, NOW)['count']:,}"
    shown = text(page("pages/3_Uploads.py", demo, monkeypatch))
    assert f"**Waiting for extraction ('uploaded'):** {count} now; the oldest" in shown
    assert "Active sessions as of now." in text(page("app.py", demo, monkeypatch))
    assert "As of the watcher's snapshot" not in text(page("pages/6_Maintenance.py", demo,
                                                           monkeypatch))


# ------------------------------------------------------------------ both engines

def test_on_both_engines_the_snapshot_gives_the_live_figures(tmp_path, monkeypatch,
                                                             pg_templates):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)
    path, url = pg_templates.moved_demo(tmp_path, seed=0, now=NOW, prefix="watchednow")
    got = {}
    for db in (path, url):
        record(db)
        waiting, at = watched_now.awaiting_extraction(db, NOW)
        assert at == TAKEN and waiting == uploads.awaiting_extraction(db, NOW)
        figures, at = watched_now.headline(db, Window.of("7d", now=NOW))
        assert at == TAKEN and figures == windowed.headline(db, Window.of("7d", now=NOW))
        previews = [watched_previews.preview(db, t, signed_out=False, now=NOW) for t in CLEANUPS]
        assert [at for _, at in previews] == [TAKEN] * 3
        assert [pv for pv, _ in previews] == [registry.preview(db, t, signed_out=False)
                                               for t in CLEANUPS]
        got[db] = (waiting["count"], waiting["oldest_at"], figures["now"]["active_sessions"],
                   [pv.message for pv, _ in previews],
                   anonymous.stale_totals_at(db, 1, 30, 60))
    assert got[path] == got[url]
