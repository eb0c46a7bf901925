"""Health checks for the overview, in the spirit of PgHero: each is green, amber or red, with
its number, what it means, and the remedy (a command, and the page that acts on it).

Thresholds live in one dataclass, `Thresholds`. Defaults can be changed, in this order
(later wins): the optional `[health]` table of `.streamlit/secrets.toml` (read by the
dashboard and passed in as `overrides`), then environment variables `R2W_HEALTH_<FIELD>`
(e.g. `R2W_HEALTH_STUCK_ERROR=25`, `R2W_HEALTH_BACKUP_WARN_HOURS=48`).
"""
import dataclasses
import os
import shlex
from dataclasses import dataclass, field

from r2w_db import config, errors
from r2w_db.app import anonymous, cache, sessions
from r2w_db.engine import schema, timeutil
from r2w_db.engine.checks import STATEMENTS
from r2w_db.backends import open_database
from r2w_db.figures import queries
from r2w_db.figures.database_file import storage
from r2w_db.figures.periods import read
from r2w_db.formatting import human_age, human_bytes

OK, WARN, ERROR = "ok", "warn", "error"
SEVERITY = {ERROR: 0, WARN: 1, OK: 2}
ENV_PREFIX = "R2W_HEALTH_"

UPLOADS_PAGE = "pages/3_Uploads.py"
CONFIDENCE_PAGE = "pages/2_Confidence.py"
MAINTENANCE_PAGE = "pages/6_Maintenance.py"
QUERIES_PAGE = "pages/8_Queries.py"
STATEMENT_CHECKS = STATEMENTS   # where the engine keeps statement statistics (engine/checks.py)
LOGGED_TASKS = ("integrity", "backup", "analyze")
CLEANUP_DAYS = {"sessions": config.SESSION_DAYS, "cache": config.CACHE_RETENTION_DAYS,
                "anonymous": config.ANONYMOUS_RETENTION_DAYS}


@dataclass(frozen=True)
class Thresholds:
    """When a check turns amber (warn) or red (error). Counts are rows, ages as named."""

    stuck_warn: int = 1                  # stuck jobs ('processing' > 60 min)
    stuck_error: int = 10
    # Cleanups run on a schedule, so rows past their retention are normal for a while: a check
    # turns amber only when rows are overdue by more than the grace (the cleanup did not run),
    # red when that many rows are overdue.
    sessions_grace_days: float = 1       # session cleanup runs daily
    cache_grace_days: float = 7          # cache cleanup runs weekly
    anonymous_grace_days: float = 1      # anonymous data cleanup runs daily
    overdue_error: int = 10_000
    below_threshold_warn: int = 1        # cache entries below the caching threshold (0.75)
    below_threshold_error_share: float = 0.05
    unparseable_warn: int = 1            # timestamps SQLite cannot read
    integrity_warn_days: float = 7       # since the last successful integrity check
    integrity_error_days: float = 30
    backup_warn_hours: float = 26        # since the last successful backup (never: red)
    backup_error_hours: float = 72
    wal_warn_mb: float = 64
    wal_error_mb: float = 1024
    free_warn_ratio: float = 0.20        # free pages / all pages
    free_error_ratio: float = 0.50
    free_min_mb: float = 16              # a smaller file is not worth a VACUUM whatever its ratio
    # PostgreSQL's own checks (backends/postgresql/server_checks.py); shares are 0..1
    pg_connections_warn_share: float = 0.7   # connections in use / max_connections
    pg_connections_error_share: float = 0.9
    pg_long_query_warn_seconds: float = 60   # a query active for longer
    pg_long_query_error_seconds: float = 300
    pg_idle_tx_warn_seconds: float = 60      # a session idle in a transaction for longer
    pg_idle_tx_error_seconds: float = 600
    pg_dead_warn_share: float = 0.2          # dead / (live + dead) tuples of one table
    pg_dead_error_share: float = 0.5
    pg_dead_min_rows: int = 1000             # fewer dead tuples are not judged
    pg_vacuum_warn_hours: float = 24         # since a table with dead tuples was last vacuumed
    pg_vacuum_error_hours: float = 168
    pg_unused_index_min_mb: float = 1        # a smaller unused index is not worth a look
    pg_cache_hit_warn_ratio: float = 0.99    # heap blocks hit / (hit + read), amber below
    pg_cache_hit_error_ratio: float = 0      # red below (0: never red)
    pg_cache_hit_min_blocks: int = 10_000    # fewer blocks hit + read: too few to judge
    pg_wraparound_warn_share: float = 1.0    # age(datfrozenxid) / autovacuum_freeze_max_age
    pg_wraparound_error_share: float = 0.5   # age(datfrozenxid) / 2^31 (wraparound)
    # a statement's mean time over the last day / its mean over the 7 days before (captures)
    pg_statement_slow_warn_ratio: float = 2.0
    pg_statement_slow_error_ratio: float = 5.0
    pg_statement_min_calls: int = 20         # fewer calls in either period: not judged
    pg_statement_min_mean_ms: float = 1.0    # a faster mean (last day) is not judged


