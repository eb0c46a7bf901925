"""`stats` on PostgreSQL: the counts of the headline figures, from PostgreSQL's own SQL.

The definitions are SQLite's (backends/sqlite/stats.py); figures/stats.py shapes both
engines' counts into the same dicts, and tests/test_pg_stats.py proves the same values on the
demo history and on the production-like fixture.
- Anonymous: `starts_with(user_id, 'anonymous_')`, a literal, case-sensitive prefix (LIKE
  would read `_` as a wildcard).
- Timestamps are `timestamptz`, so comparisons are between instants with no parsing.
- `counts` reads every figure from ONE snapshot, on two readers at once: the first exports its
  snapshot (pg_export_snapshot) and the second imports it (SET TRANSACTION SNAPSHOT) and counts
  the cache hits while the first counts the rest, each in one server process (no parallel
  workers: bench/POSTGRES.md has the timings and plans).
- Each statement is written for index-only scans over the indexes of migrations 6-9 (the move
  ends with VACUUM (ANALYZE), and autovacuum keeps the visibility map fresh after that):
  with_hash and hits are ONE merge join of two indexes in file_hash order
  (idx_cv_uploads_hash_date, idx_extraction_cache_hash_created) that reads no table row; the
  anonymous owners are read DISTINCT in the order of idx_cv_uploads_user_id (no sort) plus the
  anonymous users rows that own no upload; a timestamp that is not an instant (NULL, or
  +-infinity, the only values for which isfinite is false) is looked up in the column's index.
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
- schema.user_version is the version read off the structure (schema.reached_version).
"""
from datetime import timezone

from r2w_db import config
from r2w_db.engine import schema, timeutil
from r2w_db.backends.postgresql import shared_snapshot
from r2w_db.backends.postgresql.schema import require_schema  # noqa: F401  (periods, health)

ANON = "anonymous_"

REGISTERED_SQL = "SELECT count(*) FROM users WHERE NOT starts_with(user_id, %(anon)s)"
# |owners of anonymous uploads UNION anonymous users| = the distinct owners + the users rows
# among them that own no upload
ANONYMOUS_SQL = """
SELECT (SELECT count(*) FROM (SELECT DISTINCT user_id FROM cv_uploads
                              WHERE starts_with(user_id, %(anon)s)) AS owners)
     + (SELECT count(*) FROM users u
        WHERE starts_with(u.user_id, %(anon)s)
          AND NOT EXISTS (SELECT 1 FROM cv_uploads c WHERE c.user_id = u.user_id))"""
# two ranges of idx_sessions_created_at, read index-only (23 ms against 34 ms for a scan of
# every row on the 600k demo)
SESSIONS_SQL = """
SELECT (SELECT count(*) FROM sessions WHERE created_at >= %(cutoff)s) AS active,
       (SELECT count(*) FROM sessions WHERE created_at < %(cutoff)s) AS expired"""
STATUS_SQL = "SELECT status, count(*) FROM cv_uploads GROUP BY status"
STUCK_SQL = "SELECT count(*) FROM cv_uploads WHERE status = 'processing' AND upload_date < %(stuck)s"
WITH_HASH_SQL = "SELECT count(*) FROM cv_uploads WHERE file_hash IS NOT NULL AND file_hash <> ''"
# an upload matches at most one cache entry (file_hash is the cache's primary key)
HITS_SQL = """
SELECT count(*) FROM cv_extraction_cache c JOIN cv_uploads u ON u.file_hash = c.file_hash
WHERE c.file_hash <> '' AND c.created_at < u.upload_date"""
# with_hash and hits in one pass: every upload with a hash, joined to its cache entry (at most
# one: file_hash is the cache's primary key); a merge join of the two covering indexes
HASH_SQL = """
SELECT count(*) FILTER (WHERE u.file_hash <> '') AS with_hash,
       count(c.file_hash) FILTER (WHERE c.created_at < u.upload_date) AS hits
FROM cv_uploads u LEFT JOIN cv_extraction_cache c ON c.file_hash = u.file_hash AND c.file_hash <> ''
WHERE u.file_hash IS NOT NULL"""
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

    # = `{c} IS NULL OR NOT isfinite({c})`, in a form the column's index answers
    return sql.SQL("SELECT count(*) FROM {t} WHERE {c} IS NULL OR {c} = 'infinity'"
                   " OR {c} = '-infinity'").format(t=sql.Identifier(table), c=sql.Identifier(column))


def _params(now):
    return {"anon": ANON,
            "cutoff": _utc(timeutil.ago(now, days=config.SESSION_DAYS)),
            "stuck": _utc(timeutil.ago(now, minutes=config.STUCK_MINUTES)),
            "low": config.LOW_CONFIDENCE, "threshold": config.CACHE_THRESHOLD,
            "max_count": config.MAX_ACCESS_COUNT, "tables": list(schema.COLUMNS)}


