"""History over simulated weeks with a fixed clock: raw snapshots for 14 days, the newest of each
hour for 90 days, the newest of each day for ever; configurable; kept apart per database."""
from datetime import datetime, timedelta

import pytest

from r2w_db import errors
from r2w_db.monitor.history_store import HistoryStore, Retention
from r2w_db.watch import settings

START = datetime(2026, 1, 1)


def simulate(store, db, days, every=timedelta(minutes=30), retention=None, start=START):
    """A snapshot every `every` for `days`, pruning each hour as the watcher does; returns the end."""
    moment, end, n = start, start + timedelta(days=days), 0
    while moment < end:
        store.record_snapshot(db, {"n": n, "file.size_bytes": 1000 + n}, taken_at=moment)
        n += 1
        moment += every
        if moment.minute == 0:
            store.prune(db, retention, now=moment)
    return end


def test_downsampling_over_simulated_weeks(tmp_path):
    store, db = HistoryStore(tmp_path / "monitor.db"), tmp_path / "app.db"
    retention = Retention(raw_days=3, hourly_days=10)
    end = simulate(store, db, 21, retention=retention)
    points = store.snapshots(db)
    by_grain = {g: [p for p in points if p["grain"] == g] for g in ("raw", "hour", "day")}
    raw_cut = (end - timedelta(days=3)).replace(minute=0)
    assert all(datetime.fromisoformat(p["taken_at"]) >= raw_cut for p in by_grain["raw"])
    assert len(by_grain["raw"]) == 3 * 48        # every 30 min for the last 3 days
    hours = [p["taken_at"][:13] for p in by_grain["hour"]]
    assert len(hours) == len(set(hours)) == 7 * 24   # one per hour from day 10 back to day 3
    days = [p["taken_at"][:10] for p in by_grain["day"]]
    assert len(days) == len(set(days)) == 11         # the first 11 days: one each, for ever
    # the kept point of an hour / a day is its newest one
    assert all(p["taken_at"][14:16] == "30" for p in by_grain["hour"])
    assert all(p["taken_at"][11:16] == "23:30" for p in by_grain["day"])
    # the series stays in order and its values are the recorded ones
    assert [p["metrics"]["n"] for p in points] == sorted(p["metrics"]["n"] for p in points)
    assert store.latest_snapshot(db)["metrics"]["n"] == 21 * 48 - 1


def test_a_window_of_history_and_daily_retention(tmp_path):
    store, db = HistoryStore(tmp_path / "monitor.db"), tmp_path / "app.db"
    end = simulate(store, db, 30, every=timedelta(hours=1),
                   retention=Retention(raw_days=2, hourly_days=5, daily_days=20))
    days = [p for p in store.snapshots(db) if p["grain"] == "day"]
    assert days and min(p["taken_at"] for p in days) >= (end - timedelta(days=20)).isoformat()[:10]
    week = store.snapshots(db, since=end - timedelta(days=7))
    assert week and all(p["taken_at"] >= (end - timedelta(days=7)).isoformat() for p in week)


def test_databases_never_mix(tmp_path):
    store = HistoryStore(tmp_path / "monitor.db")
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    store.record_snapshot(a, {"x": 1}, taken_at=START)
    store.record_snapshot(b, {"x": 2}, taken_at=START)
    store.prune(a, Retention(raw_days=0, hourly_days=0), now=START + timedelta(days=3))
    assert [p["metrics"]["x"] for p in store.snapshots(b)] == [2]
    assert [p["grain"] for p in store.snapshots(a)] == ["day"]


def test_retention_is_configurable(tmp_path):
    assert Retention.load() == Retention(14, 90, 0)
    got = Retention.load({"raw_days": 7, "hourly_days": 30}, {"R2W_HISTORY_RAW_DAYS": "3"})
    assert got == Retention(3, 30, 0)
    for table, env in (({"raw_days": "soon"}, {}), ({}, {"R2W_HISTORY_HOURLY_DAYS": "-1"}),
                       ({"raw_days": 30, "hourly_days": 10}, {}), ({"hourly": 3}, {})):
        with pytest.raises(errors.InvalidValue):
            Retention.load(table, env)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[history]\nraw_days = 5\nhourly_days = 40\n")
    loaded = settings.load(environ={}, files=[secrets])
    assert loaded.retention == Retention(5, 40, 0) and loaded.problem is None
    secrets.write_text("[history]\nraw_days = 100\n")
    assert "hourly_days" in settings.load(environ={}, files=[secrets]).problem


def test_durations():
    assert settings.parse_duration("30s") == timedelta(seconds=30)
    assert settings.parse_duration("5m") == timedelta(minutes=5)
    assert settings.parse_duration("1h") == timedelta(hours=1)
    assert settings.parse_duration("7d") == timedelta(days=7)
    for bad in ("", "5x", "-1m", "0s", "m"):
        with pytest.raises(errors.InvalidValue):
            settings.parse_duration(bad)