def load_thresholds(overrides=None, environ=None):
    """(Thresholds, problems): defaults, then `overrides` (a mapping, e.g. secrets [health]),
    then R2W_HEALTH_<FIELD> variables. A bad value is reported in problems and ignored."""
    environ = os.environ if environ is None else environ
    fields = {f.name: f.type for f in dataclasses.fields(Thresholds)}
    values, problems = {}, []
    sources = [(f"[health] {k}", k, v) for k, v in dict(overrides or {}).items()]
    sources += [(k, k[len(ENV_PREFIX):].lower(), v) for k, v in environ.items()
                if k.startswith(ENV_PREFIX)]
    for where, name, raw in sources:
        if name not in fields:
            problems.append(f"{where}: unknown health threshold (known: {', '.join(fields)})")
            continue
        kind = int if fields[name] in (int, "int") else float
        high = threshold_maximum(name, kind)
        value = config.bounded_number(raw, 0, high, kind)
        if value is None:
            problems.append(f"{where}: {raw!r} is not a number from 0 to {high:g}; the default "
                            f"is used")
            continue
        values[name] = value
    return Thresholds(**values), problems


def threshold_maximum(name, kind=float):
    """The largest value a threshold may take: a duration that still fits in a date (100
    years), a count that fits in an SQL integer; NaN and infinity are never taken."""
    days = config.MAX_SETTING_DAYS
    for suffix, high in (("_days", days), ("_hours", days * 24), ("_seconds", days * 86400),
                         ("_mb", 1e9)):
        if name.endswith(suffix):
            return high
    return config.MAX_SETTING_COUNT if kind is int else 1e6    # counts; shares and ratios


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    status: str          # ok, warn or error
    value: str           # the number, formatted
    detail: str          # what it means
    remedy: str = ""     # what to do (empty when green)
    command: str = ""    # the command line that acts on it
    page: str = ""       # the dashboard page that acts on it
    page_label: str = ""
    task: str = ""       # the maintenance task that is its remedy (maintenance/registry.py)
    task_params: dict = field(default_factory=dict)   # that task's parameters for this check


@dataclass(frozen=True)
class ServerCheck(Check):
    """A check of the server (db.backend.server_checks) that carries its own perfdata:
    measured = (number, unit, warn, crit)."""

    measured: tuple = (None, "", None, None)


def _level(value, warn, error):
    if value is None:
        return OK
    if value >= error:
        return ERROR
    if value >= warn:
        return WARN
    return OK


