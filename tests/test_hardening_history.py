"""Issue 19, history and the watcher (classes 7, 8 and 9).

7. Any timestamp SQLite (or PostgreSQL) can hold never stops the watcher, a snapshot, the
   roll-ups, a forecast or the history: years 0000, 0001 with +14:00, 0100, 1500, 2300, 9999
   with -05:00, 10000, far offsets, NUL, empty text, julian day numbers, blobs. A row no period
   can hold is counted (`unplaced`), and an all-time window still counts it.
8. A watcher clock jumped forward (then corrected) or back never leaves the roll-ups wrong for
   good: periods recorded before they closed by the data's own clock are forgotten or
   recomputed, and the pages from the roll-ups equal the live figures.
9. R2W_MONITOR_DB naming the application's database (directly, through a link or `..`) is
   refused naming both paths, and a monitor file that holds the application's tables is never
   written: no monitor table, no journal-mode switch.
"""
import json
import os
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from r2w_db import errors
from r2w_db.backends import migrations
from r2w_db.engine import locations, timeutil
from r2w_db.figures import (anonymous, history_page, rollup_window, rollups, snapshot, uploads,
                            windowed)
from r2w_db.figures.periods import Window
from r2w_db.monitor.alert_store import AlertStore
from r2w_db.monitor.history_store import HistoryStore, history_frame
from r2w_db.monitor.store import MonitorStore
from r2w_db.watch import cycle
from r2w_db.watch.settings import WatchSettings
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 12, 0)
# readable but far (years 0000 to 0100, 1500, 2300, 9999), offsets that leave the year or the
# day, offsets SQLite cannot read, and what is no timestamp at all
ODD = ["0100-05-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-05:00",
       "9999-12-31T23:59:59", "0000-01-01T00:00:00", "-0001-01-01T00:00:00",
       "10000-01-01T00:00:00", "0001-01-01T00:00:00", "1500-06-01T00:00:00",
       "2300-01-01T00:00:00", "2026-11-20T00:00:00+23:59", "2026-11-22T00:00:00+14:00",
       "2026-11-22T23:00:00-14:00", "\x00", "", "2026-11-22\x00T00:00:00", 0, 1e300, b"\x00"]
# rows no roll-up period can hold: unreadable, or before the first day the roll-ups cover
UNPLACED = {"0100-05-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-05:00",
            "0000-01-01T00:00:00", "-0001-01-01T00:00:00", "10000-01-01T00:00:00",
            "0001-01-01T00:00:00", "1500-06-01T00:00:00", "2026-11-20T00:00:00+23:59", "\x00",
            "", 0, 1e300, b"\x00"}


def build(path, odd=()):
    """A small database (a sign-up, two sessions, three uploads, two cache entries), plus one
    row per odd timestamp in each of the four timestamp columns."""
    migrations.init(path)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO users (user_id, email, password_hash, created_at)"
                 " VALUES ('r1', 'a@example.com', 'h', '2026-11-20T00:00:00')")
    conn.executemany("INSERT INTO sessions VALUES (?, 'r1', ?)",
                     [("s1", "2026-11-23T00:00:00"), ("s2", "2026-11-10T00:00:00")])
    conn.executemany("INSERT INTO cv_uploads VALUES (?, 'r1', ?, 'cv.pdf', '.pdf', ?, NULL, ?, ?)",
                     [("u1", "j1", "2026-11-23T00:00:00", "completed", "h1"),
                      ("u2", "j2", "2026-11-23T01:00:00", "uploaded", "h2"),
                      ("u3", "j3", "2026-11-24T09:00:00", "processing", None)])
    conn.executemany("INSERT INTO cv_extraction_cache (file_hash, cv_data, extraction_model,"
                     " temperature, created_at, confidence_score, access_count, last_accessed)"
                     " VALUES (?, '{}', 'm', 0.0, ?, 0.9, 1, ?)",
                     [("h1", "2026-11-22T00:00:00", "2026-11-22T00:00:00")])
    for i, value in enumerate(odd):
        anon = f"anonymous_{i:012d}"
        conn.execute("INSERT INTO users (user_id, email, password_hash, created_at)"
                     " VALUES (?, ?, 'h', ?)", (anon, f"{i}@example.com", value))
        conn.execute("INSERT INTO sessions VALUES (?, 'r1', ?)", (f"odd{i}", value))
        conn.execute("INSERT INTO cv_uploads VALUES (?, ?, ?, 'cv.pdf', '.pdf', ?, NULL,"
                     " 'completed', ?)", (f"odd{i}", anon, f"oddjob{i}", value, f"odd{i}"))
        conn.execute("INSERT INTO cv_extraction_cache (file_hash, cv_data, extraction_model,"
                     " temperature, created_at, confidence_score, access_count, last_accessed)"
                     " VALUES (?, '{}', 'm', 0.0, ?, 0.5, 1, ?)", (f"odd{i}", value, value))
    conn.commit()
    conn.close()
    return path


