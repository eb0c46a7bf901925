"""The history and alert commands of `python -m r2w_db`: snapshot, history, health, watch.

`health` follows the monitoring-plugin convention: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
(the database cannot be read, or the settings cannot be trusted), a first line
`R2W STATUS - n red, m amber | perfdata`, then one line per check.
"""
import fnmatch
import json
import shlex
import sys

from r2w_db import errors
from r2w_db.cli.common import database, print_json, warn
from r2w_db.engine import locations, timeutil
from r2w_db.backends import open_database

# The figures, the watcher and prometheus_client are imported by the commands that use them:
# building the parser (every command) stays as quick as it was.

DEFAULT_METRICS = ("file.size_bytes", "file.wal_bytes", "disk.free_bytes", "stats.uploads.total",
                   "stats.cache.cached_extractions", "stats.users.anonymous", "health.exit_code")


def _settings():
    from r2w_db.watch import settings as settings_mod

    loaded = settings_mod.load()
    for warning in loaded.warnings:
        warn(warning)
    return loaded


def cmd_snapshot(args):
    from r2w_db.figures import health_report
    from r2w_db.watch import cycle

    loaded = _settings()
    snap, stored = cycle.record_snapshot(database(args), loaded)
    if args.json:
        print_json({"id": stored["id"], "number": stored["number"],
                    **{k: v for k, v in snap.items() if k != "metrics"},
                     "metrics": snap["metrics"], "rollups": stored["rollups"],
                     "pruned": stored["pruned"]})
    else:
        report = snap["health"]
        counts = health_report.status_counts(report["checks"])
        print(f"snapshot {stored['number']} of {snap['database']} at {snap['taken_at'][:19]} UTC "
              f"({snap['seconds']:.2f} s, table bytes: {snap['table_bytes']}): "
              f"{report['status']}, {counts['CRITICAL']} CRITICAL, {counts['WARNING']} WARNING; "
              f"{len(stored['rollups']['recorded'])} day(s) rolled up"
              + _unplaced(stored["rollups"]))
    if loaded.problem:
        raise errors.R2WError(loaded.problem)


def _unplaced(done):
    """"; n row(s) ..." when some rows have a timestamp no roll-up period can hold."""
    n = sum((done.get("unplaced") or {}).values())
    return (f"; {n:,} row(s) with a timestamp no day can hold (unreadable, or before the first "
            "day rolled up): counted, read live" if n else "")


def cmd_history(args):
    from r2w_db.figures.periods import Window
    from r2w_db.figures.rollup_window import daily
    from r2w_db.monitor.history_store import HistoryStore
    from r2w_db.watch import settings as settings_mod

    db = database(args)
    since = timeutil.utcnow() - settings_mod.parse_duration(args.since, "--since")
    if args.daily:
        frame = daily(db, Window.between(since.replace(hour=0, minute=0, second=0, microsecond=0),
                                         None, now=timeutil.utcnow()))
        if args.json:
            print_json({"database": db.display, "since": timeutil.iso(since),
                         "days": json.loads(frame.to_json(orient="records", date_format="iso"))})
        else:
            print(frame.to_string(index=False))
            if frame.attrs.get("left_out"):
                print(f"({frame.attrs['left_out']:,} day(s) holding rows dated far from now, "
                      "such as year 100 or 9999, are not shown)")
        return
    points = HistoryStore().snapshots(db, since=since)
    names = sorted({k for p in points for k in p["metrics"]})
    wanted = args.metric or ([] if args.json else list(DEFAULT_METRICS))
    if wanted:
        names = [n for n in names if any(fnmatch.fnmatchcase(n, w) for w in wanted)]
        unknown = [w for w in wanted if points and not any(fnmatch.fnmatchcase(n, w) for n in names)]
        if unknown and args.metric:
            raise errors.InvalidValue(f"no recorded metric matches {', '.join(unknown)} "
                                      f"(e.g. {', '.join(DEFAULT_METRICS[:3])}; * matches any part)")
    if args.json:
        print_json({"database": db.display, "since": timeutil.iso(since), "metrics": names,
                     "points": [{"taken_at": p["taken_at"], "grain": p["grain"],
                                 "values": {n: p["metrics"].get(n) for n in names}} for p in points]})
        return
    if not points:
        print(f"no snapshot of {db.display} since {timeutil.iso(since)[:16]} UTC: "
              f"run `python -m r2w_db --db {shlex.quote(db.display)} snapshot` (or `watch`)")
        return
    print("taken_at (UTC)       grain " + " ".join(f"{n:>22}" for n in names))
    for p in points:
        print(f"{p['taken_at'][:19]}  {p['grain']:<5} "
              + " ".join(f"{_cell(p['metrics'].get(n)):>22}" for n in names))


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4g}"
    return f"{int(value):,}"