def last_maintenance(db, store=None):
    """{task: {"ok_at", "failed_at", "error"}} for integrity, backup and analyze, from the
    maintenance log: the newest successful run, and the newest run when it failed since
    (ISO strings or None). {"_error": message} when the monitor's own database cannot be read."""
    from r2w_db.monitor.store import MonitorStore

    store = store or MonitorStore()
    try:
        runs = {}
        for task in LOGGED_TASKS:
            ok = store.last_success(task, database=db)
            last = store.last_run(task, database=db)
            failed = last if last and last.get("outcome") == "failed" else None
            runs[task] = {"ok_at": ok.get("finished_at") if ok else None,
                          "failed_at": failed.get("finished_at") if failed else None,
                          "error": failed.get("error") if failed else None}
        return runs
    except errors.R2WError as exc:
        return {"_error": str(exc)}


def _cmd(db, *words):
    return f"python -m r2w_db --db {shlex.quote(open_database(db).display)} " + " ".join(words)


def run_checks(db, thresholds=None, last_runs=None, now=None, stats_figures=None,
               cleanups=None, monitor=None):
    """Every health check, in a fixed order, as Check objects (read-only).

    `now` judges stuck jobs and the age of logged runs; the cleanup counts are the
    maintenance previews' own, as of the current time. `stats_figures`: a `stats` result of
    the same `now`, whose counts are used instead of counting again; `cleanups`:
    cleanup_figures' result, counted meanwhile (the snapshot does both at once); `monitor`:
    the monitor database holding the statement captures (None: R2W_MONITOR_DB's).
    The application's checks come first; then the file's own (WAL size, free pages, planner
    statistics) where the engine keeps the database in one file, and the server's own
    (db.backend.server_checks) where it has pg_stat_* views.
    """
    db = open_database(db)
    t = thresholds or Thresholds()
    last_runs = last_runs or {}
    now = now or timeutil.utcnow()
    with read(db) as conn:
        figures = figures_from_stats(stats_figures) if stats_figures else _figures(db, conn, now)
        drift = db.backend.schema.drift(conn)
        steps = db.backend.schema.plan(conn)
        server = server_checks(db, conn, t) if db.backend.features.server_stats else []
    figures.update(cleanups or cleanup_figures(db, t))
    checks = application_checks(db, figures, drift, steps, t, last_runs, now)
    if db.backend.features.file:
        store = storage(db)
        checks += [_wal(db, store, t), _free_pages(db, store, t),
                   _analyze(db, store, last_runs, now)]
    return checks + server + statement_checks(db, t, now, monitor)


def server_checks(db, conn, t):
    """The server's own checks (db.backend.server_checks), read on the health reader `conn`."""
    vacuum = {"command": _cmd(db, "maintain", "vacuum"), "page": MAINTENANCE_PAGE,
              "page_label": "Maintenance", "task": "vacuum"}
    return [ServerCheck(c["key"], c["title"], c["status"], c["value"], c["detail"], c["remedy"],
                        measured=c["measured"], **(vacuum if c["vacuum"] else {}))
            for c in db.backend.server_checks.run(conn, t)]


def statement_checks(db, t, now, monitor=None):
    """"Statement slower than its baseline" (figures/queries.py, from the watcher's captures of
    the statement statistics in `monitor`) where the engine keeps them; [] elsewhere."""
    if not queries.supported(db):
        return []
    c = queries.slowdown_check(db, now, t, monitor)
    return [ServerCheck(c["key"], c["title"], c["status"], c["value"], c["detail"], c["remedy"],
                        command=_cmd(db, "queries", "--since", "1d"), page=QUERIES_PAGE,
                        page_label="Queries", measured=c["measured"])]


