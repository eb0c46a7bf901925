"""The headline figures (`stats`), exactly as DESIGN.md defines them.

Every figure is an SQL aggregate over short read-only connections; nothing is
written. Timestamps are compared as instants, the anonymous prefix is matched
literally, and statuses other than the four the application writes count as other.
Any value SQLite can hold is survived: a cell outside its range (an access_count that
is not a count, a confidence outside [0, 1]) is left out of sums and averages and
counted as invalid, so that one odd cell never overflows a sum.

The counts are independent of each other, so `collect_stats` runs them (the
heaviest, the cache hits, in two halves) on two read-only connections at once (sqlite3 releases the GIL while a statement
runs): on the two cores of a small server the figures of a production-sized file
take about half as long (bench/RESULTS.md).
"""
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from r2w_db import config
from r2w_db.app.cache import invalid_access_count, valid_access_count
from r2w_db.engine import schema, timeutil
from r2w_db.backends.sqlite import predicates as P
from r2w_db.backends.dispatch import per_backend
from r2w_db.backends.sqlite.connection import open_reader, translated
from r2w_db.backends.sqlite.database import as_database

READERS = 2  # connections collect_stats reads on at once

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
# collect_stats counts the hits in two halves of the cache, one per reader: below and from
# this file_hash (hex SHA-256 hashes split about evenly; any split gives the same sum).
HASH_SPLIT = "8"

# Valid: a confidence in [0, 1] (text and blobs sort above every number, so BETWEEN leaves them
# out), an access_count that is a count. Only valid values are summed.
CACHE_SQL = f"""
SELECT count(*) AS n,
       avg(CASE WHEN confidence_score BETWEEN 0 AND 1 THEN confidence_score END) AS avg_conf,
       coalesce(sum(CASE WHEN {valid_access_count()} THEN access_count END), 0) AS accesses,
       coalesce(sum(confidence_score BETWEEN 0 AND 1 AND confidence_score < ?), 0) AS low,
       coalesce(sum(NOT coalesce(confidence_score BETWEEN 0 AND 1, 0)), 0) AS invalid,
       coalesce(sum(confidence_score BETWEEN 0 AND 1 AND confidence_score < ?), 0)
           AS below_threshold,
       coalesce(sum({invalid_access_count()}), 0) AS invalid_access
FROM cv_extraction_cache"""

QUALITY_COLUMNS = {"users.created_at": ("users", "created_at"),
                   "sessions.created_at": ("sessions", "created_at"),
                   "cv_uploads.upload_date": ("cv_uploads", "upload_date"),
                   "cv_extraction_cache.created_at": ("cv_extraction_cache", "created_at")}


def hit_rate_from(with_hash, hits):
    """hits / uploads with a hash; None ("no data") when there are none."""
    return None if not with_hash else hits / with_hash


def _hit_counts(conn, where="1", params=()):
    if where == "1" and not params:
        return _with_hash(conn), _hits(conn)
    row = conn.execute(f"{HIT_SQL} AND {where}", params).fetchone()
    return row["with_hash"], row["hits"]


def _one(conn, sql, params=()):
    return conn.execute(sql, params).fetchone()[0]


def _with_hash(conn):
    return _one(conn, WITH_HASH_SQL)


def _hits(conn):
    return _one(conn, HITS_SQL)


def _hits_below(conn):
    return _one(conn, HITS_SQL + " AND c.file_hash < ?", (HASH_SPLIT,))


def _hits_from(conn):
    return _one(conn, HITS_SQL + " AND c.file_hash >= ?", (HASH_SPLIT,))


def _cache_row(conn):
    """{n, avg_conf, accesses, low, invalid, below_threshold, invalid_access} over the cache."""
    return dict(conn.execute(CACHE_SQL, (config.LOW_CONFIDENCE, config.CACHE_THRESHOLD)).fetchone())


def _cache_dict(row, with_hash, hits):
    return {
        "cached_extractions": row["n"],
        # 12 places: a mean of many doubles differs in its last bits with the order of the sum
        # (SQLite and PostgreSQL sum 156k scores in different orders)
        "average_confidence_score": None if row["avg_conf"] is None else round(row["avg_conf"], 12),
        "total_cache_accesses": row["accesses"],
        "low_confidence_extractions": row["low"],
        "cache_hit_rate": hit_rate_from(with_hash, hits),
        "uploads_with_hash": with_hash,
        "cache_hits": hits,
        "below_caching_threshold": row["below_threshold"],
        "invalid_confidence": row["invalid"],
        "invalid_access_count": row["invalid_access"],
    }


def _cache_figures(conn):
    return _cache_dict(_cache_row(conn), *_hit_counts(conn))


# ----------------------------------------------------------------- the other counts

def _registered(conn):
    return _one(conn, f"SELECT count(*) FROM users WHERE {P.not_anonymous()}")


def _anonymous(conn):
    return _one(conn, f"""
        SELECT count(*) FROM (
            SELECT user_id FROM cv_uploads WHERE {P.is_anonymous()}
            UNION SELECT user_id FROM users WHERE {P.is_anonymous()})""")


def _user_figures(conn):
    return {"registered": _registered(conn), "anonymous": _anonymous(conn)}


