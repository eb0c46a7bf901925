"""Conformance (issue 18): every figure, every data operation and every maintenance preview gives
the same answer on SQLite and on PostgreSQL holding the same data.

One suite, parametrized over both engines in the Ibis style: the same case runs against an SQLite
database and a PostgreSQL database holding the same rows, and the answers are compared.

- `both`: per test, (SQLite database object, PostgreSQL database object) holding the same demo
  history: the session's template (tests/pg_cluster.py, `pg_templates.moved_demo`, moved once per
  session) cloned once per module for the read-only cases (and per test for the tests that
  write: `fresh_both`), with its own copy of the SQLite file. Time is frozen at NOW.
- `backend` ("sqlite", "postgresql"): one engine against hand-computed expectations.
- FIGURES and PREVIEWS are tables of cases (name, what it covers, callable(db) -> result), run on
  both engines by one test each and compared by `assert_same`: frames with
  pandas.testing.assert_frame_equal (exact), dicts key by key with ==, after dropping the keys that
  differ by design (ENGINE_SPECIFIC, the one place they are listed, each with its reason).
- STORIES: the same sequence of data operations on a fresh SQLite and a fresh PostgreSQL database
  (`pg_url`, `init`), their results and the classes of the errors they raise compared.
- test_every_public_function_has_a_case: a new public function of a listed module without a case
  here (or a commented exclusion) fails the suite.

The `pg` marker is applied by tests/conftest.py (the tests use pg_cluster through pg_templates).
"""
import inspect
import math
from datetime import datetime, timedelta

import pandas as pd
import pytest

from r2w_db import errors
from r2w_db.app import anonymous as app_anonymous
from r2w_db.app import cache, portfolio, sessions, uploads as app_uploads, users
from r2w_db.backends import migrations, open_database
from r2w_db.engine import timeutil
from r2w_db.figures import (anonymous, cache_hits, check, confidence, database_file, earlier_days,
                            health, health_report, overview, rollup_window, rollups, snapshot,
                            space, stats, uploads, windowed)
from r2w_db.figures.periods import Window
from r2w_db.maintenance import anonymous_cleanup, registry

NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)   # the demo's now (and tests/test_pg_pages.py's)
SEED = 11                                        # the same template as test_pg_pages/history
WINDOW_KEYS = ("24h", "7d", "30d", "all")

# ------------------------------------------------------------------ what differs by design
# Keys dropped (wherever they occur in a result) before two answers are compared. Nothing else
# is dropped: a difference anywhere else fails the case.
ENGINE_SPECIFIC = {
    "size_bytes": "the storage's size in bytes: an SQLite file's pages vs pg_database_size",
    "wal_bytes": "SQLite's -wal file; None on PostgreSQL (no WAL belongs to one database)",
    "path": "where the data lives: a file path vs a postgresql:// URL",
    "database": "the database's display name (a path vs a redacted URL)",
    "backend": "the engine's own name (check's label)",
    "command": "a remedy's command names the database (--db path vs --db URL)",
    "remedy": "a remedy's text names the database or the engine's own command",
    # (parent key, key): one key of one place only
    ("schema", "wrong_types"): "check's note on PostgreSQL's column types (SQLite's columns "
                               "take any type)",
    ("schema", "skipped_on_postgresql"): "check's note: the indexes SQLite needs for its text "
                                         "timestamps, which PostgreSQL's timestamptz does not",
    ("unparseable", "detail"): "the engine's own words for a timestamp it cannot read (SQLite: "
                               "text it cannot parse; PostgreSQL: NULL or infinite)",
}
# Ages in minutes (uploads.stuck_jobs' age_minutes, uploads.awaiting_extraction's
# oldest_age_minutes): SQLite subtracts two julian-day doubles (resolution about 40 µs at today's
# dates), PostgreSQL two instants; equal within 1e-6 minutes (60 µs), never bit for bit.
AGES = {"age_minutes", "oldest_age_minutes"}
AGE_TOLERANCE_MIN = 1e-6


def drop_engine_specific(value, parent=None):
    if isinstance(value, dict):
        return {k: drop_engine_specific(v, k) for k, v in value.items()
                if k not in ENGINE_SPECIFIC and (parent, k) not in ENGINE_SPECIFIC}
    if isinstance(value, (list, tuple)):
        return type(value)(drop_engine_specific(v) for v in value)
    return value


def close_ages(lite, pg):
    return len(lite) == len(pg) and all(
        math.isclose(a, b, rel_tol=0, abs_tol=AGE_TOLERANCE_MIN) for a, b in zip(lite, pg))


def differences(lite, pg, path=()):
    """[(path, what)] where the PostgreSQL answer differs from SQLite's (after
    drop_engine_specific): frames exactly (ages within AGE_TOLERANCE_MIN), dicts key by key,
    values by == and by type."""
    if isinstance(lite, pd.DataFrame):
        if not isinstance(pg, pd.DataFrame):
            return [(path, f"a frame on SQLite, {type(pg).__name__} on PostgreSQL")]
        lite, pg, found = lite.copy(), pg.copy(), []
        for column in AGES & set(lite.columns):
            a, b = lite.pop(column), pg.pop(column) if column in pg else None
            if b is None or a.dtype != b.dtype or not close_ages(list(a), list(b)):
                found.append((path + (column,),
                              f"{a.tolist()} != {b if b is None else b.tolist()}"))
        try:
            pd.testing.assert_frame_equal(lite, pg, check_exact=True)
        except AssertionError as exc:
            found.append((path, str(exc)))
        return found
    if isinstance(lite, dict):
        if not isinstance(pg, dict) or set(lite) != set(pg):
            return [(path, f"keys {sorted(lite)} != {sorted(pg) if isinstance(pg, dict) else pg}")]
        return [d for key in lite for d in differences(lite[key], pg[key], path + (key,))]
    if isinstance(lite, (list, tuple)) and isinstance(pg, (list, tuple)) and len(lite) == len(pg):
        return [d for i, (a, b) in enumerate(zip(lite, pg)) for d in differences(a, b, path + (i,))]
    if path and path[-1] in AGES and isinstance(lite, float) and isinstance(pg, float):
        return [] if close_ages([lite], [pg]) else [(path, f"{lite!r} != {pg!r}")]
    if lite != pg or type(lite) is not type(pg):
        return [(path, f"{lite!r} != {pg!r}")]
    return []


def assert_same(lite, pg):
    found = differences(drop_engine_specific(lite), drop_engine_specific(pg))
    assert not found, found


# ------------------------------------------------------------------ fixtures

