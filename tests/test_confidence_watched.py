"""The Confidence page's "by model" over all time comes from the watcher's snapshot (figures.
watched_confidence): the same frame as counting live, on both engines; a bounded window, or a
snapshot that did not keep the per-model low and invalid scores, is counted live."""
import sqlite3

import pandas as pd
import pytest

from r2w_db.engine import timeutil
from r2w_db.figures import confidence, snapshot, watched_confidence
from r2w_db.figures.periods import Window
from r2w_db.monitor.history_store import HistoryStore
from tests.test_watched_anonymous_cache import captions, page
from tests.test_watched_checks import NOW, TAKEN, demo  # noqa: F401 (the small demo, as of NOW)


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)


def record(db, taken_at=NOW, drop=()):
    metrics = snapshot.take_snapshot(db, now=taken_at)["metrics"]
    metrics = {k: v for k, v in metrics.items() if not k.endswith(drop)} if drop else metrics
    HistoryStore().record_snapshot(db, metrics, taken_at=taken_at)


def assert_same(db, window):
    got = watched_confidence.by_model(db, window)
    pd.testing.assert_frame_equal(got["by_model"], confidence.by_model(db, window))
    return got


def spoil_scores(db):
    """Invalid and low scores in the demo's cache (NULL, negative, above 1, text, 0.1)."""
    with sqlite3.connect(db) as conn:
        hashes = [h for (h,) in conn.execute(
            "SELECT file_hash FROM cv_extraction_cache ORDER BY file_hash LIMIT 5")]
        for h, score in zip(hashes, (None, -0.5, 1.5, "high", 0.1)):
            conn.execute("UPDATE cv_extraction_cache SET confidence_score = ? WHERE file_hash = ?",
                         (score, h))


def test_all_time_comes_from_the_snapshot_and_is_the_live_frame(demo):
    spoil_scores(demo)
    record(demo, taken_at=TAKEN)
    got = assert_same(demo, Window.of("all", now=NOW))
    assert got["as_of"] == TAKEN
    frame = got["by_model"]
    assert frame["invalid"].sum() >= 4 and frame["low"].sum() >= 1 and len(frame) > 1


def test_a_bounded_window_is_counted_live(demo):
    record(demo)
    assert assert_same(demo, Window.of("7d", now=NOW))["as_of"] is None


def test_a_snapshot_without_the_per_model_low_is_not_used(demo):
    record(demo, drop=(".low", ".invalid_confidence"))
    assert assert_same(demo, Window.of("all", now=NOW))["as_of"] is None


def test_without_a_snapshot_it_is_counted_live(demo):
    assert assert_same(demo, Window.of("all", now=NOW))["as_of"] is None


def test_the_page_shows_the_snapshots_age_for_all_time_only(demo, monkeypatch):
    record(demo, taken_at=TAKEN)
    at = page("pages/2_Confidence.py", demo, monkeypatch, "all")
    assert not at.exception and not at.error
    assert ("Every entry the cache held, as of the watcher's snapshot of 2026-11-24 11:55:00 UTC "
            "(5 min ago).") in captions(at)
    at = page("pages/2_Confidence.py", demo, monkeypatch, "7d")
    assert not at.exception and not at.error
    assert "as of the watcher's snapshot" not in captions(at)


def test_on_both_engines_the_snapshot_gives_the_live_frame(tmp_path, monkeypatch, pg_templates):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    path, url = pg_templates.moved_demo(tmp_path, seed=0, now=NOW, prefix="watchedconf")
    got = {}
    for db in (path, url):
        record(db)
        kept = assert_same(db, Window.of("all", now=NOW))
        assert kept["as_of"] is not None
        got[db] = kept["by_model"]
    pd.testing.assert_frame_equal(got[path], got[url], check_exact=False)
