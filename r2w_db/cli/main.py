"""`python -m r2w_db [--db PATH] COMMAND`: a thin command line over the library.

Exit 0 on success; on failure one clear line on stderr and a non-zero status.
"""
import argparse
import getpass
import os
import sys

from r2w_db import config, errors
from r2w_db.backends import driver_errors
from r2w_db.cli.common import database, print_json, warn
from r2w_db.engine import schema
from r2w_db.backends import migrations
from r2w_db.figures import check, stats


def _refuse_when_read_only(what):
    if config.read_only():
        raise errors.R2WError(f"{what} refused: {config.READ_ONLY_REASON}")


def cmd_init(args):
    _refuse_when_read_only("init")
    steps = migrations.init(database(args))
    print(f"initialised {database(args).display}: {len(steps)} step(s) run")


def cmd_migrate(args):
    db = database(args)
    if not args.dry_run:
        _refuse_when_read_only("migrate")
    additions = not args.defer_additions
    steps = migrations.pending(db, additions)
    if args.wal:
        db.backend.require("journal", "the journal mode (--wal)")
    journal = db.backend.journal if args.wal else None
    switch = args.wal and journal.mode(db) != "wal"
    if not steps and not switch:
        print(f"{db.display} is up to date (schema version {schema.CURRENT_VERSION}"
              + (", this project's additions deferred)" if not additions else ")"))
        return
    verb = "would run" if args.dry_run else "running"
    print(f"{verb} {len(steps) + switch} step(s) on {db.display}:")
    for step in steps:
        print(f"  [{step.version}] {_step_line(step)}")
    if switch:
        print(f"  switch the journal mode {journal.mode(db)} -> wal (warning: {journal.WAL_WARNING})")
    if args.dry_run:
        return
    migrations.migrate(db, additions=additions, progress=lambda step, seconds: print(
        f"  done: {step.description} (" + (f"{seconds:.2f} s, blocking no writer)"
                                           if step.concurrent else
                                           f"held the write lock {seconds:.2f} s)"), flush=True))
    if switch:
        print(f"  done: journal mode {journal.switch_to_wal(db)} -> wal")
    if not additions:
        print("this project's additions (indexes of migrations 7-10) are deferred: run "
              f"`{errors.command(db.display, 'migrate')}` at a quiet hour")


def _step_line(step):
    if step.kind != "index":
        return step.description
    kind = "documented" if step.documented else "addition"
    if step.concurrent:
        return f"{step.description} [{kind}]: blocks no reader or writer"
    return (f"{step.description} [{kind}]: blocks writers about {step.estimate_s:.1f} s "
            f"({step.rows:,} rows)")


def cmd_recover(args):
    """Roll back a crashed writer's hot journal (a writer's first read does it), then quick_check."""
    _refuse_when_read_only("recover")
    db = database(args)
    db.backend.require("recover", "recover")
    result = db.backend.journal.recover(db)
    if result != ["ok"]:
        raise errors.DatabaseDamaged(db.display, "; ".join(result))
    print(f"{db.display}: no hot journal left; quick_check ok")


def cmd_check(args):
    db = database(args)
    report = check.run_check(db, quick=args.quick)
    _log_integrity(db, report)
    if args.json:
        print_json(report)
    else:
        _print_check(report)
    if not report["ok"] or (args.strict and report["warnings"]):
        return 1
    return 0


def _log_integrity(db, report):
    """Record the integrity result in the maintenance log (the Overview's integrity check reads
    it), so that damage found by `check` shows on the dashboard; the monitor file only."""
    from r2w_db.monitor.store import MonitorStore

    integrity = report["integrity"]
    if integrity["ok"] is None:  # not available (PostgreSQL without amcheck): nothing was checked
        return
    try:
        store = MonitorStore()
        log_id = store.log_start(user=os.environ.get("USER") or "cli", task="integrity",
                                 database=db, parameters={"quick": integrity["mode"] == "quick",
                                                          "via": "check"})
        outcome = "ok" if integrity["ok"] else "failed"
        store.log_finish(log_id, outcome=outcome, seconds=0.0,
                         error=None if integrity["ok"] else errors.one_line(
                             f"{integrity['mode']} integrity check FAILED: "
                             + "; ".join(integrity["messages"][:3])))
    except (errors.R2WError, OSError) as exc:  # the report still stands without the log
        warn(f"the integrity result was not logged: {exc}")


