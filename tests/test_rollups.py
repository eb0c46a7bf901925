"""Daily roll-ups: a day's roll-up equals what the pages' own functions compute for that day,
the first run back-fills (and says so), a day is recorded once, and a window answered from
roll-ups plus the open days equals the live figures and survives a cleanup."""
import shutil
import sqlite3
from datetime import datetime, timedelta

import pytest

from r2w_db.demo.builder import build_demo
from r2w_db.figures import anonymous, cache_hits, confidence, overview, rollup_window, rollups, uploads
from r2w_db.figures.periods import Window
from r2w_db.monitor.history_store import HistoryStore

NOW = datetime(2026, 11, 26, 9, 30)
DAYS = ["2026-08-29", "2026-10-01", "2026-11-11", "2026-11-20", "2026-11-25"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("rollups") / "demo.db"
    build_demo(path, now=NOW)
    return path


@pytest.fixture
def store(tmp_path):
    return HistoryStore(tmp_path / "monitor.db")


def day_window(day):
    start = datetime.fromisoformat(day)
    return Window.between(start, start + timedelta(days=1), now=NOW)


@pytest.mark.parametrize("day", DAYS)
def test_a_days_rollup_equals_the_pages_figures(demo, day):
    window = day_window(day)
    [(got_day, got)] = rollups.compute(demo, window.start, window.end).items()
    assert got_day == day
    statuses = uploads.status_counts(demo, window).set_index("status")["uploads"].to_dict()
    assert {k: v for k, v in got["uploads"].items() if k != "total"} == statuses
    assert got["uploads"]["total"] == sum(statuses.values()) > 0
    types = uploads.file_types(demo, window)
    assert [(t, n, f) for t, n, f, _ in got["file_types"]] == list(
        types[["file_type", "uploads", "failed"]].itertuples(index=False, name=None))
    hits = cache_hits.hit_rate(demo, window)
    assert got["cache"] == {"uploads": hits["uploads"], "hashed": hits["hashed"], "hits": hits["hits"]}
    assert got["anonymous"]["new_ids"] == int(anonymous.ids_by_period(demo, window)["new_ids"].sum())
    assert got["anonymous"]["uploads"] == anonymous.share_by_period(demo, window)["anonymous"]
    assert got["confidence"]["histogram"] == confidence.histogram(demo, window)["entries"].tolist()
    summary = confidence.summary(demo, window)
    for key in ("entries", "valid", "null", "out_of_range", "low", "below_threshold_not_low",
                "cacheable"):
        assert got["confidence"][key] == summary[key], key
    if summary["valid"]:
        assert got["confidence"]["score_sum"] / got["confidence"]["valid"] == pytest.approx(summary["mean"])
    head = overview.headline(demo, window)["current"]
    assert got["signups"] == head["registered_new"]
    assert got["anonymous"]["new_ids"] == head["anonymous_new"]
    with sqlite3.connect(demo) as conn:
        assert got["sessions_created"] == conn.execute(
            "SELECT count(*) FROM sessions WHERE created_at >= ? AND created_at < ?",
            (window.start.isoformat(), window.end.isoformat())).fetchone()[0]


def test_the_first_run_backfills_every_closed_day_once(demo, store):
    done = rollups.roll_up(demo, store, now=NOW)
    days = store.rollups(demo)
    assert done["recorded"] == sorted(days) and done["recorded"][-1] == "2026-11-25"
    assert done["recorded"][0] == rollups.first_day(demo).isoformat()
    assert all(days[d]["backfilled"] for d in days if d < "2026-11-25")
    assert not days["2026-11-25"]["backfilled"]      # closed 9.5 h before: complete
    # a later run records only the newly closed day, and never rewrites one
    again = rollups.roll_up(demo, store, now=NOW + timedelta(days=1))
    assert again["recorded"] == ["2026-11-26"] and again["backfilled"] == 0
    assert store.record_rollups(demo, {"2026-11-20": rollups.empty_day()}) == []
    assert store.rollups(demo, "2026-11-20", "2026-11-20")["2026-11-20"]["figures"] == \
        days["2026-11-20"]["figures"]


@pytest.mark.parametrize("key", ["7d", "30d", "all"])
def test_a_window_from_rollups_equals_the_live_figures(demo, store, key):
    rollups.roll_up(demo, store, now=NOW)
    window = Window.of(key, now=NOW)
    got = rollup_window.totals(demo, window, store)
    assert got["coverage"]["rollup_days"] >= (6 if key == "7d" else 29)
    assert got["coverage"]["live_days"] <= 2
    live = uploads.summarise(uploads.status_counts(demo, window))
    assert got["uploads"]["total"] == live["uploads"] and got["failure_rate"] == live["failure_rate"]
    hits = cache_hits.hit_rate(demo, window)
    assert (got["hashed"], got["hits"]) == (hits["hashed"], hits["hits"])
    head = overview.headline(demo, window)["current"]
    assert (got["signups"], got["new_anonymous_ids"]) == (head["registered_new"], head["anonymous_new"])
    assert got["histogram"]["entries"].tolist() == confidence.histogram(demo, window)["entries"].tolist()
    frame = rollup_window.daily(demo, window, store)
    assert frame["uploads"].sum() == live["uploads"]
    # the windows' edges and the open day come from the minute roll-ups of their hours (issue 21)
    assert set(frame["source"]) == {"rollup"}


def test_history_survives_a_cleanup(demo, store, tmp_path):
    copy = tmp_path / "copy.db"
    shutil.copy(demo, copy)
    rollups.roll_up(copy, store, now=NOW)
    # whole days (a window's partial first day is read live, so a cleanup shows there)
    window = Window.between(datetime(2026, 8, 28), None, now=NOW)
    before = rollup_window.totals(copy, window, store)
    with sqlite3.connect(copy) as conn:   # what the anonymous cleanup does to old ids
        conn.execute("DELETE FROM cv_uploads WHERE user_id LIKE 'anonymous%' AND upload_date < ?",
                     ((NOW - timedelta(days=30)).isoformat(),))
    live = anonymous.ids_by_period(copy, window)["new_ids"].sum()
    after = rollup_window.totals(copy, window, store)
    assert live < before["new_anonymous_ids"]
    assert after["new_anonymous_ids"] == before["new_anonymous_ids"]
    assert after["uploads"] == before["uploads"]