@pytest.fixture(autouse=True)
def frozen(monkeypatch, tmp_path):
    """The same `now` for both engines wherever a figure or an operation takes the current time;
    backups (the backup preview) in the test's own folder."""
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)
    monkeypatch.setenv("R2W_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.delenv("DATABASE_URL", raising=False)


def demo_pair(folder, pg_templates):
    path, url = pg_templates.moved_demo(folder, seed=SEED, now=NOW, prefix="conformance")
    return open_database(path), open_database(url)


@pytest.fixture(scope="module")
def both(tmp_path_factory, pg_templates):
    """(SQLite database, PostgreSQL database) holding the same demo history: a clone of the
    session's template (moved once per session) and a copy of its SQLite file. One clone for
    the module's read-only cases (figures and previews only read: db.read() is a mode=ro
    connection / a READ ONLY transaction; test_the_read_only_cases_wrote_nothing checks it):
    a clone per case costs PostgreSQL a CREATE DATABASE ... TEMPLATE each (most of the run)."""
    return demo_pair(tmp_path_factory.mktemp("conformance"), pg_templates)


@pytest.fixture
def fresh_both(tmp_path, pg_templates):
    """As `both`, a clone of its own: for the tests that write (cleanups)."""
    return demo_pair(tmp_path, pg_templates)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path, pg_url):
    """One empty database at the current schema, on each engine in turn."""
    location = tmp_path / "empty.db" if request.param == "sqlite" else pg_url
    migrations.init(location)
    db = open_database(location)
    assert db.backend.name == request.param
    return db


@pytest.fixture
def empty(tmp_path, pg_url):
    """(fresh SQLite database, fresh PostgreSQL database), both `init`ed, no rows."""
    migrations.init(tmp_path / "empty.db")
    migrations.init(pg_url)
    return open_database(tmp_path / "empty.db"), open_database(pg_url)


# ------------------------------------------------------------------ the figures' cases

class Case:
    """A named call `run(db)` covering the public functions `covers` (module.function)."""

    def __init__(self, name, run, covers, xfail=None):
        self.name, self.run, self.covers, self.xfail = name, run, covers, xfail

    def param(self):
        marks = [pytest.mark.xfail(strict=True, reason=self.xfail)] if self.xfail else []
        return pytest.param(self, id=self.name, marks=marks)


def window(key):
    return Window.of(key, now=NOW)


def _windowed_cases():
    """Every figure of a time window, for each key of WINDOW_KEYS."""
    per_window = [
        ("overview.headline", overview.headline),
        ("cache_hits.hit_rate", cache_hits.hit_rate),
        ("confidence.summary", confidence.summary),
        ("confidence.histogram", confidence.histogram),
        ("confidence.by_model", confidence.by_model),
        ("confidence.mean_by_period", confidence.mean_by_period),
        ("confidence.lowest", confidence.lowest),
        ("uploads.status_counts", uploads.status_counts),
        ("uploads.other_statuses", uploads.other_statuses),
        ("uploads.by_period", uploads.by_period),
        ("uploads.file_types", uploads.file_types),
        ("anonymous.ids_by_period", anonymous.ids_by_period),
        ("anonymous.share_by_period", anonymous.share_by_period),
        # the pages' entry points: without roll-ups in the monitor database (each test has its
        # own, empty) they answer live on both engines; test_windowed_from_rollups_* below
        # compares their roll-up path on both with each other and with the live answers
        ("windowed.upload_status_counts", windowed.upload_status_counts),
        ("windowed.upload_by_period", windowed.upload_by_period),
        ("windowed.upload_file_types", windowed.upload_file_types),
        ("windowed.hit_rate", windowed.hit_rate),
        ("windowed.anonymous_share", windowed.anonymous_share),
        ("windowed.anonymous_ids", windowed.anonymous_ids),
        ("windowed.confidence_summary", windowed.confidence_summary),
        ("windowed.confidence_histogram", windowed.confidence_histogram),
        ("windowed.confidence_by_period", windowed.confidence_by_period),
        ("windowed.confidence_by_model", windowed.confidence_by_model),
        ("windowed.headline", windowed.headline),
        ("windowed.usable", windowed.usable),
        ("earlier_days.hit_rate", earlier_days.hit_rate),
        ("earlier_days.anonymous_ids", earlier_days.anonymous_ids),
        ("rollup_window.days_of", rollup_window.days_of),
        ("rollup_window.daily", rollup_window.daily),
        ("rollup_window.totals", rollup_window.totals),
        ("rollup_window.covered", rollup_window.covered),
    ]
    return [Case(f"{name}[{key}]", (lambda db, f=func, k=key: f(db, window(k))), name)
            for name, func in per_window for key in WINDOW_KEYS]


# the maintenance log as health reads it: every logged task last ran 30 hours ago
RUNS = {task: {"ok_at": timeutil.iso(NOW - timedelta(hours=30)), "failed_at": None, "error": None}
        for task in health.LOGGED_TASKS}
FILE_CHECKS = {"wal", "free_pages", "analyze"}   # an SQLite file's own checks


def engine_check_keys(db):
    """The checks that are the engine's own by design: an SQLite file's (WAL, free pages,
    statistics), PostgreSQL's server checks (pg_stat_* views)."""
    keys = set(FILE_CHECKS) if db.backend.features.file else set()
    if db.backend.features.server_stats:
        keys |= set(db.backend.server_checks.KEYS)
    if db.backend.supports("statements"):   # from pg_stat_statements' captures (issue 22)
        keys |= set(health.STATEMENT_CHECKS)
    return keys


def health_checks(db, thresholds=None):
    """The application's checks (the file's own and the server's own are the engine's by design:
    SQLite's WAL / free pages / analyze, PostgreSQL's pg_stat_* checks): key, title, status,
    value, detail, and the number the monitoring plugins read."""
    t = thresholds or health.Thresholds()
    checks = health.run_checks(db, t, RUNS, NOW)
    file_or_server = engine_check_keys(db)
    return {c.key: {"title": c.title, "status": c.status, "value": c.value, "detail": c.detail,
                    "number": health_report.number_of(c, t, RUNS, {}, NOW)}
            for c in checks if c.key not in file_or_server}


def health_report_rows(db):
    """health_report.evaluate's rows of the application's checks (status, number, warn, crit)."""
    got = health_report.evaluate(db, last_runs=RUNS, now=NOW)
    app = [r for r in got["checks"] if r["key"] not in engine_check_keys(db)]
    return {"status_of_app_checks": [(r["key"], r["status"], r["number"], r["warn"], r["crit"])
                                     for r in app],
            "as_of": got["as_of"], "error": got["error"]}


def checked(db, quick=False):
    """check's report: ok, warnings, the schema's drift, pending migrations, orphans, and the
    integrity check's mode and verdict (its messages and counts are the engine's own: PRAGMA
    integrity_check vs amcheck's indexes checked)."""
    got = check.run_check(db, quick)
    return {**{k: got[k] for k in ("ok", "warnings", "schema", "pending_migrations", "orphans")},
            "integrity": {k: got["integrity"][k] for k in ("mode", "ok")}}


