"""The Anonymous users and Cache hits pages read their figures "as of now" (the ids owning
uploads, their ages, the cache's contents) from the watcher's newest snapshot
(figures.watched_anonymous, figures.watched_cache): the same answers as counting live, counted
live when no snapshot may stand for now, and the pages say whose counts they show and how old
they are."""
import sqlite3
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from r2w_db.engine import timeutil
from r2w_db.figures import (anonymous, cache_hits, earlier_days, rollups, snapshot,
                            watched_anonymous, watched_cache, watched_checks)
from r2w_db.figures.periods import WINDOWS, Window
from r2w_db.monitor.history_store import HistoryStore
from r2w_db.monitor.store import MonitorStore
from tests.test_watched_checks import NOW, TAKEN, demo  # noqa: F401 (the small demo, as of NOW)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The clock the snapshot's age is judged by (a page's own now is floored to the minute)."""
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)


def record(db, taken_at=NOW):
    snap = snapshot.take_snapshot(db, now=taken_at)
    HistoryStore().record_snapshot(db, snap["metrics"], taken_at=taken_at)
    return snap


def assert_same_ids(db, window, store=None):
    got = watched_anonymous.anonymous_ids(db, window, store)
    live = earlier_days.anonymous_ids(db, window, store)
    assert got.pop("owners_as_of") is not None, window.key
    pd.testing.assert_frame_equal(got.pop("by_period"), live["by_period"])
    assert got == {k: v for k, v in live.items() if k != "by_period"}
    return live


def assert_same_ages(db, now=NOW):
    got = watched_anonymous.ages(db, now)
    live = anonymous.ages(db, now)
    assert got.pop("as_of") is not None
    pd.testing.assert_frame_equal(got.pop("by_age"), live["by_age"])
    assert got == {k: v for k, v in live.items() if k != "by_age"}
    return live


def assert_same_cache(db, now=NOW):
    got = watched_cache.cache_now(db)
    assert got["as_of"] is not None
    live = cache_hits.contents(db)
    pd.testing.assert_frame_equal(got["contents"].pop("by_model"), live["by_model"])
    assert got["contents"] == {k: v for k, v in live.items() if k != "by_model"}
    pd.testing.assert_frame_equal(got["access_counts"], cache_hits.access_counts(db))
    return live


@pytest.mark.parametrize("key", list(WINDOWS))
def test_the_owning_ids_from_the_snapshot_are_the_live_ones(demo, key):
    record(demo)
    live = assert_same_ids(demo, Window.of(key, now=NOW))
    assert live["by_period"]["owning_ids"].iloc[-1] > 0


@pytest.mark.parametrize("key", ["24h", "7d", "all"])
def test_with_the_rollups_too(demo, key, tmp_path):
    store = HistoryStore(tmp_path / "rollups.db")
    assert rollups.roll_up(demo, store, now=NOW)["recorded"]
    record(demo)
    assert assert_same_ids(demo, Window.of(key, now=NOW), store)["in_totals"]


def test_the_ages_and_the_cache_from_the_snapshot_are_the_live_ones(demo):
    record(demo)
    assert assert_same_ages(demo)["stale_ids"] > 0
    contents = assert_same_cache(demo)
    assert contents["entries"] and contents["eligible_for_cleanup"] and len(contents["by_model"]) > 1


def test_rows_dated_far_from_now_are_counted_as_live(demo):
    """Owners first seen in year 100, in 9999, on an unreadable date, an hour ahead; cache
    entries whose access_count is not a count, a model named with dots and quotes: the same figures either way."""
    with sqlite3.connect(demo) as conn:
        for i, date in enumerate(["0100-01-01T00:00:00", "9999-12-31T00:00:00", "garbage",
                                  timeutil.iso(NOW + timedelta(hours=1)),
                                  timeutil.iso(NOW - timedelta(hours=23, minutes=30))]):
            conn.execute("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, "
                         "file_type, upload_date, status) VALUES (?, ?, ?, 'a.pdf', '.pdf', ?, "
                         "'completed')", (f"odd{i}", f"anonymous_odd{i}", f"job-odd{i}", date))
        conn.execute("UPDATE cv_extraction_cache SET access_count = -3 WHERE rowid = 1")
        conn.execute("UPDATE cv_extraction_cache SET extraction_model = 'model-3.5 \"β\".x'"
                     " WHERE rowid = 2")
    record(demo)
    for key in WINDOWS:
        assert_same_ids(demo, Window.of(key, now=NOW))
    assert watched_anonymous.UNKNOWN_AGE in set(assert_same_ages(demo)["by_age"]["bucket"])
    contents = assert_same_cache(demo)
    assert contents["invalid_access_counts"] == 1
    assert 'model-3.5 "β".x' in set(contents["by_model"]["model"])


