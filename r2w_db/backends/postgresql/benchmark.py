"""The query benchmark on PostgreSQL: its statements, its sample of real rows, its plans.

bench.benchmark times these as it times SQLite's (the same names; psycopg prepares a statement
server-side after a few executions, as SQLite's statement cache does), in ONE read-only
REPEATABLE READ transaction. Where the application, a cleanup or a page runs a statement of its
own on PostgreSQL, that very statement is timed (operations, retention, stats, overview,
periods). Plans: query_plans.py.
"""
import random

from r2w_db import config
from r2w_db.engine import timeutil
from r2w_db.backends.postgresql import query_plans
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql import stats as pg_stats
from r2w_db.backends.postgresql.sampling import sample_column
from r2w_db.backends.postgresql.accounts import ACTIVE_SESSION_USER
from r2w_db.backends.postgresql.overview import HITS_BY_PERIOD
from r2w_db.backends.postgresql.window_sql import PG_PERIOD_FORMAT, UPLOAD_IN_WINDOW, per_period, utc
from r2w_db.backends.postgresql.retention import ANON, COUNT_STALE, OLD_SESSION, OLD_UNUSED_ENTRY

PLAN_METHOD = "EXPLAIN (FORMAT JSON)"
TITLES = {"hit_rate_per_upload": "Cache hits per day (the windows' statement, pg_overview)",
          "cache_figures": "Cache figures (count, confidence, accesses; pg_stats.CACHE_SQL)"}
WHOLE_HISTORY = ("start", "end", "grain", "fmt")   # a window's parameters: all of it, per day


def _named(sql, params):
    """(sql, params): a statement with %(name)s placeholders takes (placeholder, value) pairs."""
    if "%(" not in sql:
        return sql, tuple(params)
    return sql, tuple((p, p) if isinstance(p, str) else tuple(p) for p in params)


def statements():
    """{query name: (SQL, the values it takes: names, or (placeholder, name) pairs)}."""
    registered = (("user_id", "user_id_registered"),)
    table = [
        ("cv_listing_by_user",
         "SELECT * FROM cv_uploads WHERE user_id = %(user_id)s ORDER BY upload_date DESC",
         ("user_id",)),
        ("cache_lookup_by_hash",
         "SELECT cv_data FROM cv_extraction_cache WHERE file_hash = %(file_hash)s", ("file_hash",)),
        ("session_validation", "SELECT user_id FROM sessions WHERE session_id = %(session_id)s",
         ("session_id",)),
        ("user_by_email", "SELECT * FROM users WHERE email = %(email)s", ("email",)),
        ("user_by_id", "SELECT * FROM users WHERE user_id = %(user_id)s", registered),
        ("upload_dedup_by_hash",
         "SELECT upload_id, user_id, status FROM cv_uploads WHERE file_hash = %(file_hash)s",
         (("file_hash", "upload_file_hash"),)),
        ("user_with_cvs", "SELECT u.*, c.job_id, c.filename, c.status, c.cv_data FROM users u"
         " LEFT JOIN cv_uploads c ON u.user_id = c.user_id WHERE u.user_id = %(user_id)s",
         registered),
        ("session_validation_active", ACTIVE_SESSION_USER, ("session_id", "session_cutoff")),
        ("cleanup_sessions_scan", "SELECT count(*) FROM sessions WHERE " + OLD_SESSION,
         ("session_cutoff",)),
        ("cleanup_cache_scan", "SELECT count(*) FROM cv_extraction_cache WHERE " + OLD_UNUSED_ENTRY,
         ("cache_cutoff",)),
        ("stale_anonymous_scan", COUNT_STALE, ("anon", ("cutoff", "anon_cutoff"))),
        ("hit_rate", pg_stats.HITS_SQL, ()),
        ("hit_rate_per_upload", HITS_BY_PERIOD, WHOLE_HISTORY),
        ("status_counts", pg_stats.STATUS_SQL, ()),
        ("uploads_per_day", per_period("upload_date", UPLOAD_IN_WINDOW).as_string(None),
         WHOLE_HISTORY),
        ("cache_figures", pg_stats.CACHE_SQL, ("low", "threshold", "max_count")),
        ("active_sessions", "SELECT count(*) FROM sessions WHERE created_at >= %(session_cutoff)s",
         ("session_cutoff",)),
        ("anonymous_ids",
         "SELECT count(DISTINCT user_id) FROM cv_uploads WHERE starts_with(user_id, %(anon)s)",
         ("anon",)),
    ]
    return {name: _named(sql, params) for name, sql, params in table}


def sample_parameters(conn, seed=None, now=None):
    """{name: value}: random existing keys (None where a table has no row), read-only, and the
    cutoffs and constants the statements take."""
    rng = random.Random(seed)
    now = now or timeutil.utcnow()

    def pick(table, column, where="true"):
        found = sample_column(conn, rng, table, column, where, params={"anon": ANON})
        return rng.choice(found) if found else None

    values = {
        "user_id": pick("cv_uploads", "user_id"),
        "user_id_registered": pick("users", "user_id", "NOT starts_with(user_id, %(anon)s)"),
        "file_hash": pick("cv_extraction_cache", "file_hash"),
        "upload_file_hash": pick("cv_uploads", "file_hash"),
        "session_id": pick("sessions", "session_id"),
        "email": pick("users", "email"),
    }
    ago = timeutil.ago
    values.update(
        session_cutoff=utc(ago(now, days=config.SESSION_DAYS)),
        cache_cutoff=utc(ago(now, days=config.CACHE_RETENTION_DAYS)),
        anon_cutoff=utc(ago(now, days=config.ANONYMOUS_RETENTION_DAYS)),
        anon=ANON, low=config.LOW_CONFIDENCE, threshold=config.CACHE_THRESHOLD,
        max_count=config.MAX_ACCESS_COUNT, start=None, end=None, grain="day",
        fmt=PG_PERIOD_FORMAT["day"])
    return values


def _server_version(conn):
    number = conn.info.server_version
    return f"{number // 10000}.{number % 10000}" if number >= 100000 else str(number)


def prepare(db, conn, large_rows=None):
    """Check the schema and read what a run records: the server's version, the full-scan rule
    (a Seq Scan of a table over `large_rows` rows, LARGE_TABLE_ROWS by default), the schema
    version, rows per table (reltuples); and "context", what plan_steps needs."""
    large_rows = query_plans.LARGE_TABLE_ROWS if large_rows is None else large_rows
    drift = pg_schema.require_schema(conn, db)
    rows = query_plans.table_rows(conn)
    return {"engine": f"PostgreSQL {_server_version(conn)}", "sqlite_version": None,
            "full_scan_rule": query_plans.full_scan_rule(large_rows),
            "schema_version": drift.version, "approx_rows": rows,
            "context": {"rows": rows, "large_rows": large_rows,
                        "leads": query_plans.index_leads(conn)}}


def plan_steps(conn, statement, params, context):
    """The EXPLAIN (FORMAT JSON) plan of a statement as steps (query_plans.steps)."""
    return query_plans.steps(conn, statement, params, **context)
