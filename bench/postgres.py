"""PostgreSQL beside SQLite on the same data: the move, `stats`, each page's data, the query
benchmark and the load test.

    python bench/postgres.py [--scale large] [--runs 3] [--iterations 20] [--skip-load] [--no-write]
    python bench/postgres.py --only speed [--rounds 3] [--runs 7] [--source FILE]

The large scale (the default: ~600k uploads) uses bench/work/large.db, the database
bench/scale.py builds (`demo --scale large --seed 0`, reused when present); smaller scales
build a demo (seed 1, fixed `now`) in bench/work/pg/. A throwaway PostgreSQL cluster is started
as the tests start theirs (tests/pg_cluster.py: Debian's server binaries, fsync off, Unix
socket only, shared_buffers 64MB) and the database is moved into it with `move` (COPY, one
snapshot, verified by counts and checksums), timed. Then, SQLite and PostgreSQL alternating:
- `python -m r2w_db --db X stats --json` as a process (median of --runs, after a warm-up);
  the figures are compared in-process with one fixed `now`;
- each page's figure calls (bench/scale.py --page-data: cold, in a fresh process, then warm),
  for the 7-day and the all-time window, with an empty monitor database (live figures, no
  roll-ups) on both; a call that fails on a backend is listed, not timed;
- the query benchmark (--iterations per query) and, unless --skip-load, the load test on a
  scratch copy (4 threads, 5 s).
Writes bench/POSTGRES.md unless --no-write; stops the cluster whatever happens.

`--only speed` measures the two targets of issue 22 in one run, each pair interleaved
(ABAB..., medians): `stats --json` as a process on SQLite and on PostgreSQL (--runs each), and
--rounds of [the move into an empty database, pg_restore (one job) of a pg_dump -Fc of the moved
data into an empty database with the server's default TOAST compression, and the same with
lz4 (PGOPTIONS), the compression the move uses]; the startup (`import r2w_db.cli.main`) too.
It prints the figures as JSON (bench/POSTGRES.md quotes them) and writes nothing.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import scale  # noqa: E402
from machine_info import describe  # noqa: E402

from r2w_db.bench import benchmark, loadtest  # noqa: E402
from r2w_db.demo.builder import build_demo  # noqa: E402
from r2w_db.figures import stats  # noqa: E402
from r2w_db.maintenance import move  # noqa: E402
from tests.pg_cluster import Cluster, install_postgresql  # noqa: E402

WORK = ROOT / "bench" / "work" / "pg"
REPORT = ROOT / "bench" / "POSTGRES.md"
NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)
SKIP = {"path", "size_bytes", "wal_bytes"}
WINDOWS = ("7d", "all")
LOAD = {"threads": 4, "seconds": 5.0}


def log(message):
    print(message, file=sys.stderr, flush=True)


def differing_figures(a, b):
    """{"group.key": (SQLite, PostgreSQL)} of the figures that differ (storage keys left out)."""
    found = {}
    for group, figures in a.items():
        if not isinstance(figures, dict):
            continue  # as_of: the same `now` on both
        for key, value in figures.items():
            if key not in SKIP and value != b[group].get(key):
                found[f"{group}.{key}"] = (value, b[group].get(key))
    return found


def source_database(scale_name):
    """(SQLite file, its demo summary or None): bench/work/large.db for large, else a new demo."""
    if scale_name == "large":
        scale.build_large()
        return scale.LARGE, None
    source = WORK / f"{scale_name}.db"
    log(f"building the {scale_name} demo ...")
    return source, build_demo(source, scale=scale_name, seed=1, now=NOW)


def process_times(argv, runs, env):
    """Medians of `argv` as a process (wall seconds and peak MB) after one warm-up run."""
    scale.run_process(argv, env)
    walls, peaks = [], []
    for _ in range(runs):
        wall, peak, _ = scale.run_process(argv, env)
        walls.append(wall)
        peaks.append(peak)
    return {"median_s": statistics.median(walls), "min_s": min(walls), "peak_mb": max(peaks)}


def page_times(db, runs, env):
    """{(window, page): {"cold_s", "warm_s", "calls"}} of every page's figure calls on `db`."""
    pages = [ROOT / "app.py"] + sorted((ROOT / "pages").glob("[0-9]*.py"))
    found = {}
    for window in WINDOWS:
        for page in (p for p in pages if scale.page_calls(p)):
            colds, warms, calls = [], [], []
            for _ in range(runs):
                _, _, text = scale.run_process([sys.executable, str(ROOT / "bench" / "scale.py"),
                                                "--page-data", str(page), str(db), window], env)
                calls = json.loads(text.strip().splitlines()[-1])["calls"]
                colds.append(sum(c.get("cold_s", 0) for c in calls))
                warms.append(sum(c.get("warm_s", 0) for c in calls))
            found[(window, page.name)] = {"cold_s": statistics.median(colds),
                                          "warm_s": statistics.median(warms), "calls": calls}
    return found


