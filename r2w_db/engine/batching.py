"""Writes in short transactions, so the live application's writes never wait long.

DESIGN.md: SQLite's busy handler sleeps in growing steps (1, 2, 5, 10, 15, 20,
25 ms ...) and misses short gaps, so a transaction that holds the write lock
for about 25 ms costs a waiting writer at most ~33 ms, and a pause of at least
20 ms after it lets that writer in. Here:

- the rows to change are found first with a plain read (WAL readers never
  block writers), so the write lock is never held for a scan, even on a table
  without an index for the condition;
- each BEGIN IMMEDIATE transaction applies small chunks until its time budget
  is spent, then commits: the lock time is bounded by the clock, not by a
  guess of how many rows fit;
- the maintenance connection commits with synchronous=NORMAL (WAL stays
  consistent; a power cut can only undo the last batches, which the next run
  redoes) and checkpoints PASSIVE-ly during its pauses (a passive checkpoint
  never takes the write lock), so neither an fsync nor the checkpoint work of
  a large cleanup lands inside the lock or in the application's commits.
"""
import json
import time

from r2w_db.backends.sqlite.connection import transaction
from r2w_db.backends.sqlite.database import as_database

TARGET_MS = 12      # write-lock budget of one transaction before its COMMIT (~16 ms with it)
PAUSE_MS = 20       # pause after each transaction (>= 20 ms: DESIGN.md)
CHUNK_ROWS = 200    # rows per DELETE statement inside a transaction
FIND_ROWS = 5_000   # rows found per read
FRAME_BUDGET = 500  # WAL pages one transaction may write: half the default wal_autocheckpoint
START_ROWS = 500
MIN_ROWS, MAX_ROWS = 10, 20_000


def next_size(size, elapsed_s, target_ms=TARGET_MS):
    """Scale a batch so the next one takes about target_ms."""
    if elapsed_s <= 0:
        return min(size * 2, MAX_ROWS)
    scaled = int(size * (target_ms / 1000) / elapsed_s)
    return max(MIN_ROWS, min(MAX_ROWS, scaled, size * 4))


def pause(started, pause_ms):
    """Sleep until pause_ms have passed since `started` (a perf_counter value)."""
    left = pause_ms / 1000 - (time.perf_counter() - started)
    if left > 0:
        time.sleep(left)


def prepare(conn):
    """Set a maintenance writer up for short batches (see the module's docstring)."""
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")


def passive_checkpoint(conn, attempts=3):
    """Copy committed WAL frames into the database without taking the write lock; the
    number of frames the WAL held (-1 when not in WAL mode).

    Repeated while the application appended frames meanwhile, so that the WAL ends
    fully copied: the next writer then restarts it from the beginning, and the
    application's commits stay below the autocheckpoint size instead of running
    a checkpoint (with its fsyncs of our frames) themselves.
    """
    frames = None
    for _ in range(attempts):
        busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        frames = log if frames is None else frames
        if busy or log <= 0 or done >= log:
            break
    return frames


def apply_in_transactions(conn, items, apply_chunk, *, chunk=CHUNK_ROWS, target_ms=TARGET_MS,
                          pause_ms=PAUSE_MS, after_commit=None, should_stop=None, size=START_ROWS):
    """Call apply_chunk(conn, chunk_of_items) -> count for consecutive chunks of `items`,
    as many chunks per BEGIN IMMEDIATE transaction as fit in target_ms (and at most
    `size` items, START_ROWS at first, then scaled to the measured speed), then
    COMMIT, checkpoint passively and pause. A chunk is never split across transactions.

    after_commit(count_so_far) runs after each commit; should_stop() between
    transactions. Returns (count, items_done, size for the next call).
    """
    items = list(items)
    total, done = 0, 0
    while done < len(items):
        started = time.perf_counter()
        first = done
        with transaction(conn):
            while done < len(items) and done - first < size:
                part = items[done:min(done + chunk, first + size)]
                total += apply_chunk(conn, part)
                done += len(part)
                if time.perf_counter() - started >= target_ms / 1000:
                    break
        committed = time.perf_counter()
        size = next_size(done - first, committed - started, target_ms)
        frames = passive_checkpoint(conn)
        if frames and frames > FRAME_BUDGET:  # keep the WAL below the application's autocheckpoint
            size = max(MIN_ROWS, min(size, int((done - first) * FRAME_BUDGET / frames)))
        if after_commit:
            after_commit(total)
        if done < len(items):
            if should_stop and should_stop():
                break
            pause(committed, pause_ms)
    return total, done, size


def delete_in_batches(db, table, where, params=(), *, progress=None, should_stop=None,
                      target_ms=TARGET_MS, pause_ms=PAUSE_MS):
    """DELETE FROM table WHERE <where>, in short BEGIN IMMEDIATE transactions.

    `table` and `where` are this package's own constants; values go in `params`.
    `progress(deleted_so_far)` is called after each transaction (outside it: it
    may raise to stop the run, every transaction before stays committed);
    `should_stop()` ends the run early between transactions. Returns the number
    of rows deleted.
    """
    find = f"SELECT rowid FROM {table} WHERE {where} LIMIT ?"
    delete = (f"DELETE FROM {table} WHERE rowid IN (SELECT value FROM json_each(?))"
              f" AND ({where})")

    def delete_chunk(conn, rowids):
        return conn.execute(delete, (json.dumps(rowids), *params)).rowcount

    deleted, size = 0, START_ROWS
    with as_database(db).write() as conn:
        prepare(conn)
        while True:
            rowids = [row[0] for row in conn.execute(find, (*params, FIND_ROWS))]
            if not rowids:
                break
            count, done, size = apply_in_transactions(
                conn, rowids, delete_chunk, target_ms=target_ms, pause_ms=pause_ms, size=size,
                after_commit=(lambda n, base=deleted: progress(base + n)) if progress else None,
                should_stop=should_stop)
            deleted += count
            if done < len(rowids) or len(rowids) < FIND_ROWS or count == 0:
                break
            if should_stop and should_stop():
                break
            time.sleep(pause_ms / 1000)
    return deleted
