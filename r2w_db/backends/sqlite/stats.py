"""`stats` on SQLite: the counts of the headline figures, tuned for a production-sized file.

Timestamps are compared as instants (predicates.py), the anonymous prefix is matched literally,
and a cell outside its range (an access_count that is not a count, a confidence outside
[0, 1]) is left out of sums and averages and counted as invalid, so that one odd cell never
overflows a sum. The counts are independent of each other, so `counts` runs them (the
heaviest, the cache hits, in two halves) on two read-only connections at once (sqlite3
releases the GIL while a statement runs): on the two cores of a small server the figures of a
production-sized file take about half as long (bench/RESULTS.md).
"""
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from r2w_db import config
from r2w_db.engine import schema, timeutil
from r2w_db.backends.sqlite import predicates as P
from r2w_db.backends.sqlite.connection import open_reader, translated
from r2w_db.backends.sqlite.schema import require_schema, user_version

READERS = 2  # connections `counts` reads on at once

# The reference definition of a hit, for any subset of uploads (`AND <where on u>`).
HIT_SQL = """
SELECT count(*) AS with_hash,
       coalesce(sum(EXISTS (SELECT 1 FROM cv_extraction_cache c
                            WHERE c.file_hash = u.file_hash
                              AND julianday(c.created_at) < julianday(u.upload_date))), 0) AS hits
FROM cv_uploads u
WHERE u.file_hash IS NOT NULL AND u.file_hash <> ''"""

# The same two figures over the whole history, fast. HIT_SQL looks each upload's hash up
# in the cache's primary key and then reads the cache row for created_at, which sits
# after cv_data (overflow pages): ~2 s on 600k uploads. Here the cache is walked in
# file_hash order on its (file_hash, created_at) index (CROSS JOIN keeps it the outer
# loop in SQLite) and each file's uploads are found in the (file_hash, upload_date)
# index of migration 9: no table row is read. file_hash is the cache's primary key, so
# an upload matches at most one entry and the pairs counted are exactly HIT_SQL's hits.
HITS_SQL = """
SELECT count(*) FROM cv_extraction_cache c CROSS JOIN cv_uploads u ON u.file_hash = c.file_hash
WHERE c.file_hash <> '' AND julianday(c.created_at) < julianday(u.upload_date)"""
WITH_HASH_SQL = "SELECT count(*) FROM cv_uploads WHERE file_hash IS NOT NULL AND file_hash <> ''"
# `counts` counts the hits in two halves of the cache, one per reader: below and from this
# file_hash (hex SHA-256 hashes split about evenly; any split gives the same sum).
HASH_SPLIT = "8"

# Valid: a confidence in [0, 1] (text and blobs sort above every number, so BETWEEN leaves them
# out), an access_count that is a count. Only valid values are summed.
CACHE_SQL = f"""
SELECT count(*) AS n,
       avg(CASE WHEN confidence_score BETWEEN 0 AND 1 THEN confidence_score END) AS avg_conf,
       coalesce(sum(CASE WHEN {P.valid_access_count()} THEN access_count END), 0) AS accesses,
       coalesce(sum(confidence_score BETWEEN 0 AND 1 AND confidence_score < ?), 0) AS low,
       coalesce(sum(NOT coalesce(confidence_score BETWEEN 0 AND 1, 0)), 0) AS invalid,
       coalesce(sum(confidence_score BETWEEN 0 AND 1 AND confidence_score < ?), 0)
           AS below_threshold,
       coalesce(sum({P.invalid_access_count()}), 0) AS invalid_access
FROM cv_extraction_cache"""


def _one(conn, sql, params=()):
    return conn.execute(sql, params).fetchone()[0]


def hit_counts(conn):
    """(uploads with a hash, hits) over the whole history."""
    return with_hash(conn), hits(conn)


def with_hash(conn):
    return _one(conn, WITH_HASH_SQL)


def hits(conn):
    return _one(conn, HITS_SQL)


def _hits_below(conn):
    return _one(conn, HITS_SQL + " AND c.file_hash < ?", (HASH_SPLIT,))


def _hits_from(conn):
    return _one(conn, HITS_SQL + " AND c.file_hash >= ?", (HASH_SPLIT,))


def cache_row(conn):
    """{n, avg_conf, accesses, low, invalid, below_threshold, invalid_access} over the cache."""
    return dict(conn.execute(CACHE_SQL, (config.LOW_CONFIDENCE, config.CACHE_THRESHOLD)).fetchone())


def registered(conn):
    return _one(conn, f"SELECT count(*) FROM users WHERE {P.not_anonymous()}")


def anonymous(conn):
    return _one(conn, f"""
        SELECT count(*) FROM (
            SELECT user_id FROM cv_uploads WHERE {P.is_anonymous()}
            UNION SELECT user_id FROM users WHERE {P.is_anonymous()})""")


