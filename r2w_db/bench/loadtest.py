"""A load test in the application's shape: a few threads mixing its reads and writes.

Each thread repeatedly picks an operation and calls the same r2w_db function the
application calls (one short connection per call, as the application opens them):

- reads: session validation, CV listing by user, cache lookup by file_hash;
- writes: create_session, create_cv_upload followed by update_cv_upload_status, and
  get_cached_extraction (which counts the access: an UPDATE).

Because it WRITES, it only runs on a scratch database: `run_load_test(db, scratch=True)`
refuses without `scratch=True`. `load_test_on_copy(db)` runs it on a scratch database that
the engine makes and removes (`db.backend.loadtest.scratch_database`: on SQLite a temporary
copy made with the online backup API, consistent even while the application writes; on
PostgreSQL a scratch database on the same server, dropped also on error and Ctrl-C) holding a
copy of `db` or a small generated demo. The source is only read. The thread pool, the timing
and the report are the same on every engine.
"""
import random
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from r2w_db import errors
from r2w_db.app import cache, sessions, uploads
from r2w_db.backends import open_database
from r2w_db.engine import timeutil

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
# kind of key -> (table, column, registered users only)
POOLS = {
    "users": ("users", "user_id", True),
    "sessions": ("sessions", "session_id", False),
    "owners": ("cv_uploads", "user_id", False),
    "hashes": ("cv_extraction_cache", "file_hash", False),
}


class LoadTestRefused(errors.R2WError):
    def __init__(self, path):
        super().__init__(
            f"the load test writes (sessions, uploads, cache counts) and would change {path}: "
            f"run it on a copy (load_test_on_copy, or scratch_copy then scratch=True)")


# ----------------------------------------------------------------- scratch databases

def scratch_method(db) -> str:
    """How load_test_on_copy copies this database, in words for the page."""
    return open_database(db).backend.loadtest.SCRATCH_METHOD


def scratch_copy(db, dest):
    """Copy `db` into the database at `dest` (an SQLite file made here, or an empty scratch
    database), consistent even while the application writes; returns dest. The source is only
    read; the engine refuses (DiskFull) where the destination lacks room."""
    db = open_database(db)
    db.backend.loadtest.copy_into(db, open_database(dest))
    return dest


def _generate_into(scratch, directory=None, seed=0):
    """A small generated demo in the empty scratch database: built in place where the database
    is a file, else built in a temporary file and moved in (not recorded in the monitor's log)."""
    from r2w_db.demo.builder import build_demo

    if scratch.backend.features.file:
        build_demo(scratch, scale="small", seed=seed)
        return
    from r2w_db.maintenance import move

    with tempfile.TemporaryDirectory(prefix="r2w-loadtest-", dir=directory) as folder:
        demo = Path(folder) / "demo.db"
        build_demo(demo, scale="small", seed=seed)
        move.move(demo, scratch, record=False)


@contextmanager
def _scratch(db, generated, directory, progress):
    """The scratch database of a load test (a copy of `db`, or generated), removed afterwards."""
    engine = db.backend.loadtest
    with engine.scratch_database(db, directory, empty=generated, progress=progress) as scratch:
        if generated:
            if progress:
                progress(0.0, "generating a small demo database")
            _generate_into(scratch, directory)
        yield scratch


# ----------------------------------------------------------------- the test

def _pools(db, rng):
    """Up to POOL existing keys per kind (POOLS), sampled without a full scan."""
    pool = db.backend.loadtest.pool
    with db.read() as conn:
        return {kind: pool(conn, rng, table, column, registered, POOL)
                for kind, (table, column, registered) in POOLS.items()}


def _cache_lookup(db, file_hash):
    """The plain read of a cache entry by its file_hash."""
    with db.read() as conn:
        return db.backend.loadtest.cache_lookup(conn, file_hash)


def _operations(db, pools):
    """{name: f(rng)} for the operations that the database's rows allow."""

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
        "cache_lookup": lambda rng: _cache_lookup(db, pick(rng, "hashes")),
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


def run_load_test(path, *, scratch=False, threads=None, seconds=None, seed=0, progress=None):
    """Run the mixed workload on the database at `path` for `seconds` with `threads` threads
    (DEFAULT_SECONDS, DEFAULT_THREADS).

    Refuses (LoadTestRefused) unless `scratch=True`: it writes. Returns a JSON-ready dict:
    ops, ops_per_s, lock_errors, errors and "by_kind" (count, p50/p95/p99/mean/max in ms).
    `progress(fraction, message)` is called about ten times a second from this thread.
    """
    db = open_database(path)
    if not scratch:
        raise LoadTestRefused(db.display)
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
        "database": db.display,
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


def load_test_on_copy(db, *, directory=None, generated=False, progress=None, **options):
    """The load test on a scratch copy of `db` (or, generated=True, a small demo database),
    removed afterwards. The result names the source under "source" and says how it ran."""
    db = open_database(db)
    began = time.perf_counter()
    with _scratch(db, generated, directory, progress) as scratch:
        prepared = time.perf_counter() - began
        result = run_load_test(scratch, scratch=True, progress=progress, **options)
    how = db.backend.loadtest.RAN_ON["generated" if generated else "copy"]
    result.update(database=db.display, source=db.display, ran_on=how,
                  prepare_s=round(prepared, 3), generated=bool(generated))
    return result