STRICT = health.Thresholds(sessions_grace_days=0, cache_grace_days=0, stuck_warn=50,
                           stuck_error=100, below_threshold_error_share=1)
LENIENT = health.Thresholds(anonymous_grace_days=1000, sessions_grace_days=1000,
                            cache_grace_days=1000, below_threshold_warn=10_000,
                            below_threshold_error_share=1)
RANGES = [  # rollups.compute: (start, end, grain) bounded, cut at both edges, open at a side
    (NOW - timedelta(days=120), NOW, "day"),
    (NOW - timedelta(days=9, hours=5), NOW - timedelta(days=2, minutes=3), "day"),
    (None, NOW - timedelta(days=30), "day"),
    (NOW - timedelta(days=3, hours=5, minutes=7), NOW, "hour"),
    (NOW - timedelta(days=2), None, "hour"),
]


def snapshot_figures(db):
    """take_snapshot's engine-neutral part: stats, rows per table, the application checks'
    metrics (sizes, bytes, disk, the file's and the server's checks are the engine's)."""
    snap = snapshot.take_snapshot(db, now=NOW, last_runs={})
    mine = engine_check_keys(db)
    return {"stats": snap["stats"], "taken_at": snap["taken_at"],
            "rows": {t: s["rows"] for t, s in snap["tables"].items()},
            "metrics": {k: v for k, v in snap["metrics"].items()
                        if k.startswith("stats.")
                        or k.startswith("checks.") and k.split(".")[1] not in mine}}


def space_figures(db):
    """The Space view's engine-neutral part: its tables with their rows, and that every index
    belongs to one of them (bytes, index names and the unused space are the engine's)."""
    got = space.space(db, now=NOW)["relations"]
    tables = got[got["kind"] == "table"]
    assert set(got[got["kind"] == "index"]["table"]) <= set(tables["name"])
    return dict(zip(tables["name"], tables["rows"].astype(int)))


FIGURES = [
    Case("stats.collect_stats", lambda db: stats.collect_stats(db, now=NOW), "stats.collect_stats"),
    *[Case(f"stats.collect_stats[-{days}d]",
           (lambda db, d=days: stats.collect_stats(db, now=NOW - timedelta(days=d))),
           "stats.collect_stats") for days in (1, 30)],
    Case("stats.calculate_cache_hit_rate", stats.calculate_cache_hit_rate,
         "stats.calculate_cache_hit_rate"),
    Case("stats.get_extraction_stats", stats.get_extraction_stats, "stats.get_extraction_stats"),
    *_windowed_cases(),
    Case("cache_hits.access_counts", cache_hits.access_counts, "cache_hits.access_counts"),
    Case("cache_hits.contents", cache_hits.contents, "cache_hits.contents"),
    Case("uploads.stuck_jobs", lambda db: uploads.stuck_jobs(db, NOW), "uploads.stuck_jobs"),
    Case("uploads.awaiting_extraction", lambda db: uploads.awaiting_extraction(db, NOW),
         "uploads.awaiting_extraction"),
    Case("anonymous.ages", lambda db: anonymous.ages(db, NOW), "anonymous.ages"),
    Case("anonymous.ages[7d retention]", lambda db: anonymous.ages(db, NOW, retention_days=7),
         "anonymous.ages"),
    # rows of one GROUP BY: their order is the engine's (every caller sums them)
    Case("anonymous.owner_groups",
         lambda db: sorted(anonymous.owner_groups(db, NOW, window=window("7d")), key=str),
         "anonymous.owner_groups"),
    Case("database_file.describe.schema_version",
         lambda db: database_file.describe(db)["schema_version"], "database_file.describe"),
    Case("check.run_check", lambda db: checked(db), "check.run_check"),
    Case("check.run_check[quick]", lambda db: checked(db, quick=True), "check.run_check"),
    Case("health.run_checks", health_checks, "health.run_checks"),
    Case("health.run_checks[strict]", lambda db: health_checks(db, STRICT), "health.run_checks"),
    Case("health.run_checks[lenient]", lambda db: health_checks(db, LENIENT), "health.run_checks"),
    Case("health.cleanup_figures", health.cleanup_figures, "health.cleanup_figures"),
    Case("health.cleanup_figures[strict]", lambda db: health.cleanup_figures(db, STRICT),
         "health.cleanup_figures"),
    Case("health.cleanup_counts", health.cleanup_counts, "health.cleanup_counts"),
    Case("health_report.evaluate", health_report_rows, "health_report.evaluate"),
    Case("snapshot.take_snapshot", snapshot_figures, "snapshot.take_snapshot"),
    Case("space.space", space_figures, "space.space"),
    Case("snapshot.table_sizes.rows",
         lambda db: {t: s["rows"] for t, s in snapshot.table_sizes(db, exact=True)[0].items()},
         "snapshot.table_sizes"),
    *[Case(f"rollups.compute[{grain} {start and start.isoformat()}..{end and end.isoformat()}]",
           (lambda db, s=start, e=end, g=grain: rollups.compute(db, s, e, g)), "rollups.compute")
      for start, end, grain in RANGES],
    Case("rollups.first_day", rollups.first_day, "rollups.first_day"),
    Case("rollups.first_day[bounded]",
         lambda db: rollups.first_day(db, NOW - timedelta(days=40), NOW - timedelta(days=10)),
         "rollups.first_day"),
]

# ------------------------------------------------------------------ the maintenance previews

CLEANUP_DAYS = (None, 1, 3, 60)


def preview(task, **kwargs):
    def run(db):
        got = registry.preview(db, task, **kwargs)
        return {"task": got.task, "count": got.count, "message": got.message,
                "refusal": got.refusal, "details": got.details}
    return run


def engine_task_preview(task, keys, **kwargs):
    """The part of an engine task's preview that both engines give (what they read is the
    engine's own: pages and a file vs pg_stat_* and relation sizes; compared by kind)."""
    def run(db):
        got = registry.preview(db, task, **kwargs)
        return {"task": got.task, "count": got.count, "refusal": got.refusal,
                "bytes_is_a_count": got.bytes is None or isinstance(got.bytes, int),
                **{k: got.details[k] for k in keys}}
    return run


def task_facts(db):
    """How each task is declared on this engine (what it does and when, and its title, are the
    engine's words: VACUUM compacts an SQLite file but reclaims PostgreSQL's dead tuples,
    tests/test_pg_maintenance.py)."""
    return {name: (t.name, t.destructive, t.default_days, t.days_label)
            for name, t in ((n, registry.task_for(db, n)) for n in registry.TASKS)}


