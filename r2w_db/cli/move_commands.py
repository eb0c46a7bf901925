"""`move --to postgresql://... [--dry-run] [--unconvertible refuse|null|skip-row] [--json]`.

The source is `--db` (an SQLite file: --db keeps refusing URLs); `--to` is a libpq URL read
here only. The report goes to stdout (every unconvertible value listed); a refusal ends with
one line on stderr and exit 1.
"""
import json
import shlex
import sys

from r2w_db import config, errors
from r2w_db.cli.common import database
from r2w_db.engine import locations
from r2w_db.engine.locations import is_pg_url
from r2w_db.maintenance import move

SHOWN_PROBLEMS = 50  # in the text report; --json lists every one


def cmd_move(args):
    source = database(args)
    if not is_pg_url(args.to):
        raise errors.BadLocation(f"--to {locations.redact(args.to)!r}: give a postgresql:// or "
                                 f"postgres:// URL (libpq's environment variables fill in the rest)")
    if not args.dry_run and config.read_only():
        raise errors.R2WError(f"move refused: {config.READ_ONLY_REASON}")
    progress = None if args.json else (lambda line: print(f"  {line}", file=sys.stderr, flush=True))
    try:
        report = move.move(source, args.to, unconvertible=args.unconvertible,
                           dry_run=args.dry_run, progress=progress)
    except move.MoveRefused as exc:
        _show(exc.report, args.json)
        raise
    _show(report, args.json)
    return 0


def _show(report, as_json):
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    print(f"move {report['source']} -> {report['target']}"
          + (" (dry run)" if report["dry_run"] else ""))
    if report.get("snapshot"):
        print(f"  snapshot: {report['snapshot']}")
    for table, t in report["tables"].items():
        check = "" if "verified" not in t else (" verified" if t["verified"] else " MISMATCH")
        print(f"  {table:<20} {t['rows_read']:>9,} read {t['rows_moved']:>9,} moved "
              f"{t['rows_skipped']:>6,} skipped{check}")
    problems = report["unconvertible"]
    if problems:
        print(f"  {len(problems)} value(s) that do not convert (mode {report['unconvertible_mode']}):")
        for p in problems[:SHOWN_PROBLEMS]:
            print(f"    {p['table']} {p['key']!r} {p['column']} = {p['value']}: {p['reason']}"
                  f" [{p['handled']}]")
        if len(problems) > SHOWN_PROBLEMS:
            print(f"    ... and {len(problems) - SHOWN_PROBLEMS} more (--json lists every one)")
    for name in report.get("tables_not_moved") or ():
        print(f"  warning: table {name} is not part of the schema and was not moved")
    if report.get("outcome"):
        rate = report.get("rows_per_second")
        print(f"{report['outcome']} in {report.get('seconds', 0):.1f} s"
              + (f" ({rate:,} rows/s)" if rate and not report["dry_run"] else ""))
    if report.get("application_url"):
        url = report["application_url"]
        print(f"give the application: DATABASE_URL={_shell_word(url)}"
              + (" (with its real password)" if "***" in url else ""))


def _shell_word(url):
    """The URL as one shell word for a person to paste: from its first character the shell
    would read (`?`, `&`, a space, a quote ...) on, it is quoted ('...'); the *** that stands
    for the password is theirs to replace, not a reason to quote."""
    plain = url.replace("***", "xxx")
    cut = next((i for i, char in enumerate(plain) if shlex.quote(char) != char), len(url))
    return url[:cut] + (shlex.quote(url[cut:]) if cut < len(url) else "")


def register(add):
    p = add("move", cmd_move, "copy every row of the SQLite database (--db) into PostgreSQL, "
                              "from one snapshot, verified by row counts and checksums")
    p.add_argument("--to", required=True, metavar="postgresql://...",
                   help="the target database (libpq URL; PG* environment variables fill in the rest)")
    p.add_argument("--dry-run", action="store_true",
                   help="read and convert everything, report, write nothing")
    p.add_argument("--unconvertible", choices=move.MODES, default="refuse",
                   help="values that do not convert: refuse (default: report them and write "
                        "nothing), null (nullable columns become NULL), skip-row (leave the row "
                        "behind, reported)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