def connect_ms(db, times=20):
    """Median milliseconds of opening a reader and running SELECT 1 (what each load-test call pays)."""
    from r2w_db.backends import open_database

    db, took = open_database(db), []
    for _ in range(times):
        began = time.perf_counter()
        with db.read() as conn:
            conn.execute("SELECT 1").fetchone()
        took.append((time.perf_counter() - began) * 1000)
    return statistics.median(took)


def interleaved(commands, runs, env):
    """{name: [wall seconds]} of each (name, argv) run in turn, `runs` rounds, after a warm-up."""
    for _, argv_ in commands:
        scale.run_process(argv_, env)
    walls = {name: [] for name, _ in commands}
    for _ in range(runs):
        for name, argv_ in commands:
            walls[name].append(scale.run_process(argv_, env)[0])
    return walls


def restore_seconds(cluster, dump, options=""):
    """Wall seconds of pg_restore (one job) of `dump` into a new empty database (then dropped)."""
    import subprocess

    from r2w_db.backends.postgresql.tools import find_tool

    name = cluster.create_database("restore").split("/")[3].split("?")[0]
    env = {**os.environ, "PGOPTIONS": options}
    began = time.perf_counter()
    subprocess.run([str(find_tool("pg_restore")), "-h", str(cluster.root), "-p", str(cluster.port),
                    "-U", cluster.superuser, "-d", name, str(dump)], env=env, check=True)
    took = time.perf_counter() - began
    cluster.execute(f'DROP DATABASE "{name}"')
    return took


def speed(source, cluster, args, env):
    """Issue 22's two ratios, measured in this one run (see the module's docstring)."""
    import subprocess

    from r2w_db.backends.postgresql.tools import find_tool

    found = {"load_start": os.getloadavg(), "move": [], "restore": [], "restore_lz4": []}
    dump = WORK / "moved.dump"
    for round_ in range(args.rounds):
        url = cluster.create_database("moved")
        log(f"round {round_ + 1}: move ...")
        report = move.move(source, url, record=False)
        found["move"].append(report["seconds"])
        found["rows"] = sum(t["rows_moved"] for t in report["tables"].values())
        if not dump.exists():
            subprocess.run([str(find_tool("pg_dump")), "-Fc", "-h", str(cluster.root), "-p",
                            str(cluster.port), "-U", cluster.superuser, "-f", str(dump),
                            url.split("/")[3].split("?")[0]], check=True)
        if round_ < args.rounds - 1:
            cluster.execute(f'DROP DATABASE "{url.split("/")[3].split("?")[0]}"')
        else:
            found["stats_url"] = url
        log("  pg_restore ...")
        found["restore"].append(restore_seconds(cluster, dump))
        found["restore_lz4"].append(restore_seconds(cluster, dump, "-c default_toast_compression=lz4"))
        log(f"  move {found['move'][-1]:.1f} s, pg_restore {found['restore'][-1]:.1f} s, "
            f"with lz4 {found['restore_lz4'][-1]:.1f} s")
    log("stats --json as a process, interleaved ...")
    found["stats"] = interleaved([(name, [sys.executable, "-m", "r2w_db", "--db", str(db), "stats",
                                          "--json"])
                                  for name, db in (("sqlite", source),
                                                   ("postgresql", found.pop("stats_url")))],
                                 args.runs, env)
    found["import"] = interleaved([("import", [sys.executable, "-c", "import r2w_db.cli.main"]),
                                   ("python", [sys.executable, "-c", "pass"])], args.runs, env)
    medians = {k: statistics.median(found[k]) for k in ("move", "restore", "restore_lz4")}
    medians |= {f"{k}_{n}": statistics.median(w) for k in ("stats", "import")
                for n, w in found[k].items()}
    found["medians"] = medians
    found["ratios"] = {"stats": medians["stats_postgresql"] / medians["stats_sqlite"],
                       "move_vs_restore": medians["move"] / medians["restore"],
                       "move_vs_restore_lz4": medians["move"] / medians["restore_lz4"]}
    found["rows_per_second"] = found["rows"] / medians["move"]
    found["load_end"] = os.getloadavg()
    return found


