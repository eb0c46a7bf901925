"""Deletes in short transactions, so the live application's writes never wait long.

DESIGN.md: SQLite's busy handler sleeps in growing steps and misses short
gaps, so each batch is sized to take about TARGET_MS and is followed by a
pause of PAUSE_MS in which the application's writers get the lock.
"""
import time

from .connection import as_database, transaction

TARGET_MS = 25
PAUSE_MS = 25
START_ROWS = 500
MIN_ROWS, MAX_ROWS = 50, 20_000


def next_size(size, elapsed_s, target_ms=TARGET_MS):
    """Scale the batch so the next one takes about target_ms."""
    if elapsed_s <= 0:
        return min(size * 2, MAX_ROWS)
    scaled = int(size * (target_ms / 1000) / elapsed_s)
    return max(MIN_ROWS, min(MAX_ROWS, scaled, size * 4))


def delete_in_batches(db, table, where, params=(), *, progress=None, should_stop=None,
                      target_ms=TARGET_MS, pause_ms=PAUSE_MS):
    """DELETE FROM table WHERE <where>, a batch per BEGIN IMMEDIATE transaction.

    `table` and `where` are this package's own constants; values go in `params`.
    `progress(deleted_so_far)` is called after each batch; `should_stop()` ends the run
    early between batches. Returns the number of rows deleted.
    """
    sql = (f"DELETE FROM {table} WHERE rowid IN "
           f"(SELECT rowid FROM {table} WHERE {where} LIMIT ?)")
    deleted, size = 0, START_ROWS
    with as_database(db).write() as conn:
        while True:
            started = time.perf_counter()
            with transaction(conn):
                count = conn.execute(sql, (*params, size)).rowcount
            elapsed = time.perf_counter() - started
            deleted += count
            if progress:
                progress(deleted)
            if count < size or (should_stop and should_stop()):
                return deleted
            size = next_size(size, elapsed, target_ms)
            time.sleep(pause_ms / 1000)
