"""The query benchmark on SQLite: its statements, its sample of real rows, its plans.

bench.benchmark times these (one read-only connection, the statement cache) and sums the plans
up. The statements are the ones the application, the cleanups and the pages run on SQLite,
with their tuned forms (a string range before julianday, the covering indexes).
"""
import random
import sqlite3

from r2w_db import config
from r2w_db.engine import schema, timeutil
from r2w_db.backends.sqlite import predicates as P
from r2w_db.backends.sqlite import query_plans, stats
from r2w_db.backends.sqlite import schema as sqlite_schema

PLAN_METHOD = "EXPLAIN QUERY PLAN"
FULL_SCAN_RULE = "a SCAN <table> plan step that uses no index: every row of the table is read"
TITLES = {"hit_rate_per_upload": "Cache hit test per upload (stats.HIT_SQL, for windows)",
          "cache_figures": "Cache figures (count, confidence, accesses; stats.CACHE_SQL)"}


def statements():
    """{query name: (SQL, the names of the values it takes in order)}."""
    older, _ = P.older_than("created_at", timeutil.utcnow())
    newer, _ = P.at_or_after("n.upload_date", timeutil.utcnow())
    active, _ = P.at_or_after("created_at", timeutil.utcnow())
    registered = ("user_id_registered",)
    return {
        "cv_listing_by_user": (
            "SELECT * FROM cv_uploads WHERE user_id = ? ORDER BY upload_date DESC", ("user_id",)),
        "cache_lookup_by_hash": (
            "SELECT cv_data FROM cv_extraction_cache WHERE file_hash = ?", ("file_hash",)),
        "session_validation": ("SELECT user_id FROM sessions WHERE session_id = ?",
                               ("session_id",)),
        "user_by_email": ("SELECT * FROM users WHERE email = ?", ("email",)),
        "user_by_id": ("SELECT * FROM users WHERE user_id = ?", registered),
        "upload_dedup_by_hash": (
            "SELECT upload_id, user_id, status FROM cv_uploads WHERE file_hash = ?",
            ("upload_file_hash",)),
        "user_with_cvs": ("SELECT u.*, c.job_id, c.filename, c.status, c.cv_data FROM users u"
                          " LEFT JOIN cv_uploads c ON u.user_id = c.user_id WHERE u.user_id = ?",
                          registered),
        "session_validation_active": (
            "SELECT user_id FROM sessions WHERE session_id = ?"
            " AND julianday(created_at) >= julianday(?)", ("session_id", "session_cutoff")),
        "cleanup_sessions_scan": (f"SELECT count(*) FROM sessions WHERE {older}",
                                  ("session_old_high", "session_old_exact")),
        "cleanup_cache_scan": (
            f"SELECT count(*) FROM cv_extraction_cache WHERE {older} AND access_count = 1",
            ("cache_old_high", "cache_old_exact")),
        # every upload of the id is older than the retention: no upload at or after the cutoff
        "stale_anonymous_scan": (
            f"SELECT count(DISTINCT u.user_id) FROM cv_uploads u WHERE {P.is_anonymous('u.user_id')}"
            f" AND NOT EXISTS (SELECT 1 FROM cv_uploads n WHERE n.user_id = u.user_id AND {newer})",
            ("anon_new_low", "anon_new_exact")),
        "hit_rate": (stats.HITS_SQL, ()),
        "hit_rate_per_upload": (stats.HIT_SQL, ()),
        "status_counts": ("SELECT status, count(*) AS n FROM cv_uploads GROUP BY status", ()),
        "uploads_per_day": (f"SELECT {P.day_of('upload_date')} AS day, count(*) AS uploads"
                            " FROM cv_uploads GROUP BY day ORDER BY day", ()),
        "cache_figures": (stats.CACHE_SQL, ("low_confidence", "cache_threshold")),
        "active_sessions": (f"SELECT count(*) FROM sessions WHERE {active}",
                            ("session_new_low", "session_new_exact")),
        "anonymous_ids": (
            f"SELECT count(DISTINCT user_id) FROM cv_uploads WHERE {P.is_anonymous()}", ()),
    }


def _random_value(conn, rng, table, column, where="1"):
    """A value of `column` from a random existing row (rowid probe, no table scan), or None."""
    low, high = conn.execute(f"SELECT min(rowid), max(rowid) FROM {table}").fetchone()
    if low is None:
        return None
    for _ in range(8):
        probe = rng.randint(low, high)
        row = conn.execute(
            f"SELECT {column} FROM {table} WHERE rowid >= ? AND {where} ORDER BY rowid LIMIT 1",
            (probe,)).fetchone()
        if row is not None and row[0] is not None:
            return row[0]
    row = conn.execute(f"SELECT {column} FROM {table} WHERE {where} AND {column} IS NOT NULL"
                       " ORDER BY rowid LIMIT 1").fetchone()
    return row[0] if row else None


def sample_parameters(conn, seed=None, now=None):
    """{name: value}: random existing keys (None where a table has no row), read-only, and the
    cutoffs (a string range and an exact instant each) and constants the statements take."""
    rng = random.Random(seed)
    now = now or timeutil.utcnow()
    values = {
        "user_id": _random_value(conn, rng, "cv_uploads", "user_id"),
        "user_id_registered": _random_value(conn, rng, "users", "user_id", P.not_anonymous()),
        "file_hash": _random_value(conn, rng, "cv_extraction_cache", "file_hash"),
        "upload_file_hash": _random_value(conn, rng, "cv_uploads", "file_hash",
                                          "file_hash IS NOT NULL"),
        "session_id": _random_value(conn, rng, "sessions", "session_id"),
        "email": _random_value(conn, rng, "users", "email"),
    }
    session_cut = timeutil.ago(now, days=config.SESSION_DAYS)
    cache_cut = timeutil.ago(now, days=config.CACHE_RETENTION_DAYS)
    anon_cut = timeutil.ago(now, days=config.ANONYMOUS_RETENTION_DAYS)
    values["session_cutoff"] = timeutil.iso(session_cut)
    values["session_old_high"], values["session_old_exact"] = P.older_than("c", session_cut)[1]
    values["session_new_low"], values["session_new_exact"] = P.at_or_after("c", session_cut)[1]
    values["cache_old_high"], values["cache_old_exact"] = P.older_than("c", cache_cut)[1]
    values["anon_new_low"], values["anon_new_exact"] = P.at_or_after("c", anon_cut)[1]
    values["low_confidence"] = config.LOW_CONFIDENCE
    values["cache_threshold"] = config.CACHE_THRESHOLD
    return values


def prepare(db, conn, large_rows=None):
    """Check the schema and read what a run records: the engine, its full-scan rule (every table
    scan: `large_rows` does not apply), the schema version, rows per table (max rowid); and
    "context", what plan_steps needs (the tables)."""
    sqlite_schema.require_schema(conn, db)
    conn.row_factory = None  # time SQLite and the driver, not sqlite3.Row construction
    tables = sqlite_schema.existing_tables(conn)
    counts = {t: conn.execute(f"SELECT max(rowid) FROM {t}").fetchone()[0] or 0
              for t in schema.COLUMNS if t in tables}
    return {"engine": f"SQLite {sqlite3.sqlite_version}", "sqlite_version": sqlite3.sqlite_version,
            "full_scan_rule": FULL_SCAN_RULE, "schema_version": sqlite_schema.user_version(conn),
            "approx_rows": counts, "context": tables}


def plan_steps(conn, statement, params, context):
    """The EXPLAIN QUERY PLAN of a statement as steps (query_plans.steps)."""
    return query_plans.steps(conn, statement, params, context)