PREVIEWS = [
    *[Case(f"preview.{task}[days={days}]", preview(task, days=days), "registry.preview")
      for task in registry.CLEANUPS for days in CLEANUP_DAYS],
    *[Case(f"registry.cleanup_preview.{task}[signed_out={signed}]",
           (lambda db, t=task, s=signed: registry.cleanup_preview(db, t, 7, s).as_dict()),
           "registry.cleanup_preview") for task in registry.CLEANUPS for signed in (True, False)],
    Case("preview.analyze", engine_task_preview("analyze", ("tables", "has_statistics")),
         "registry.preview"),
    Case("preview.vacuum", engine_task_preview("vacuum", ()), "registry.preview"),
    Case("preview.integrity", engine_task_preview("integrity", ("quick",)), "registry.preview"),
    Case("preview.integrity[quick]", engine_task_preview("integrity", ("quick",), quick=True),
         "registry.preview"),
    Case("preview.backup", engine_task_preview("backup", ("would_rotate", "existing", "keep",
                                                          "refusal")), "registry.backup_preview"),
    Case("registry.task_for", task_facts, "registry.task_for"),
    *[Case(f"registry.stuck_preview[minutes={minutes}]",
           (lambda db, m=minutes: registry.stuck_preview(db, m, NOW).as_dict()),
           "registry.stuck_preview") for minutes in (None, 5, 600, 100_000)],
    # the counts every preview and health check reads (app/)
    *[Case(f"app.sessions.old_session_counts[{days}]",
           (lambda db, d=days: sessions.old_session_counts(db, d)), "sessions.old_session_counts")
      for days in (1, 7, 30)],
    Case("app.sessions.count_old_sessions_at",
         lambda db: sessions.count_old_sessions_at(db, 1, 7, 30), "sessions.count_old_sessions_at"),
    Case("app.sessions.count_users_signed_out", sessions.count_users_signed_out,
         "sessions.count_users_signed_out"),
    Case("app.cache.count_old_cache_entries[1]", lambda db: cache.count_old_cache_entries(db, 1),
         "cache.count_old_cache_entries"),
    Case("app.anonymous.count_stale_at",
         lambda db: app_anonymous.count_stale_at(db, 1, 30, 60), "anonymous.count_stale_at"),
    Case("app.anonymous.stale_totals_at",
         lambda db: app_anonymous.stale_totals_at(db, 1, 30, 60), "anonymous.stale_totals_at"),
]


# ------------------------------------------------------------------ the comparisons

@pytest.mark.parametrize("case", [c.param() for c in FIGURES])
def test_every_figure_is_the_same_on_both(both, case):
    lite, pg = both
    assert_same(case.run(lite), case.run(pg))


@pytest.mark.parametrize("case", [c.param() for c in PREVIEWS])
def test_every_maintenance_preview_is_the_same_on_both(both, case):
    lite, pg = both
    assert_same(case.run(lite), case.run(pg))


def row_counts(db):
    return {t: s["rows"] for t, s in snapshot.table_sizes(db, exact=True)[0].items()}


def test_the_read_only_cases_wrote_nothing(both):
    """The module's shared pair holds the same rows on both engines after the read-only cases
    (defined after them: in the file's order, on each xdist worker, it runs after most)."""
    lite, pg = both
    assert row_counts(pg) == row_counts(lite)
    assert sum(row_counts(lite).values()) > 1000


def test_the_comparisons_are_of_real_figures(both):
    """The demo gives every figure something to count (a comparison of zeros proves little)."""
    lite, _ = both
    figures = stats.collect_stats(lite, now=NOW)
    assert figures["uploads"]["total"] > 1000 and figures["cache"]["cache_hits"] > 0
    assert figures["sessions"]["active"] > 0 and figures["uploads"]["stuck"] > 0
    assert overview.headline(lite, window("7d"))["previous"]["uploads"] > 0
    assert len(confidence.lowest(lite, window("7d"))) == 10
    assert anonymous.ages(lite, NOW)["stale_ids"] > 0
    assert uploads.awaiting_extraction(lite, NOW)["count"] > 0
    assert confidence.summary(lite, window("24h"))["entries"] > 0
    for task in registry.CLEANUPS:
        assert registry.preview(lite, task).count > 0, task
    statuses = {c["status"] for c in health_checks(lite).values()}
    assert statuses >= {health.WARN, health.ERROR}


WINDOWED_PAIRS = (  # (windowed figure, its live twin)
    ("upload_status_counts", uploads.status_counts), ("upload_by_period", uploads.by_period),
    ("upload_file_types", uploads.file_types), ("hit_rate", cache_hits.hit_rate),
    ("anonymous_share", anonymous.share_by_period), ("anonymous_ids", anonymous.ids_by_period),
    ("confidence_summary", confidence.summary), ("confidence_histogram", confidence.histogram),
    ("confidence_by_period", confidence.mean_by_period),
    ("confidence_by_model", confidence.by_model), ("headline", overview.headline))


def rolled_up(lite, pg, folder, now=NOW):
    """A monitor database holding both databases' roll-ups as the watcher records them."""
    from r2w_db.monitor.history_store import HistoryStore

    store = HistoryStore(folder / "rollups.db")
    for db in (lite, pg):
        done = rollups.roll_up(db, store, now=now)
        assert done["recorded"] and done["hours"] > 0
    return store


def assert_rollups_agree(lite, pg, store, w):
    """On PostgreSQL the window comes from the roll-ups, as on SQLite: the same periods, the
    same sources, and every page's figure equal to PostgreSQL's live answer and to SQLite's
    roll-up answer. Means to 1e-12 relative: a roll-up's mean is a sum / count, the live one
    the engine's avg()."""
    assert windowed.usable(lite, w, store) and windowed.usable(pg, w, store)
    periods = [(key, source, backfilled) for key, _, source, backfilled
               in rollup_window.days_of(pg, w, store)]
    assert periods == [(key, source, backfilled) for key, _, source, backfilled
                       in rollup_window.days_of(lite, w, store)]
    assert any(source == "rollup" for _, source, _ in periods)
    assert_same(rollup_window.days_of(lite, w, store), rollup_window.days_of(pg, w, store))
    for name, live in WINDOWED_PAIRS:
        figure = getattr(windowed, name)
        from_rollups = drop_engine_specific(figure(pg, w, store))
        close(from_rollups, drop_engine_specific(live(pg, w)), f"{name} (PostgreSQL live)")
        close(from_rollups, drop_engine_specific(figure(lite, w, store)), f"{name} (SQLite)")


@pytest.fixture(scope="module")
def both_rolled_up(both, tmp_path_factory):
    """`both` and a monitor database holding their roll-ups (only read by the tests)."""
    lite, pg = both
    return lite, pg, rolled_up(lite, pg, tmp_path_factory.mktemp("conformance-rollups"))


@pytest.mark.parametrize("key", WINDOW_KEYS)
def test_windowed_from_rollups_on_postgresql_equals_live_and_sqlite(both_rolled_up, key):
    """The demo history: PostgreSQL's pages read its roll-ups (issue 22) and show what they
    show live and what SQLite's roll-ups show."""
    lite, pg, store = both_rolled_up
    assert_rollups_agree(lite, pg, store, window(key))


