"""`stats` on PostgreSQL: the same nested JSON as stats.collect_stats, from PostgreSQL's own SQL.

The definitions are stats.py's (DESIGN.md "Definitions"), and the dicts are built by the very
functions stats.py builds them with (_upload_dict, _cache_dict), so both backends give the
same keys; tests/test_pg_stats.py proves the same values on the demo history and on the
production-like fixture.
- Anonymous: `starts_with(user_id, 'anonymous_')`, a literal, case-sensitive prefix (LIKE
  would read `_` as a wildcard).
- Timestamps are `timestamptz`, so comparisons are between instants with no parsing.
- Every figure comes from ONE read-only REPEATABLE READ transaction: one snapshot.
- Valid cells as on SQLite: a confidence in [0, 1]; an access_count from 0 to
  MAX_ACCESS_COUNT (the column is `integer`, so only a negative count can be invalid here;
  the move reports every SQLite value an integer column cannot hold).
- data_quality: a timestamptz always reads as an instant, so a timestamp "that cannot be read"
  is a NULL or an infinite one (neither is written by the move or the application): normally 0.
- database.path is the URL with its password redacted; database.size_bytes is the sum of
  pg_total_relation_size (heap, TOAST, indexes) of the four tables: the application's data,
  comparable across databases of one cluster (pg_database_size would add ~7 MB of catalog);
  database.wal_bytes is null: PostgreSQL's WAL belongs to the whole cluster, not to one
  database, so there is no per-database figure to give (the SQLite WAL checks do not apply).
- schema.user_version is the version read off the structure (pg_schema.reached_version).
"""
from datetime import timezone

from r2w_db import config, errors
from r2w_db.app.cache import MAX_ACCESS_COUNT
from r2w_db.engine import schema, timeutil
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.database import as_pg
from r2w_db.figures.stats import QUALITY_COLUMNS, _cache_dict, _upload_dict, hit_rate_from

ANON = "anonymous_"

REGISTERED_SQL = "SELECT count(*) FROM users WHERE NOT starts_with(user_id, %(anon)s)"
ANONYMOUS_SQL = """
SELECT count(*) FROM (
    SELECT user_id FROM cv_uploads WHERE starts_with(user_id, %(anon)s)
    UNION SELECT user_id FROM users WHERE starts_with(user_id, %(anon)s)) AS ids"""
SESSIONS_SQL = """
SELECT count(*) FILTER (WHERE created_at >= %(cutoff)s) AS active,
       count(*) FILTER (WHERE created_at < %(cutoff)s) AS expired
FROM sessions"""
STATUS_SQL = "SELECT status, count(*) FROM cv_uploads GROUP BY status"
STUCK_SQL = "SELECT count(*) FROM cv_uploads WHERE status = 'processing' AND upload_date < %(stuck)s"
WITH_HASH_SQL = "SELECT count(*) FROM cv_uploads WHERE file_hash IS NOT NULL AND file_hash <> ''"
# an upload matches at most one cache entry (file_hash is the cache's primary key)
HITS_SQL = """
SELECT count(*) FROM cv_extraction_cache c JOIN cv_uploads u ON u.file_hash = c.file_hash
WHERE c.file_hash <> '' AND c.created_at < u.upload_date"""
CACHE_SQL = """
SELECT count(*) AS n,
       avg(confidence_score) FILTER (WHERE confidence_score BETWEEN 0 AND 1) AS avg_conf,
       coalesce(sum(access_count) FILTER (WHERE access_count BETWEEN 0 AND %(max_count)s), 0)
           AS accesses,
       count(*) FILTER (WHERE confidence_score BETWEEN 0 AND 1 AND confidence_score < %(low)s)
           AS low,
       count(*) FILTER (WHERE NOT coalesce(confidence_score BETWEEN 0 AND 1, false)) AS invalid,
       count(*) FILTER (WHERE confidence_score BETWEEN 0 AND 1 AND confidence_score < %(threshold)s)
           AS below_threshold,
       count(*) FILTER (WHERE access_count IS NOT NULL
                          AND NOT access_count BETWEEN 0 AND %(max_count)s) AS invalid_access
FROM cv_extraction_cache"""
SIZE_SQL = "SELECT coalesce(sum(pg_total_relation_size(to_regclass(t))), 0) FROM unnest(%(tables)s::text[]) AS t"