def run(*args, env=None, cwd=ROOT):
    full = {k: v for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "R2W_DATABASES", "R2W_READ_ONLY")} | {
                "PYTHONPATH": str(ROOT)} | (env or {})
    done = run_cli([*map(str, args)], cwd=cwd, env=full, timeout=240)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def every_history_figure(db, store, now=NOW):
    """Every figure the pages and `history` draw from the roll-ups and the snapshots."""
    for key in ("24h", "7d", "90d", "all"):
        window = Window.of(key, now=now)
        rollup_window.days_of(db, window, store)
        frame = rollup_window.daily(db, window, store)
        assert frame["day"].isna().sum() == 0
        json.dumps(rollup_window.totals(db, window, store)["coverage"])
        windowed.headline(db, window, store)
        windowed.upload_by_period(db, window, store)
        windowed.hit_rate(db, window, store)
        windowed.anonymous_ids(db, window, store)
        windowed.confidence_by_period(db, window, store)
        windowed.confidence_histogram(db, window, store)
    monitor = store.monitor
    history_page.sizes(db, monitor=monitor)
    history_page.size_forecast(db, monitor=monitor)
    history_page.sparklines(db, now=now, monitor=monitor)
    history_page.watcher(db, now=now, monitor=monitor)
    history_page.tables(db, monitor=monitor)
    history_page.levels(db, monitor=monitor)


# ------------------------------------------------------------------ 7. odd timestamps

@pytest.mark.parametrize("value", ODD, ids=[repr(v)[:28] for v in ODD])
def test_one_odd_timestamp_never_stops_a_watch_cycle(tmp_path, value):
    db = build(tmp_path / "app.db", [value])
    monitor = MonitorStore(tmp_path / "monitor.db")
    got = cycle.run_cycle(db, WatchSettings(), monitor=monitor, now=NOW, notify=False)
    assert got["ok"] and got["errors"] == [] and got["snapshot_id"], got["errors"]
    assert got["health"]["exit_code"] in (0, 1, 2)
    later = cycle.run_cycle(db, WatchSettings(), monitor=monitor, now=NOW + timedelta(days=2),
                            notify=False)
    assert later["ok"] and later["rollups"] == ["2026-11-24", "2026-11-25"]
    store = HistoryStore(monitor)
    days = store.rollups(db)
    # every recorded period is a real day of the covered range, its key zero-padded
    assert all(timeutil.period_start(d) and d >= "2016" for d in days)
    done = rollups.roll_up(db, store, now=NOW + timedelta(days=2))
    expected = sum(1 for _ in [value] if value in UNPLACED)
    assert done["unplaced"] == ({} if not expected else {
        c: 1 for c in ("cv_uploads.upload_date", "cv_extraction_cache.created_at",
                       "users.created_at", "sessions.created_at")})
    every_history_figure(db, store, NOW + timedelta(days=2))


def test_every_odd_timestamp_at_once_and_the_all_time_totals(tmp_path):
    db = build(tmp_path / "app.db", ODD)
    store = HistoryStore(tmp_path / "monitor.db")
    snap, stored = cycle.record_snapshot(db, WatchSettings(), store, NOW)
    assert stored["id"] and snap["metrics"]["stats.uploads.total"] == 3 + len(ODD)
    assert sum(stored["rollups"]["unplaced"].values()) == 4 * len(UNPLACED)
    recorded = stored["rollups"]["recorded"]
    assert recorded[0] >= (NOW - rollups.BACKFILL_HISTORY).date().isoformat()
    assert recorded[-1] == "2026-11-23" and len(recorded) < 3700   # never from year 1
    every_history_figure(db, store)
    # the pages' all-time figures count every row (the unreadable ones live: windowed.usable)
    everything = Window.of("all", now=NOW)
    live = uploads.status_counts(db, everything)["uploads"].tolist()
    assert windowed.upload_status_counts(db, everything, store)["uploads"].tolist() == live
    frame = rollup_window.daily(db, everything, store)
    assert frame.attrs["left_out"] > 0 and frame["day"].min() >= pd.Timestamp(NOW - timedelta(days=3654))