def test_windowed_from_rollups_on_the_production_like_fixture(tmp_path, pg_url):
    """The production-like fixture moved to PostgreSQL (its session s6 does not convert: it is
    left out of both): roll-ups equal live and SQLite's; the all-time window stays live on
    SQLite, whose odd timestamps the roll-ups cannot place, and is equal on both."""
    from r2w_db.maintenance import move
    from tests.prodlike import build_prodlike

    path = tmp_path / "prod.db"
    build_prodlike(path, now=NOW)
    migrations.migrate(path)
    move.move(path, pg_url, unconvertible="skip-row")
    lite, pg = open_database(path), open_database(pg_url)
    with lite.write() as conn:
        conn.execute("DELETE FROM sessions WHERE session_id = 's6'")
    store = rolled_up(lite, pg, tmp_path)
    for key in ("24h", "7d", "30d"):
        assert_rollups_agree(lite, pg, store, window(key))
    every = window("all")
    for name, live in WINDOWED_PAIRS:
        close(drop_engine_specific(getattr(windowed, name)(pg, every, store)),
              drop_engine_specific(getattr(windowed, name)(lite, every, store)), name)


def close(got, want, where):
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, obj=where)
    elif isinstance(want, dict):
        assert set(got) == set(want), where
        for key in want:
            close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-12), where
    else:
        assert got == want and type(got) is type(want), where


# ------------------------------------------------------------------ the data operations

ANONYMOUS = "anonymous_a1b2c3d4e5f6"
STORED_MOMENTS = ("created_at", "expires_at", "upload_date", "portfolio_created_at",
                  "portfolio_expires_at")


def set_clock(moment):
    """Move the frozen clock (the `frozen` fixture's monkeypatch restores the real one)."""
    timeutil.utcnow = lambda: moment


