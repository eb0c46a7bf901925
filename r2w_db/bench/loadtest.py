"""A load test in the application's shape: a few threads mixing its reads and writes.

Each thread repeatedly picks an operation and calls the same r2w_db function the
application calls (one short connection per call, as the application opens them):

- reads: session validation, CV listing by user, cache lookup by file_hash;
- writes: create_session, create_cv_upload followed by update_cv_upload_status, and
  get_cached_extraction (which counts the access: an UPDATE).

Because it WRITES, it only runs on a scratch database: `run_load_test(path,
scratch=True)` refuses without `scratch=True`. `load_test_on_copy(db)` makes a
temporary copy with SQLite's online backup API (one step: a consistent copy even
while the application writes; the source is opened read-only and left unchanged),
runs on it, and deletes it. On PostgreSQL, run_load_test, load_test_on_copy and scratch_method
dispatch to pg_loadtest (a scratch database on the same server; the same workload, run_workload).
"""
import random
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from pathlib import Path

from r2w_db import errors
from r2w_db.app import cache, sessions, uploads
from r2w_db.engine import timeutil
from r2w_db.backends.dispatch import per_backend
from r2w_db.backends.sqlite.connection import open_reader
from r2w_db.backends.sqlite.database import as_database

DEFAULT_THREADS = 4
DEFAULT_SECONDS = 5.0
POOL = 500  # existing keys sampled per kind

# operation -> (weight, reads or writes)
OPERATIONS = {
    "session_validation": (30, "read"),
    "cv_listing": (20, "read"),
    "cache_lookup": (20, "read"),
    "create_session": (10, "write"),
    "upload_and_status": (10, "write"),
    "cache_access": (10, "write"),
}

CACHE_LOOKUP_SQL = "SELECT cv_data FROM cv_extraction_cache WHERE file_hash = ?"


class LoadTestRefused(errors.R2WError):
    def __init__(self, path):
        super().__init__(
            f"the load test writes (sessions, uploads, cache counts) and would change {path}: "
            f"run it on a copy (load_test_on_copy, or scratch_copy then scratch=True)")


# ----------------------------------------------------------------- scratch databases

@per_backend("r2w_db.backends.postgresql.loadtest")
def scratch_method(db) -> str:
    """How load_test_on_copy copies this database, in words for the page."""
    return ("a temporary copy made with SQLite's online backup (consistent even while the "
            "application writes; deleted afterwards)")


def scratch_copy(db, dest):
    """Copy `db` to `dest` in one step of the online backup API; returns dest as a Path.

    The source is opened read-only; a copy taken while the application writes is
    consistent. Refuses (DiskFull) when the destination's disk lacks room.
    """
    db = as_database(db)
    dest = Path(dest)
    size = db.path.stat().st_size
    wal = Path(str(db.path) + "-wal")
    size += wal.stat().st_size if wal.exists() else 0
    if shutil.disk_usage(dest.parent).free < size * 1.1 + 64 * 2 ** 20:
        raise errors.DiskFull(dest)
    source = open_reader(db.path)
    try:
        target = sqlite3.connect(str(dest))
        try:
            source.backup(target, pages=-1)
        finally:
            target.close()
    except sqlite3.Error as exc:
        from r2w_db.backends.sqlite.connection import translate
        raise translate(exc, dest) from None
    finally:
        source.close()
    return dest


def small_scratch_db(dest, seed=0):
    """A small generated demo database at `dest` (for a load test that needs no copy)."""
    from r2w_db.demo.builder import build_demo

    build_demo(dest, scale="small", seed=seed)
    return Path(dest)


# ----------------------------------------------------------------- the test

def _pool(conn, rng, table, column, where="1", size=POOL):
    """Up to `size` existing values of table.column, sampled by rowid (no full scan)."""
    low, high = conn.execute(f"SELECT min(rowid), max(rowid) FROM {table}").fetchone()
    if low is None:
        return []
    ids = sorted({rng.randint(low, high) for _ in range(size * 2)})
    found = []
    for start in range(0, len(ids), 400):
        chunk = ids[start:start + 400]
        found += [row[0] for row in conn.execute(
            f"SELECT {column} FROM {table} WHERE rowid IN ({', '.join('?' * len(chunk))})"
            f" AND {where} AND {column} IS NOT NULL", chunk)]
    return found[:size]


