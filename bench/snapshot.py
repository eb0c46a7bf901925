"""`snapshot` on the production-sized database: how long it takes, and how long it stalls a
concurrent writer (a process committing one small INSERT every 10 ms), in the file's own journal
mode and in WAL. Runs on a copy (bench/work/snapshot-copy.db, made once): the writer writes.

    python bench/snapshot.py [--source bench/work/large-migrate.db] [--runs 5]
"""
import argparse
import json
import multiprocessing
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from r2w_db.figures.snapshot import take_snapshot  # noqa: E402


def writer(path, stop, out):
    """Commit one INSERT every 10 ms; report (start, latency ms) of every commit."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    latencies = []
    n = 0
    while not stop.is_set():
        at, started = time.time(), time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO sessions (session_id, user_id, created_at) VALUES (?, ?, ?)",
                     (f"bench-{os.getpid()}-{n}", "bench", "2026-11-30T00:00:00.000000"))
        conn.execute("COMMIT")
        latencies.append((at, (time.perf_counter() - started) * 1000))
        n += 1
        time.sleep(0.01)
    conn.execute("DELETE FROM sessions WHERE user_id = 'bench'")
    conn.close()
    out.put(latencies)


def stall(path, monitor):
    """[(worst commit ms, median commit ms, seconds)] of the commits that start while nothing
    runs, then while a snapshot runs (the writer's first second, its warm-up, is left out)."""
    results = []
    for with_snapshot in (False, True):
        stop, out = multiprocessing.Event(), multiprocessing.Queue()
        proc = multiprocessing.Process(target=writer, args=(str(path), stop, out))
        proc.start()
        time.sleep(1.0)
        began, started = time.time(), time.perf_counter()
        if with_snapshot:
            take_snapshot(path)
        else:
            time.sleep(0.7)
        seconds, ended = time.perf_counter() - started, time.time()
        time.sleep(0.2)
        stop.set()
        latencies = [ms for at, ms in out.get(timeout=60) if began <= at <= ended]
        proc.join(30)
        results.append((round(max(latencies), 1), round(statistics.median(latencies), 2),
                        round(seconds, 3)))
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default=str(ROOT / "bench" / "work" / "large-migrate.db"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    copy = ROOT / "bench" / "work" / "snapshot-copy.db"
    if not copy.exists():
        shutil.copyfile(args.source, copy)
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "R2W_MONITOR_DB": str(Path(folder) / "monitor.db"),
               "PYTHONPATH": str(ROOT)}
        os.environ["R2W_MONITOR_DB"] = env["R2W_MONITOR_DB"]
        take_snapshot(copy)   # warm the page cache
        in_process = []
        for _ in range(args.runs):
            started = time.perf_counter()
            snap = take_snapshot(copy)
            in_process.append(time.perf_counter() - started)
        processes = []
        for _ in range(args.runs):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "r2w_db", "--db", str(copy), "snapshot"],
                           env=env, check=True, capture_output=True)
            processes.append(time.perf_counter() - started)
        report = {"in_process_s": in_process, "process_s": processes,
                  "table_bytes": snap["table_bytes"]}
        with sqlite3.connect(copy) as conn:
            report["journal_mode"] = conn.execute("PRAGMA journal_mode").fetchone()[0]
        report["stall_" + report["journal_mode"]] = stall(copy, env["R2W_MONITOR_DB"])
        with sqlite3.connect(copy) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
        report["stall_wal"] = stall(copy, env["R2W_MONITOR_DB"])
        with sqlite3.connect(copy) as conn:
            conn.execute("PRAGMA journal_mode = DELETE")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