@pytest.mark.parametrize("far", ["0100-05-01T00:00:00", "0001-01-01T00:00:00+14:00",
                                 "0000-01-01T00:00:00", "1500-06-01T00:00:00",
                                 "9999-12-31T23:59:59", "2300-01-01T00:00:00"])
def test_a_readable_far_timestamp_still_counts_in_all_time_from_the_rollups(tmp_path, far):
    db = build(tmp_path / "app.db", [far, "2026-11-22T00:00:00+14:00"])
    store = HistoryStore(tmp_path / "monitor.db")
    rollups.roll_up(db, store, now=NOW)
    everything = Window.of("all", now=NOW)
    assert windowed.usable(db, everything, store)
    live = uploads.status_counts(db, everything)["uploads"].tolist()
    assert windowed.upload_status_counts(db, everything, store)["uploads"].tolist() == live
    assert rollup_window.totals(db, everything, store)["uploads"]["total"] == sum(live) == 5
    windowed.upload_by_period(db, everything, store)
    windowed.headline(db, everything, store)


def test_watch_snapshot_rollups_and_history_as_commands(tmp_path):
    db = build(tmp_path / "app.db", ODD)
    env = {"R2W_MONITOR_DB": str(tmp_path / "monitor.db"), "HOME": str(tmp_path)}
    watched = run("--db", db, "watch", "--once", "--no-notify", "--json", env=env)
    line = json.loads(watched.stdout.splitlines()[-1])
    assert line["ok"] and line["errors"] == [] and line["snapshot_id"], line
    snap = run("--db", db, "snapshot", env=env)
    assert snap.returncode == 0, snap.stderr
    assert "row(s) with a timestamp no day can hold" in snap.stdout
    for args in (("history",), ("history", "--json"), ("history", "--daily"),
                 ("history", "--daily", "--json"), ("history", "--daily", "--since", "90d")):
        done = run("--db", db, *args, env=env)
        assert done.returncode == 0, (args, done.stderr)
    again = run("--db", db, "watch", "--once", "--no-notify", env=env)
    assert again.returncode in (0, 1, 2) and "R2W " in again.stdout, again.stderr


@pytest.mark.parametrize("value, expected", [
    ("0001-01-01T00:00:00+14:00", None), ("9999-12-31T23:59:59-05:00", None),
    ("0100-05-01T00:00:00", datetime(100, 5, 1)), ("2026-11-22T00:00:00+14:00",
                                                   datetime(2026, 11, 21, 10)),
    ("\x00", None), ("", None), ("10000-01-01", None), (b"\x00", None), (1e300, None)])
def test_parse_never_raises(value, expected):
    assert timeutil.parse(value) == expected


def test_period_keys_are_zero_padded_and_parsed_back():
    for moment in (datetime(1, 1, 1), datetime(100, 5, 1, 7), datetime(999, 12, 31, 23),
                   datetime(9999, 12, 31, 23)):
        for grain in ("day", "hour"):
            key = timeutil.period_key(moment, grain)
            assert len(key.split("-")[0]) == 4
            assert timeutil.period_start(key) == rollups.floor(moment, grain)
    for key in ("0000-12-31", "-001-01-01", "-4713-11-24", "10000-01-01", "2026-02-30",
                "100-05-01", None, "", "\x00"):
        assert timeutil.period_start(key) is None


def test_snapshots_under_a_far_clock_leave_the_forecast_and_history_standing(tmp_path):
    db = build(tmp_path / "app.db")
    store = HistoryStore(tmp_path / "monitor.db")
    for i, moment in enumerate([datetime(1500, 1, 1), datetime(2300, 1, 1), datetime(100, 1, 1),
                                *(NOW - timedelta(days=d) for d in range(8, 0, -1))]):
        store.record_snapshot(db, {"file.size_bytes": 1000 + i, "disk.free_bytes": 10 ** 9},
                              taken_at=moment)
    frame = history_frame(db, monitor=store.monitor)
    assert len(frame) >= 8 and frame["taken_at"].notna().all()
    got = history_page.size_forecast(db, monitor=store.monitor)["forecast"]
    assert got.state in ("not enough history", "not growing", "growing") and got.reason
    history_page.sizes(db, monitor=store.monitor)
    history_page.watcher(db, now=NOW, monitor=store.monitor)
    listed = run("--db", db, "history", env={"R2W_MONITOR_DB": str(store.path)})
    assert listed.returncode == 0