def _session_cutoff(now):
    return timeutil.ago(now, days=config.SESSION_DAYS)


def _active(conn, now):
    since, params = P.at_or_after("created_at", _session_cutoff(now))
    return _one(conn, f"SELECT count(*) FROM sessions WHERE {since}", params)


def _expired(conn, now):
    before, params = P.older_than("created_at", _session_cutoff(now))
    return _one(conn, f"SELECT count(*) FROM sessions WHERE {before}", params)


def _session_figures(conn, now):
    return {"active": _active(conn, now), "expired": _expired(conn, now)}


def _status_counts(conn):
    return [tuple(row) for row in conn.execute(
        "SELECT status, count(*) AS n FROM cv_uploads GROUP BY status")]


def _stuck(conn, now):
    stuck_sql, params = P.older_than("upload_date", timeutil.ago(now, minutes=config.STUCK_MINUTES))
    return _one(conn, f"SELECT count(*) FROM cv_uploads WHERE status = 'processing' AND {stuck_sql}",
                params)


def _upload_dict(status_counts, stuck):
    figures = {"total": 0, **{s: 0 for s in config.STATUSES}, "other": 0}
    for status, n in status_counts:
        key = status if status in config.STATUSES else "other"
        figures[key] += n
        figures["total"] += n
    figures["stuck"] = stuck
    return figures


def _upload_figures(conn, now):
    return _upload_dict(_status_counts(conn), _stuck(conn, now))


def _quality_count(conn, table, column):
    # Every unparseable timestamp is odd (schema.time_is_odd): the second term changes no
    # count, and lets SQLite read the partial index of odd rows (migration 9) instead of
    # parsing every row.
    return _one(conn, f"SELECT count(*) FROM {table}"
                      f" WHERE {P.unparseable(column)} AND {schema.time_is_odd(column)}")


def data_quality(conn):
    """Timestamps SQLite cannot read, per column (counted, never a crash)."""
    return {name: _quality_count(conn, table, column)
            for name, (table, column) in QUALITY_COLUMNS.items()}


def file_sizes(path):
    """Bytes of the database file and of its WAL (0 when there is none)."""
    path = Path(path)
    wal = Path(str(path) + "-wal")
    return {"size_bytes": path.stat().st_size, "wal_bytes": wal.stat().st_size if wal.exists() else 0}


# ----------------------------------------------------------------- running the counts

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
    table, column = QUALITY_COLUMNS[name]
    return name, lambda conn: _quality_count(conn, table, column)


@per_backend("r2w_db.backends.postgresql.stats")
def calculate_cache_hit_rate(db):
    """Share of uploads with a file_hash whose cache entry predates them (0..1), or None."""
    with as_database(db).read() as conn:
        schema.require_schema(conn, as_database(db).path)
        return hit_rate_from(*_hit_counts(conn))


def get_extraction_stats(db):
    """The schema document's stats dict: cached_extractions, average_confidence_score,
    total_cache_accesses, low_confidence_extractions, cache_hit_rate (0..1 or None)."""
    db = as_database(db)
    with db.read() as conn:
        schema.require_schema(conn, db.path)
    got = _run_counts(db, [("hits_below", _hits_below), ("hits_from", _hits_from),
                           ("cache", _cache_row), ("with_hash", _with_hash)])
    figures = _cache_dict(got["cache"], got["with_hash"], got["hits_below"] + got["hits_from"])
    keys = ("cached_extractions", "average_confidence_score", "total_cache_accesses",
            "low_confidence_extractions", "cache_hit_rate")
    return {k: figures[k] for k in keys}


@per_backend("r2w_db.backends.postgresql.stats")
def collect_stats(db, now=None):
    """Every figure of `stats`, over the whole history (sessions and stuck jobs as of now)."""
    db = as_database(db)
    now = now or timeutil.utcnow()
    with db.read() as conn:
        schema.require_schema(conn, db.path)
        version = schema.user_version(conn)
    # longest first (as measured on a production-sized file), so the two readers finish together
    tasks = [("hits_below", _hits_below), ("hits_from", _hits_from), ("cache", _cache_row),
             ("status", _status_counts), ("expired", lambda conn: _expired(conn, now)),
             ("anonymous", _anonymous), ("with_hash", _with_hash), ("registered", _registered),
             ("active", lambda conn: _active(conn, now)), ("stuck", lambda conn: _stuck(conn, now)),
             *(_quality_task(name) for name in QUALITY_COLUMNS)]
    got = _run_counts(db, tasks)
    result = {
        "users": {"registered": got["registered"], "anonymous": got["anonymous"]},
        "sessions": {"active": got["active"], "expired": got["expired"]},
        "uploads": _upload_dict(got["status"], got["stuck"]),
        "cache": _cache_dict(got["cache"], got["with_hash"], got["hits_below"] + got["hits_from"]),
        "data_quality": {name: got[name] for name in QUALITY_COLUMNS},
        "schema": {"user_version": version, "current_version": schema.CURRENT_VERSION},
    }
    result["database"] = {"path": str(db.path), **file_sizes(db.path)}
    result["as_of"] = timeutil.iso(now)
    return result
