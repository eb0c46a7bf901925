"""Writes in short transactions, so the live application's writes never wait long.

The loop is written once, here: each transaction does a bounded amount of work, commits, and is
followed by a pause and the `progress` / `should_stop` hooks; a kill rolls back only the open
transaction. What differs by engine comes from the database object it is handed,
`db.backend.batching`: the time budget and pause (TARGET_MS, PAUSE_MS, START_ROWS), the
maintenance writer and its set-up, the transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: one
committed transaction), what follows a commit (SQLite: a passive checkpoint), and the delete
statements:

- SQLite finds the rows first with a plain read (WAL readers never block writers), so the write
  lock is never held for a scan, then deletes them by rowid in chunks until the transaction's
  time budget is spent (`find_rows` / `delete_rows`);
- PostgreSQL locks rows, not the database: each transaction is one DELETE of at most `size`
  rows, re-checked after its lock (`delete_some`).

Either way a batch's size is scaled to the measured speed so the next one takes about TARGET_MS.
"""
import time

MIN_ROWS, MAX_ROWS = 10, 20_000


def next_size(size, elapsed_s, target_ms):
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


def budget(db, target_ms=None, pause_ms=None):
    """(target_ms, pause_ms): the ones given, else the engine's."""
    engine = db.backend.batching
    return (engine.TARGET_MS if target_ms is None else target_ms,
            engine.PAUSE_MS if pause_ms is None else pause_ms)


def in_transactions(db, conn, step, *, size, target_ms, pause_ms, after_commit=None,
                    should_stop=None):
    """Call step(conn, size, started) -> (count, rows, more) in one engine transaction after
    another until it has no `more` work: after each commit the size is scaled to the time the
    `rows` took, `after_commit(count_so_far)` runs (outside the transaction: it may raise to stop
    the run, every transaction before stays committed), `should_stop()` may end the run, and the
    loop pauses. Returns (count, size for the next call)."""
    engine = db.backend.batching
    total = 0
    while True:
        started = time.perf_counter()
        with engine.transaction(conn):
            count, rows, more = step(conn, size, started)
        committed = time.perf_counter()
        size = engine.committed(conn, next_size(rows, committed - started, target_ms), rows)
        total += count
        if after_commit:
            after_commit(total)
        if not more or (should_stop and should_stop()):
            return total, size
        pause(committed, pause_ms)


def apply_in_transactions(db, conn, items, apply_chunk, *, chunk, target_ms=None, pause_ms=None,
                          after_commit=None, should_stop=None, size=None):
    """Call apply_chunk(conn, chunk_of_items) -> count for consecutive chunks of `items`, as many
    chunks per transaction as fit in target_ms (and at most `size` items, the engine's START_ROWS
    at first, then scaled to the measured speed). A chunk is never split across transactions.
    Returns (count, items_done, size for the next call)."""
    target_ms, pause_ms = budget(db, target_ms, pause_ms)
    size = db.backend.batching.START_ROWS if size is None else size
    items = list(items)
    done = 0

    def step(conn, size, started):
        nonlocal done
        count, first = 0, done
        while done < len(items) and done - first < size:
            part = items[done:min(done + chunk, first + size)]
            count += apply_chunk(conn, part)
            done += len(part)
            if time.perf_counter() - started >= target_ms / 1000:
                break
        return count, done - first, done < len(items)

    if not items:
        return 0, 0, size
    total, size = in_transactions(db, conn, step, size=size, target_ms=target_ms,
                                  pause_ms=pause_ms, after_commit=after_commit,
                                  should_stop=should_stop)
    return total, done, size


def delete_in_batches(db, table, where, params=(), *, progress=None, should_stop=None,
                      target_ms=None, pause_ms=None):
    """DELETE FROM table WHERE <where>, in short transactions; the number of rows deleted.

    `table` and `where` (the engine's condition, from its retention queries) are the package's
    own; values go in `params`. `progress(deleted_so_far)` is called after each transaction
    that deleted rows (outside it: it may raise to stop the run); `should_stop()` ends the run
    early between transactions.
    """
    target_ms, pause_ms = budget(db, target_ms, pause_ms)
    engine = db.backend.batching
    with engine.maintenance_writer(db) as conn:
        engine.prepare(conn)
        if db.backend.supports("batching.delete_some"):
            return _delete_some(db, conn, table, where, params, progress, should_stop,
                                target_ms, pause_ms)
        return _delete_found(db, conn, table, where, params, progress, should_stop,
                             target_ms, pause_ms)


def _delete_some(db, conn, table, where, params, progress, should_stop, target_ms, pause_ms):
    """Each transaction one DELETE of at most `size` rows that the statement finds itself."""
    engine = db.backend.batching
    reported = 0

    def step(conn, size, started):
        count = engine.delete_some(conn, table, where, params, size)
        return count, count, count >= size

    def after_commit(deleted):
        nonlocal reported
        if deleted > reported:
            reported = deleted
            progress(deleted)

    deleted, _ = in_transactions(db, conn, step, size=engine.START_ROWS, target_ms=target_ms,
                                 pause_ms=pause_ms, should_stop=should_stop,
                                 after_commit=after_commit if progress else None)
    return deleted


def _delete_found(db, conn, table, where, params, progress, should_stop, target_ms, pause_ms):
    """The rows found by a plain read, FIND_ROWS at a time, then deleted by key in chunks."""
    engine = db.backend.batching

    def delete_chunk(conn, keys):
        return engine.delete_rows(conn, table, where, params, keys)

    deleted, size = 0, engine.START_ROWS
    while True:
        keys = engine.find_rows(conn, table, where, params, engine.FIND_ROWS)
        if not keys:
            break
        count, done, size = apply_in_transactions(
            db, conn, keys, delete_chunk, chunk=engine.CHUNK_ROWS, target_ms=target_ms,
            pause_ms=pause_ms, size=size, should_stop=should_stop,
            after_commit=(lambda n, base=deleted: progress(base + n)) if progress else None)
        deleted += count
        if done < len(keys) or len(keys) < engine.FIND_ROWS or count == 0:
            break
        if should_stop and should_stop():
            break
        time.sleep(pause_ms / 1000)
    return deleted
