"""PostgreSQL, first slice: the move's throughput and `stats` on PostgreSQL beside SQLite.

    python bench/postgres.py [--scale medium] [--runs 5] [--no-write]

Builds a demo database of the given scale (fixed seed and `now`) in bench/work/pg/, starts a
throwaway PostgreSQL cluster as the tests do (tests/pg_cluster.py: Debian's server binaries,
fsync off, Unix socket only), moves the demo into it with `move` (COPY, one snapshot, verified
by counts and checksums) and times it, then times `collect_stats` on both backends over the
same data (median of --runs, after one warm-up run) and checks that both give the same figures.
Writes bench/POSTGRES.md unless --no-write.
"""
import argparse
import shutil
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine_info import describe  # noqa: E402

from r2w_db.demo.builder import build_demo  # noqa: E402
from r2w_db.figures import pg_stats, stats  # noqa: E402
from r2w_db.maintenance import move  # noqa: E402
from tests.pg_cluster import Cluster, install_postgresql  # noqa: E402

WORK = ROOT / "bench" / "work" / "pg"
REPORT = ROOT / "bench" / "POSTGRES.md"
NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)
SKIP = {"path", "size_bytes", "wal_bytes"}


def log(message):
    print(message, file=sys.stderr, flush=True)


def timed(func, runs):
    func()  # warm-up: caches on both sides
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), result


def same_figures(a, b):
    for group in a:
        if isinstance(a[group], dict):
            if {k: v for k, v in a[group].items() if k not in SKIP} != \
               {k: v for k, v in b[group].items() if k not in SKIP}:
                return False
        elif a[group] != b[group]:
            return False
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="medium", choices=("small", "medium", "large"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    bin_dir = install_postgresql()
    if bin_dir is None:
        sys.exit("no PostgreSQL server binaries: apt-get install postgresql")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    source = WORK / f"{args.scale}.db"
    log(f"building the {args.scale} demo ...")
    started = time.perf_counter()
    summary = build_demo(source, scale=args.scale, seed=1, now=NOW)
    log(f"  {time.perf_counter() - started:.1f} s")
    cluster = Cluster(bin_dir).start()
    try:
        url = cluster.create_database("bench")
        log("moving ...")
        report = move.move(source, url)
        rows = sum(t["rows_moved"] for t in report["tables"].values())
        log(f"  {rows:,} rows in {report['seconds']:.2f} s ({report['rows_per_second']:,} rows/s)")
        log("stats ...")
        lite_med, lite_min, lite = timed(lambda: stats.collect_stats(source, now=NOW), args.runs)
        pg_med, pg_min, pg = timed(lambda: pg_stats.collect_stats(url, now=NOW), args.runs)
        equal = same_figures(lite, pg)
        log(f"  SQLite {lite_med * 1000:.1f} ms, PostgreSQL {pg_med * 1000:.1f} ms, same: {equal}")
        sizes = (lite["database"]["size_bytes"], pg["database"]["size_bytes"])
    finally:
        cluster.stop()
    lines = [
        "# PostgreSQL, first slice: the move and `stats`",
        "",
        f"`python bench/postgres.py --scale {args.scale} --runs {args.runs}` "
        f"({datetime.now().strftime('%Y-%m-%d')}). {describe(WORK)}",
        "",
        f"Data: the **{args.scale}** demo (seed 1), "
        + ", ".join(f"{v:,} {k}" for k, v in summary.items() if isinstance(v, int))
        + f"; SQLite file {sizes[0] / 1e6:.1f} MB, the four tables on PostgreSQL "
          f"{sizes[1] / 1e6:.1f} MB (pg_total_relation_size). PostgreSQL "
          f"{bin_dir.parent.name}, a throwaway cluster with fsync off (tests/pg_cluster.py): "
          "the move's figure is an upper bound for a server that syncs to disk.",
        "",
        "## The move (`move --to postgresql://...`)",
        "",
        "| table | rows | verified |",
        "|---|---:|---|",
        *[f"| {t} | {f['rows_moved']:,} | {'yes' if f['verified'] else 'NO'} |"
          for t, f in report["tables"].items()],
        "",
        f"{rows:,} rows in **{report['seconds']:.2f} s: {report['rows_per_second']:,} rows/s**, "
        f"end to end: snapshot ({report['snapshot']}), conversion of every value, COPY of the "
        "four tables in one transaction, CREATE INDEX CONCURRENTLY of "
        f"{report['indexes_built']} indexes, then the verification (every row read back from "
        "PostgreSQL and checksummed).",
        "",
        "## `stats` on the same data",
        "",
        "| backend | median | best |",
        "|---|---:|---:|",
        f"| SQLite (stats.collect_stats, 2 readers) | {lite_med * 1000:.1f} ms | {lite_min * 1000:.1f} ms |",
        f"| PostgreSQL (pg_stats.collect_stats, 1 snapshot) | {pg_med * 1000:.1f} ms | {pg_min * 1000:.1f} ms |",
        "",
        f"Same figures on both (every key but database.path, size_bytes, wal_bytes): **{equal}**.",
        "",
        "Not measured yet (next sessions): the large demo (600k uploads) on PostgreSQL, each "
        "page's data, the query benchmark and the load test.",
        "",
    ]
    if not args.no_write:
        REPORT.write_text("\n".join(lines))
        log(f"wrote {REPORT}")
    shutil.rmtree(WORK, ignore_errors=True)
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
