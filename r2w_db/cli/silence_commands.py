"""`silence CHECK --for 1d --reason TEXT`, `unsilence CHECK`, `silences [--all] [--log]`: a
check acknowledged on one database (monitor/silences.py). The check keeps its true status in
`health` and its exit code; only its notifications stop until the silence expires, is lifted
or the check recovers. Who sets or lifts one is --user, else the OS user (recorded in the log)."""
from r2w_db.cli.common import database, os_user, print_json
from r2w_db.engine import timeutil


def _user(args):
    return args.user or os_user()


def _until(moment):
    return f"{timeutil.iso(moment)[:16].replace('T', ' ')} UTC"


def cmd_silence(args):
    from r2w_db.monitor.silences import SilenceStore, parse_for

    db = database(args)
    got = SilenceStore().silence(db, args.check, until=parse_for(args.for_), reason=args.reason,
                                 user=_user(args))
    if args.json:
        print_json({**got.as_dict(), "database": db.display})
        return 0
    print(f"{args.check} silenced on {db.display} by {got.user} until {_until(got.until)}: "
          f"{got.reason} (health keeps its status and exit code; notifications stop until then "
          "or until it recovers)")
    return 0


def cmd_unsilence(args):
    from r2w_db.monitor.silences import SilenceStore

    db = database(args)
    lifted = SilenceStore().lift(db, args.check, user=_user(args))
    if args.json:
        print_json({"check": args.check, "database": db.display, "lifted": lifted})
    else:
        print(f"{args.check} on {db.display}: " + ("silence lifted" if lifted
                                                    else "was not silenced"))
    return 0


def cmd_silences(args):
    from r2w_db.monitor.silences import SilenceStore

    store = SilenceStore()
    db = None if args.all else database(args)
    found = store.active_everywhere() if db is None else list(store.active(db).values())
    log = store.log(db) if args.log else None
    if args.json:
        print_json({"database": None if db is None else db.display,
                    "silences": [s.as_dict() for s in found],
                    **({"log": log} if log is not None else {})})
        return 0
    where = "any database" if db is None else db.display
    if not found:
        print(f"no active silence on {where}")
    for s in found:
        print(f"{s.check:<16} until {_until(s.until)} by {s.user}: {s.reason}"
              + (f"  [{s.database}]" if db is None else ""))
    for entry in log or ():
        until = f" until {entry['until'][:16].replace('T', ' ')} UTC" if entry["until"] else ""
        print(f"{entry['at'][:19].replace('T', ' ')}  {entry['event']:<9} {entry['check']:<16} "
              f"{entry['user'] or '-'}{until}: {entry['reason'] or ''}"
              + (f"  [{entry['database']}]" if db is None else ""))
    return 0


def register(add):
    """Add silence, unsilence and silences; `add(name, func, help)` returns the subparser."""
    p = add("silence", cmd_silence,
            "silence one health check on this database with a reason and an expiry: its status "
            "and the exit code stay, its notifications stop until then or until it recovers")
    p.add_argument("check", metavar="CHECK", help="the check's key (stuck, backup, wal ...)")
    p.add_argument("--for", dest="for_", required=True, metavar="WHEN",
                   help="1h, 1d, 1w (any duration up to 90d) or a date/datetime in UTC "
                        "(2026-12-24, 2026-12-24T18:00)")
    p.add_argument("--reason", required=True, help="why, and who is on it")
    p.add_argument("--user", default=None, help="who sets it (default: the OS user)")
    p.add_argument("--json", action="store_true", help="print the silence as JSON")
    p = add("unsilence", cmd_unsilence, "lift the silence of one check on this database")
    p.add_argument("check", metavar="CHECK")
    p.add_argument("--user", default=None, help="who lifts it (default: the OS user)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p = add("silences", cmd_silences, "list the active silences of this database")
    p.add_argument("--all", action="store_true", help="of every database")
    p.add_argument("--log", action="store_true",
                   help="also every silence set, lifted, expired or ended by a recovery")
    p.add_argument("--json", action="store_true", help="print JSON")