def _utc(moment):
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _quality_sql(table, column):
    from psycopg import sql

    return sql.SQL("SELECT count(*) FROM {t} WHERE {c} IS NULL OR NOT isfinite({c})").format(
        t=sql.Identifier(table), c=sql.Identifier(column))


def require_schema(conn, db):
    """EmptyDatabase or SchemaTooOld unless every documented table and column is present."""
    drift = pg_schema.drift(conn)
    if len(drift.missing_tables) == len(schema.TABLES):
        raise errors.EmptyDatabase(db.display)
    missing = drift.missing_tables + drift.missing_columns
    if missing:
        raise errors.SchemaTooOld(db.display, missing)
    return drift


def _params(now):
    return {"anon": ANON,
            "cutoff": _utc(timeutil.ago(now, days=config.SESSION_DAYS)),
            "stuck": _utc(timeutil.ago(now, minutes=config.STUCK_MINUTES)),
            "low": config.LOW_CONFIDENCE, "threshold": config.CACHE_THRESHOLD,
            "max_count": MAX_ACCESS_COUNT, "tables": list(schema.COLUMNS)}


def _one(conn, query, params):
    return conn.execute(query, params).fetchone()[0]


def _cache_row(conn, params):
    cur = conn.execute(CACHE_SQL, params)
    return dict(zip([d.name for d in cur.description], cur.fetchone()))


def cache_figures(conn, now=None):
    """stats' "cache" group on an open reader."""
    params = _params(now or timeutil.utcnow())
    return _cache_dict(_cache_row(conn, params), _one(conn, WITH_HASH_SQL, params),
                       _one(conn, HITS_SQL, params))


def calculate_cache_hit_rate(db):
    """Share of uploads with a file_hash whose cache entry predates them (0..1), or None."""
    db = as_pg(db)
    with db.read() as conn:
        require_schema(conn, db)
        return hit_rate_from(_one(conn, WITH_HASH_SQL, {}), _one(conn, HITS_SQL, {}))


def collect_stats(db, now=None):
    """Every figure of `stats` on PostgreSQL, over the whole history (sessions and stuck jobs as
    of now), as the same nested dict as stats.collect_stats."""
    db = as_pg(db)
    now = now or timeutil.utcnow()
    params = _params(now)
    with db.read() as conn:
        drift = require_schema(conn, db)
        active, expired = conn.execute(SESSIONS_SQL, params).fetchone()
        statuses = [tuple(row) for row in conn.execute(STATUS_SQL)]
        result = {
            "users": {"registered": _one(conn, REGISTERED_SQL, params),
                      "anonymous": _one(conn, ANONYMOUS_SQL, params)},
            "sessions": {"active": active, "expired": expired},
            "uploads": _upload_dict(statuses, _one(conn, STUCK_SQL, params)),
            "cache": _cache_dict(_cache_row(conn, params), _one(conn, WITH_HASH_SQL, params),
                                 _one(conn, HITS_SQL, params)),
            "data_quality": {name: _one(conn, _quality_sql(table, column), None)
                             for name, (table, column) in QUALITY_COLUMNS.items()},
            "schema": {"user_version": drift.version, "current_version": schema.CURRENT_VERSION},
        }
        size = _one(conn, SIZE_SQL, params)
    result["database"] = {"path": db.display, "size_bytes": int(size), "wal_bytes": None}
    result["as_of"] = timeutil.iso(now)
    return result
