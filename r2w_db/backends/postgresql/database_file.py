"""The database's own figures on PostgreSQL: the same keys as SQLite's, in PostgreSQL's terms.

- size_bytes: the four tables with their TOAST and indexes (stats' database.size_bytes);
  page_size: the server's block_size; page_count: size_bytes in blocks.
- wal_bytes, journal_mode, freelist_count, free_ratio, free_bytes: None. PostgreSQL's WAL
  belongs to the whole cluster, not to one database, and it keeps no free list: space of
  deleted rows is reused by VACUUM (dead tuples are a health check of their own).
- stat_rows / stat_tables: pg_stats rows (planner statistics per column) of the four tables
  and how many tables have them; both None when none of them was ever analysed
  (pg_stat_user_tables: no ANALYZE and no autoanalyze), as None means "ANALYZE never ran".
- rows: whether any of the four tables holds a row.

change_token: the dashboard's cache keys hold it. It is the cluster's current snapshot
(pg_current_snapshot(): the oldest running transaction id, the next one, and those in progress),
which moves the moment any transaction that wrote commits or rolls back, and never on a read (a
reader is given no transaction id): a write shows on the next page run. It is the cluster's, not
the database's: a write to another database of the same cluster moves it too (a cache miss,
never a stale figure). The tables' tuple counters (pg_stat_user_tables) it replaces moved only
when the writer published them, about 10 s after its commit on a connection the application
keeps open. It costs one short read; it is read at most once per TOKEN_REUSE_S per database and
process (a page's dozen figures cost one statement, not a dozen connections), and anew as soon
as a writer of this process ended on that database.

describe: schema version (read off the structure) and the size. application_id: None (SQLite's
demo mark has no counterpart; a moved demo history is not marked).
"""
import threading
import time

from r2w_db import errors
from r2w_db.engine import schema
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql import stats as pg_stats
from r2w_db.backends.postgresql.database import writers_ended
from r2w_db.backends.postgresql.window_sql import read

TOKEN_REUSE_S = 1.0

BLOCK_SIZE = "SELECT current_setting('block_size')::int"
STATISTICS = """
SELECT count(*), count(DISTINCT tablename) FROM pg_stats
WHERE schemaname = current_schema() AND tablename = ANY(%(tables)s)"""
ANALYSED = """
SELECT count(*) FROM pg_stat_user_tables
WHERE schemaname = current_schema() AND relname = ANY(%(tables)s)
  AND coalesce(last_analyze, last_autoanalyze) IS NOT NULL"""
SNAPSHOT = "SELECT pg_current_snapshot()::text"
ANY_ROWS = """
SELECT EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM sessions)
    OR EXISTS (SELECT 1 FROM cv_uploads) OR EXISTS (SELECT 1 FROM cv_extraction_cache)"""


def storage(db):
    """storage's dict (see the SQLite module) for a PostgreSQL database, read-only (one snapshot)."""
    params = {"tables": list(schema.COLUMNS)}
    with read(db) as conn:
        size = int(conn.execute(pg_stats.SIZE_SQL, params).fetchone()[0])
        block = conn.execute(BLOCK_SIZE).fetchone()[0]
        stat_rows, stat_tables = conn.execute(STATISTICS, params).fetchone()
        analysed = conn.execute(ANALYSED, params).fetchone()[0]
        rows = conn.execute(ANY_ROWS).fetchone()[0]
    return {"size_bytes": size, "wal_bytes": None, "journal_mode": None,
            "page_size": block, "page_count": size // block, "freelist_count": None,
            "free_ratio": None, "free_bytes": None,
            "stat_rows": stat_rows if analysed or stat_rows else None,
            "stat_tables": stat_tables if analysed or stat_rows else None, "rows": bool(rows)}


_tokens, _tokens_lock = {}, threading.Lock()


def change_token(db):
    """The cluster's current snapshot ('xmin:xmax:xip,...'), or ("unreadable", why): never
    raises (the figures themselves say what is wrong)."""
    writers = writers_ended(db.url)
    with _tokens_lock:
        at, seen, token = _tokens.get(db.url, (None, None, None))
    if at is not None and seen == writers and time.monotonic() - at < TOKEN_REUSE_S:
        return token
    try:
        with db.read() as conn:
            token = conn.execute(SNAPSHOT).fetchone()[0]
    except errors.R2WError as exc:
        token = ("unreadable", str(exc))
    with _tokens_lock:
        _tokens[db.url] = (time.monotonic(), writers, token)
    return token


def describe(db):
    """{"schema_version", "size_bytes"} after checking the documented schema (one snapshot)."""
    with db.read() as conn:
        drift = pg_schema.require_schema(conn, db)
        size = int(conn.execute(pg_stats.SIZE_SQL, {"tables": list(schema.COLUMNS)}).fetchone()[0])
    return {"schema_version": drift.version, "size_bytes": size}


def application_id(conn):
    """PostgreSQL keeps no application id: a moved demo history is not marked."""
    return None