def _pools(db, rng):
    with db.read() as conn:
        return {
            "users": _pool(conn, rng, "users", "user_id",
                           "NOT (user_id >= 'anonymous_' AND user_id < 'anonymous`')"),
            "sessions": _pool(conn, rng, "sessions", "session_id"),
            "owners": _pool(conn, rng, "cv_uploads", "user_id"),
            "hashes": _pool(conn, rng, "cv_extraction_cache", "file_hash"),
        }


def _cache_lookup(db, file_hash):
    with db.read() as conn:
        return conn.execute(CACHE_LOOKUP_SQL, (file_hash,)).fetchone()


def _operations(db, pools, cache_lookup=None):
    """{name: f(rng)} for the operations that the database's rows allow; `cache_lookup(db,
    file_hash)` is the plain read of a cache entry (_cache_lookup, SQLite's)."""
    cache_lookup = cache_lookup or _cache_lookup

    def pick(rng, name):
        values = pools[name]
        return values[rng.randrange(len(values))] if values else str(uuid.uuid4())

    def upload(rng):
        owner = pick(rng, "users") if pools["users"] and rng.random() < 0.6 else (
            "anonymous_" + str(uuid.uuid4()))
        job_id = "loadtest-" + str(uuid.uuid4())
        file_hash = pick(rng, "hashes") if pools["hashes"] and rng.random() < 0.3 else (
            "%064x" % rng.getrandbits(256))
        uploads.create_cv_upload(db, owner, job_id, "load_test.pdf", "application/pdf", file_hash)
        uploads.update_cv_upload_status(db, job_id, "completed", {"load_test": True})

    ops = {
        "session_validation": lambda rng: sessions.get_user_id_from_session(db, pick(rng, "sessions")),
        "cv_listing": lambda rng: uploads.get_user_cv_uploads(db, pick(rng, "owners")),
        "cache_lookup": lambda rng: cache_lookup(db, pick(rng, "hashes")),
        "create_session": lambda rng: sessions.create_session(db, pick(rng, "users")),
        "upload_and_status": upload,
        "cache_access": lambda rng: cache.get_cached_extraction(db, pick(rng, "hashes")),
    }
    if not pools["users"]:
        del ops["create_session"]  # no registered user to open a session for
    return ops


def _percentile(ordered, q):
    if not ordered:
        return None
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@per_backend("r2w_db.backends.postgresql.loadtest")
def run_load_test(path, *, scratch=False, threads=None, seconds=None, seed=0, progress=None):
    """Run the mixed workload on the database at `path` for `seconds` with `threads` threads
    (DEFAULT_SECONDS, DEFAULT_THREADS).

    Refuses (LoadTestRefused) unless `scratch=True`: it writes. Returns a JSON-ready dict:
    ops, ops_per_s, lock_errors, errors and "by_kind" (count, p50/p95/p99/mean/max in ms).
    `progress(fraction, message)` is called about ten times a second from this thread.
    """
    db = as_database(path)
    if not scratch:
        raise LoadTestRefused(db.path)
    if not db.path.exists():
        raise errors.DatabaseMissing(db.path)
    ops = _operations(db, _pools(db, random.Random(seed)))
    return run_workload(db, ops, threads=threads, seconds=seconds, seed=seed, progress=progress)