def application_checks(db, figures, drift, steps, t, last_runs, now):
    """The checks of the application's data and schema, on either backend (the figures and
    the schema drift counted by the backend's own SQL, the words its own where they differ)."""
    words = db.backend.health.wording()
    return [
        _stuck(db, figures, t),
        _cleanup(db, "sessions", "Expired sessions waiting for cleanup", figures["sessions"],
                 f"sessions created more than {config.SESSION_DAYS} days ago",
                 t.sessions_grace_days, t, "sessions"),
        _cleanup(db, "cache_cleanup", "Cache entries eligible for cleanup", figures["cache"],
                 f"entries older than {config.CACHE_RETENTION_DAYS} days and never reused "
                 "(access_count = 1)", t.cache_grace_days, t, "cache"),
        _below_threshold(figures, t),
        _cleanup(db, "anonymous", "Stale anonymous data", figures["anonymous"],
                 f"anonymous ids whose every upload is older than the "
                 f"{config.ANONYMOUS_RETENTION_DAYS}-day retention", t.anonymous_grace_days, t,
                 "anonymous"),
        _unparseable(db, figures, t, words["unparseable"]),
        _foreign_values(db, figures),
        _schema(db, drift, steps, words["migrate_remedy"]),
        _logged(db, "integrity", "Last integrity check", last_runs, now,
                t.integrity_warn_days * 86400, t.integrity_error_days * 86400, never=WARN,
                remedy=words["integrity_remedy"],
                command=_cmd(db, "maintain", "integrity")),
        _logged(db, "backup", "Last backup", last_runs, now,
                t.backup_warn_hours * 3600, t.backup_error_hours * 3600, never=ERROR,
                remedy=words["backup_remedy"], command=_cmd(db, "backup")),
    ]


def worst(checks):
    """The most severe status among checks (ok when there are none)."""
    return min((c.status for c in checks), key=SEVERITY.get, default=OK)


# ------------------------------------------------------------------ the figures (one connection)

def cleanup_figures(db, t=None):
    """(waiting, overdue) per cleanup, counted by the maintenance previews' own functions (as of
    now), so that the Overview and the Maintenance page always show the same numbers."""
    return cleanup_counts(db, t)[0]


def cleanup_counts(db, t=None):
    """(cleanup_figures' pairs, the uploads of the anonymous ids waiting), in the same passes:
    the snapshot keeps both for the Maintenance page's previews (preview_record)."""
    t = t or Thresholds()
    (ids, uploads), (overdue, _) = anonymous.stale_totals_at(
        db, config.ANONYMOUS_RETENTION_DAYS,
        config.ANONYMOUS_RETENTION_DAYS + t.anonymous_grace_days)
    return {   # each pair counted in one read (the same definitions as the previews)
        "sessions": sessions.count_old_sessions_at(
            db, config.SESSION_DAYS, config.SESSION_DAYS + t.sessions_grace_days),
        "cache": (cache.count_old_cache_entries(db, config.CACHE_RETENTION_DAYS),
                  cache.count_old_cache_entries(db, config.CACHE_RETENTION_DAYS
                                                + t.cache_grace_days)),
        "anonymous": (ids, overdue),
    }, uploads


CLEANUP_DAYS = {"sessions": config.SESSION_DAYS, "cache": config.CACHE_RETENTION_DAYS,
                "anonymous": config.ANONYMOUS_RETENTION_DAYS}   # what `waiting` is counted at


def preview_record(cleanups, anonymous_uploads):
    """The cleanups' previews at their retention as the snapshot keeps them: {task: {"days",
    "count"}}, and the anonymous one's "uploads" (cleanup_counts' result)."""
    record = {task: {"days": CLEANUP_DAYS[task], "count": waiting}
              for task, (waiting, _) in cleanups.items()}
    record["anonymous"]["uploads"] = anonymous_uploads
    return record


CLEANUP_GRACE = {"sessions": "sessions_grace_days", "cache": "cache_grace_days",
                 "anonymous": "anonymous_grace_days"}   # cleanup_figures' key -> its grace


def cleanup_record(cleanups, t=None):
    """cleanup_figures' result as the snapshot keeps it: {task: {"waiting", "overdue",
    "grace_days"}} (overdue depends on the grace the thresholds gave)."""
    t = t or Thresholds()
    return {task: {"waiting": waiting, "overdue": overdue,
                   "grace_days": getattr(t, CLEANUP_GRACE[task])}
            for task, (waiting, overdue) in cleanups.items()}