def test_odd_timestamps_on_postgresql(tmp_path, pg_url):
    """PostgreSQL holds BC years, year 10000+ and infinity: the roll-ups count them too."""
    from r2w_db.backends.postgresql import schema as pg_schema
    from r2w_db.backends.postgresql.database import PgDatabase

    pg_schema.init(pg_url)
    odd = ["0100-05-01 00:00:00+00", "0001-01-01 00:00:00+14", "0044-03-15 00:00:00+00 BC",
           "12000-01-01 00:00:00+00", "infinity", "-infinity", "2026-11-23 00:00:00+00"]
    with PgDatabase(pg_url).write() as conn:
        for i, value in enumerate(odd):
            conn.execute("INSERT INTO users (user_id, email, password_hash, created_at)"
                         " VALUES (%s, %s, 'h', %s)", (f"anonymous_{i:012d}", f"{i}@x", value))
            conn.execute("INSERT INTO sessions VALUES (%s, %s, %s)",
                         (f"s{i}", f"anonymous_{i:012d}", value))
            conn.execute("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename,"
                         " file_type, upload_date, status) VALUES (%s, %s, %s, 'cv.pdf', '.pdf',"
                         " %s, 'completed')", (f"u{i}", f"anonymous_{i:012d}", f"j{i}", value))
        conn.commit()
    store = HistoryStore(tmp_path / "monitor.db")
    assert rollups.first_day(pg_url) == datetime(100, 5, 1).date()
    done = rollups.roll_up(pg_url, store, now=NOW)
    assert done["recorded"][0] == "2026-11-23" and done["recorded"][-1] == "2026-11-23"
    # 0100, 0001+14, 44 BC and -infinity are before the covered days; infinity cannot be placed
    assert done["unplaced"]["cv_uploads.upload_date"] == 5
    snapshot.take_snapshot(pg_url, now=NOW)
    # the owners' ages: a date ahead (year 12000, infinity) is under a day old, as on SQLite;
    # one far back (years 100, 1, 44 BC, -infinity) over 90 days
    by_age = anonymous.ages(pg_url, NOW)["by_age"].set_index("bucket")["ids"]
    assert by_age.to_dict() == {"< 1 day": 2, "1–7 days": 1, "7–30 days": 0, "30–90 days": 0,
                                "> 90 days": 4}
    for key in ("7d", "all"):
        rollup_window.daily(pg_url, Window.of(key, now=NOW), store)
        rollup_window.totals(pg_url, Window.of(key, now=NOW), store)


# ------------------------------------------------------------------ 8. clock jumps

def add_uploads(db, moments, start=0):
    conn = sqlite3.connect(db)
    conn.executemany("INSERT INTO cv_uploads VALUES (?, 'r1', ?, 'cv.pdf', '.pdf', ?, NULL,"
                     " 'completed', NULL)",
                     [(f"j{start + i}", f"job{start + i}", timeutil.iso(m))
                      for i, m in enumerate(moments)])
    conn.commit()
    conn.close()


def assert_pages_equal_live(db, store, now):
    for key in ("24h", "7d", "30d"):
        window = Window.of(key, now=now)
        assert windowed.usable(db, window, store), key
        live = uploads.status_counts(db, window)["uploads"].tolist()
        assert windowed.upload_status_counts(db, window, store)["uploads"].tolist() == live, key
        frame_live = uploads.by_period(db, window)
        got = windowed.upload_by_period(db, window, store)
        assert got["uploads"].tolist() == frame_live["uploads"].tolist(), key
        assert rollup_window.totals(db, window, store)["uploads"]["total"] == sum(live), key


def build_clock_db(path, real):
    """Uploads every 30 minutes over the 4 days before `real` (192 of them)."""
    build(path)
    add_uploads(path, [real - timedelta(minutes=30 * i) for i in range(1, 193)])
    return path


@pytest.mark.parametrize("jump", [timedelta(hours=48), timedelta(hours=7, minutes=30),
                                  timedelta(days=9)])