def machine():
    m = describe(ROOT / "bench")
    return (f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM; Python {m['python']}, "
            f"SQLite {m['sqlite']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--runs", type=int, default=3, help="runs per process measurement")
    parser.add_argument("--iterations", type=int, default=20, help="query benchmark iterations")
    parser.add_argument("--skip-load", action="store_true", help="no load test")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--only", choices=("all", "speed"), default="all")
    parser.add_argument("--rounds", type=int, default=3, help="move / pg_restore rounds (speed)")
    parser.add_argument("--source", type=Path, help="the SQLite file (speed; default: the scale's)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    bin_dir = install_postgresql()
    if bin_dir is None:
        sys.exit("no PostgreSQL server binaries: apt-get install postgresql")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    monitor = WORK / "monitor.db"  # empty: live figures on both backends, nothing rolled up
    env = {"R2W_MONITOR_DB": str(monitor)}
    os.environ.update(env)
    source, summary = (args.source, None) if args.source else source_database(args.scale)
    r = {"scale": args.scale, "source": source, "summary": summary, "load_start": os.getloadavg()}
    cluster = Cluster(bin_dir).start()
    if args.only == "speed":
        try:
            print(json.dumps(speed(source, cluster, args, env), indent=1, default=str))
        finally:
            cluster.stop()
            shutil.rmtree(WORK, ignore_errors=True)
        return 0
    try:
        url = cluster.create_database("bench")
        log("moving ...")
        r["move"] = move.move(source, url, record=False)
        rows = sum(t["rows_moved"] for t in r["move"]["tables"].values())
        log(f"  {rows:,} rows in {r['move']['seconds']:.1f} s ({r['move']['rows_per_second']:,} rows/s)")
        log("stats --json as a process ...")
        for name, db in (("sqlite", source), ("postgresql", url)):
            argv_ = [sys.executable, "-m", "r2w_db", "--db", str(db), "stats", "--json"]
            r[f"stats_{name}"] = process_times(argv_, args.runs, env)
            log(f"  {name}: {r[f'stats_{name}']['median_s']:.3f} s")
        lite, pg = stats.collect_stats(source, now=NOW), stats.collect_stats(url, now=NOW)
        r["stats_differences"] = differing_figures(lite, pg)
        r["same_stats"] = not r["stats_differences"]
        r["sizes"] = (lite["database"]["size_bytes"], pg["database"]["size_bytes"])
        log(f"  same figures: {r['same_stats']}")
        for name, db in (("sqlite", source), ("postgresql", url)):
            log(f"each page's data on {name} ...")
            r[f"pages_{name}"] = page_times(db, args.runs, env)
        for name, db in (("sqlite", source), ("postgresql", url)):
            log(f"query benchmark on {name} ...")
            r[f"bench_{name}"] = benchmark.run_benchmark(db, iterations=args.iterations)
        if not args.skip_load:
            for name, db in (("sqlite", source), ("postgresql", url)):
                log(f"load test on {name} ...")
                r[f"load_{name}"] = loadtest.load_test_on_copy(db, directory=WORK, **LOAD)
        r["server"] = r["bench_postgresql"]["engine"]
        r["connect_ms"] = {"sqlite": connect_ms(source), "postgresql": connect_ms(url)}
    finally:
        cluster.stop()
    r["elapsed_s"] = time.perf_counter() - began
    log(f"done in {r['elapsed_s'] / 60:.1f} min")
    if not args.no_write:
        REPORT.write_text(report(r, args, bin_dir) + kept_section())
        log(f"wrote {REPORT}")
    shutil.rmtree(WORK, ignore_errors=True)
    return 0 if r["same_stats"] else 1


KEPT = "## Issue 22"   # the section --only speed's figures are quoted in, kept by a full run


def kept_section():
    """The KEPT section of the current report (to its end), or ''."""
    text = REPORT.read_text() if REPORT.exists() else ""
    return "\n" + text[text.index(KEPT):] if KEPT in text else ""


def _ms(seconds):
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.2f} ms"


