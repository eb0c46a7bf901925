"""Deletes on PostgreSQL in short transactions, each committed, so a kill never leaves half a batch.

PostgreSQL locks rows, not the database: a delete holds up only an application write to one
of the very rows it is deleting (an expired session, an unused cache entry, a stale upload),
and only until its transaction commits. Here:
- each transaction deletes at most `size` rows, scaled so that it takes about TARGET_MS,
  then commits; a kill (of this process or its connection) rolls back only the open one;
- the condition is repeated on the DELETE itself: a row the application changed meanwhile
  (a cache hit raising access_count) is re-checked after its lock and kept (as SQLite's
  batches re-check inside their transaction); the role needs only SELECT and DELETE;
- between transactions a short pause, and the `should_stop()` / `progress()` hooks, as in
  engine/batching.py (whose scaling this module reuses).
"""
import time

from r2w_db.engine import batching
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.database import as_pg

TARGET_MS = 50      # one transaction's work: row locks held this long at most, about
PAUSE_MS = 10       # between transactions (autovacuum and replicas keep up)
START_ROWS = 500


def _sql():
    from psycopg import sql

    return sql


def delete_statement(table, where):
    """DELETE of at most %s rows of `table` matching `where` (an sql.Composable whose values
    are %s parameters, given twice: the LIMIT between them), by primary key, re-checked."""
    sql = _sql()
    key = pg_schema.PRIMARY_KEYS[table]
    return sql.SQL(
        "DELETE FROM {t} WHERE {k} IN (SELECT {k} FROM {t} WHERE {w} LIMIT %s) AND ({w})"
    ).format(t=identifier(table), k=identifier(key), w=where)


def delete_in_batches(db, table, where, params=(), *, progress=None, should_stop=None,
                      target_ms=TARGET_MS, pause_ms=PAUSE_MS):
    """DELETE FROM table WHERE <where>, a few hundred rows per committed transaction.

    `progress(deleted_so_far)` runs after each commit (it may raise to stop the run: every
    transaction before it stays committed); `should_stop()` ends the run between
    transactions. Returns the number of rows deleted.
    """
    statement = delete_statement(table, where)
    deleted, size = 0, START_ROWS
    with as_pg(db).write(autocommit=True) as conn:
        while True:
            started = time.perf_counter()
            with conn.transaction():
                count = conn.execute(statement, (*params, size, *params)).rowcount
            committed = time.perf_counter()
            deleted += count
            if count and progress:
                progress(deleted)
            if count < size or (should_stop and should_stop()):
                break
            size = batching.next_size(size, committed - started, target_ms)
            batching.pause(committed, pause_ms)
    return deleted


def apply_in_transactions(conn, items, apply_chunk, *, chunk=20, target_ms=TARGET_MS,
                          pause_ms=PAUSE_MS, after_commit=None, should_stop=None, size=START_ROWS):
    """engine/batching.apply_in_transactions on an autocommit psycopg connection: chunks of
    `items` through apply_chunk(conn, chunk) -> count, as many per transaction as fit in
    target_ms (at most `size` items), each transaction committed; a chunk is never split.
    Returns (count, items_done, size for the next call)."""
    items = list(items)
    total, done = 0, 0
    while done < len(items):
        started = time.perf_counter()
        first = done
        with conn.transaction():
            while done < len(items) and done - first < size:
                part = items[done:min(done + chunk, first + size)]
                total += apply_chunk(conn, part)
                done += len(part)
                if time.perf_counter() - started >= target_ms / 1000:
                    break
        committed = time.perf_counter()
        size = batching.next_size(done - first, committed - started, target_ms)
        if after_commit:
            after_commit(total)
        if done < len(items):
            if should_stop and should_stop():
                break
            batching.pause(committed, pause_ms)
    return total, done, size
