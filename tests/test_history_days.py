"""History from the first day (issue 21): the daily roll-ups (and the database for the days they
do not hold) are history without any snapshot; one snapshot shows as numbers; "Last snapshot"
gives its true age (AppTest, a fixed clock)."""
from datetime import timedelta

from r2w_db.engine import timeutil
from r2w_db.figures import history_page, rollups
from r2w_db.figures.periods import Window
from r2w_db.figures.snapshot import take_snapshot
from r2w_db.monitor.history_store import HistoryStore

from .signin_helpers import demo_path, env, signed_in  # noqa: F401
from .test_history_page import (HISTORY, NOW, cleaned, demo_db, monitor, run,  # noqa: F401
                                texts)

DAILY_CHARTS = 4   # uploads by status, new cache entries, new anonymous ids, sign-ups


def test_the_days_come_from_the_rollups_back_to_the_first_day(cleaned, monitor):
    got = history_page.daily(cleaned, Window.of("all", now=NOW), monitor)
    days = got["days"].set_index("period")
    recorded = HistoryStore(monitor).rollups(cleaned)
    first = min(recorded)
    assert f"{days.index.min():%Y-%m-%d}" == first and len(recorded) >= 89
    assert got["rollup_days"] == len(days) and got["live_days"] == 0
    for day, row in recorded.items():   # what the cleanup deleted is still there
        f, shown = row["figures"], days.loc[day]
        assert shown["uploads"] == f["uploads"]["total"], day
        assert shown["completed"] == f["uploads"]["completed"]
        assert shown["confidence_entries"] == f["confidence"]["entries"]
        assert shown["new_anonymous_ids"] == f["anonymous"]["new_ids"]
        assert shown["signups"] == f["signups"]
    assert days.loc[first:f"{NOW - timedelta(days=41):%Y-%m-%d}", "uploads"].sum() > 0
    # the 24-hour window: its two UTC days, whole
    two = history_page.daily(cleaned, Window.of("24h", now=NOW), monitor)["days"]
    assert list(two["period"].dt.strftime("%Y-%m-%d")) == ["2026-11-23", "2026-11-24"]
    assert two["uploads"].iloc[0] == recorded["2026-11-23"]["figures"]["uploads"]["total"]


def test_only_the_days_after_the_newest_rollup_are_read_live(demo_db, monitor):
    window = Window.of("30d", now=NOW)
    # no roll-up at all: nothing is read (counting 90 days live costs rows)
    got = history_page.daily(demo_db, window, monitor)
    assert got["rolled_up"] is False and got["days"].empty
    rollups.roll_up(demo_db, HistoryStore(monitor), NOW - timedelta(days=3))
    got = history_page.daily(demo_db, window, monitor)
    days = got["days"]
    # 11-21 (its hours until 12:00 rolled up, the rest live), 11-22, 11-23 and 11-24
    assert got["rolled_up"] and len(days) == 31 and got["live_days"] == 4
    assert list(days["source"].iloc[-5:]) == ["rollup"] + ["live"] * 4
    live = rollups.compute(demo_db, NOW.replace(hour=0) - timedelta(days=30), NOW)
    assert list(days["uploads"]) == [f["uploads"]["total"] for f in live.values()]


def test_history_with_rollups_and_no_snapshot(cleaned, monitor, monkeypatch):
    at = run(HISTORY, cleaned, monkeypatch, window="all")
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("vega_lite_chart")) == DAILY_CHARTS
    captions = " ".join(texts(at, "caption"))
    got = history_page.daily(cleaned, Window.of("all", now=NOW), monitor)
    assert got["rollup_days"] == len(got["days"]) >= 90   # today: from the hourly roll-ups
    assert (f"{len(got['days'])} UTC days, 2026-08-26 to 2026-11-24: {got['rollup_days']} from "
            "the watcher's roll-ups") in captions
    statuses = at.get("vega_lite_chart")[0].proto.spec
    assert '"status"' in statuses and "completed" in statuses
    infos = [i for i in texts(at, "info") if "No snapshot yet" in i]
    assert len(infos) == 1 and " watch`" in infos[0] and "sizes" in infos[0]
    assert "Last snapshot" not in {m.label for m in at.metric}


def test_history_with_one_snapshot_shows_numbers_and_its_true_age(demo_db, monitor,
                                                                   monkeypatch):
    rollups.roll_up(demo_db, HistoryStore(monitor), NOW)
    HistoryStore(monitor).record_snapshot(
        demo_db, take_snapshot(demo_db, now=NOW, last_runs={})["metrics"], taken_at=NOW)
    # 28 s later: the window's minute, floored, is still NOW (the age once read "0 s ago")
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW + timedelta(seconds=28))
    at = run(HISTORY, demo_db, monkeypatch, window="7d")
    assert not at.exception, [e.value for e in at.exception]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Last snapshot"] == "28 s ago"
    assert shown["database file"] == f"{demo_db.stat().st_size / 2 ** 20:.1f} MB"
    assert shown["Cache entries"] and shown["Anonymous ids"] and shown["cv_uploads"] == "1,500"
    captions = texts(at, "caption")
    assert len([c for c in captions if c.startswith("One snapshot in this window")]) == 3
    # the day-by-day charts and the table bars: no chart of a single point
    assert len(at.get("vega_lite_chart")) == DAILY_CHARTS + 1
    assert any("Not enough history" in i for i in texts(at, "info"))


def test_history_without_rollups_says_how_to_record_them(demo_db, monitor, monkeypatch):
    at = run(HISTORY, demo_db, monkeypatch, window="all")
    assert not at.exception, [e.value for e in at.exception]
    said = [i for i in texts(at, "info") if i.startswith("Day by day starts with the daily")]
    assert len(said) == 1 and " watch --once`" in said[0]
    assert not at.get("vega_lite_chart")


def test_an_admin_records_the_rollups_from_the_page(demo_db, monitor, monkeypatch):
    at = run(HISTORY, demo_db, monkeypatch, window="all")
    assert not at.get("vega_lite_chart")
    at.button(key="history_record_rollups").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("vega_lite_chart")) == DAILY_CHARTS
    assert not [i for i in texts(at, "info") if i.startswith("Day by day starts with the daily")]
    days = HistoryStore(monitor).rollups(demo_db)
    assert len(days) >= 90   # the demo's 90 days, in the monitor database


def test_a_viewer_cannot_record_the_rollups(env):
    at = signed_in(HISTORY, "vic", query={"window": "all"})
    assert not at.exception, [e.value for e in at.exception]
    assert any(i.startswith("Day by day starts with the daily") for i in texts(at, "info"))
    assert not [b for b in at.button if b.key == "history_record_rollups"]
    admin = signed_in(HISTORY, "ada", query={"window": "all"})
    assert admin.button(key="history_record_rollups")
