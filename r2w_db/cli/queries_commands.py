"""`python -m r2w_db [--db URL] queries [--json] [--since 1d] [--limit 20]`: the statements the
application's database really runs (pg_stat_statements), top by total time (figures/queries.py).

Exit 0 with the figures, or with the one line that says how to enable pg_stat_statements where
it is missing (never an error); on an engine that keeps no statement statistics (SQLite), the
one-line refusal of an unsupported operation and exit 1, as every command that meets one.
"""
from r2w_db import errors
from r2w_db.cli.common import database, print_json

BENCH = "python -m r2w_db bench"


def cmd_queries(args):
    from r2w_db.figures import queries
    from r2w_db.watch.settings import parse_duration

    db = database(args)
    since = parse_duration(args.since, "--since")
    if args.limit < 1:
        raise errors.InvalidValue(f"--limit must be at least 1, not {args.limit}")
    if not queries.supported(db):
        reason = db.backend.features.unsupported.get(queries.AREA)
        raise errors.NotSupported("queries", db.backend.label, f"{reason} ({BENCH})")
    got = queries.top(db, since, args.limit)
    if args.json:
        print_json(got)
        return 0
    if not got["available"]:
        print(got["enable"])
        return 0
    _print_top(got)
    return 0


def _print_top(got):
    where = (f"{got['captures']:,} capture(s) since {got['since'][:16]} UTC"
             if got["source"] == "captures" else
             "live: the counters since the statistics were reset (no capture covers the window "
             "yet; the watcher captures at each snapshot)")
    reset = f"{got['stats_reset'][:19]} UTC" if got["stats_reset"] else "unknown"
    print(f"statements of {got['database']}: {where}; statistics last reset {reset}")
    if got["hidden_line"]:
        print(f"note: {got['hidden_line']}")
    if not got["statements"]:
        print("no statement ran in this window")
        return
    print(f"{'total ms':>12} {'calls':>10} {'mean ms':>10} {'max ms':>10} {'rows':>10} "
          f"{'hit':>6}  operation / query")
    for s in got["statements"]:
        hit = "–" if s["hit_ratio"] is None else f"{s['hit_ratio']:.0%}"
        query = " ".join((s["query"] or "").split())
        print(f"{s['total_ms']:>12,.1f} {s['calls']:>10,} {_ms(s['mean_ms']):>10} "
              f"{_ms(s['max_ms']):>10} {s['rows']:>10,} {hit:>6}  {s['operation']}: "
              f"{query[:100]}")
    if got["statement_count"] > len(got["statements"]):
        print(f"({got['statement_count'] - len(got['statements']):,} more; --limit shows more)")


def _ms(value):
    return "–" if value is None else f"{value:,.2f}"


def register(add):
    p = add("queries", cmd_queries, "the statements the database really runs "
                                    "(pg_stat_statements), top by total time (read-only)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--since", default="1d",
                   help="the window, from the watcher's captures: 1h, 1d, 7d (default 1d)")
    p.add_argument("--limit", type=int, default=20, metavar="N",
                   help="how many statements (default 20)")
    return p