def figures_from_stats(got):
    """_figures' figures from a `stats` result of the same moment (the snapshot has one), so
    that they are not counted twice."""
    cache = got["cache"]
    return {
        "stuck": got["uploads"]["stuck"],
        "confidence": {"entries": cache["cached_extractions"],
                       "below": cache["below_caching_threshold"],
                       "invalid": cache["invalid_confidence"]},
        "unparseable": dict(got["data_quality"]),
        "foreign": {"uploads with a status the application never writes": got["uploads"]["other"],
                    "cache entries whose access_count is not a count":
                        cache["invalid_access_count"]},
    }


def _figures(db, conn, now):
    cache_row = db.backend.stats.cache_row(conn)   # the figures of `stats`
    other = sum(n for status, n in db.backend.stats.status_counts(conn)
                if status not in config.STATUSES)
    return {
        "stuck": db.backend.stats.stuck(conn, now),
        "confidence": {"entries": cache_row["n"], "below": cache_row["below_threshold"],
                       "invalid": cache_row["invalid"]},
        "unparseable": db.backend.stats.data_quality(conn),
        "foreign": {"uploads with a status the application never writes": other,
                    "cache entries whose access_count is not a count": cache_row["invalid_access"]},
    }


# ------------------------------------------------------------------ one function per check

def _stuck(db, figures, t):
    n = figures["stuck"]
    status = _level(n, t.stuck_warn, t.stuck_error)
    return Check(
        "stuck", "Stuck jobs", status, f"{n:,}",
        f"uploads still 'processing' more than {config.STUCK_MINUTES} minutes after upload",
        "" if status == OK else "Look at the extraction worker: these jobs will not finish on "
        "their own. Find them (job id, age, file type) on the Uploads page, then mark them "
        "failed (the stuck task, preview first) so that their owners see a failure and can "
        "upload again.",
        command=_cmd(db, "maintain", "stuck", "--minutes", str(config.STUCK_MINUTES)),
        page=UPLOADS_PAGE, page_label="Uploads",
        task="stuck", task_params={"minutes": config.STUCK_MINUTES})


def _cleanup(db, key, title, counts, meaning, grace_days, t, task):
    waiting, overdue = counts
    status = OK if not overdue else (ERROR if overdue >= t.overdue_error else WARN)
    detail = meaning
    if overdue:
        detail += (f"; {overdue:,} of them overdue by more than {grace_days:g} day(s): "
                   "the cleanup is not running")
    return Check(
        key, title, status, f"{waiting:,}", detail,
        "" if status == OK else f"Run the {task} cleanup (batched, preview first), and check that "
        "its schedule (cron) runs.",
        command=_cmd(db, "maintain", task), page=MAINTENANCE_PAGE, page_label="Maintenance",
        task=task, task_params={"days": CLEANUP_DAYS[task]})


def _below_threshold(figures, t):
    conf = figures["confidence"]
    below, entries, invalid = conf["below"], conf["entries"], conf["invalid"]
    share = below / entries if entries else 0
    status = (ERROR if below and share >= t.below_threshold_error_share
              else WARN if below >= t.below_threshold_warn else OK)
    detail = (f"cache entries with confidence below the caching threshold ({config.CACHE_THRESHOLD})"
              f": {share:.1%} of {entries:,}")
    if invalid:
        detail += f"; {invalid:,} with an invalid confidence (NULL or outside [0, 1])"
    return Check(
        "below_threshold", "Entries below the caching threshold", status, f"{below:,}", detail,
        "" if status == OK else "The cache should only hold extractions at or above "
        f"{config.CACHE_THRESHOLD}: they are served to every re-upload of the same file. Find the "
        "writer (an older policy?) and delete or re-extract them; see them on the Confidence page.",
        page=CONFIDENCE_PAGE, page_label="Confidence")