def _qms(ms):
    return f"{ms:,.1f}" if ms >= 1 else f"{ms:.3f}"


def report(r, args, bin_dir):
    move_ = r["move"]
    rows = sum(t["rows_moved"] for t in move_["tables"].values())
    data = (", ".join(f"{v:,} {k}" for k, v in r["summary"].items() if isinstance(v, int))
            if r["summary"] else "the large demo of bench/scale.py (seed 0): "
            + ", ".join(f"{t['rows_moved']:,} {n}" for n, t in move_["tables"].items()))
    lines = [
        "# PostgreSQL beside SQLite: the move, `stats`, each page's data, the query benchmark",
        "",
        f"`python bench/postgres.py --scale {args.scale} --runs {args.runs} --iterations "
        f"{args.iterations}` ({datetime.now().strftime('%Y-%m-%d')}, {r['elapsed_s'] / 60:.0f} min). "
        f"{machine()}; load average at the start {r['load_start'][0]:.2f} (the machine is shared: "
        "figures within a run compare, across runs they move).",
        "",
        f"Data: {data}. SQLite file {r['sizes'][0] / 1e6:,.0f} MB; the four tables on PostgreSQL "
        f"{r['sizes'][1] / 1e6:,.0f} MB (pg_total_relation_size). {r.get('server', 'PostgreSQL')} "
        f"({bin_dir}), a throwaway cluster with fsync off and shared_buffers 64MB "
        "(tests/pg_cluster.py): the move's figure is an upper bound for a server that syncs to disk.",
        "",
        "## The move (`move --to postgresql://...`)",
        "",
        "| table | rows | verified |",
        "|---|---:|---|",
        *[f"| {t} | {f['rows_moved']:,} | {'yes' if f['verified'] else 'NO'} |"
          for t, f in move_["tables"].items()],
        "",
        f"{rows:,} rows in **{move_['seconds']:.1f} s: {move_['rows_per_second']:,} rows/s**, end to "
        f"end: snapshot ({move_['snapshot']}), conversion of every value, COPY of the four tables in "
        f"one transaction, CREATE INDEX CONCURRENTLY of {move_.get('indexes_built', 0)} indexes, then "
        "the verification (every row's checksum computed by the server, compared with the "
        "source's), VACUUM (ANALYZE).",
        "",
        "## `stats --json` as a process",
        "",
        "| backend | median | best | peak memory |",
        "|---|---:|---:|---:|",
        *[f"| {name} | {_ms(m['median_s'])} | {_ms(m['min_s'])} | {m['peak_mb']:.0f} MB |"
          for name, m in (("SQLite", r["stats_sqlite"]), ("PostgreSQL", r["stats_postgresql"]))],
        "",
        f"Same figures on both (every key but database.path, size_bytes, wal_bytes; one fixed "
        f"`now`): **{r['same_stats']}**."
        + "".join(f" {key}: SQLite {a!r}, PostgreSQL {b!r}." for key, (a, b) in
                  r["stats_differences"].items()),
        "",
        "## Each page's data (live, no roll-ups), cold in a fresh process / warm (cached)",
        "",
        "| window | page | SQLite cold | PostgreSQL cold | ratio | SQLite warm | PostgreSQL warm |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    untimed = []
    for key, lite in r["pages_sqlite"].items():
        pg = r["pages_postgresql"][key]
        ratio = pg["cold_s"] / lite["cold_s"] if lite["cold_s"] else float("nan")
        lines.append(f"| {key[0]} | {key[1]} | {_ms(lite['cold_s'])} | {_ms(pg['cold_s'])} | "
                     f"{ratio:.2f}× | {_ms(lite['warm_s'])} | {_ms(pg['warm_s'])} |")
        untimed += [f"- {key[0]} {key[1]} on PostgreSQL: {c['call']}: {c['error']}"
                    for c in pg["calls"] if "error" in c]
        untimed += [f"- {key[0]} {key[1]} on SQLite: {c['call']}: {c['error']}"
                    for c in lite["calls"] if "error" in c]
    lines += ["", "Calls not timed (they failed on that backend):" if untimed else
              "Every call of every page ran on both backends.", *untimed, "",
              "The slowest calls on PostgreSQL (all-time window, cold):", ""]
    slow = sorted(((c["cold_s"], page, c["call"]) for (window, page), got in
                   r["pages_postgresql"].items() if window == "all" for c in got["calls"]
                   if "cold_s" in c), reverse=True)[:8]
    lines += [f"- {call} ({page}): {_ms(cold)}" for cold, page, call in slow]
    lite_b, pg_b = r["bench_sqlite"], r["bench_postgresql"]
    lines += ["", f"## The query benchmark (median of up to {args.iterations} executions, ms)", "",
              f"PostgreSQL's full-scan flag: {pg_b['full_scan_rule']}.", "",
              "| query | SQLite | plan | PostgreSQL | plan |", "|---|---:|---|---:|---|"]
    for a, b in zip(lite_b["queries"], pg_b["queries"]):
        lines.append(f"| {a['name']} | {_qms(a['median_ms'])} | {_plan(a)} | "
                     f"{_qms(b['median_ms'])} | {_plan(b)} |")
    if "load_sqlite" in r:
        lines += ["", f"## The load test ({LOAD['threads']} threads, {LOAD['seconds']:g} s, on a "
                  "scratch copy; one connection per call, as the application opens them)", "",
                  "| backend | ops/s | copy | lock errors | " + " | ".join(
                      f"{k['kind']} p50 / p95" for k in r["load_sqlite"]["by_kind"]) + " |",
                  "|---|---:|---:|---:|" + "---:|" * len(r["load_sqlite"]["by_kind"])]
        for name in ("sqlite", "postgresql"):
            load = r[f"load_{name}"]
            lines.append(f"| {name} | {load['ops_per_s']:,.0f} | {load['prepare_s']:.1f} s | "
                         f"{load['lock_errors']} | " + " | ".join(
                             f"{_qms(k['p50_ms'] or 0)} / {_qms(k['p95_ms'] or 0)} ms"
                             for k in load["by_kind"]) + " |")
        lines += ["", "Opening a reader and running `SELECT 1`, the cost every load-test call pays "
                  f"before its work: SQLite {r['connect_ms']['sqlite']:.2f} ms, PostgreSQL "
                  f"{r['connect_ms']['postgresql']:.2f} ms (a server process is forked per "
                  "connection). An application on PostgreSQL keeps a connection pool."]
    return "\n".join(lines) + "\n"


def _plan(query):
    if query["full_scan"]:
        return "FULL SCAN " + ", ".join(query["scanned_tables"])
    return "covering-index scan" if query["covering_scan"] else "index"


if __name__ == "__main__":
    sys.exit(main())
