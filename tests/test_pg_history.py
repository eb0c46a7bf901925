"""Snapshots, roll-ups, history and watch on PostgreSQL, and history running on across a move.

- Roll-ups: rollups.compute on the demo history (and the production-like fixture) moved into
  PostgreSQL equals SQLite's, period by period, per day and per hour, over bounded and open
  ranges; so does first_day.
- Snapshots: the same keys and metric names as SQLite's, the same stats and rows per table;
  PostgreSQL's storage figures where SQLite has its file's (null where there is none).
- History across the move: snapshot the SQLite file, move it, snapshot the PostgreSQL URL:
  `history --json --db URL` shows both points, in order; the SQLite file's roll-ups answer the
  URL's windows (no back-fill), and keep what a cleanup deletes after the move.
- watch --once on a URL, and watch / health --all over an SQLite file and a URL together.
"""
import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from r2w_db.demo.builder import build_demo
from r2w_db.engine import timeutil
from r2w_db.backends import migrations
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db.figures import history_page, rollup_window, rollups, snapshot
from r2w_db.backends.postgresql import snapshot as pg_snapshot
from r2w_db.figures.periods import Window
from r2w_db.maintenance import move
from r2w_db.monitor.history_store import HistoryStore
from r2w_db.monitor.store import MonitorStore

from .prodlike import build_prodlike
from .test_pg_cli import run, with_password
from .test_pg_pages import fresh_pages, run_page  # noqa: F401  (fresh_pages: a fixture)
from .test_pg_stats import assert_same_stats

NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)
RANGES = [  # (start, end, grain): bounded, partial edges, open at either side
    (NOW - timedelta(days=120), NOW, "day"),
    (NOW - timedelta(days=9, hours=5, minutes=7), NOW - timedelta(days=2, minutes=3), "day"),
    (None, NOW - timedelta(days=30), "day"),
    (NOW - timedelta(days=10), None, "day"),
    (NOW - timedelta(days=3, hours=5, minutes=7), NOW, "hour"),
    (NOW - timedelta(days=2), None, "hour"),
]
# the SQLite file's own figures: PostgreSQL has no such file, its own checks come instead
SQLITE_ONLY = {"checks.wal.status", "checks.wal.number", "checks.free_pages.status",
               "checks.free_pages.number", "checks.analyze.status", "checks.analyze.number"}


@pytest.fixture(scope="module")
def moved(tmp_path_factory, pg_templates):
    """(SQLite demo file, the same history moved into PostgreSQL: a clone of the session's
    template; the move's log entry stays in the template's folder)."""
    return pg_templates.moved_demo(tmp_path_factory.mktemp("pg_history"), seed=11, now=NOW)


def assert_same_periods(lite, pg, where):
    assert sorted(lite) == sorted(pg), where
    different = [(key, lite[key], pg[key]) for key in lite if lite[key] != pg[key]]
    assert not different, (where, different[:2], len(different))


def test_first_day_equals_sqlites(moved, pg_url):
    path, url = moved
    assert rollups.first_day(url) == rollups.first_day(path) is not None
    pg_schema.init(pg_url)   # an empty database at the schema has no first day
    assert rollups.first_day(pg_url) is None


def test_rollups_equal_sqlites_on_the_production_like_fixture(tmp_path, pg_url):
    path = tmp_path / "prod.db"
    now, _ = build_prodlike(path)
    migrations.migrate(path)
    move.move(path, pg_url, unconvertible="skip-row")   # sessions s6 does not convert
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM sessions WHERE session_id = 's6'")
    for start, end, grain in ((now - timedelta(days=400), now + timedelta(days=1), "day"),
                              (None, now, "day"), (now - timedelta(days=3), None, "hour")):
        assert_same_periods(rollups.compute(path, start, end, grain),
                            rollups.compute(pg_url, start, end, grain), (start, end, grain))
    assert rollups.first_day(pg_url) == rollups.first_day(path)