def _session_cutoff(now):
    return timeutil.ago(now, days=config.SESSION_DAYS)


def active(conn, now):
    """Sessions created within SESSION_DAYS of `now`."""
    since, params = P.at_or_after("created_at", _session_cutoff(now))
    return _one(conn, f"SELECT count(*) FROM sessions WHERE {since}", params)


def expired(conn, now):
    before, params = P.older_than("created_at", _session_cutoff(now))
    return _one(conn, f"SELECT count(*) FROM sessions WHERE {before}", params)


def status_counts(conn):
    """[(status, uploads)] as stored (any status)."""
    return [tuple(row) for row in conn.execute(
        "SELECT status, count(*) AS n FROM cv_uploads GROUP BY status")]


def stuck(conn, now):
    """Uploads 'processing' for longer than STUCK_MINUTES before `now`."""
    stuck_sql, params = P.older_than("upload_date", timeutil.ago(now, minutes=config.STUCK_MINUTES))
    return _one(conn, f"SELECT count(*) FROM cv_uploads WHERE status = 'processing' AND {stuck_sql}",
                params)


def quality_count(conn, table, column):
    """Timestamps of one column SQLite cannot read."""
    # Every unparseable timestamp is odd (schema.time_is_odd): the second term changes no
    # count, and lets SQLite read the partial index of odd rows (migration 9) instead of
    # parsing every row.
    return _one(conn, f"SELECT count(*) FROM {table}"
                      f" WHERE {P.unparseable(column)} AND {schema.time_is_odd(column)}")


def data_quality(conn):
    """Timestamps SQLite cannot read, per column (counted, never a crash)."""
    return {name: quality_count(conn, table, column)
            for name, (table, column) in schema.QUALITY_COLUMNS.items()}


def file_sizes(path):
    """Bytes of the database file and of its WAL (0 when there is none)."""
    path = Path(path)
    wal = Path(str(path) + "-wal")
    return {"size_bytes": path.stat().st_size, "wal_bytes": wal.stat().st_size if wal.exists() else 0}


def sizes(db):
    """{"path", "size_bytes", "wal_bytes"} of the database: the file and its WAL."""
    return {"path": str(db.path), **file_sizes(db.path)}


def _run_counts(db, tasks, readers=None):
    """{key: func(conn)} for [(key, func)], spread over `readers` read-only connections.

    Tasks are taken in the order given (put the longest first). Each thread opens its
    own short-lived connection; all are closed before returning.
    """
    local = threading.local()
    opened, lock = [], threading.Lock()

    def run(func):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = open_reader(db.path)
            with lock:
                opened.append(conn)
        with translated(db.path):
            return func(conn)

    pool = ThreadPoolExecutor(max_workers=readers or READERS, thread_name_prefix="r2w-stats")
    try:
        futures = [(key, pool.submit(run, func)) for key, func in tasks]
        return {key: future.result() for key, future in futures}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for conn in opened:
            conn.close()


def _quality_task(name):
    table, column = schema.QUALITY_COLUMNS[name]
    return name, lambda conn: quality_count(conn, table, column)


def _checked_version(db):
    with db.read() as conn:
        require_schema(conn, db)
        return user_version(conn)


def cache_counts(db):
    """{"cache": cache_row, "with_hash", "hits"} of a database at the documented schema."""
    _checked_version(db)
    got = _run_counts(db, [("hits_below", _hits_below), ("hits_from", _hits_from),
                           ("cache", cache_row), ("with_hash", with_hash)])
    return {"cache": got["cache"], "with_hash": got["with_hash"],
            "hits": got["hits_below"] + got["hits_from"]}


def counts(db, now):
    """Every count of `stats` (sessions and stuck jobs as of `now`), read on two readers at once:
    {registered, anonymous, active, expired, status, stuck, cache, with_hash, hits,
    data_quality, version, database}."""
    version = _checked_version(db)
    # longest first (as measured on a production-sized file), so the two readers finish together
    tasks = [("hits_below", _hits_below), ("hits_from", _hits_from), ("cache", cache_row),
             ("status", status_counts), ("expired", lambda conn: expired(conn, now)),
             ("anonymous", anonymous), ("with_hash", with_hash), ("registered", registered),
             ("active", lambda conn: active(conn, now)), ("stuck", lambda conn: stuck(conn, now)),
             *(_quality_task(name) for name in schema.QUALITY_COLUMNS)]
    got = _run_counts(db, tasks)
    got["hits"] = got.pop("hits_below") + got.pop("hits_from")
    got["data_quality"] = {name: got.pop(name) for name in schema.QUALITY_COLUMNS}
    return got | {"version": version, "database": sizes(db)}