def test_a_clock_jumped_forward_then_corrected(tmp_path, jump):
    real = datetime(2026, 11, 24, 10, 20)
    db = build_clock_db(tmp_path / "app.db", real)
    store = HistoryStore(tmp_path / "monitor.db")
    rollups.roll_up(db, store, now=real - timedelta(hours=3))          # a normal run first
    cycle.record_snapshot(db, WatchSettings(), store, real + jump)     # the clock ahead
    # the clock corrected: the application writes on, at the real time
    now = real + timedelta(minutes=5)
    add_uploads(db, [real + timedelta(minutes=1), real + timedelta(minutes=3)], start=1000)
    rollups.roll_up(db, store, now=now)
    assert_pages_equal_live(db, store, now)
    # uploads go on for two days, the watcher runs every hour: the pages follow the live figures
    moment = now
    for step in range(1, 49):
        moment = now + timedelta(hours=step)
        add_uploads(db, [moment - timedelta(minutes=20)], start=2000 + step)
        rollups.roll_up(db, store, now=moment)
        if step in (2, 30):
            assert_pages_equal_live(db, store, moment)
    assert_pages_equal_live(db, store, moment)
    total = Window.of("7d", now=moment)
    live = int(uploads.status_counts(db, total)["uploads"].sum())
    assert rollup_window.totals(db, total, store)["uploads"]["total"] == live


def test_a_forward_jump_found_only_after_the_clock_passed_it(tmp_path):
    """The watcher stopped while the clock was ahead, and ran again after the real time had
    passed the periods it recorded: the data's clock shows they were recorded too early."""
    real = datetime(2026, 11, 24, 10, 20)
    db = build_clock_db(tmp_path / "app.db", real)
    forward_jump_found_later(db, add_uploads, HistoryStore(tmp_path / "monitor.db"), real)


def forward_jump_found_later(db, add_uploads, store, real):
    """The story of the test above on a database holding uploads up to `real`, written with
    add_uploads(db, moments, start) (tests/test_pg_rollups.py tells it on PostgreSQL)."""
    rollups.roll_up(db, store, now=real + timedelta(hours=48))
    assert store.provisional(db, "hour")
    # the 48 hours happened for real: 48 uploads, then the watcher runs again
    add_uploads(db, [real + timedelta(hours=h, minutes=10) for h in range(50)], start=3000)
    now = real + timedelta(hours=50, minutes=15)
    done = rollups.roll_up(db, store, now=now)
    assert done["recomputed"] >= 48
    assert_pages_equal_live(db, store, now)
    again = rollups.roll_up(db, store, now=now + timedelta(minutes=5))
    assert again["recomputed"] == 0     # settled


def test_a_clock_jumped_back_keeps_what_was_recorded(tmp_path):
    real = datetime(2026, 11, 24, 10, 20)
    db = build_clock_db(tmp_path / "app.db", real)
    store = HistoryStore(tmp_path / "monitor.db")
    rollups.roll_up(db, store, now=real)
    before = store.rollups(db, grain="hour")
    # the clock 48 hours behind: nothing recorded by the data's clock is lost or rewritten
    back = rollups.roll_up(db, store, now=real - timedelta(hours=48))
    assert back["recorded"] == [] and back["hours"] == 0 and back["recomputed"] == 0
    kept = store.rollups(db, grain="hour")
    assert {k: v["figures"] for k, v in kept.items()} == {k: v["figures"] for k, v in before.items()}
    cycle.record_snapshot(db, WatchSettings(), store, real - timedelta(hours=48))
    # corrected
    now = real + timedelta(hours=3)
    add_uploads(db, [real + timedelta(minutes=m) for m in (10, 70, 130)], start=4000)
    rollups.roll_up(db, store, now=now)
    assert_pages_equal_live(db, store, now)


def test_a_quiet_database_is_not_recomputed_every_cycle(tmp_path):
    real = datetime(2026, 11, 24, 10, 20)
    db = build_clock_db(tmp_path / "app.db", real)
    store = HistoryStore(tmp_path / "monitor.db")
    rollups.roll_up(db, store, now=real + timedelta(days=3))
    for hours in (1, 2, 30):
        done = rollups.roll_up(db, store, now=real + timedelta(days=3, hours=hours))
        assert done["recomputed"] == 0