def test_a_snapshot_of_postgresql_has_sqlites_figures_and_names(moved):
    path, url = moved
    lite = snapshot.take_snapshot(path, now=NOW, last_runs={})
    pg = snapshot.take_snapshot(url, now=NOW, last_runs={})   # the seam dispatches
    assert set(pg) == set(lite) | {"table_rows"}
    assert pg["database"] == PgDatabase(url).display
    assert_same_stats(lite["stats"], pg["stats"])
    assert pg["table_bytes"] == "pg_table_size" and set(pg["table_rows"].values()) == {"count"}
    assert {t: s["rows"] for t, s in pg["tables"].items()} == {
        t: s["rows"] for t, s in lite["tables"].items()}
    for sizes in pg["tables"].values():
        assert sizes["bytes"] > 0 and sizes["index_bytes"] > 0
    with PgDatabase(url).read() as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    assert pg["file"]["size_bytes"] == size and pg["file"]["page_size"] == 8192
    assert {k: v for k, v in pg["file"].items() if v is None} == dict.fromkeys(
        ("wal_bytes", "freelist_count", "free_bytes", "free_ratio"))
    # the test cluster is local, over its Unix socket, and we are its superuser: disk is known
    assert pg["disk"]["free_bytes"] > 0 and pg["disk"]["total_bytes"] >= pg["disk"]["free_bytes"]
    metrics = pg["metrics"]
    # per-index bytes carry each engine's own index names (SQLite's partial odd-time indexes
    # are not moved): the other metrics are the same on both
    shared = {n for n in set(lite["metrics"]) - SQLITE_ONLY if not n.startswith("indexes.")}
    assert shared <= set(metrics)
    assert {n for n in metrics if n.startswith("indexes.")} == {
        f"indexes.{i}.bytes" for i in pg["indexes"]} and len(pg["indexes"]) >= 4
    assert {n: metrics[n] for n in metrics if n.startswith("stats.")} == {
        n: lite["metrics"][n] for n in lite["metrics"] if n.startswith("stats.")}
    assert metrics["table_bytes_exact"] == 1 and metrics["table_rows_exact"] == 1
    assert metrics["file.wal_bytes"] is None and metrics["checks.connections.status"] in (0, 1, 2)
    assert metrics["health.exit_code"] == pg["health"]["exit_code"]


def test_row_estimates_and_an_unknown_disk(moved, pg_cluster):
    _, url = moved
    with PgDatabase(url).write(autocommit=True) as conn:
        conn.execute("ANALYZE")
    tables, counted, _, _ = pg_snapshot.storage(url, exact=False)
    assert set(counted.values()) == {"reltuples"}
    exact, _, _, _ = pg_snapshot.storage(url, exact=True)
    assert {t: s["rows"] for t, s in tables.items()} == {t: s["rows"] for t, s in exact.items()}
    # a role that may not read data_directory: no row, no error, and the disk is null
    pg_cluster.execute("DROP ROLE IF EXISTS r2w_history_reader")
    pg_cluster.execute("CREATE ROLE r2w_history_reader LOGIN")
    try:
        reader = pg_cluster.url(url.split("/")[3].split("?")[0], user="r2w_history_reader")
        with PgDatabase(reader).read() as conn:
            assert conn.execute(pg_snapshot.DATA_DIRECTORY).fetchone() is None
    finally:
        pg_cluster.execute("DROP ROLE r2w_history_reader")
    assert pg_snapshot.disk_figures(None, True) == {"free_bytes": None, "total_bytes": None}
    assert pg_snapshot.disk_figures("/", False) == {"free_bytes": None, "total_bytes": None}


# ------------------------------------------------------------------ history across the move

def ok(done):
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout


def test_history_runs_on_across_the_move(tmp_path, pg_url):
    lite = tmp_path / "app" / "demo.db"
    lite.parent.mkdir()
    build_demo(lite, scale="small", seed=5)
    url = with_password(pg_url)
    first = json.loads(ok(run("--db", lite, "snapshot", "--json")))
    assert first["rollups"]["recorded"]                  # the SQLite file's days, back-filled
    moved = ok(run("--db", lite, "move", "--to", url))
    assert "***" in moved
    second = json.loads(ok(run("--db", url, "snapshot", "--json")))
    # the SQLite file's roll-ups are the URL's history: nothing back-filled again
    assert len(second["rollups"]["recorded"]) <= 1 and second["rollups"]["backfilled"] == 0
    assert {k: v for k, v in second["stats"]["uploads"].items() if k != "stuck"} == {
        k: v for k, v in first["stats"]["uploads"].items() if k != "stuck"}
    wanted = ("--metric", "stats.uploads.total", "--metric", "tables.cv_uploads.rows")
    history = json.loads(ok(run("--db", url, "history", "--json", *wanted)))
    assert [p["taken_at"] for p in history["points"]] == [first["taken_at"], second["taken_at"]]
    assert [p["values"]["stats.uploads.total"] for p in history["points"]] == [
        first["stats"]["uploads"]["total"]] * 2
    assert [p["values"]["tables.cv_uploads.rows"] for p in history["points"]] == [
        first["tables"]["cv_uploads"]["rows"]] * 2
    # the SQLite file keeps its own history, and only its own
    own = json.loads(ok(run("--db", lite, "history", "--json", *wanted)))
    assert [p["taken_at"] for p in own["points"]] == [first["taken_at"]]
    daily = json.loads(ok(run("--db", url, "history", "--daily", "--json", "--since", "14d")))
    closed = [d for d in daily["days"] if d["day"][:10] < timeutil.utcnow().date().isoformat()]
    assert closed and {d["source"] for d in closed} == {"rollup"}
    pages = history_page.tables(PgDatabase(url)), history_page.tables(lite)
    assert [(got["exact"], got["catalog"]) for got in pages] == [(True, True), (True, False)]
    assert set(pages[0]["series"]["taken_at"]) == {
        datetime.fromisoformat(p["taken_at"]) for p in history["points"]}
    human = ok(run("--db", url, "history"))
    assert human.count("\n") >= 3 and "stats.uploads.total" in human


