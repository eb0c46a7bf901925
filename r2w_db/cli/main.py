"""`python -m r2w_db [--db PATH] COMMAND`: a thin command line over the library.

Exit 0 on success; on failure one clear line on stderr and a non-zero status.
"""
import argparse
import getpass
import json
import os
import sys

from r2w_db import config, errors
from r2w_db.engine import locations, migrations
from r2w_db.engine.connection import Database
from r2w_db.figures import check, stats


def _db(args) -> Database:
    return Database(locations.resolve_db(getattr(args, "db", None)).path)


def _print_json(data):
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def _refuse_when_read_only(what):
    if config.read_only():
        raise errors.R2WError(f"{what} refused: {config.READ_ONLY_REASON}")


def cmd_init(args):
    _refuse_when_read_only("init")
    steps = migrations.init(_db(args))
    print(f"initialised {_db(args).path}: {len(steps)} step(s) run")


def cmd_migrate(args):
    db = _db(args)
    if not args.dry_run:
        _refuse_when_read_only("migrate")
    steps = migrations.migrate(db, dry_run=args.dry_run)
    if not steps:
        print(f"{db.path} is up to date (schema version {migrations.schema.CURRENT_VERSION})")
        return
    verb = "would run" if args.dry_run else "ran"
    print(f"{verb} {len(steps)} step(s) on {db.path}:")
    for step in steps:
        print(f"  [{step.version}] {step.description}")


def cmd_check(args):
    report = check.run_check(_db(args), quick=args.quick)
    if args.json:
        _print_json(report)
    else:
        _print_check(report)
    if not report["ok"] or (args.strict and report["warnings"]):
        return 1
    return 0


def _print_check(report):
    drift = report["schema"]
    print(f"database: {report['database']} (schema version {drift['version']})")
    for key in ("missing_tables", "missing_columns", "missing_indexes"):
        if drift[key]:
            print(f"  ERROR {key.replace('_', ' ')}: {', '.join(drift[key])}")
    for key in ("extra_tables", "extra_columns", "extra_indexes"):
        if drift[key]:
            print(f"  warning {key.replace('_', ' ')}: {', '.join(drift[key])}")
    if report["pending_migrations"]:
        print(f"  {len(report['pending_migrations'])} pending migration step(s): run `python -m r2w_db migrate`")
    integrity = report["integrity"]
    print(f"  integrity ({integrity['mode']}): {'ok' if integrity['ok'] else 'FAILED'}")
    for message in ([] if integrity["ok"] else integrity["messages"][:10]):
        print(f"    {message}")
    for table, count in report["orphans"].items():
        if count:
            print(f"  warning {count} {table} row(s) whose user_id has no users row (anonymous owners excluded)")
    print("check: " + ("ok" if report["ok"] else "FAILED") + (" with warnings" if report["warnings"] else ""))


def cmd_stats(args):
    figures = stats.collect_stats(_db(args))
    if args.json:
        _print_json(figures)
        return
    for group in ("users", "sessions", "uploads", "cache", "database", "data_quality"):
        print(group)
        for key, value in figures[group].items():
            print(f"  {key:<28} {_human(key, value)}")


def _human(key, value):
    if value is None:
        return "no data"
    if key == "cache_hit_rate":
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def cmd_demo(args):
    from r2w_db.demo.builder import build_demo

    db = _db(args)
    summary = build_demo(db, scale=args.scale, seed=args.seed,
                         progress=None if args.quiet else _progress_line)
    if not args.quiet:
        print(file=sys.stderr)
    print(f"demo data ({args.scale}, seed {args.seed}) written to {db.path}: "
          + ", ".join(f"{v:,} {k}" for k, v in summary.items() if isinstance(v, int)))


def _progress_line(fraction, message=""):
    print(f"\r{fraction:6.1%} {message:<50}", end="", file=sys.stderr, flush=True)


def cmd_hash_password(args):
    from r2w_db.app.passwords import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise errors.InvalidValue("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    print(hash_password(password))


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="database file (else DATABASE_URL, else data/resume2website.db)")
    parser = argparse.ArgumentParser(
        prog="python -m r2w_db", parents=[common],
        description="The Resume2Website database: schema, figures and maintenance.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help_text):
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    add("init", cmd_init, "create the database (if missing) with the current schema")
    p = add("migrate", cmd_migrate, "bring the database to the current schema, in one transaction")
    p.add_argument("--dry-run", action="store_true", help="list the steps, change nothing")
    p = add("check", cmd_check, "report schema drift, integrity and orphans (read-only)")
    p.add_argument("--quick", action="store_true", help="quick_check instead of integrity_check")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    p = add("stats", cmd_stats, "the headline figures over the whole history (read-only)")
    p.add_argument("--json", action="store_true", help="print nested JSON")
    p = add("demo", cmd_demo, "write a deterministic demo history into a new database")
    p.add_argument("--scale", choices=("small", "large"), default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add("hash-password", cmd_hash_password,
        "prompt for a password (no echo) and print its bcrypt hash for secrets.toml")
    from r2w_db.cli.maintenance_commands import register as register_maintenance

    register_maintenance(add)  # maintain, backup, backups, restore
    from r2w_db.cli.bench_commands import add_parser as add_bench

    add_bench(sub, common)  # bench
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except errors.R2WError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as exc:
        if os.environ.get("R2W_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