def test_rollups_recorded_before_the_data_clock_existed_are_kept(tmp_path):
    """A monitor database written by an earlier version has no data_clock: its periods are
    trusted as they are, and the column is added on the next write."""
    real = datetime(2026, 11, 24, 10, 20)
    db = build_clock_db(tmp_path / "app.db", real)
    path = tmp_path / "monitor.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE daily_rollups (database TEXT NOT NULL, day TEXT NOT NULL,
            recorded_at TEXT NOT NULL, backfilled INTEGER NOT NULL, figures TEXT NOT NULL,
            PRIMARY KEY (database, day)) WITHOUT ROWID;
        CREATE TABLE hourly_rollups (database TEXT NOT NULL, hour TEXT NOT NULL,
            recorded_at TEXT NOT NULL, backfilled INTEGER NOT NULL, figures TEXT NOT NULL,
            PRIMARY KEY (database, hour)) WITHOUT ROWID;""")
    conn.execute("INSERT INTO daily_rollups VALUES (?, '2026-11-22', '2026-11-23T00:05:00', 0, ?)",
                 (str(Path(db).resolve()), json.dumps(rollups.empty_day())))
    conn.commit()
    conn.close()
    store = HistoryStore(path)
    assert store.provisional(db) == {}
    done = rollups.roll_up(db, store, now=real)
    assert done["recorded"][0] == "2026-11-23"
    assert store.rollups(db, "2026-11-22", "2026-11-22")["2026-11-22"]["figures"] == \
        rollups.empty_day()


# ------------------------------------------------------------------ 9. the monitor's own file

def journal_and_tables(path):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return (conn.execute("PRAGMA journal_mode").fetchone()[0],
                sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master"
                                                  " WHERE type = 'table'")))
    finally:
        conn.close()


@pytest.mark.parametrize("how", ["same", "link", "dotdot", "relative", "hardlink"])
def test_the_monitor_database_is_never_the_applications(tmp_path, how):
    app = build(tmp_path / "app.db")
    before = journal_and_tables(app)
    (tmp_path / "sub").mkdir()
    monitor = {"same": app, "link": tmp_path / "link.db", "dotdot": tmp_path / "sub" / ".." / "app.db",
               "relative": Path("app.db"), "hardlink": tmp_path / "hard.db"}[how]
    if how == "link":
        monitor.symlink_to(app)
    if how == "hardlink":
        os.link(app, monitor)
    env = {"R2W_MONITOR_DB": str(monitor), "HOME": str(tmp_path)}
    for args in (("snapshot",), ("watch", "--once", "--no-notify"), ("health", "--notify")):
        done = run("--db", app, *args, env=env, cwd=tmp_path)
        assert done.returncode != 0, (args, done.stdout)
        # health's one line is its status line (UNKNOWN, exit 3), the others' an error line
        message = (done.stdout if args[0] == "health" else done.stderr).strip().splitlines()
        assert len(message) == 1 and str(monitor) in message[0] and str(app) in message[0], \
            (args, done.stderr)
    assert journal_and_tables(app) == before == ("delete", ["cv_extraction_cache", "cv_uploads",
                                                            "sessions", "users"])
    with pytest.raises(errors.BadLocation):
        locations.refuse_monitor_in(locations.DbLocation(app, False, "--db"),
                                    environ={"R2W_MONITOR_DB": str(monitor if how != "relative"
                                                                   else tmp_path / monitor)})


def test_a_monitor_file_holding_the_applications_tables_is_never_written(tmp_path):
    """Another application's database (a copy, a second site) as R2W_MONITOR_DB."""
    app = build(tmp_path / "app.db")
    other = build(tmp_path / "other.db")
    before = journal_and_tables(other)
    env = {"R2W_MONITOR_DB": str(other), "HOME": str(tmp_path)}
    done = run("--db", app, "snapshot", env=env)
    assert done.returncode != 0 and str(other) in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    for write in (lambda: HistoryStore(other).record_snapshot(app, {"x": 1}),
                  lambda: HistoryStore(other).record_rollups(app, {"2026-11-20": {}}),
                  lambda: MonitorStore(other).log_start(user="u", task="t", database=app),
                  lambda: AlertStore(MonitorStore(other)).record_cycle(app, ok=True),
                  lambda: rollups.roll_up(app, HistoryStore(other), now=NOW)):
        with pytest.raises(errors.BadLocation, match="application's tables"):
            write()
    assert journal_and_tables(other) == before
    # the application's own database, read as a monitor, is only read
    assert HistoryStore(other).snapshots(app) == [] and journal_and_tables(other) == before


def test_a_separate_monitor_database_still_works(tmp_path):
    app = build(tmp_path / "app.db")
    env = {"R2W_MONITOR_DB": str(tmp_path / "sub" / ".." / "monitor.db"), "HOME": str(tmp_path)}
    done = run("--db", app, "snapshot", env=env)
    assert done.returncode == 0, done.stderr
    assert journal_and_tables(tmp_path / "monitor.db")[0] == "wal"
    assert journal_and_tables(app)[0] == "delete"