def _unparseable(db, figures, t, meaning):
    per_column = {k: v for k, v in figures["unparseable"].items() if v}
    n = sum(per_column.values())
    status = WARN if n >= t.unparseable_warn else OK
    detail = f"{meaning}: left out of every windowed figure"
    if per_column:
        detail += " (" + ", ".join(f"{k}: {v:,}" for k, v in per_column.items()) + ")"
    return Check(
        "unparseable", "Unreadable timestamps", status, f"{n:,}", detail,
        "" if status == OK else "Fix the writer: timestamps are naive UTC ISO-8601 "
        "(datetime.utcnow().isoformat()). `stats` lists them per column.",
        command=_cmd(db, "stats"))


def _foreign_values(db, figures):
    """Values the application never writes: a status outside config.STATUSES ('uploaded' is the
    application's own), an access_count that is not a count. Left out of figures, counted here."""
    found = {k: v for k, v in figures["foreign"].items() if v}
    detail = "; ".join(f"{k}: {v:,}" for k, v in found.items()) or (
        f"every status is one of {', '.join(config.STATUSES)}; every access_count is a count")
    return Check(
        "foreign_values", "Values the application never writes", WARN if found else OK,
        f"{sum(found.values()):,}", detail,
        "" if not found else "Find what wrote them (a script, an older version, a hand edit): "
        "the Uploads page lists the statuses, `stats` counts both.",
        command=_cmd(db, "stats"), page=UPLOADS_PAGE, page_label="Uploads")


def _schema(db, drift, steps, migrate_remedy):
    problems, worst_status = [], OK
    if drift.missing_tables or drift.missing_columns:
        problems.append("missing " + ", ".join(drift.missing_tables + drift.missing_columns))
        worst_status = ERROR
    if drift.missing_indexes:
        by_version = {}
        for migration in schema.MIGRATIONS:
            for step in migration.steps:
                if getattr(step, "name", None) in drift.missing_indexes:
                    by_version.setdefault((migration.version, migration.title), []).append(step.name)
        problems += [f"migration {v} ({title}) would add {', '.join(names)}"
                     for (v, title), names in sorted(by_version.items())]
        worst_status = worst_status if worst_status == ERROR else WARN
    extras = drift.extra_tables + drift.extra_columns + drift.extra_indexes
    if extras:
        problems.append("not in the documented schema: " + ", ".join(extras))
        worst_status = worst_status if worst_status == ERROR else WARN
    if not problems and steps:
        problems.append(f"schema version {drift.version}, current {schema.CURRENT_VERSION}")
        worst_status = WARN
    value = f"{len(steps)} pending step(s)" if steps else "up to date"
    detail = "; ".join(problems) if problems else (
        f"every documented table, column and index, and this project's indexes (v{schema.CURRENT_VERSION})")
    remedy = ""
    if steps:
        remedy = f"{migrate_remedy} Every figure is correct without the indexes, only slower."
    elif extras:
        remedy = "Someone changed the schema by hand: check what uses the extra objects before removing them."
    return Check("schema", "Schema and indexes", worst_status, value, detail, remedy,
                 command=_cmd(db, "migrate") if steps else "")


def _logged(db, task, title, last_runs, now, warn_s, error_s, never, remedy, command):
    link = {"command": command, "page": MAINTENANCE_PAGE, "page_label": "Maintenance",
            "task": task}
    if "_error" in last_runs:
        return Check(task, title, WARN, "unknown",
                     f"the maintenance log cannot be read: {last_runs['_error']}",
                     "Check R2W_MONITOR_DB and the monitor database file.", **link)
    run = last_runs.get(task) or {}
    ok_at, failed_at = timeutil.parse(run.get("ok_at")), timeutil.parse(run.get("failed_at"))
    if ok_at is None:
        status, value, detail = never, "never", f"no successful {task} recorded in the maintenance log"
    else:
        age = (now - ok_at).total_seconds()
        status, value = _level(age, warn_s, error_s), f"{human_age(max(age, 0))} ago"
        detail = f"last successful {task}: {timeutil.iso(ok_at)[:19]} UTC"
    if failed_at is not None and (ok_at is None or failed_at > ok_at):
        # a failed integrity check found damage; any other failure did not do the job
        damage = task == "integrity" and "integrity check FAILED" in (run.get("error") or "")
        status = ERROR if damage or status == ERROR else WARN
        detail += f"; the last run ({timeutil.iso(failed_at)[:16]} UTC) failed: {run.get('error')}"
        if damage:
            value, remedy = "damage found", ("Stop writing to the database, restore the newest "
                                             "verified backup, and check the disk.")
    return Check(task, title, status, value, detail, "" if status == OK else remedy, **link)