def _print_check(report):
    drift = report["schema"]
    print(f"database: {report['database']} (schema version {drift['version']})")
    for key in ("missing_tables", "missing_columns", "missing_documented_indexes", "wrong_types"):
        if drift.get(key):
            print(f"  ERROR {key.replace('_', ' ')}: {', '.join(drift[key])}")
    if drift.get("missing_additions"):
        print(f"  warning this project's indexes not built yet (figures are right, only slower): "
              f"{', '.join(drift['missing_additions'])}")
    for key in ("extra_tables", "extra_columns", "extra_indexes"):
        if drift[key]:
            print(f"  warning {key.replace('_', ' ')}: {', '.join(drift[key])}")
    if report["pending_migrations"]:
        print(f"  {len(report['pending_migrations'])} pending migration step(s): run `python -m r2w_db migrate`")
    integrity = report["integrity"]
    verdict = {True: "ok", False: "FAILED", None: "not available"}[integrity["ok"]]
    print(f"  integrity ({integrity['mode']}): {verdict}")
    for message in ([] if integrity["ok"] else integrity["messages"][:10]):
        print(f"    {message}")
    for table, count in report["orphans"].items():
        if count:
            print(f"  warning {count} {table} row(s) whose user_id has no users row (anonymous owners excluded)")
    print("check: " + ("ok" if report["ok"] else "FAILED") + (" with warnings" if report["warnings"] else ""))


def cmd_stats(args):
    db = database(args)
    figures = stats.collect_stats(db)
    found = figures.get("schema", {}).get("user_version") or 0
    if found > schema.CURRENT_VERSION:
        warn(errors.SchemaTooNew(db.display, found, schema.CURRENT_VERSION).args[0]
              .replace("upgrade r2w monitor before touching it",
                       "figures may be incomplete; writers refuse it"))
    if args.json:
        print_json(figures)
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

    db = database(args)
    summary = build_demo(db, scale=args.scale, seed=args.seed, uploads=args.uploads,
                         progress=None if args.quiet else _progress_line)
    if not args.quiet:
        print(file=sys.stderr)
    print(f"demo data ({args.scale}, seed {args.seed}) written to {db.display}: "
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
    common.add_argument("--db", metavar="NAME|PATH|URL", default=argparse.SUPPRESS,
                        help="a configured database name, a database file or a postgresql:// URL "
                             "(else DATABASE_URL, else the one configured database, else "
                             "data/resume2website.db)")
    parser = argparse.ArgumentParser(
        prog="python -m r2w_db", parents=[common],
        description="The Resume2Website database: schema, figures and maintenance.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help_text):
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    add("init", cmd_init, "create the database (if missing) with the current schema")
    p = add("migrate", cmd_migrate, "bring the database to the current schema, in short "
                                    "transactions (each index in its own)")
    p.add_argument("--dry-run", action="store_true",
                   help="list the steps with how long each blocks writers; change nothing")
    p.add_argument("--defer-additions", action="store_true",
                   help="only the documented schema; build this project's indexes later")
    p.add_argument("--wal", action="store_true",
                   help="also switch the file to WAL (local disks only, never a network share)")
    add("recover", cmd_recover,
        "roll back a hot journal left by a crashed writer, then run a quick check")
    p = add("check", cmd_check, "report schema drift, integrity and orphans (read-only)")
    p.add_argument("--quick", action="store_true", help="quick_check instead of integrity_check")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    p = add("stats", cmd_stats, "the headline figures over the whole history (read-only)")
    p.add_argument("--json", action="store_true", help="print nested JSON")
    p = add("demo", cmd_demo, "write a deterministic demo history into a new database")
    p.add_argument("--scale", choices=("small", "large"), default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--uploads", type=int, metavar="N",
                   help="N uploads instead of the scale's, the other tables in proportion "
                        "(at most 20,000,000)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add("hash-password", cmd_hash_password,
        "prompt for a password (no echo) and print its bcrypt hash for secrets.toml")
    from r2w_db.cli.maintenance_commands import register as register_maintenance

    register_maintenance(add)  # maintain, backup, backups, restore
    from r2w_db.cli.databases_commands import register as register_databases

    register_databases(add)  # databases
    from r2w_db.cli.move_commands import register as register_move

    register_move(add)  # move (to PostgreSQL)
    from r2w_db.cli.monitor_commands import register as register_monitor

    register_monitor(add)  # snapshot, history, health, watch
    from r2w_db.cli.queries_commands import register as register_queries

    register_queries(add)  # queries (pg_stat_statements)
    from r2w_db.cli.silence_commands import register as register_silences

    register_silences(add)  # silence, unsilence, silences
    from r2w_db.cli.bench_commands import add_parser as add_bench

    add_bench(sub, common)  # bench
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except errors.NotSupported as exc:  # named after the command that met it
        what = exc.what if exc.what not in (None, "this operation") else args.command
        print(f"error: {errors.NotSupported(what, exc.engine, exc.reason)}", file=sys.stderr)
        return 1
    except errors.R2WError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except driver_errors() as exc:  # one that no module translated: still one line
        print(f"error: database error: {errors.one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as exc:
        if os.environ.get("R2W_DEBUG"):
            raise
        print(f"error: {errors.one_line(exc)}", file=sys.stderr)
        return 1
