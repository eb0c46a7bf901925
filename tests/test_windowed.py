"""The pages' windowed figures from the roll-ups equal the live ones, frame for frame, on the demo
history and on the production-like fixture; without roll-ups (or with an unreadable timestamp in
an all-time window) the live function answers; the open hour is read live."""
import shutil
import sqlite3
from datetime import datetime, timedelta

import pandas as pd
import pytest

from r2w_db.demo.builder import build_demo
from r2w_db.figures import (anonymous, cache_hits, confidence, overview, rollup_window, rollups,
                            uploads, windowed)
from r2w_db.figures.periods import Window
from r2w_db.monitor.history_store import HistoryStore
from tests.prodlike import build_prodlike

NOW = datetime(2026, 11, 26, 9, 37)
PAIRS = [  # (windowed, live)
    (windowed.upload_status_counts, uploads.status_counts),
    (windowed.upload_by_period, uploads.by_period),
    (windowed.upload_file_types, uploads.file_types),
    (windowed.hit_rate, cache_hits.hit_rate),
    (windowed.anonymous_share, anonymous.share_by_period),
    (windowed.anonymous_ids, anonymous.ids_by_period),
    (windowed.confidence_summary, confidence.summary),
    (windowed.confidence_histogram, confidence.histogram),
    (windowed.confidence_by_period, confidence.mean_by_period),
    (windowed.confidence_by_model, confidence.by_model),
    (windowed.headline, overview.headline),
]


def same(got, want):
    """Equal: frames column by column (means to 1e-9: a sum / count, not SQLite's avg), dicts key
    by key."""
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True),
                                      check_exact=False, rtol=1e-9)
    elif isinstance(want, dict):
        assert set(got) == set(want)
        for key in want:
            same(got[key], want[key])
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-9)
    else:
        assert got == want


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("windowed")
    path = folder / "demo.db"
    build_demo(path, now=NOW)
    store = HistoryStore(folder / "monitor.db")
    done = rollups.roll_up(path, store, now=NOW)
    assert done["hours"] > 24 * 90
    return path, store


@pytest.fixture(scope="module")
def prodlike(tmp_path_factory):
    folder = tmp_path_factory.mktemp("windowed-prodlike")
    path = folder / "prod.db"
    build_prodlike(path, now=NOW)
    store = HistoryStore(folder / "monitor.db")
    rollups.roll_up(path, store, now=NOW)
    return path, store


@pytest.mark.parametrize("key", ["24h", "7d", "30d", "all"])
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p[0].__name__)
def test_from_rollups_equals_live_on_the_demo(demo, key, pair):
    path, store = demo
    window = Window.of(key, now=NOW)
    assert windowed.usable(path, window, store)
    same(pair[0](path, window, store), pair[1](path, window))


@pytest.mark.parametrize("key", ["24h", "7d", "all"])
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p[0].__name__)
def test_from_rollups_equals_live_on_the_prodlike_fixture(prodlike, key, pair):
    path, store = prodlike
    window = Window.of(key, now=NOW)
    same(pair[0](path, window, store), pair[1](path, window))


def test_only_the_edges_and_the_open_hour_are_read_live(demo, tmp_path):
    """Without minute roll-ups (a monitor database from before issue 21): the cut hours at the
    edges and the open hour are read live. With them, nothing of a 7-day or 24-hour window
    rolled up at its now is (tests/test_minute_rollups.py: the edges, on both engines)."""
    path, store = demo
    old = HistoryStore(tmp_path / "old-monitor.db")
    shutil.copy(store.path, old.path)
    with sqlite3.connect(old.path) as conn:
        conn.execute("DROP TABLE minute_rollups")
    found = rollup_window.days_of(path, Window.of("7d", now=NOW), old)
    live = [key for key, _, source, _ in found if source == "live"]
    # the first day (its first hour is cut at 09:37) and today (its open hour) only
    assert live == ["2026-11-19", "2026-11-26"]
    hours = rollup_window.days_of(path, Window.of("24h", now=NOW), old)
    assert [k for k, _, s, _ in hours if s == "live"] == ["2026-11-25 09:00", "2026-11-26 09:00"]
    assert len(hours) == 25
    for window in (Window.of("7d", now=NOW), Window.of("24h", now=NOW)):
        found = rollup_window.days_of(path, window, store)
        assert found and {source for _, _, source, _ in found} == {"rollup"}


def test_without_rollups_the_live_function_answers(demo, tmp_path):
    path, _ = demo
    empty = HistoryStore(tmp_path / "none.db")
    window = Window.of("7d", now=NOW)
    assert not windowed.usable(path, window, empty)
    same(windowed.upload_by_period(path, window, empty), uploads.by_period(path, window))


def test_an_unreadable_timestamp_keeps_all_time_live(prodlike):
    path, store = prodlike
    # the production-like fixture holds timestamps SQLite cannot read
    assert not windowed.usable(path, Window.of("all", now=NOW), store)
    assert windowed.usable(path, Window.of("7d", now=NOW), store)


def test_a_closed_hour_is_recorded_once(demo):
    path, store = demo
    again = rollups.roll_up(path, store, now=NOW + timedelta(minutes=10))
    assert again["hours"] == 0 and again["recorded"] == []
    later = rollups.roll_up(path, store, now=NOW + timedelta(hours=2))
    assert later["hours"] == 2
