"""The maintenance commands of `python -m r2w_db`: maintain, backup, backups, restore.

Same contract as the rest of the command line: exit 0 on success; on failure one
line on stderr (`error: ...`) and a non-zero status. With --json the result is
printed on stdout even when the run failed or was refused.
"""
import argparse
import functools
import sys
from pathlib import Path

from r2w_db import errors
from r2w_db.cli.common import database, os_user, print_json
from r2w_db.formatting import human_age, human_bytes
from r2w_db.maintenance import backups, registry, runner
from r2w_db.monitor.store import MonitorStore


def _one_line_errors(command):
    """Every failure of a command leaves it as one line (`error: ...` from main) and a
    non-zero exit, never a traceback or a multi-line database report (a driver error no module
    translated is main's "database error: ..." line)."""
    @functools.wraps(command)
    def run(args):
        try:
            return command(args)
        except errors.R2WError as exc:
            text = " ".join(map(str, exc.args))
            if "\n" in text:
                raise errors.R2WError(errors.one_line(text)) from None
            raise
        except (OSError, ValueError) as exc:
            text = str(exc)
            if "\n" in text:
                raise errors.R2WError(errors.one_line(text)) from None
            raise
    return run


def _user():
    return os_user()


def _progress_printer(enabled):
    if not enabled:
        return None
    state = {"width": 0}

    def show(fraction, message):
        text = (f"{fraction:6.1%} " if fraction is not None else "       ") + str(message)
        pad = max(0, state["width"] - len(text))
        state["width"] = len(text)
        print("\r" + text + " " * pad, end="", file=sys.stderr, flush=True)
    return show


def _end_progress(progress):
    if progress is not None:
        print(file=sys.stderr, flush=True)


def _summary(result):
    parts = [f"{result['task']}: {result['message']}"]
    if result.get("previewed") is not None and not result.get("dry_run"):
        parts.append(f"previewed {result['previewed']:,}")
    parts.append(f"{result['seconds']:.1f} s")
    if result.get("backup") and result["task"] != "backup":
        parts.append(f"backup: {result['backup']}")
    return " · ".join(parts)


def _result_dict(result):
    data = result.as_dict()
    ordered = {key: data.pop(key) for key in (
        "task", "dry_run", "rows", "previewed", "bytes_reclaimed", "seconds", "outcome",
        "backup", "message", "error", "database", "parameters", "log_id")}
    return ordered | data


