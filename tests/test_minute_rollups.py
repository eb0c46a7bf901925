"""Minute roll-ups (issue 21): the edges of the pages' windows come from the watcher's minute
roll-ups of the hours where they fall (rollups.edge_hours), not from rows, on SQLite and on
PostgreSQL, and every windowed figure (the Overview's headline among them) stays equal to its
live twin: edges in the middle of an hour, on the hour, at midnight, and those of windows no page
offers (off the minute, closed), read live. A monitor database without minute roll-ups reads its
edges live, as before, and gets them on the watcher's next run; minutes of other hours are
forgotten."""
import shutil
import sqlite3
from datetime import datetime, timedelta

import pytest

from r2w_db.backends import open_database
from r2w_db.figures import rollup_window, rollups, windowed
from r2w_db.figures.periods import Window
from r2w_db.monitor.history_store import HistoryStore

from .test_windowed import PAIRS, same

NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)   # the moved demo's now
WINDOWS = {  # the pages' windows, rolled up by a watcher at their now
    "7d, mid-hour": Window.of("7d", now=datetime(2026, 11, 24, 7, 41)),
    "7d, on the hour": Window.of("7d", now=datetime(2026, 11, 23, 5, 0)),
    "7d, at midnight": Window.of("7d", now=datetime(2026, 11, 24, 0, 0)),
    "24h, mid-hour": Window.of("24h", now=datetime(2026, 11, 24, 8, 15)),
    "30d, mid-hour": Window.of("30d", now=datetime(2026, 11, 24, 8, 15)),
}
OTHER_WINDOWS = {  # no page offers them: their part-hour edges are read live
    "off the minute": Window.between(datetime(2026, 11, 17, 13, 7, 42, 500000), None, now=NOW),
    "closed, across midnight": Window.between(datetime(2026, 11, 18, 22, 59, 59),
                                              datetime(2026, 11, 19, 1, 0, 30), now=NOW),
}


def edge_minutes(now, db):
    """How many closed minutes the edge hours of `now` hold from the database's first day on."""
    last = now.replace(second=0, microsecond=0)
    first = datetime.combine(rollups.first_day(db), datetime.min.time())
    return sum(max(0, (min(hour + timedelta(hours=1), last) - hour) // timedelta(minutes=1))
               for hour in rollups.edge_hours(now) if hour >= first)


@pytest.fixture(scope="module")
def moved(tmp_path_factory, pg_templates):
    """The demo on both engines, rolled up at NOW into one monitor database."""
    folder = tmp_path_factory.mktemp("minute_rollups")
    path, url = pg_templates.moved_demo(folder, seed=11, now=NOW, prefix="minute_demo")
    store = HistoryStore(folder / "monitor.db")
    for db in (path, url):
        done = rollups.roll_up(db, store, now=NOW)
        assert done["minutes"] == edge_minutes(NOW, db) > 10 * 60
    return {"sqlite": path, "postgresql": url}, store


def watched_at(store, db, now, folder):
    """A copy of the monitor database, rolled up again by a watcher at `now`."""
    copy = HistoryStore(folder / "watched-monitor.db")
    shutil.copy(store.path, copy.path)
    rollups.roll_up(db, copy, now=now)
    return copy


def live_ranges(monkeypatch):
    """[(start, stop)] of what rollup_window reads live from now on (its memory emptied)."""
    ranges = []
    compute = rollups.compute

    def recording(db, start, stop, grain="day", sections=None):
        ranges.append((start, stop))
        return compute(db, start, stop, grain, sections)

    rollup_window._RECENT.clear()
    rollup_window._LIVE.clear()
    monkeypatch.setattr(rollups, "compute", recording)
    return ranges


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
@pytest.mark.parametrize("name", list(WINDOWS))
def test_every_windowed_figure_equals_live_with_its_edges_from_minutes(moved, engine, name,
                                                                      monkeypatch, tmp_path):
    databases, store = moved
    db, window = databases[engine], WINDOWS[name]
    store = watched_at(store, db, window.now, tmp_path)
    ranges = live_ranges(monkeypatch)
    for figure, live in PAIRS:
        assert windowed.usable(db, window, store)
        same(figure(db, window, store), live(db, window))
    # read live: only an open window's tail from the minute of its now
    assert ranges
    for start, stop in ranges:
        assert stop is None and start >= window.now.replace(second=0, microsecond=0)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
@pytest.mark.parametrize("name", list(OTHER_WINDOWS))
def test_a_window_no_page_offers_reads_its_part_hours_live(moved, engine, name):
    databases, store = moved
    db, window = databases[engine], OTHER_WINDOWS[name]
    for figure, live in PAIRS:
        same(figure(db, window, store), live(db, window))


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_the_headline_reads_no_row_of_its_edges(moved, engine, monkeypatch):
    """The Overview's 7-day headline at the moment the watcher rolled up: every part of both
    sides from the roll-ups, the open tail holding no row."""
    databases, store = moved
    window = Window.of("7d", now=NOW.replace(second=0, microsecond=0))
    ranges = live_ranges(monkeypatch)
    windowed.headline(databases[engine], window, store)
    assert ranges == [(window.now, None)]
    found = rollup_window.days_of(databases[engine], window, store)
    assert {source for _, _, source, _ in found} == {"rollup"}


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_an_old_monitor_database_reads_its_edges_live_until_the_watcher_runs(moved, engine,
                                                                           tmp_path,
                                                                           monkeypatch):
    databases, store = moved
    db, window = databases[engine], WINDOWS["7d, mid-hour"]
    old = HistoryStore(tmp_path / "old-monitor.db")
    shutil.copy(store.path, old.path)
    with sqlite3.connect(old.path) as conn:
        conn.execute("DROP TABLE minute_rollups")
    ranges = live_ranges(monkeypatch)
    for figure, live in PAIRS:
        same(figure(db, window, old), live(db, window))
    assert any(stop is not None and stop - start >= timedelta(minutes=1) for start, stop in ranges)
    assert {key for key, _, source, _ in rollup_window.days_of(db, window, old)
            if source == "live"} == {"2026-11-17", "2026-11-24"}
    monkeypatch.undo()
    done = rollups.roll_up(db, old, now=window.now)   # the watcher at the page's now
    assert done["minutes"] == edge_minutes(window.now, db) and done["hours"] == 0
    ranges = live_ranges(monkeypatch)
    same(windowed.headline(db, window, old), PAIRS[-1][1](db, window))
    assert all(stop is None for _, stop in ranges)


def test_minutes_of_other_hours_are_forgotten(moved, tmp_path):
    databases, store = moved
    copy = HistoryStore(tmp_path / "monitor.db")
    shutil.copy(store.path, copy.path)
    later = NOW + timedelta(days=1, minutes=3)
    rollups.roll_up(databases["sqlite"], copy, now=later)
    with sqlite3.connect(copy.path) as conn:
        kept = [m for (m,) in conn.execute("SELECT minute FROM minute_rollups WHERE database = ?",
                                           (open_database(databases["sqlite"]).key,))]
    hours = {h.strftime("%Y-%m-%d %H") for h in rollups.edge_hours(later)}
    assert len(kept) == edge_minutes(later, databases["sqlite"])
    assert {m[:13] for m in kept} <= hours
    # the hours NOW's windows needed and later's do not are gone
    assert not {h.strftime("%Y-%m-%d %H") for h in rollups.edge_hours(NOW)} - hours & {
        m[:13] for m in kept}