def cmd_health(args):
    from r2w_db.figures import health_report

    loaded = _settings()
    if args.all:
        return _health_all(args, loaded)
    try:
        db = database(args)
    except errors.R2WError as exc:
        report = health_report.unknown(getattr(args, "db", "?"), str(exc))
        db, metrics = None, None
    else:
        report, metrics = _health(db, loaded, args.prometheus)
        report = health_report.silenced(db, report)
    report = health_report.with_problem(report, loaded.problem)
    if loaded.problem:
        print(f"error: {errors.one_line(loaded.problem)}", file=sys.stderr)
    # The side outputs (the Prometheus file, the notifications) never change the database's
    # own status: its first line and exit code stay those of plain `health`; a side output
    # that fails is reported on stderr, one line each.
    side = []
    if args.prometheus:
        side += _write_prometheus(args.prometheus, report, metrics)
    sent = None
    if args.notify and db is not None:
        sent = _notify(db, report, loaded.alerts)
        if sent["failed"] or (sent["problem"] and not loaded.problem):
            warn(f"notify: {sent['failed']} failed, {sent['sent']} sent"
                  + (f" ({sent['problem']})" if sent["problem"] and not loaded.problem else ""))
    for line in side:
        print(f"error: {errors.one_line(line)}", file=sys.stderr)
    if args.json:
        print_json({**report, **({"notify": sent} if sent is not None else {}),
                    **({"side_errors": side} if side else {})})
    else:
        print("\n".join(health_report.lines(report)))
    return report["exit_code"]


