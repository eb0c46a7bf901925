"""`migrate` on a production-sized file under a live writer: how long each step blocks the application.

    python bench/migrate.py [--interval-ms 5] [--no-write]

Takes the large demo database (bench/work/large.db, built with
`python -m r2w_db --db bench/work/large.db demo --scale large` when missing), copies it
to bench/work/migrate/old.db and turns the copy into an old production file: every index of
the documented history and of this project's additions dropped, users.location dropped,
user_version 0, rollback journal (as the application leaves it). Then, while a separate writer
PROCESS (the application: Python's default 5 s busy timeout, one INSERT + COMMIT every 5 ms)
writes, it runs `migrations.migrate` and records per step: how long the step held the write
lock, the estimate migrate gave beforehand, the writer's worst stall and failed writes inside
the step. Writes bench/MIGRATE.md unless --no-write.
"""
import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine_info import describe  # noqa: E402
from maintenance import Writer, summary  # noqa: E402

from r2w_db.engine import schema  # noqa: E402
from r2w_db.backends import migrations

TEMPLATE = ROOT / "bench" / "work" / "large.db"  # the file bench/scale.py builds
WORK = ROOT / "bench" / "work" / "migrate"
REPORT = ROOT / "bench" / "MIGRATE.md"


def log(message):
    print(message, file=sys.stderr, flush=True)


def old_production_copy(path):
    """The template as an old production file: no indexes, a missing column, no user_version."""
    if not TEMPLATE.exists():
        log(f"building {TEMPLATE} (large demo, about 80 s) ...")
        subprocess.run([sys.executable, "-m", "r2w_db", "--db", str(TEMPLATE), "demo", "--scale",
                        "large", "--quiet"], cwd=ROOT, check=True)
    WORK.mkdir(parents=True, exist_ok=True)
    for side in ("", "-journal", "-wal", "-shm"):
        Path(str(path) + side).unlink(missing_ok=True)
    log(f"copying {TEMPLATE} ...")
    shutil.copyfile(TEMPLATE, path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    for name in schema.INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {name}")
    conn.execute("ALTER TABLE users DROP COLUMN location")
    conn.execute("PRAGMA user_version = 0")
    conn.close()


def run(args):
    path = WORK / "old.db"
    old_production_copy(path)
    rows = {t: sqlite3.connect(path).execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in schema.TABLES}
    planned = migrations.pending(path)
    log("baseline: the writer alone for 3 s ...")
    writer = Writer(path, args.interval_ms)
    time.sleep(3.0)
    baseline = summary(writer.stop())
    windows = []
    writer = Writer(path, args.interval_ms)
    time.sleep(1.0)
    began = last = time.perf_counter()

    def progress(step, seconds):
        nonlocal last
        now = time.perf_counter()
        windows.append((step, last, now, seconds))
        log(f"  {step.description}: {seconds:.2f} s")
        last = now

    log("migrate under the writer ...")
    migrations.migrate(path, progress=progress)
    ended = time.perf_counter()
    time.sleep(0.5)
    measured = writer.stop()
    failures_at = measured.get("failure_starts", [])
    steps = []
    for step, start, end, seconds in windows:
        stall = summary(measured, (start - 0.005, end))
        steps.append({
            "step": step.description, "kind": "addition" if step.is_addition else "documented",
            "table": step.table, "rows": step.rows, "estimate_s": round(step.estimate_s, 2),
            "held_s": round(seconds, 2),
            "per_row_us": round(seconds / step.rows * 1e6, 2) if step.rows else None,
            "writer_max_ms": round(stall.get("max_ms", 0), 1), "writer_writes": stall["writes"],
            "writer_failures": sum(start <= f <= end for f in failures_at),
        })
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": describe(WORK),
        "rows": rows, "planned": len(planned), "baseline": baseline, "steps": steps,
        "total_s": round(ended - began, 1),
        "one_transaction_s": round(sum(s["held_s"] for s in steps), 1),
        "writer_failures": len(measured["failures"]), "failures_sample": measured["failures"][:3],
    }


def machine(info):
    return (f"{info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB, Python {info['python']}, "
            f"SQLite {info['sqlite']}, load {', '.join(f'{x:.1f}' for x in info['load'])}")


def render(report):
    lines = [
        "# migrate under a live writer", "",
        f"Measured {report['date']} by `python bench/migrate.py` on {machine(report['machine'])}.", "",
        "An old production file (no indexes, `users.location` missing, no `user_version`, rollback "
        "journal) built from the large demo: " + ", ".join(f"{n:,} {t}" for t, n in report["rows"].items())
        + ". A separate writer process (Python's default 5 s busy timeout) commits one session "
        "every 5 ms throughout. Each step runs in its own transaction; `held` is how long it held "
        "the write lock, `estimate` what `migrate --dry-run` said beforehand (rows x the per-table "
        "rate in r2w_db/backends/sqlite/schema.py).", "",
        f"Writer alone (baseline): worst {report['baseline'].get('max_ms', 0):.1f} ms, "
        f"p99 {report['baseline'].get('p99_ms', 0):.1f} ms.", "",
        "| step | kind | rows | estimate (s) | held (s) | µs/row | writer's worst stall (ms) | failed writes |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report["steps"]:
        lines.append(f"| {s['step']} | {s['kind']} | {s['rows'] or 0:,} | {s['estimate_s']:.2f} | "
                     f"{s['held_s']:.2f} | {s['per_row_us'] if s['per_row_us'] is not None else '-'} | "
                     f"{s['writer_max_ms']:.0f} | {s['writer_failures']} |")
    lines += [
        "", f"Whole run {report['total_s']} s. Run as one transaction (as before this change) the "
        f"write lock would have been held for {report['one_transaction_s']} s in one piece: every "
        "write of the application in that time fails after its 5 s busy timeout.",
        f"Failed writes in all: {report['writer_failures']}"
        + (f" (e.g. {report['failures_sample'][0]})" if report["failures_sample"] else "") + ".", "",
        "A step whose estimate is above the application's 5 s busy timeout makes its writes fail "
        "while it runs: defer the additions (`migrate --defer-additions`) and build them at a "
        "quiet hour.", "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python bench/migrate.py", description=__doc__.split("\n")[0])
    parser.add_argument("--interval-ms", type=float, default=5.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    report = run(args)
    (WORK / "last.json").write_text(json.dumps(report, indent=2))
    text = render(report)
    print(text)
    if not args.no_write:
        REPORT.write_text(text)


if __name__ == "__main__":
    main()
