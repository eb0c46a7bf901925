"""The Confidence page's "by model" from the roll-ups (issue 21): each period records its
per-model figures (confidence_models), and a window reads them plus its live edges: the same
frame as confidence.by_model, on the demo and the production-like fixture, for whole windows and
windows cut mid-hour. A monitor database recorded before these figures were kept answers live
(never zeros) until the next roll-up fills them in."""
import json
import sqlite3
from datetime import datetime, timedelta

import pandas as pd
import pytest

from r2w_db.demo.builder import build_demo
from r2w_db.figures import confidence, rollup_window, rollups, watched_confidence, windowed
from r2w_db.figures.periods import Window
from r2w_db.monitor.history_store import HistoryStore
from tests.prodlike import build_prodlike

NOW = datetime(2026, 11, 26, 9, 37, 12, 345678)
WINDOWS = [
    lambda: Window.of("24h", now=NOW), lambda: Window.of("7d", now=NOW),
    lambda: Window.of("30d", now=NOW), lambda: Window.of("all", now=NOW),
    # bounded, both edges mid-hour; an open side from mid-hour; the first hours of the history
    lambda: Window.between(NOW - timedelta(days=3, minutes=17), NOW - timedelta(hours=5, minutes=3),
                           now=NOW),
    lambda: Window.between(NOW - timedelta(days=12, hours=2, minutes=41), None, now=NOW),
    lambda: Window.between(None, NOW - timedelta(days=40, minutes=7), now=NOW),
]


def same(got, want):
    """Equal frames; means to 1e-12 relative (a sum / count over periods, not one avg())."""
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True),
                                  check_exact=False, rtol=1e-12)


def rolled_up(folder, build):
    path = folder / "r2w.db"
    build(path, now=NOW)
    store = HistoryStore(folder / "monitor.db")
    rollups.roll_up(path, store, now=NOW)
    return path, store


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return rolled_up(tmp_path_factory.mktemp("models-demo"), build_demo)


@pytest.fixture(scope="module")
def prodlike(tmp_path_factory):
    return rolled_up(tmp_path_factory.mktemp("models-prodlike"), build_prodlike)


@pytest.mark.parametrize("make", WINDOWS)
def test_by_model_from_rollups_equals_live_on_the_demo(demo, make):
    path, store = demo
    window = make()
    assert windowed.usable(path, window, store)
    got = windowed.confidence_by_model(path, window, store)
    assert got.attrs["source"] == "rollups"
    same(got, confidence.by_model(path, window))


@pytest.mark.parametrize("make", WINDOWS)
def test_by_model_from_rollups_equals_live_on_the_prodlike_fixture(prodlike, make):
    path, store = prodlike
    window = make()
    same(windowed.confidence_by_model(path, window, store), confidence.by_model(path, window))


def test_the_page_figure_reads_the_rollups_for_a_bounded_window(demo):
    path, store = demo
    window = Window.of("7d", now=NOW)
    got = watched_confidence.by_model(path, window, history=store)
    assert got["as_of"] is None and got["by_model"].attrs["source"] == "rollups"
    same(got["by_model"], confidence.by_model(path, window))


def test_a_period_without_the_figures_makes_the_sum_unknown():
    day = rollups.empty_day()
    old = {k: v for k, v in day.items() if k != "confidence_models"}
    row = ["m", 2, 1, 0.5, 0, 1, 1]
    day["confidence_models"] = [row]
    assert rollup_window.add(day, day)["confidence_models"] == [["m", 4, 2, 1.0, 0, 2, 2]]
    assert rollup_window.add(day, old)["confidence_models"] is None
    assert rollup_window.models_of([("d1", day, "rollup", False), ("d2", old, "rollup", False)]) \
        is None


def _forget_models(store):
    """Make every recorded period look as recorded before confidence_models was kept."""
    with sqlite3.connect(store.path) as conn:
        for table in ("daily_rollups", "hourly_rollups"):
            for key, period, figures in conn.execute(
                    f"SELECT database, {'day' if table == 'daily_rollups' else 'hour'}, figures"
                    f" FROM {table}").fetchall():
                figures = json.loads(figures)
                figures.pop("confidence_models")
                conn.execute(f"UPDATE {table} SET figures = ? WHERE database = ? AND "
                             f"{'day' if table == 'daily_rollups' else 'hour'} = ?",
                             (json.dumps(figures, sort_keys=True), key, period))


def test_an_old_monitor_database_answers_live_then_is_filled_in(tmp_path):
    path, store = rolled_up(tmp_path, build_demo)
    _forget_models(store)
    assert store.lacking(path, "confidence_models", "day")
    for make in WINDOWS[:3]:
        window = make()
        got = windowed.confidence_by_model(path, window, store)
        assert got.attrs["source"] == "live" and got["entries"].sum() > 0
        same(got, confidence.by_model(path, window))
    # the next roll-up (an hour later) counts them once for every period recorded without them
    rollups.roll_up(path, store, now=NOW + timedelta(hours=1))
    assert not store.lacking(path, "confidence_models", "day")
    assert not store.lacking(path, "confidence_models", "hour")
    for make in WINDOWS:
        window = make()
        got = windowed.confidence_by_model(path, window, store)
        assert got.attrs["source"] == "rollups"
        same(got, confidence.by_model(path, window))
    # and nothing else of a period changed
    day = next(iter(store.rollups(path, "2026-11-20", "2026-11-20").values()))["figures"]
    assert day["confidence"] == rollups.compute(
        path, datetime(2026, 11, 20), datetime(2026, 11, 21))["2026-11-20"]["confidence"]


def test_filling_in_writes_only_the_missing_section(tmp_path):
    path, store = rolled_up(tmp_path, build_demo)
    before = store.rollups(path, "2026-11-01", "2026-11-05")
    assert store.add_section(path, "confidence_models", {"2026-11-02": [["x", 1, 1, 1.0, 0, 0, 0]]}) \
        == 0   # already recorded: kept as it is
    assert store.rollups(path, "2026-11-01", "2026-11-05") == before


def test_the_page_says_when_by_model_is_counted_live(tmp_path, monkeypatch):
    from r2w_db.engine import timeutil
    from tests.test_watched_anonymous_cache import captions, page

    path, store = rolled_up(tmp_path, build_demo)
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)
    monkeypatch.setenv("R2W_MONITOR_DB", str(store.path))
    _forget_models(store)
    note = "Counted live: days of this window were rolled up before the per-model figures"
    at = page("pages/2_Confidence.py", path, monkeypatch, "7d")
    assert not at.exception and not at.error and note in captions(at)
    assert "Closed days and hours come from the watcher's roll-ups" in captions(at)
    rollups.roll_up(path, store, now=NOW)
    at = page("pages/2_Confidence.py", path, monkeypatch, "7d")
    assert not at.exception and not at.error and note not in captions(at)
    shown = next(df.value for df in at.dataframe if "below_threshold" in df.value.columns)
    same(shown, confidence.by_model(path, Window.of("7d", now=NOW)))