class Transcript:
    """What a sequence of calls returned or raised (the error's class and message), with fresh
    ids replaced by markers and stored timestamps by their instant."""

    def __init__(self, db):
        self.db, self.lines, self.ids = db, [], {}

    def call(self, func, *args, **kwargs):
        try:
            value = func(self.db, *args, **kwargs)
        except errors.R2WError as exc:
            value = ("raised", type(exc).__name__, str(exc))
        self.lines.append((f"{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}",
                           self.plain(value)))
        return value

    def plain(self, value, key=None):
        if isinstance(value, dict):
            return {self.plain(k): self.plain(v, k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.plain(v) for v in value]
        if key in STORED_MOMENTS and value is not None:
            moment = timeutil.parse(value)
            assert moment is not None and timeutil.iso(moment) == value, value  # the stored form
            return moment
        if isinstance(value, str):
            for raw, marker in self.ids.items():
                value = value.replace(raw, marker)
        return value

    def name(self, value, marker):
        """Call `value` (a new id) `marker` from now on, in the line that returned it too."""
        self.ids[value] = marker
        if self.lines and self.lines[-1][1] == value:
            self.lines[-1] = (self.lines[-1][0], marker)
        return value


def accounts_story(t):
    jane = t.name(t.call(users.create_user, "jane@example.com", "h1", name="Jane"), "<jane>")
    t.call(users.create_user, "jane@example.com", "h2")
    t.call(users.create_user, " ", "h2")
    t.call(users.create_user, "omar@example.com", "")
    t.call(users.get_user_by_email, "jane@example.com")
    t.call(users.get_user_by_email, "JANE@example.com")
    t.call(users.get_user_by_id, "nobody")
    for kwargs in ({"phone": "050", "location": "Haifa"}, {}, {"date_of_birth": "1990-01-02"}):
        t.call(users.update_user_profile, jane, **kwargs)
        t.call(users.update_user_profile, "nobody", **kwargs)
    t.call(users.get_user_by_id, jane)


def portfolio_story(t):
    jane = t.name(users.create_user(t.db, "jane@example.com", "h"), "<jane>")
    t.call(portfolio.get_user_portfolio, jane)
    t.call(portfolio.update_user_portfolio, jane, "p-1", "https://p.example/1")
    t.call(portfolio.update_user_portfolio, "nobody", "p-2", "https://p.example/2")
    t.call(portfolio.update_user_portfolio, jane, "", "https://p.example/3")
    t.call(portfolio.get_user_portfolio, jane)
    t.call(users.get_user_by_id, jane)
    set_clock(NOW + timedelta(days=31))   # past its 30 days: expired
    t.call(portfolio.get_user_portfolio, jane)
    t.call(portfolio.clear_user_portfolio, jane)
    t.call(portfolio.clear_user_portfolio, "nobody")
    t.call(portfolio.get_user_portfolio, jane)


def sessions_story(t):
    jane = t.name(users.create_user(t.db, "jane@example.com", "h"), "<jane>")
    first = t.name(t.call(sessions.create_session, jane), "<session 1>")
    t.call(sessions.create_session, "nobody")
    t.call(sessions.create_session, "")
    t.call(sessions.get_user_id_from_session, first)
    t.call(sessions.get_user_id_from_session, "no-such-session")
    set_clock(NOW + timedelta(days=8))
    t.name(t.call(sessions.create_session, jane), "<session 2>")
    t.call(sessions.count_old_sessions)
    t.call(sessions.old_session_counts, 7)
    t.call(sessions.count_users_signed_out, 7)
    t.call(sessions.count_old_sessions_at, 1, 7, 30)
    t.call(sessions.count_old_sessions, 0)
    t.call(sessions.cleanup_old_sessions, 7)
    t.call(sessions.get_user_id_from_session, first)
    t.call(sessions.cleanup_old_sessions, 7)
    t.call(sessions.delete_session, "<none>")
    t.call(sessions.count_old_sessions, 1)


def uploads_story(t):
    jane = t.name(users.create_user(t.db, "jane@example.com", "h"), "<jane>")
    omar = t.name(users.create_user(t.db, "omar@example.com", "h"), "<omar>")
    for i, (job, owner) in enumerate((("job-a", ANONYMOUS), ("job-b", ANONYMOUS), ("job-c", jane))):
        set_clock(NOW + timedelta(seconds=i))   # one upload a second (see same_instant_story)
        t.name(t.call(app_uploads.create_cv_upload, owner, job, f"{job}.pdf", ".pdf", "ab" * 32),
               f"<upload {job}>")
    t.call(app_uploads.create_cv_upload, jane, "job-c", "again.pdf", ".pdf")
    t.call(app_uploads.create_cv_upload, jane, "", "x.pdf", ".pdf")
    t.call(app_uploads.update_cv_upload_status, "job-c", "completed", {"name": "Jane"})
    t.call(app_uploads.update_cv_upload_status, "job-b", "processing")
    t.call(app_uploads.update_cv_upload_status, "no-such-job", "failed")
    t.call(app_uploads.update_cv_upload_status, "job-c", "done")
    t.call(app_uploads.get_user_cv_uploads, jane)
    t.call(app_uploads.transfer_cv_ownership, "job-a", jane)   # anonymous -> new user
    t.call(app_uploads.transfer_cv_ownership, "job-a", jane)   # already hers
    t.call(app_uploads.transfer_cv_ownership, "job-a", omar)   # a registered owner's: refused
    t.call(app_uploads.transfer_cv_ownership, "job-b", "nobody")
    t.call(app_uploads.transfer_cv_ownership, "job-b", "anonymous_000000000000")
    t.call(app_uploads.transfer_cv_ownership, "no-such-job", jane)
    t.call(app_uploads.get_user_with_cvs, jane)
    t.call(app_uploads.get_user_with_cvs, omar)
    t.call(app_uploads.get_user_with_cvs, "nobody")
    t.call(app_uploads.get_multiple_users_cvs, [jane, ANONYMOUS, omar, "nobody", jane])
    t.call(app_uploads.get_multiple_users_cvs, [])
    t.call(app_uploads.get_multiple_users_cvs, jane)
    t.call(app_uploads.get_multiple_users_cvs, [jane, 7])


def cache_story(t):
    hit, low = "a" * 64, "b" * 64
    t.call(cache.cache_extraction_result, hit, {"name": "Jane"}, "gpt-4o", 0.0, 0.75)
    t.call(cache.cache_extraction_result, low, {"name": "Low"}, "gpt-4o", 0.0, 0.7499)
    t.call(cache.cache_extraction_result, low, {"name": "Low"}, "gpt-4o", 0.0, None)
    for bad in ({"confidence": 1.5}, {"temperature": float("nan")}, {"cv_data": "{not json"},
                {"file_hash": ""}, {"model": ""}, {"confidence": True}):
        args = {"file_hash": low, "cv_data": {}, "model": "m", "temperature": 0.2,
                "confidence": 0.9, **bad}
        t.call(cache.cache_extraction_result, **args)
    t.call(cache.get_cached_extraction, low)
    t.call(cache.get_cached_extraction, hit)
    t.call(cache.get_cached_extraction, hit)
    t.call(cache.cache_extraction_result, hit, '{"name": "Jane B"}', "gpt-4o", 0.1, 0.9)
    t.call(cache.get_cached_extraction, hit)
    t.call(cache.cache_extraction_result, low, [1, 2], "m", 0.0, 0.6, threshold=0.5)
    t.call(cache.get_cached_extraction, low)
    set_clock(NOW + timedelta(days=31))   # `low` never reused: eligible; `hit` reused: kept
    t.call(cache.count_old_cache_entries)
    t.call(cache.count_old_cache_entries, 40)
    t.call(cache.cleanup_old_cache_entries)
    t.call(cache.get_cached_extraction, low)
    t.call(cache.get_cached_extraction, hit)
    t.call(cache.count_old_cache_entries, 0)


def anonymous_story(t):
    jane = t.name(users.create_user(t.db, "jane@example.com", "h"), "<jane>")
    for job, owner, days_ago in (("old-1", "anonymous_000000000001", 40),
                                 ("old-2", "anonymous_000000000001", 35),
                                 ("mixed-old", "anonymous_000000000002", 41),
                                 ("mixed-new", "anonymous_000000000002", 2),
                                 ("moved", "anonymous_000000000003", 39),
                                 ("jane-old", jane, 42)):
        set_clock(NOW - timedelta(days=days_ago))
        t.name(t.call(app_uploads.create_cv_upload, owner, job, f"{job}.pdf", ".pdf"),
               f"<upload {job}>")
    set_clock(NOW)
    t.call(app_uploads.transfer_cv_ownership, "moved", jane)
    t.call(app_anonymous.count_stale)
    t.call(app_anonymous.count_stale, 1)
    t.call(app_anonymous.count_stale_at, 1, 30, 38, 60)
    t.call(anonymous_cleanup.cleanup_stale)
    t.call(app_anonymous.count_stale)
    t.call(app_uploads.get_multiple_users_cvs, [jane, "anonymous_000000000001",
                                                "anonymous_000000000002"])


def same_instant_story(t):
    """Uploads with the same upload_date: SQLite lists them newest-inserted first (rowid DESC),
    PostgreSQL by upload_id DESC (a random UUID), so their order differs (eight uploads: the
    two orders agree by chance once in 40,320 runs)."""
    jane = t.name(users.create_user(t.db, "jane@example.com", "h"), "<jane>")
    for i in range(8):
        t.name(app_uploads.create_cv_upload(t.db, jane, f"job-{i}", f"{i}.pdf", ".pdf"),
               f"<upload {i}>")
    t.call(app_uploads.get_user_cv_uploads, jane)
    t.call(app_uploads.get_user_with_cvs, jane)
    t.call(app_uploads.get_multiple_users_cvs, [jane])


STORIES = [accounts_story, portfolio_story, sessions_story, uploads_story, cache_story,
           anonymous_story,
           pytest.param(same_instant_story, marks=pytest.mark.xfail(
               strict=True, reason="a real difference (issue 18): uploads with the same "
                                   "upload_date come in insertion order on SQLite (rowid DESC), "
                                   "by upload_id on PostgreSQL"))]


@pytest.mark.parametrize("story", STORIES, ids=lambda s: s.__name__)
def test_the_same_calls_give_the_same_results_and_errors(empty, story):
    lines = []
    for db in empty:
        set_clock(NOW)
        t = Transcript(db)
        story(t)
        lines.append(t.lines)
    lite, pg = lines
    assert len(pg) == len(lite)
    for (lite_call, lite_value), (pg_call, pg_value) in zip(lite, pg):
        assert pg_call == lite_call
        assert_same(lite_value, pg_value)
    raised = [line for line in lite if isinstance(line[1], list) and line[1][:1] == ["raised"]]
    # most stories meet their errors, on both engines
    assert raised or story in (anonymous_story, same_instant_story)


def test_the_stories_record_what_the_application_expects(empty):
    """A few lines of the stories pinned to what the application returns (the comparison
    above only proves the two engines agree)."""
    set_clock(NOW)
    t = Transcript(empty[0])
    uploads_story(t)
    transfer = next(v for call, v in t.lines if call == "uploads.transfer_cv_ownership")
    assert transfer["success"] and transfer["message"] == f"transferred from {ANONYMOUS} to <jane>"
    t = Transcript(empty[0])
    cache_story(t)
    assert [v for _, v in t.lines[:3]] == [True, False, False]   # at, below, without a score
    assert t.lines[9] == ("cache.get_cached_extraction", None)   # the refused entry: never written
    assert t.lines[15] == ("cache.get_cached_extraction", [1, 2])   # cached at threshold=0.5
    for db in empty:
        jane = users.create_user(db, "p@example.com", "h")
        portfolio.update_user_portfolio(db, jane, "p-9", "https://p.example/9")
        shown = portfolio.get_user_portfolio(db, jane)
        assert (timeutil.parse(shown["expires_at"]) - timeutil.parse(shown["created_at"])
                == timedelta(days=30)) and not shown["expired"]


def test_each_cleanup_leaves_the_same_rows(fresh_both):
    """The three retention cleanups run (through the runner, as the page and the command line
    run them) on the demo: the same counts removed, the same figures afterwards."""
    from r2w_db.maintenance import runner

    lite, pg = fresh_both
    for task in registry.CLEANUPS:
        done = [runner.run(db, task, user="conformance") for db in (lite, pg)]
        assert_same(*[{"outcome": r.outcome, "rows": r.rows, "previewed": r.previewed,
                       "message": r.message, "details": r.details} for r in done])
        assert done[0].rows > 0, task
        assert_same(stats.collect_stats(lite, now=NOW), stats.collect_stats(pg, now=NOW))
    assert row_counts(lite) == row_counts(pg)
    for task in registry.CLEANUPS:
        assert registry.preview(lite, task).count == registry.preview(pg, task).count == 0


# ------------------------------------------------------------------ one engine, by hand

H1, H2 = "1" * 64, "2" * 64


def small_history(db):
    """Two users, two sessions, four uploads, two cache entries, each at a chosen moment."""
    set_clock(NOW - timedelta(days=10))
    omar = users.create_user(db, "omar@example.com", "h")
    set_clock(NOW - timedelta(days=8))
    sessions.create_session(db, omar)                                       # expired
    set_clock(NOW - timedelta(hours=4))
    cache.cache_extraction_result(db, H1, {"name": "Jane"}, "gpt-4o", 0.0, 0.9)
    set_clock(NOW - timedelta(hours=3))
    app_uploads.create_cv_upload(db, "anonymous_000000000001", "u1", "a.pdf", ".pdf", H1)  # hit
    set_clock(NOW - timedelta(hours=2))
    jane = users.create_user(db, "jane@example.com", "h")
    app_uploads.create_cv_upload(db, jane, "u2", "b.docx", ".docx", H2)  # cached only later
    set_clock(NOW - timedelta(minutes=90))
    app_uploads.create_cv_upload(db, jane, "u3", "c.pdf", ".pdf")        # stuck: no hash
    set_clock(NOW - timedelta(hours=1))
    cache.cache_extraction_result(db, H2, {"name": "B"}, "claude", 0.0, 0.75)
    sessions.create_session(db, jane)                                       # active
    set_clock(NOW - timedelta(minutes=30))
    app_uploads.create_cv_upload(db, "anonymous_000000000001", "u4", "d.pdf", ".pdf", H1)  # hit
    set_clock(NOW)
    for job, status in (("u1", "completed"), ("u2", "failed"), ("u4", "uploaded")):
        assert app_uploads.update_cv_upload_status(db, job, status)


def test_each_engine_gives_the_hand_computed_figures(backend):
    db = backend
    small_history(db)
    got = stats.collect_stats(db, now=NOW)
    assert got["users"] == {"registered": 2, "anonymous": 1}
    assert got["sessions"] == {"active": 1, "expired": 1}
    assert got["uploads"] == {"total": 4, "processing": 1, "completed": 1, "failed": 1,
                              "uploaded": 1, "other": 0, "stuck": 1}
    assert {k: got["cache"][k] for k in ("cached_extractions", "average_confidence_score",
                                         "total_cache_accesses", "low_confidence_extractions",
                                         "uploads_with_hash", "cache_hits", "cache_hit_rate",
                                         "below_caching_threshold")} == {
        "cached_extractions": 2, "average_confidence_score": 0.825, "total_cache_accesses": 2,
        "low_confidence_extractions": 0, "uploads_with_hash": 3, "cache_hits": 2,
        "cache_hit_rate": 2 / 3, "below_caching_threshold": 0}
    day = window("24h")
    head = overview.headline(db, day)["current"]
    assert {k: head[k] for k in ("registered_new", "anonymous_new", "uploads", "hashed", "hits",
                                 "failure_rate", "stuck", "other")} == {
        "registered_new": 1, "anonymous_new": 1, "uploads": 4, "hashed": 3, "hits": 2,
        "failure_rate": 0.5, "stuck": 1, "other": 0}
    assert head["average_confidence"] == pytest.approx(0.825, abs=1e-12)
    assert confidence.summary(db, day) | {"mean": None} == {
        "entries": 2, "valid": 2, "invalid": 0, "null": 0, "out_of_range": 0, "low": 0,
        "below_threshold_not_low": 0, "cacheable": 2, "below_threshold": 0, "mean": None}
    assert uploads.status_counts(db, day).set_index("status")["uploads"].to_dict() == {
        "processing": 1, "completed": 1, "failed": 1, "uploaded": 1, "other": 0}
    assert uploads.file_types(db, day).to_dict("records") == [
        {"file_type": ".pdf", "uploads": 3, "failed": 0, "failure_rate": 0.0},
        {"file_type": ".docx", "uploads": 1, "failed": 1, "failure_rate": 1.0}]
    stuck = uploads.stuck_jobs(db, NOW)
    assert stuck["count"] == 1 and list(stuck["jobs"]["job_id"]) == ["u3"]
    assert stuck["jobs"]["age_minutes"][0] == pytest.approx(90, abs=AGE_TOLERANCE_MIN)
    waiting = uploads.awaiting_extraction(db, NOW)
    assert waiting["count"] == 1 and waiting["unreadable"] == 0
    assert waiting["oldest_age_minutes"] == pytest.approx(30, abs=AGE_TOLERANCE_MIN)
    share = anonymous.share_by_period(db, day)
    assert (share["uploads"], share["anonymous"], share["share"]) == (4, 2, 0.5)
    hits = cache_hits.hit_rate(db, day)
    assert (hits["uploads"], hits["hashed"], hits["hits"], hits["hit_rate"]) == (4, 3, 2, 2 / 3)
    assert registry.preview(db, "sessions", days=7).details == {"days": 7, "users": 1}
    assert [registry.preview(db, t).count for t in registry.CLEANUPS] == [1, 0, 0]
    checks = health_checks(db)
    assert (checks["stuck"]["status"], checks["stuck"]["value"]) == (health.WARN, "1")
    assert check.run_check(db)["ok"] and rollups.first_day(db) == (NOW - timedelta(days=10)).date()


def test_a_task_an_engine_has_no_use_for_says_why(both):
    """The one preview that is not on every engine, by design: the WAL checkpoint (an SQLite
    file's WAL; PostgreSQL checkpoints its own). It is shown there with the reason, never run."""
    for db in both:
        got = registry.preview(db, "checkpoint")
        reason = db.backend.features.unsupported.get("tasks.checkpoint")
        assert (got.refusal, got.details.get("applicable", True) is False) == (
            (reason, True) if reason else (None, False)), db.backend.name
    assert [db.backend.features.unsupported.get("tasks.checkpoint") is None for db in both] == [
        True, False]


# ------------------------------------------------------------------ every function has a case

FIGURE_MODULES = {m.__name__.rsplit(".", 1)[-1]: m for m in (
    stats, overview, cache_hits, confidence, uploads, anonymous, windowed, earlier_days,
    database_file, check, health, health_report, snapshot, space, rollups, rollup_window,
    registry)}
# Modules of r2w_db/figures left out, and why: forecast (pure functions of a size series),
# history_page (reads the monitor database, always SQLite; its `daily` is rollup_window.daily,
# compared here), databases (configured
# locations; each row is database_file.storage, migrations.schema_version and
# health_report.evaluate, compared here), periods and definitions (windows, bins, no query),
# watched_anonymous and watched_cache (the snapshot's figures read back: compared with the live
# ones on both engines by tests/test_watched_anonymous_cache.py), watched_now (the same, by
# tests/test_watched_uploads_overview.py).

# Public functions of those modules without a conformance case, and why.
NOT_CASES = {
    # pure: shape rows or frames another function read (compared through that function)
    **dict.fromkeys(("stats.hit_rate_from", "stats.cache_figures", "stats.upload_figures",
                     "overview.sides", "overview.span", "overview.split",
                     "cache_hits.hit_rate_of", "cache_hits.served_long", "confidence.band",
                     "uploads.by_period_frame", "uploads.status_long", "uploads.summarise",
                     "anonymous.share_of", "anonymous.ages_of", "cache_hits.contents_of",
                     "cache_hits.access_counts_of", "confidence.by_model_frame",
                     "earlier_days.served_long", "health.worst",
                     "health.figures_from_stats", "health.cleanup_record",
                     "health.preview_record",
                     "health_report.number_of",
                     "health_report.perfdata", "health_report.first_line", "health_report.lines",
                     "health_report.with_problem", "health_report.unknown",
                     "health.load_thresholds",
                     "health.threshold_maximum", "snapshot.metrics_of", "rollups.floor",
                     "rollups.empty_day", "rollup_window.add", "rollup_window.totals_of",
                     "registry.get_task", "registry.check_days", "registry.read_only_refusal",
                     "registry.check_minutes", "health_report.status_word",
                     "health_report.status_counts", "health_report.silenced_note",
                     "health_report.with_silences", "rollup_window.add_models",
                     "rollup_window.models_of", "rollups.sql_order", "rollups.edge_hours"),
                    "pure: no database (compared through the figure that feeds it)"),
    # parts of a figure, on the connection the figure opens (compared through it)
    **dict.fromkeys(("overview.upload_figures", "overview.people_figures",
                     "overview.now_figures", "anonymous.with_owning_ids",
                     "health.application_checks", "health_report.report"),
                    "a step of its figure (overview.headline, anonymous.ids_by_period, "
                    "health.run_checks, health_report.evaluate), compared through it"),
    # the engine's own by design
    "overview.file_sizes": "sizes in bytes (ENGINE_SPECIFIC)",
    "database_file.storage": "the storage's own figures (pages, free list, WAL vs relation sizes)",
    "database_file.change_token": "a token of the storage (the file's mtime and size vs the cluster's "
                                  "snapshot): only its changing is specified, "
                                  "tests/test_pg_pages.py and tests/test_pg_change_token.py",
    "health.server_checks": "PostgreSQL's pg_stat_* checks: SQLite has no server",
    "health.statement_checks": "PostgreSQL's pg_stat_statements check: SQLite keeps no "
                               "statement statistics (tests/test_pg_queries.py)",
    "health_report.storage_figures": "an SQLite file's figures; {} where there is no file",
    "health.last_maintenance": "reads the monitor database's log (SQLite on every engine)",
    "health_report.silenced": "reads the monitor database's silences (SQLite on every engine)",
}
# covered by a test of its own rather than a case of the tables
OWN_TESTS = {"rollups.roll_up": "test_windowed_from_rollups_on_postgresql_equals_live_and_sqlite",
             "rollups.fill_missing": "tests/test_rollup_models.py: an old monitor database's "
                                     "periods filled in, then equal to live (roll_up runs it "
                                     "on both engines above)"}


def test_every_public_function_has_a_case():
    covered = {c.covers for c in FIGURES + PREVIEWS} | set(OWN_TESTS)
    public = {f"{name}.{fn}" for name, module in FIGURE_MODULES.items()
              for fn, obj in vars(module).items()
              if inspect.isfunction(obj) and obj.__module__ == module.__name__
              and not fn.startswith("_")}
    missing = public - covered - set(NOT_CASES)
    assert not missing, f"no conformance case (add one to FIGURES / PREVIEWS): {sorted(missing)}"
    stale = (set(NOT_CASES) | set(OWN_TESTS)) - public
    assert not stale, f"excluded but not a public function any more: {sorted(stale)}"
    assert not covered & set(NOT_CASES), covered & set(NOT_CASES)


APP_MODULES = {"users": users, "sessions": sessions, "cache": cache, "portfolio": portfolio,
               "app_uploads": app_uploads, "app_anonymous": app_anonymous}
# the application's functions no story calls, and why
NOT_IN_STORIES = {
    "cache.checked_extraction": "pure: cache_extraction_result's validation (cache_story meets it)",
    "sessions.checked_days": "pure: the days' validation",
    "app_uploads.checked_user_ids": "pure: get_multiple_users_cvs' validation (uploads_story)",
    "app_anonymous.stale_cutoff": "pure: the cut-off moment",
    "app_uploads.mark_stuck_failed": "a step of maintenance/stuck_jobs.fail_stuck's "
                                     "transactions, run on both engines by tests/test_stuck_task.py",
}


def test_every_data_operation_is_in_a_story():
    """Every public function of r2w_db/app (but passwords: no database) is called by a story,
    a case of PREVIEWS or listed in NOT_IN_STORIES."""
    text = "\n".join(inspect.getsource(f) for f in (*[
        s.values[0] if hasattr(s, "values") else s for s in STORIES], small_history))
    text += "\n".join(c.covers for c in PREVIEWS)
    missing = []
    for alias, module in APP_MODULES.items():
        for fn, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ \
                    and not fn.startswith("_") and f"{alias}.{fn}" not in NOT_IN_STORIES \
                    and f"{alias}.{fn}" not in text \
                    and f"{module.__name__.rsplit('.', 1)[-1]}.{fn}" not in text:
                missing.append(f"{alias}.{fn}")
    assert not missing, missing