def _write_prometheus(path, report, metrics, more=()):
    """[] or [the one line saying why the Prometheus file could not be written]."""
    from r2w_db.watch import prometheus

    try:
        prometheus.write_textfile(path, report, metrics, more=more)
    except (OSError, errors.R2WError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        return [f"--prometheus: cannot write {path}: {why}"]
    return []


def _notify(db, report, alerts):
    """notify.notify's answer; a monitor database that cannot record the notifications
    (corrupt, read-only, full) is one failed notification with the reason."""
    from r2w_db.watch import notify

    try:
        return notify.notify(db, report, alerts)
    except (OSError, errors.R2WError) as exc:
        return {"sent": 0, "failed": 1, "changes": [], "problem":
                f"the notifications cannot be recorded: {errors.one_line(exc)}"}


def _targets(args):
    """[(name, Database, settings for it)] of every database `watch`/`health --all` covers:
    the configured ones (each with its own thresholds), else the one --db / DATABASE_URL names."""
    from r2w_db.watch import settings as settings_mod

    if getattr(args, "db", None) is not None:
        location = locations.resolve_db(args.db)
        choices = [location]
    else:
        choices = locations.dashboard_choices(None)
    for choice in choices:
        locations.refuse_monitor_in(choice)
    return [(c.name or c.display, open_database(c),
             lambda s, c=c: settings_mod.for_database(s, c)) for c in choices]


def _health_all(args, loaded):
    """One exit code for every configured database: the worst (UNKNOWN counts worst of all:
    a database that cannot be read is the first thing to look at)."""
    from r2w_db.figures import health_report

    try:
        targets = _targets(args)
    except errors.R2WError as exc:
        print(f"R2W UNKNOWN - {errors.one_line(exc)}")
        return health_report.UNKNOWN_CODE
    results = []
    for name, db, per_db in targets:
        report, metrics = _health(db, per_db(loaded), args.prometheus)
        report = health_report.silenced(db, report)
        report = {**health_report.with_problem(report, loaded.problem), "name": name}
        if args.notify:
            sent = _notify(db, report, loaded.alerts)
            if sent["failed"] or (sent["problem"] and not loaded.problem):
                warn(f"[{name}] notify: {sent['failed']} failed, {sent['sent']} sent"
                     + (f" ({sent['problem']})" if sent["problem"] and not loaded.problem else ""))
        results.append((report, metrics))
    worst = max(r["exit_code"] for r, _ in results)
    side = _write_prometheus(args.prometheus, *results[0], more=results[1:]) \
        if args.prometheus else []
    for line in side:
        print(f"error: {errors.one_line(line)}", file=sys.stderr)
    label = health_report.LABEL[worst]
    if args.json:
        print_json({"status": label, "exit_code": worst, "databases": [r for r, _ in results],
                    **({"side_errors": side} if side else {})})
        return worst
    print(f"R2W {label} - {len(results)} database(s): "
          + ", ".join(f"{r['name']} {r['status']}" for r, _ in results))
    for report, _ in results:
        for line in health_report.lines(report):
            print(f"[{report['name']}] {line}")
    return worst


def _health(db, loaded, with_metrics):
    """(report, snapshot metrics or None): a whole snapshot (not recorded) for --prometheus."""
    from r2w_db.figures import health_report
    from r2w_db.figures.snapshot import take_snapshot

    if not with_metrics:
        return health_report.evaluate(db, loaded.thresholds), None
    try:
        snap = take_snapshot(db, loaded.thresholds)
    except (errors.R2WError, OSError) as exc:
        return health_report.unknown(db, errors.one_line(exc)), None
    return snap["health"], snap["metrics"]


def cmd_watch(args):
    from r2w_db.figures import health_report
    from r2w_db.watch import cycle, settings as settings_mod

    every = settings_mod.parse_duration(args.every, "--every",
                                        settings_mod.MAX_WATCH_INTERVAL).total_seconds()
    targets = _targets(args)
    if len(targets) > 1:
        return _watch_all(args, targets, every)
    db = targets[0][1]

    def show(result):
        if args.json:
            print(json.dumps({k: v for k, v in result.items() if k != "health"}
                             | {"status": result["health"]["status"],
                                "exit_code": result["health"]["exit_code"]}, default=str),
                  flush=True)
            return
        line = (f"{result['as_of'][:19]} {health_report.first_line(result['health']).split(' | ')[0]}"
                f"; {_notifications(result['notify'])}")
        if result["heartbeat"]:
            line += "; heartbeat " + ("ok" if result["heartbeat"][0] else f"failed: {result['heartbeat'][1]}")
        if result["errors"]:
            line += "; errors: " + "; ".join(result["errors"])
        print(errors.one_line(line, limit=1000), flush=True)

    stop = cycle.Stop()
    per_db = targets[0][2]
    cycles, last = cycle.watch(db, every, once=args.once, notify=not args.no_notify,
                               prometheus_file=args.prometheus, on_cycle=show, stop=stop,
                               load=lambda: per_db(settings_mod.load()))
    if stop.signal is not None:
        print(f"watch: stopped by signal {stop.signal} after {cycles} cycle(s)", file=sys.stderr)
    return 0 if last is None or last["ok"] or not args.once else 1


def _notifications(sent):
    """What a cycle's notifications came to, never suggesting alerts are set up when not."""
    if sent is None:
        return "notifications off (--no-notify)"
    if not sent.get("configured", True):
        return "no alert destination configured"
    return f"notifications: {sent['sent']} sent, {sent['failed']} failed"


def _watch_all(args, targets, every):
    from r2w_db.watch import cycle

    def show(last, skipped):
        parts = [f"{name} {'ok' if r.get('ok') else 'FAILED: ' + '; '.join(r.get('errors') or [])}"
                 for name, r in last.items()]
        parts += [f"{name} still running its last cycle (skipped)" for name in skipped]
        print(errors.one_line(f"{timeutil.iso(timeutil.utcnow())[:19]} " + " | ".join(parts),
                              limit=2000), flush=True)

    stop = cycle.Stop()
    cycles, last = cycle.watch_all(targets, every, once=args.once, notify=not args.no_notify,
                                   prometheus_file=args.prometheus, on_cycle=show, stop=stop)
    if stop.signal is not None:
        print(f"watch: stopped by signal {stop.signal} after {cycles} cycle(s)", file=sys.stderr)
    return 0 if not args.once or all(r.get("ok") for r in last.values()) else 1


def register(add):
    """Add snapshot, history, health and watch; `add(name, func, help)` returns the subparser."""
    p = add("snapshot", cmd_snapshot, "record one snapshot of the database in the monitor "
                                      "database (read-only on the database), then roll up closed days")
    p.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    p = add("history", cmd_history, "print the recorded series (snapshots) or daily roll-ups")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--since", default="7d", help="how far back: 30s, 5m, 1h, 7d, 2w (default 7d)")
    p.add_argument("--metric", action="append", metavar="NAME",
                   help="a metric name or pattern (stats.uploads.*); repeat for several")
    p.add_argument("--daily", action="store_true", help="the daily roll-ups instead of snapshots")
    p = add("health", cmd_health, "run every health check: exit 0 OK, 1 WARNING, 2 CRITICAL, "
                                  "3 UNKNOWN (read-only)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--prometheus", metavar="FILE", default=None,
                   help="also write node_exporter's textfile format to FILE (atomically)")
    p.add_argument("--notify", action="store_true",
                   help="send what changed since the last notification (R2W_ALERT_URLS, [alerts])")
    p.add_argument("--all", action="store_true",
                   help="every configured database; one exit code, the worst")
    p = add("watch", cmd_watch, "every interval: snapshot, roll-ups, health, notify, heartbeat; "
                                "SIGTERM or SIGINT end it between cycles")
    p.add_argument("--every", default="5m", help="interval: 30s, 5m, 1h (default 5m)")
    p.add_argument("--once", action="store_true", help="one cycle, then exit (1 if it failed)")
    p.add_argument("--prometheus", metavar="FILE", default=None,
                   help="write node_exporter's textfile format every cycle")
    p.add_argument("--no-notify", action="store_true", help="do not send notifications")
    p.add_argument("--json", action="store_true", help="one JSON line per cycle")