def _confirm(args, task, db):
    """Destructive runs: --yes, or an answer at a terminal; refuse when nobody can answer."""
    if args.dry_run or args.yes or not task.destructive:
        return
    pv = registry.preview(db, task.name, days=args.days, quick=args.quick, dest=args.dest,
                          keep=args.keep, minutes=args.minutes)
    if pv.refusal or pv.nothing_to_do:
        return  # the run logs and reports the refusal, or that there is nothing to do
    if not sys.stdin.isatty():
        raise errors.R2WError(
            f"maintain {task.name} changes {db.display}: pass --yes to run it without a prompt "
            f"(or --dry-run to preview it)")
    print(f"{task.title}: {pv.message}.", file=sys.stderr)
    answer = input("Proceed? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise errors.R2WError("cancelled at the prompt: nothing was changed")


def _run_reported(args, work, show_progress=True):
    """work(progress) -> result, with a progress line on a terminal; on failure the JSON
    result (with --json) is still printed before the one-line error. Returns the result dict."""
    progress = _progress_printer(show_progress and not args.json and sys.stderr.isatty())
    try:
        result = work(progress)
    except registry.MaintenanceError as exc:
        _end_progress(progress)
        if args.json and exc.result is not None:
            print_json(_result_dict(exc.result))
        raise
    _end_progress(progress)
    return result


def _print_result(args, result):
    data = _result_dict(result)
    if args.json:
        print_json(data)
    else:
        print(_summary(data))


def cmd_maintain(args):
    db = database(args)
    task = registry.task_for(db, args.task)
    if args.days is not None and task.default_days is None:
        raise errors.InvalidValue(f"maintain {task.name} takes no --days")
    if args.minutes is not None and task.default_minutes is None:
        raise errors.InvalidValue(f"maintain {task.name} takes no --minutes")
    _confirm(args, task, db)
    result = _run_reported(args, lambda progress: runner.run(
        db, task.name, days=args.days, quick=args.quick, dry_run=args.dry_run, user=_user(),
        backup_first=args.backup_first, dest=args.dest, keep=args.keep, progress=progress,
        minutes=args.minutes),
        show_progress=not args.dry_run)
    if result.dry_run and not args.json:
        print(f"{task.name} (dry run, nothing changed): {result.message}"
              + (f"\n  a run would be refused: {result.error}" if result.error else ""))
    else:
        _print_result(args, result)
    return 0


def cmd_backup(args):
    db = database(args)
    _print_result(args, _run_reported(args, lambda progress: runner.run(
        db, "backup", user=_user(), dest=args.dest, keep=args.keep, method=args.method,
        progress=progress)))


def cmd_backups(args):
    dest = backups.resolve_dest(args.dest, None if args.dest else database(args))
    found = backups.list_backups(dest, verify=args.verify, monitor=MonitorStore())
    if args.json:
        print_json({"dest": str(dest), "backups": [b.as_dict() for b in found]})
    elif not found:
        print(f"no backups in {dest}")
    else:
        print(f"{len(found)} backup(s) in {dest}, newest first:")
        for b in found:
            status = {True: "verified", False: "FAILED", None: "not verified"}[b.verified]
            print(f"  {b.name:<48} {human_bytes(b.size):>10} {human_age(b.age_seconds):>7} old"
                  f"  {status}{' (' + errors.one_line(b.message) + ')' if b.verified is False and b.message else ''}")
    bad = [b.name for b in found if b.verified is False]
    if args.verify and bad:
        raise errors.R2WError(f"{len(bad)} backup(s) failed verification: {', '.join(bad[:5])}")


def cmd_restore(args):
    db = database(args)
    source = Path(args.backup).expanduser()
    if not source.exists() and not source.is_absolute():
        candidate = backups.resolve_dest(args.dest, db) / args.backup
        if candidate.exists():
            source = candidate
    if not source.exists():
        raise errors.R2WError(f"backup not found: {args.backup} "
                              f"(see `{errors.command(db.display, 'backups')}`)")
    if not args.yes:
        raise errors.R2WError(
            f"restore replaces {db.display} with {source}: stop the application first, then rerun "
            f"with --yes")
    _print_result(args, _run_reported(args, lambda progress: runner.restore(
        db, source, user=_user(), dest=args.dest, force=args.force, progress=progress)))


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def register(add):
    """Add the maintenance subcommands; `add(name, func, help)` returns the subparser."""
    names = ", ".join(registry.TASKS)
    p = add("maintain", _one_line_errors(cmd_maintain),
            "run one maintenance task (preview with --dry-run); every run is logged")
    p.add_argument("task", metavar="TASK", choices=list(registry.TASKS), help=names)
    p.add_argument("--days", type=_positive, default=None,
                   help="retention in days (sessions 7, cache 30, anonymous 30 by default)")
    p.add_argument("--minutes", type=_positive, default=None,
                   help="stuck: jobs processing for longer than this (default "
                        f"{registry.TASKS['stuck'].default_minutes}, the Stuck jobs check's)")
    p.add_argument("--dry-run", action="store_true", help="preview only: print what would change")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--yes", action="store_true",
                   help="run a destructive task (" + ", ".join(registry.DESTRUCTIVE)
                        + ") without a prompt")
    p.add_argument("--quick", action="store_true", help="integrity: quick_check instead of integrity_check")
    p.add_argument("--backup-first", action="store_true",
                   help="take a verified backup before a destructive task (off by default)")
    p.add_argument("--dest", metavar="DIR", default=None,
                   help="backup folder (else R2W_BACKUP_DIR, else data/backups/ beside the monitor db)")
    p.add_argument("--keep", type=_positive, default=backups.DEFAULT_KEEP,
                   help=f"backups to keep (default {backups.DEFAULT_KEEP})")

    p = add("backup", _one_line_errors(cmd_backup),
            "take a verified online backup of the live database and keep the newest N")
    p.add_argument("--dest", metavar="DIR", default=None,
                   help="backup folder (else R2W_BACKUP_DIR, else data/backups/ beside the monitor db)")
    p.add_argument("--keep", type=_positive, default=backups.DEFAULT_KEEP,
                   help=f"backups to keep (default {backups.DEFAULT_KEEP})")
    p.add_argument("--method", choices=backups.METHODS, default="backup",
                   help="SQLite's online backup in one step (default) or VACUUM INTO")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = add("backups", _one_line_errors(cmd_backups), "list the backups: size, age, verification status")
    p.add_argument("--dest", metavar="DIR", default=None, help="backup folder")
    p.add_argument("--verify", action="store_true",
                   help="run integrity_check on every backup now (exit 1 if one fails)")
    p.add_argument("--json", action="store_true", help="print the list as JSON")

    p = add("restore", _one_line_errors(cmd_restore),
            "replace the database with a backup. STOP THE APPLICATION (and the dashboard) FIRST: "
            "the backup is read whole (its -wal included) and verified (integrity, the documented "
            "schema, a known version, and known to the backup log unless --force), the current "
            "file (even a damaged one) saved aside as a pre-restore backup, then swapped in "
            "atomically with the stale -wal/-shm/-journal removed; refused while another "
            "process has the database open")
    p.add_argument("backup", metavar="BACKUP", help="backup file (a path, or a name in the backup folder)")
    p.add_argument("--yes", action="store_true", help="required: confirm the replacement")
    p.add_argument("--force", action="store_true",
                   help="also restore a file the backup log does not know as a backup of this "
                        "database, or an older state of the documented schema (then run migrate)")
    p.add_argument("--dest", metavar="DIR", default=None,
                   help="where the pre-restore backup goes (default: the backup folder)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