def _one(conn, query, params):
    return conn.execute(query, params).fetchone()[0]


def _cache_row(conn, params):
    cur = conn.execute(CACHE_SQL, params)
    return dict(zip([d.name for d in cur.description], cur.fetchone()))


def _quality_count(conn, table, column):
    return _one(conn, _quality_sql(table, column), None)


def hit_counts(conn):
    """(uploads with a hash, hits) over the whole history."""
    return _hash_counts(conn)


def with_hash(conn):
    return _one(conn, WITH_HASH_SQL, None)


def hits(conn):
    return _one(conn, HITS_SQL, None)


def cache_row(conn):
    """{n, avg_conf, accesses, low, invalid, below_threshold, invalid_access} over the cache."""
    return _cache_row(conn, _params(timeutil.utcnow()))


def registered(conn):
    return _one(conn, REGISTERED_SQL, {"anon": ANON})


def anonymous(conn):
    return _one(conn, ANONYMOUS_SQL, {"anon": ANON})


def active(conn, now):
    """Sessions created within SESSION_DAYS of `now`."""
    return conn.execute(SESSIONS_SQL, _params(now)).fetchone()[0]


def expired(conn, now):
    return conn.execute(SESSIONS_SQL, _params(now)).fetchone()[1]


def status_counts(conn):
    """[(status, uploads)] as stored (any status)."""
    return [tuple(row) for row in conn.execute(STATUS_SQL)]


def stuck(conn, now):
    """Uploads 'processing' for longer than STUCK_MINUTES before `now`."""
    return _one(conn, STUCK_SQL, _params(now))


def quality_count(conn, table, column):
    """Timestamps of one column that are not an instant (NULL or infinite)."""
    return _quality_count(conn, table, column)


def data_quality(conn):
    return {name: _quality_count(conn, table, column)
            for name, (table, column) in schema.QUALITY_COLUMNS.items()}


def _size(conn):
    return int(_one(conn, SIZE_SQL, {"tables": list(schema.COLUMNS)}))


def sizes(db):
    """{"path", "size_bytes", "wal_bytes"}: the four tables' bytes; no per-database WAL."""
    with db.read() as conn:
        return {"path": db.display, "size_bytes": _size(conn), "wal_bytes": None}


def cache_counts(db):
    """{"cache": cache_row, "with_hash", "hits"} of a database at the documented schema."""
    with db.read() as conn:
        require_schema(conn, db)
        with_hash_, hits_ = _hash_counts(conn)
        return {"cache": cache_row(conn), "with_hash": with_hash_, "hits": hits_}


def _hash_counts(conn):
    """(uploads with a hash, hits) in one statement: a merge join of two index-only scans (a
    hash join of the same scans takes about twice as long)."""
    before = conn.execute("SELECT current_setting('enable_hashjoin')").fetchone()[0]
    conn.execute("SELECT set_config('enable_hashjoin', 'off', true)")   # this transaction only
    try:
        return tuple(conn.execute(HASH_SQL).fetchone())
    finally:
        conn.execute("SELECT set_config('enable_hashjoin', %s, true)", (before,))


def _serial(work):
    """`work` with no parallel workers for this transaction's statements: `counts` already
    runs on two server processes, and on top of that a parallel plan's workers (two per
    statement by default) only contend for the same cores: 320 ms against 278 ms for the two
    halves on the 600k demo (bench/POSTGRES.md)."""
    def serial(conn):
        conn.execute("SELECT set_config('max_parallel_workers_per_gather', '0', true)")
        return work(conn)
    return serial


def _second_half(params):
    """The counts the second reader takes (about half the work: the hits' merge join)."""
    def work(conn):
        with_hash_, hits_ = _hash_counts(conn)
        return {"with_hash": with_hash_, "hits": hits_,
                "registered": _one(conn, REGISTERED_SQL, params)}
    return work


def counts(db, now):
    """Every count of `stats` (sessions and stuck jobs as of `now`) from one snapshot read on
    two readers at once, keyed as on SQLite."""
    params = _params(now)

    def first_half(conn):
        active_, expired_ = conn.execute(SESSIONS_SQL, params).fetchone()
        return {"anonymous": _one(conn, ANONYMOUS_SQL, params),
                "active": active_, "expired": expired_, "status": status_counts(conn),
                "stuck": _one(conn, STUCK_SQL, params), "cache": _cache_row(conn, params),
                "data_quality": data_quality(conn), "size": _size(conn)}

    with shared_snapshot.readers(db) as (conn, split):
        drift = require_schema(conn, db)
        got, other = split(_serial(first_half), _serial(_second_half(params)))
    size = got.pop("size")
    return got | other | {"version": drift.version,
                          "database": {"path": db.display, "size_bytes": size, "wal_bytes": None}}