def run_workload(db, ops, *, threads=None, seconds=None, seed=0, progress=None):
    """`threads` threads calling the operations `ops` ({name: f(rng)}, weighted by OPERATIONS)
    for `seconds`; run_load_test's report. Any backend: the operations open their connections."""
    threads = max(1, int(DEFAULT_THREADS if threads is None else threads))
    seconds = max(0.1, float(DEFAULT_SECONDS if seconds is None else seconds))
    names = list(ops)
    weights = [OPERATIONS[n][0] for n in names]
    latencies = {n: [] for n in names}
    lock_errors = {n: 0 for n in names}
    other_errors = {n: 0 for n in names}
    messages = []
    lock = threading.Lock()
    start_gate = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker(index):
        local_rng = random.Random(f"{seed}-{index}")
        mine = {n: [] for n in names}
        locked = {n: 0 for n in names}
        failed = {n: 0 for n in names}
        start_gate.wait()
        clock = time.perf_counter_ns
        while time.perf_counter() < deadline[0]:
            name = local_rng.choices(names, weights)[0]
            began = clock()
            try:
                ops[name](local_rng)
            except errors.DatabaseLocked:
                locked[name] += 1
                continue
            except errors.R2WError as exc:
                failed[name] += 1
                if len(messages) < 5:
                    messages.append(f"{name}: {exc}")
                continue
            mine[name].append(clock() - began)
        with lock:
            for n in names:
                latencies[n] += mine[n]
                lock_errors[n] += locked[n]
                other_errors[n] += failed[n]

    workers = [threading.Thread(target=worker, args=(i,), name=f"r2w-load-{i}", daemon=True)
               for i in range(threads)]
    for t in workers:
        t.start()
    started_at = timeutil.now_iso()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start_gate.wait()
    alive = workers
    try:
        while alive:
            elapsed = time.perf_counter() - began
            if progress:
                progress(min(1.0, elapsed / seconds), f"{elapsed:.1f} s of {seconds:g} s")
            alive[0].join(timeout=0.1)
            alive = [t for t in alive if t.is_alive()]
    except BaseException:  # Ctrl-C or a failing progress callback: the workers stop too
        deadline[0] = 0.0
        for t in workers:
            t.join(timeout=10)
        raise
    elapsed = time.perf_counter() - began
    by_kind = []
    for n in names:
        ordered = sorted(x / 1e6 for x in latencies[n])
        by_kind.append({
            "kind": n, "access": OPERATIONS[n][1], "count": len(ordered),
            "ops_per_s": len(ordered) / elapsed,
            "p50_ms": _percentile(ordered, 0.50), "p95_ms": _percentile(ordered, 0.95),
            "p99_ms": _percentile(ordered, 0.99),
            "mean_ms": sum(ordered) / len(ordered) if ordered else None,
            "max_ms": ordered[-1] if ordered else None,
            "lock_errors": lock_errors[n], "errors": other_errors[n],
        })
    total = sum(k["count"] for k in by_kind)
    if progress:
        progress(1.0, "done")
    return {
        "database": str(db.path),
        "started_at": started_at,
        "threads": threads,
        "seconds": seconds,
        "elapsed_s": elapsed,
        "ops": total,
        "ops_per_s": total / elapsed,
        "reads": sum(k["count"] for k in by_kind if k["access"] == "read"),
        "writes": sum(k["count"] for k in by_kind if k["access"] == "write"),
        "lock_errors": sum(lock_errors.values()),
        "errors": sum(other_errors.values()),
        "error_messages": messages,
        "by_kind": by_kind,
    }


@per_backend("r2w_db.backends.postgresql.loadtest")
def load_test_on_copy(db, *, directory=None, generated=False, progress=None, **options):
    """The load test on a temporary copy of `db` (or, generated=True, a small demo database),
    deleted afterwards. The result names the source under "source" and says how it ran."""
    db = as_database(db)
    with tempfile.TemporaryDirectory(prefix="r2w-loadtest-", dir=directory) as tmp:
        target = Path(tmp) / "scratch.db"
        began = time.perf_counter()
        if generated:
            if progress:
                progress(0.0, "generating a small demo database")
            small_scratch_db(target)
            how = "a small generated demo database"
        else:
            if progress:
                progress(0.0, f"copying {db.path.name} (online backup)")
            scratch_copy(db, target)
            how = "a temporary copy (online backup) of the database"
        prepared = time.perf_counter() - began
        result = run_load_test(target, scratch=True, progress=progress, **options)
    result.update(database=str(db.path), source=str(db.path), ran_on=how,
                  prepare_s=round(prepared, 3), generated=bool(generated))
    return result