def test_the_history_page_draws_both_sides_of_the_move(tmp_path, pg_url, monkeypatch, fresh_pages):
    from r2w_db.watch import cycle, settings as settings_mod

    from .test_pages import assert_clean, chart_data

    lite = tmp_path / "demo.db"
    build_demo(lite, scale="small", seed=6)
    cycle.record_snapshot(lite, settings_mod.load())
    move.move(lite, pg_url)
    cycle.record_snapshot(PgDatabase(pg_url), settings_mod.load())
    at = run_page("pages/7_History.py", pg_url, monkeypatch, window="all")
    assert_clean(at)
    assert "PostgreSQL's catalog (pg_table_size, exact)" in " ".join(c.value for c in at.caption)
    charts = chart_data(at)
    assert len(charts) >= 5
    sizes = next(frames[0] for spec, frames in charts if "bytes" in spec and "series" in spec)
    assert sizes["taken_at"].nunique() == 2   # the SQLite file's point, then PostgreSQL's


def test_the_moved_days_keep_what_a_cleanup_deletes(tmp_path, pg_url):
    lite = tmp_path / "demo.db"
    now = timeutil.utcnow()
    build_demo(lite, scale="small", seed=7, now=now)
    store = HistoryStore()
    rollups.roll_up(lite, store, now)
    move.move(lite, pg_url)
    window = Window.between(datetime(now.year, now.month, now.day) - timedelta(days=20),
                            datetime(now.year, now.month, now.day) - timedelta(days=10), now=now)
    before = rollup_window.totals(lite, window, store)
    with PgDatabase(pg_url).write() as conn:   # a cleanup on PostgreSQL, after the move
        deleted = conn.execute("DELETE FROM cv_uploads"
                               " WHERE upload_date >= %s AND upload_date < %s",
                               (window.start.replace(tzinfo=timezone.utc),
                                window.end.replace(tzinfo=timezone.utc))).rowcount
    assert deleted > 0
    after = rollup_window.totals(pg_url, window, store)
    assert after["uploads"] == before["uploads"] and after["uploads"]["total"] >= deleted
    assert after["coverage"]["rollup_days"] == after["coverage"]["days"] == 10
    live = rollups.compute(pg_url, window.start, window.end)
    assert sum(p["uploads"]["total"] for p in live.values()) == before["uploads"]["total"] - deleted