def test_counted_live_without_a_usable_snapshot(demo):
    window = Window.of("7d", now=NOW)

    def as_of():
        return (watched_anonymous.anonymous_ids(demo, window)["owners_as_of"],
                watched_anonymous.ages(demo, NOW)["as_of"], watched_cache.cache_now(demo)["as_of"])

    assert as_of() == (None, None, None)                                     # none yet
    record(demo, taken_at=NOW - watched_checks.MAX_AGE - timedelta(seconds=1))
    assert as_of() == (None, None, None)                                     # too old
    record(demo, taken_at=TAKEN)
    assert as_of() == (TAKEN, TAKEN, TAKEN)
    assert watched_anonymous.ages(demo, NOW, retention_days=7)["as_of"] is None   # other retention
    MonitorStore().log_start(user="t", task="anonymous", database=demo)      # a run since
    assert as_of() == (None, None, None)


def test_a_snapshot_of_the_pages_minute_counts(demo, monkeypatch):
    """A page's now is floored to the minute: a snapshot taken seconds later is still used."""
    record(demo, taken_at=NOW + timedelta(seconds=20))
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW + timedelta(seconds=30))
    assert watched_anonymous.ages(demo, NOW)["as_of"] == NOW + timedelta(seconds=20)
    assert watched_cache.cache_now(demo)["as_of"] == NOW + timedelta(seconds=20)
    assert watched_anonymous.anonymous_ids(demo, Window.of("7d", now=NOW))["owners_as_of"]


def test_a_snapshot_without_the_page_counts_is_not_used(demo):
    """A snapshot recorded before these counts existed: the pages count live."""
    metrics = {k: v for k, v in record(demo, taken_at=TAKEN)["metrics"].items()
               if not k.startswith(("anonymous.", "cache."))}
    HistoryStore().record_snapshot(demo, metrics, taken_at=NOW)
    assert watched_anonymous.ages(demo, NOW)["as_of"] is None
    assert watched_cache.cache_now(demo)["as_of"] is None
    assert watched_anonymous.anonymous_ids(demo, Window.of("30d", now=NOW))["owners_as_of"] is None


def test_a_closed_window_or_hours_the_snapshot_lacks_are_counted_live(demo):
    metrics = record(demo)["metrics"]
    closed = Window.between(NOW - timedelta(days=7), NOW - timedelta(days=1), now=NOW)
    assert watched_anonymous.owner_periods(metrics, NOW, closed) is None
    hours_ago = Window.between(NOW - timedelta(days=3), None, now=NOW, grain="hour")
    assert watched_anonymous.owner_periods(metrics, NOW, hours_ago) is None
    assert watched_anonymous.owner_periods(metrics, NOW, Window.of("24h", now=NOW))


def test_the_snapshot_keys_are_bounded(demo):
    names = [k for k in record(demo)["metrics"] if k.startswith(("anonymous.", "cache."))]
    hours = [k for k in names if k.startswith(watched_anonymous.HOUR)]
    assert 0 < len(hours) <= 24 * (2 + watched_anonymous.DAYS_AHEAD)
    assert len(names) < 400


def page(path, demo, monkeypatch, window="7d"):
    monkeypatch.setenv("DATABASE_URL", str(demo))
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / path), default_timeout=60)
    at.query_params["window"] = window
    return at.run()


def captions(at):
    return " ".join(c.value for c in at.caption)


def test_the_pages_show_the_snapshots_age(demo, monkeypatch):
    record(demo, taken_at=TAKEN)
    at = page("pages/4_Anonymous_users.py", demo, monkeypatch)
    assert not at.exception and not at.error
    assert ("The ids owning uploads, their ages and the chart's line: as of the watcher's "
            "snapshot of 2026-11-24 11:55:00 UTC (5 min ago)") in captions(at)
    assert "By each id's newest upload; as of the watcher's snapshot, whatever" in captions(at)
    at = page("pages/1_Cache_hits.py", demo, monkeypatch)
    assert not at.exception and not at.error
    assert ("Every entry the cache held at the watcher's snapshot of 2026-11-24 11:55:00 UTC "
            "(5 min ago), whatever the window.") in captions(at)


def test_the_pages_say_when_they_counted_now(demo, monkeypatch):
    at = page("pages/4_Anonymous_users.py", demo, monkeypatch)
    assert not at.exception and "Ids owning uploads: counted now." in captions(at)
    at = page("pages/1_Cache_hits.py", demo, monkeypatch)
    assert not at.exception
    assert "Every entry the cache holds at this moment, whatever the window." in captions(at)


def test_on_both_engines_the_snapshot_gives_the_live_figures(tmp_path, monkeypatch, pg_templates):
    """SQLite and PostgreSQL alike: the snapshot's figures are the live ones, and the same."""
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    path, url = pg_templates.moved_demo(tmp_path, seed=0, now=NOW, prefix="watchedpages")
    got = {}
    for db in (path, url):
        record(db)
        ids = {key: assert_same_ids(db, Window.of(key, now=NOW))["by_period"]
               for key in ("24h", "30d", "all")}
        ages = assert_same_ages(db)
        contents = assert_same_cache(db)
        got[db] = ({k: f["owning_ids"].tolist() for k, f in ids.items()},
                   {k: v for k, v in ages.items() if k != "by_age"},
                   (contents["entries"], contents["accesses"], contents["eligible_for_cleanup"]))
    assert got[path] == got[url]
