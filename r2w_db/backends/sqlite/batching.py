"""SQLite's side of the batched writes (the loop: engine/batching.py).

SQLite's busy handler sleeps in growing steps (1, 2, 5, 10, 15, 20, 25 ms ...) and misses short
gaps, so a transaction that holds the write lock for about 25 ms costs a waiting writer at most
~33 ms, and a pause of at least 20 ms after it lets that writer in. Here:

- the rows to change are found first with a plain read (`find_rows`), so the write lock is never
  held for a scan, even on a table without an index for the condition;
- each BEGIN IMMEDIATE transaction deletes small chunks by rowid (`delete_rows`, the condition
  re-checked) until its time budget is spent, then commits;
- the maintenance connection commits with synchronous=NORMAL (WAL stays consistent; a power cut
  can only undo the last batches, which the next run redoes) and checkpoints PASSIVE-ly after
  each commit (a passive checkpoint never takes the write lock), so neither an fsync nor the
  checkpoint work of a large cleanup lands inside the lock or in the application's commits.
"""
import json

from r2w_db.backends.sqlite import connection
from r2w_db.engine.batching import MIN_ROWS

TARGET_MS = 12      # write-lock budget of one transaction before its COMMIT (~16 ms with it)
PAUSE_MS = 20       # pause after each transaction (>= 20 ms: see above)
CHUNK_ROWS = 200    # rows per DELETE statement inside a transaction
FIND_ROWS = 5_000   # rows found per read
FRAME_BUDGET = 500  # WAL pages one transaction may write: half the default wal_autocheckpoint
START_ROWS = 500


def maintenance_writer(db):
    """The writer a batched run holds (its transactions: `transaction`)."""
    return db.write()


def prepare(conn):
    """Set a maintenance writer up for short batches (see the module's docstring)."""
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")


def transaction(conn):
    """One BEGIN IMMEDIATE transaction, committed when the block ends."""
    return connection.transaction(conn)


def _passive_checkpoint(conn, attempts=3):
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


def committed(conn, size, rows):
    """After a commit: checkpoint passively; the next batch's `size`, smaller when this one's
    `rows` wrote more WAL pages than FRAME_BUDGET (the WAL stays below the application's
    autocheckpoint)."""
    frames = _passive_checkpoint(conn)
    if frames and frames > FRAME_BUDGET:
        size = max(MIN_ROWS, min(size, int(rows * FRAME_BUDGET / frames)))
    return size


def find_rows(conn, table, where, params, limit):
    """The rowids of at most `limit` rows of `table` matching `where`, by a plain read."""
    return [row[0] for row in conn.execute(
        f"SELECT rowid FROM {table} WHERE {where} LIMIT ?", (*params, limit))]


def delete_rows(conn, table, where, params, keys):
    """Delete the rows of `keys` (rowids) still matching `where`; how many went."""
    return conn.execute(
        f"DELETE FROM {table} WHERE rowid IN (SELECT value FROM json_each(?)) AND ({where})",
        (json.dumps(keys), *params)).rowcount