def test_the_cut_over_is_the_moves_end(tmp_path, pg_url):
    lite = tmp_path / "demo.db"
    build_demo(lite, scale="small", seed=3)
    store, db = HistoryStore(), PgDatabase(pg_url)
    early = timeutil.utcnow() - timedelta(hours=2)
    store.record_snapshot(lite, {"stats.uploads.total": 1}, taken_at=early)
    assert store.snapshots(db) == [] and store.lineage(db) == [(db.display, None)]
    refused = tmp_path / "other.db"
    build_demo(refused, scale="small", seed=4)
    move.move(lite, pg_url)
    with pytest.raises(move.MoveRefused):
        move.move(refused, pg_url)                     # refused: no link from it
    [(key, cut)] = store.lineage(db)[1:]
    assert key == str(lite.resolve()) and cut == MonitorStore().last_success("move", lite)[
        "finished_at"]
    late = datetime.fromisoformat(cut) + timedelta(minutes=1)
    store.record_snapshot(lite, {"stats.uploads.total": 2}, taken_at=late)  # the file, after
    store.record_snapshot(db, {"stats.uploads.total": 3}, taken_at=late)
    assert [p["metrics"]["stats.uploads.total"] for p in store.snapshots(db)] == [1, 3]
    assert [p["metrics"]["stats.uploads.total"] for p in store.snapshots(db, limit=1)] == [3]
    assert store.latest_snapshot(lite)["metrics"]["stats.uploads.total"] == 2
    # roll-ups: the file's periods closed by the cut-over, its own after; the file's win
    cut_day = datetime.fromisoformat(cut).date()
    yesterday, today = (cut_day - timedelta(days=1)).isoformat(), cut_day.isoformat()
    day = rollups.empty_day()
    store.record_rollups(lite, {yesterday: {**day, "signups": 1}, today: {**day, "signups": 2}})
    store.record_rollups(db, {yesterday: {**day, "signups": 9}, today: {**day, "signups": 3}})
    got = store.rollups(db)
    assert {d: r["figures"]["signups"] for d, r in got.items()} == {yesterday: 1, today: 3}
    assert store.last_rollup_day(db) == today
    # retention covers the history it reads: the file's old raw snapshots are downsampled too
    store.prune(db, now=timeutil.utcnow() + timedelta(days=30))
    assert {p["grain"] for p in store.snapshots(lite)} == {"hour"}


# ------------------------------------------------------------------ watch and health

def test_watch_once_on_a_postgresql_url(tmp_path, pg_url):
    lite = tmp_path / "demo.db"
    build_demo(lite, scale="small", seed=9)
    move.move(lite, pg_url)
    url = with_password(pg_url)
    line = json.loads(ok(run("--db", url, "watch", "--once", "--json", "--no-notify")))
    assert line["ok"] and line["errors"] == [] and line["snapshot_id"]
    assert line["metrics"]["stats.uploads.total"] > 0 and line["exit_code"] in (0, 1, 2)
    prom = tmp_path / "r2w.prom"
    done = run("--db", url, "health", "--prometheus", prom)
    assert done.returncode in (0, 1, 2), done.stderr
    text = prom.read_text()
    assert 'r2w_uploads{database="' in text and "r2w_database_size_bytes" in text
    both = {"R2W_DATABASES": f"lite={lite} pg={url}"}
    watched = ok(run("watch", "--once", "--no-notify", env=both))
    assert "lite ok" in watched and "pg ok" in watched
    health = run("health", "--all", env=both)
    assert health.returncode in (0, 1, 2), (health.stdout, health.stderr)
    assert "[pg] " in health.stdout and "[lite] " in health.stdout
    history = json.loads(ok(run("--db", "pg", "history", "--json", env=both)))
    assert len(history["points"]) == 2    # the URL's two cycles: the file's cycle is its own


def test_the_forecast_fits_only_the_snapshots_after_the_move(tmp_path, pg_url):
    """SQLite's file size and pg_database_size measure different storage: the step between them
    at the move is not growth."""
    lite = tmp_path / "demo.db"
    build_demo(lite, scale="small", seed=7)
    store = HistoryStore()
    now = timeutil.utcnow().replace(microsecond=0)
    for hours in range(240, 0, -6):       # ten flat days of the SQLite file: 50 MB
        store.record_snapshot(lite, {"file.size_bytes": 50e6, "file.wal_bytes": 0,
                                     "disk.free_bytes": 1e11}, taken_at=now - timedelta(hours=hours))
    move.move(lite, pg_url)
    pg = PgDatabase(pg_url)
    for hours in range(1, 24 * 6, 6):     # then PostgreSQL: 60 MB, growing 1 MB a day
        store.record_snapshot(pg, {"file.size_bytes": 60e6 + 1e6 * hours / 24, "file.wal_bytes": None,
                                   "disk.free_bytes": 1e11}, taken_at=now + timedelta(hours=hours))
    got = history_page.size_forecast(pg)
    assert got["moved_at"] is not None and now - timedelta(minutes=5) < got["moved_at"] < now + timedelta(hours=1)
    assert got["forecast"].per_day == pytest.approx(1e6, rel=1e-3)
    assert len(got["observed"]) > 40      # both sides are still drawn
    assert history_page.size_forecast(lite)["moved_at"] is None
