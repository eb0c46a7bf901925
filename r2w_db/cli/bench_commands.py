"""`python -m r2w_db bench [--json] [--iterations N] [--load-test] [--no-store]`.

Times the key queries on a read-only connection (r2w_db.bench.benchmark), compares the
run with the previous one stored for the same database, stores it in the monitor
database, and with --load-test also runs the load test on a temporary copy (on PostgreSQL: a
scratch database on the same server, dropped afterwards). What differs per engine comes from
the database's backend, inside r2w_db.bench.
Registered by cli.build_parser through `add_parser(sub, common)`.
"""
import getpass
import json
import sys

from r2w_db import errors
from r2w_db.bench import benchmark, loadtest
from r2w_db.cli.common import database
from r2w_db.monitor.store import MonitorStore


def add_parser(sub, common):
    """Register the `bench` command on an argparse subparsers object."""
    text = "time the key queries (read-only) and compare with the previous run"
    p = sub.add_parser("bench", parents=[common], help=text, description=text)
    p.add_argument("--json", action="store_true", help="print the run as JSON")
    p.add_argument("--iterations", type=int, default=benchmark.DEFAULT_ITERATIONS, metavar="N",
                   help=f"timed executions per query (default {benchmark.DEFAULT_ITERATIONS}; "
                        f"a query slower than {benchmark.DEFAULT_BUDGET_S:g} s in all stops early)")
    p.add_argument("--load-test", action="store_true",
                   help="also run the load test (it writes) on a temporary copy of the database")
    p.add_argument("--no-store", action="store_true",
                   help="do not record the run in the monitor database")
    p.set_defaults(func=cmd_bench)
    return p


def _user():
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "local"


def _progress(fraction, message=""):
    print(f"\r{fraction:6.1%} {message[:60]:<60}", end="", file=sys.stderr, flush=True)


def cmd_bench(args):
    db = database(args)
    if args.iterations < 1:
        raise errors.InvalidValue(f"--iterations must be at least 1, not {args.iterations}")
    progress = _progress if (not args.json and sys.stderr.isatty()) else None
    run = benchmark.run_benchmark(db, iterations=args.iterations, progress=progress)
    if progress:
        print(file=sys.stderr)
    store = None if args.no_store else MonitorStore()
    previous = None
    if store is not None:
        try:
            previous = store.previous_bench_run(db)
            run["id"] = store.save_bench_run(run, user=_user())
        except errors.R2WError as exc:
            print(f"warning: the run was not stored: {exc}", file=sys.stderr)
    comparison = benchmark.compare(run, previous)
    load = None
    if args.load_test:
        load = loadtest.load_test_on_copy(db, progress=progress)
        if progress:
            print(file=sys.stderr)
        if store is not None:
            try:
                load["id"] = store.save_bench_run(load, user=_user(), kind="load")
            except errors.R2WError as exc:
                print(f"warning: the load test was not stored: {exc}", file=sys.stderr)
    if args.json:
        print(json.dumps({**run, "comparison": comparison, "load_test": load}, indent=2,
                         default=str))
    else:
        print_run(run, comparison, load)
    return 0


def _ms(value):
    if value is None:
        return "–"
    return f"{value:.3f}" if value < 100 else f"{value:,.0f}"


def print_run(run, comparison, load=None, out=None):
    out = out or sys.stdout
    w = lambda line="": print(line, file=out)  # noqa: E731
    engine, plan_method, _ = benchmark.run_facts(run)
    w(f"bench: {run['database']} (schema v{run['schema_version']}, {engine}, plans from {plan_method},"
      f" up to {run['iterations']} iterations, {run['seconds']:.1f} s)")
    w(f"  {'query (ms)':<28} {'median':>9} {'p95':>9} {'mean':>9} {'min':>9} {'max':>9} {'n':>5}  plan")
    for q in run["queries"]:
        plan = ("FULL SCAN " + ", ".join(q["scanned_tables"]) if q["full_scan"] else
                "covering-index scan" if q["covering_scan"] else "index")
        w(f"  {q['name']:<28} {_ms(q['median_ms']):>9} {_ms(q['p95_ms']):>9} {_ms(q['mean_ms']):>9}"
          f" {_ms(q['min_ms']):>9} {_ms(q['max_ms']):>9} {q['iterations']:>5}  {plan}")
    if comparison.get("previous"):
        prev = comparison["previous"]
        w(f"compared with run #{prev.get('id')} of {prev.get('started_at')}:")
        by_name = {i["name"]: i for i in comparison["items"]}
        for name in comparison["slower"]:
            i = by_name[name]
            w(f"  SLOWER {name}: median {_ms(i['previous_median_ms'])} -> {_ms(i['median_ms'])} ms"
              f" ({i['ratio']:.2f}x)")
        for name in comparison["plan_changed"]:
            i = by_name[name]
            w(f"  PLAN CHANGED {name}: {' / '.join(i['previous_plan'])} -> {' / '.join(i['plan'])}")
        if not comparison["slower"] and not comparison["plan_changed"]:
            w("  no query slower (median > 1.25x and > 0.05 ms), no plan changed")
    else:
        w("no previous run of this database to compare with")
    if load:
        w(f"load test on {load['ran_on']}: {load['ops']:,} operations in {load['elapsed_s']:.1f} s"
          f" = {load['ops_per_s']:,.0f} ops/s with {load['threads']} threads,"
          f" {load['lock_errors']} lock error(s), {load['errors']} other error(s)")
        for k in load["by_kind"]:
            w(f"  {k['kind']:<20} {k['count']:>7,}  p50 {_ms(k['p50_ms'])}  p95 {_ms(k['p95_ms'])}"
              f"  p99 {_ms(k['p99_ms'])} ms  locks {k['lock_errors']}")