def _wal(db, store, t):
    wal = store["wal_bytes"]
    if store.get("journal_mode", "wal") != "wal":  # a recommendation, never a warning
        return Check(
            "wal", "WAL size", OK, f"{store['journal_mode']} journal (no WAL)",
            "the file uses a rollback journal, as the application leaves it. On a local disk, WAL "
            "lets the dashboard read while the application writes; switch with "
            f"`{_cmd(db, 'migrate', '--wal')}` (never on a network share)",
            command=_cmd(db, "migrate", "--wal", "--dry-run"))
    status = _level(wal / 2**20, t.wal_warn_mb, t.wal_error_mb)
    return Check(
        "wal", "WAL size", status, human_bytes(wal),
        "the write-ahead log not yet copied back into the database file",
        "" if status == OK else "Checkpoint it. A WAL that keeps growing means a reader holds a "
        "transaction open and starves checkpoints: find it.",
        command=_cmd(db, "maintain", "checkpoint"), page=MAINTENANCE_PAGE, page_label="Maintenance",
        task="checkpoint")


def _free_pages(db, store, t):
    ratio = store["free_ratio"] or 0.0
    big_enough = store["page_count"] * store["page_size"] >= t.free_min_mb * 2**20
    status = _level(ratio, t.free_warn_ratio, t.free_error_ratio) if big_enough else OK
    detail = (f"{store['freelist_count']:,} free of {store['page_count']:,} pages "
              f"({human_bytes(store['free_bytes'])} reclaimable)")
    if not big_enough and ratio >= t.free_warn_ratio:
        detail += f"; the file is under {t.free_min_mb:g} MB, not worth a VACUUM"
    return Check(
        "free_pages", "Free pages", status, f"{ratio:.1%}", detail,
        "" if status == OK else "VACUUM rewrites the file without them (needs free disk of about "
        "the file's size, and holds the write lock while it runs).",
        command=_cmd(db, "maintain", "vacuum"), page=MAINTENANCE_PAGE, page_label="Maintenance",
        task="vacuum")


def _analyze(db, store, last_runs, now):
    run = {} if "_error" in last_runs else last_runs.get("analyze") or {}
    last = timeutil.parse(run.get("ok_at"))
    when = f"; last ANALYZE logged {human_age(max((now - last).total_seconds(), 0))} ago" if last else ""
    if store["stat_rows"]:
        return Check("analyze", "Planner statistics", OK, f"{store['stat_tables']} table(s)",
                     f"sqlite_stat1 holds statistics for {store['stat_tables']} table(s){when}",
                     command=_cmd(db, "maintain", "analyze"), page=MAINTENANCE_PAGE,
                     page_label="Maintenance")
    if not store["rows"]:
        return Check("analyze", "Planner statistics", OK, "not needed",
                     "the tables are empty: nothing to analyse yet")
    what = "sqlite_stat1 does not exist" if store["stat_rows"] is None else "sqlite_stat1 is empty"
    return Check(
        "analyze", "Planner statistics", WARN, "not analysed",
        f"{what}: the query planner guesses which index to use{when}",
        "Run ANALYZE (quick; refresh it after large changes).",
        command=_cmd(db, "maintain", "analyze"), page=MAINTENANCE_PAGE, page_label="Maintenance",
        task="analyze")
