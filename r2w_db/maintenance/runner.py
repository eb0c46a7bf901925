"""Running a maintenance task: the log entry before and after, progress, stop requests, the
backup taken first, and restore; the log as the dashboard shows it."""
import getpass
import time

from r2w_db import errors
from r2w_db.app import cache, sessions
from r2w_db.backends import open_database
from r2w_db.figures import check
from r2w_db.formatting import human_bytes, plural
from r2w_db.maintenance import anonymous_cleanup, backups, stuck_jobs
from r2w_db.maintenance.registry import (
    TASKS,
    Failed,
    MaintenanceError,
    Refused,
    Result,
    check_days,
    check_minutes,
    get_task,
    preview,
    read_only_refusal,
)
from r2w_db.maintenance.restore import restore_file, restore_message
from r2w_db.monitor.store import MonitorStore

# --------------------------------------------------------------------------- run

class _Run:
    """What a run did so far, kept up to date by the progress callbacks."""

    def __init__(self, progress, previewed):
        self.progress = progress or (lambda fraction, message: None)
        self.previewed = previewed
        self.rows = None
        self.bytes = None
        self.backup = None
        self.details = {}
        self.stopped = False

    def deleted(self, n, what="rows"):
        self.rows = n
        fraction = min(1.0, n / self.previewed) if self.previewed else None
        total = f" of ~{self.previewed:,}" if self.previewed else ""
        self.progress(fraction, f"{n:,}{total} {what} deleted")

    def stopper(self, should_stop):
        if should_stop is None:
            return None

        def check():
            if should_stop():
                self.stopped = True
            return self.stopped
        return check


def _who(user):
    if user:
        return str(user)
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "cli"


def run(db, task, *, days=None, quick=False, dry_run=False, user=None, backup_first=False,
        dest=None, keep=backups.DEFAULT_KEEP, method="backup", progress=None, should_stop=None,
        monitor=None, minutes=None, now=None) -> Result:
    """Preview, then (unless dry_run) run a task and log it; the Result of an ok run. A
    preview that finds nothing to do ends there: logged as an ok run of 0 rows, nothing opened
    for writing on the database.

    Raises Refused (not enough disk, already running) or Failed (the error, in one
    line) after logging them; KeyboardInterrupt and other interruptions are logged
    as 'cancelled' and re-raised. `should_stop()` ends a delete between two
    transactions (logged 'cancelled' with the rows deleted so far).
    """
    db = open_database(db)
    spec = get_task(task)
    days = check_days(spec, days)
    minutes = check_minutes(spec, minutes)
    parameters = {}
    if spec.default_days is not None:
        parameters["days"] = days
    if spec.default_minutes is not None:
        parameters["minutes"] = minutes
    if spec.name == "integrity":
        parameters["quick"] = bool(quick)
    if spec.name == "backup":
        parameters.update(dest=str(backups.resolve_dest(dest, db)), keep=keep, method=method)
    if spec.destructive:
        parameters["backup_first"] = bool(backup_first)
    started = time.perf_counter()
    try:
        pv = preview(db, spec.name, days=days, quick=quick, dest=dest, keep=keep,
                     minutes=minutes, now=now)
    except (errors.R2WError, OSError) as exc:
        if dry_run:
            raise
        return _failed_before_start(monitor, user, spec, db, parameters, exc, started)
    if dry_run:
        return Result(spec.name, db.display, True, parameters, pv.count, pv.count, pv.bytes,
                      time.perf_counter() - started, "dry-run", pv.message,
                      error=pv.refusal, details={**pv.details, "nothing_to_do": pv.nothing_to_do})
    refusal = read_only_refusal(spec.name)
    if refusal:  # before anything is written, the log included
        raise Refused(refusal)
    monitor = monitor or MonitorStore()
    who = _who(user)
    log_id = monitor.log_start(user=who, task=spec.name, database=db, parameters=parameters,
                               previewed=pv.count)
    state = _Run(progress, pv.count)

    def finish(outcome, message, error=None):
        seconds = time.perf_counter() - started
        result = Result(spec.name, db.display, False, parameters, pv.count, state.rows,
                        state.bytes, seconds, outcome, message, error=error, backup=state.backup,
                        log_id=log_id, details=state.details)
        try:
            monitor.log_finish(log_id, outcome=outcome, rows=state.rows,
                               bytes_reclaimed=state.bytes, seconds=seconds, error=error,
                               backup=state.backup)
        except errors.R2WError as exc:
            result.details["log_error"] = str(exc)
        return result

    others = [e for e in monitor.running(spec.name, database=db) if e["id"] != log_id]
    if others:
        message = (f"{spec.name} is already running on {db.display} (started {others[0]['started_at']} "
                   f"by {others[0]['user']}): wait for it to finish")
        raise Refused(message, finish("refused", message, message))
    if pv.refusal:
        raise Refused(pv.refusal, finish("refused", pv.refusal, pv.refusal))
    if pv.nothing_to_do:
        state.rows, state.details["nothing_to_do"] = 0, True
        return finish("ok", pv.message)
    try:
        if backup_first and spec.destructive:
            state.progress(0.0, "backing up first")
            state.backup = _backup_first(monitor, who, db, dest, keep)
        message = _execute(spec.name, db, days, quick, state, dest, keep, method, monitor,
                           state.stopper(should_stop), minutes=minutes, now=now)
    except MaintenanceError as exc:
        outcome = "refused" if isinstance(exc, Refused) else "failed"
        raise type(exc)(str(exc), finish(outcome, str(exc), str(exc))) from None
    except errors.R2WError as exc:
        raise Failed(str(exc), finish("failed", str(exc), str(exc))) from None
    except BaseException as exc:  # interrupted: Ctrl-C, a page rerun, a stop request
        if isinstance(exc, Exception):
            error = _one_line(exc, db)
            raise Failed(error, finish("failed", error, error)) from None
        finish("cancelled", f"cancelled after {state.rows or 0:,} rows", "cancelled")
        raise
    if state.stopped:
        return finish("cancelled", message + " (stopped early)", "stopped on request")
    if spec.name == "integrity" and not state.details.get("integrity_ok", True):
        raise Failed(message, finish("failed", message, message))
    return finish("ok", message)


def _failed_before_start(monitor, user, spec, db, parameters, exc, started):
    """The database could not even be previewed (missing, locked, not a database): logged, raised."""
    monitor = monitor or MonitorStore()
    message = str(exc) if isinstance(exc, errors.R2WError) else _one_line(exc, db)
    log_id = monitor.log_start(user=_who(user), task=spec.name, database=db, parameters=parameters)
    seconds = time.perf_counter() - started
    monitor.log_finish(log_id, outcome="failed", seconds=seconds, error=message)
    result = Result(spec.name, db.display, False, parameters, None, None, None, seconds,
                    "failed", message, error=message, log_id=log_id)
    raise Failed(message, result)


def _one_line(exc, db):
    line = db.backend.tasks.error_line(db, exc)   # the engine's driver error, as people read it
    if line is not None:
        return line
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} ({exc.filename or db.display})"
    return f"{type(exc).__name__}: {exc}"


def _backup_first(monitor, who, db, dest, keep):
    """The verified backup a destructive task takes first; logged as a backup run of its own
    (so the overview sees it). Its path, or Failed: then nothing was changed."""
    started = time.perf_counter()
    entry = monitor.log_start(user=who, task="backup", database=db,
                              parameters={"dest": str(backups.resolve_dest(dest, db)), "keep": keep,
                                          "method": "backup", "before": "a destructive task"})
    try:
        taken = backups.create_backup(db, dest, keep=keep, monitor=monitor)
    except BaseException as exc:
        error = str(exc) if isinstance(exc, errors.R2WError) else _one_line(exc, db) \
            if isinstance(exc, Exception) else "cancelled"
        monitor.log_finish(entry, outcome="failed" if isinstance(exc, Exception) else "cancelled",
                           seconds=time.perf_counter() - started, error=error)
        if isinstance(exc, Exception):
            raise Failed(f"backup first failed, nothing was changed: {error}") from None
        raise
    monitor.log_finish(entry, outcome="ok", seconds=taken["seconds"], backup=taken["path"])
    return taken["path"]


def _execute(name, db, days, quick, state, dest, keep, method, monitor, should_stop,
             minutes=None, now=None):
    """Run one task; update state (rows, bytes, backup, details); return the result message."""
    report = state.progress
    if name == "stuck":
        state.rows = 0

        def failed(n):
            state.rows = n
            total = state.previewed
            report(min(1.0, n / total) if total else None,
                   f"{n:,}{' of ~' + format(total, ',') if total else ''} stuck jobs marked failed")
        n = stuck_jobs.fail_stuck(db, minutes, now=now, progress=failed, should_stop=should_stop)
        state.rows = n
        return (f"marked {plural(n, 'stuck job')} failed (processing for more than {minutes} "
                "min); a job that finished meanwhile was left as it was")
    if name in ("sessions", "cache"):
        cleanup, what, words = {
            "sessions": (sessions.cleanup_old_sessions, "sessions", ("session",)),
            "cache": (cache.cleanup_old_cache_entries, "cache entries",
                      ("unused cache entry", "unused cache entries"))}[name]
        state.rows = 0
        n = _with_stop(cleanup, db, days, progress=lambda k: state.deleted(k, what),
                       should_stop=should_stop)
        state.rows = n
        return f"deleted {plural(n, *words)} older than {days} days"
    if name == "anonymous":
        state.rows = 0
        state.details["ids"] = 0

        def progress(ids, uploads):
            state.details["ids"] = ids
            state.rows = uploads
            total = state.previewed
            report(min(1.0, ids / total) if total else None,
                   f"{ids:,}{' of ' + format(total, ',') if total else ''} anonymous ids removed "
                   f"({uploads:,} uploads)")
        ids, uploads = anonymous_cleanup.cleanup_stale(db, days, progress=progress,
                                                       should_stop=should_stop)
        state.rows, state.details["ids"] = uploads, ids
        return f"removed {plural(ids, 'anonymous id')} ({plural(uploads, 'upload')}) older than {days} days"
    if name == "analyze":
        info = db.backend.tasks.analyze(db, progress=report)
        state.details.update(info)
        return f"statistics refreshed for {plural(len(info['tables']), 'table')}"
    if name == "checkpoint":
        info = db.backend.tasks.checkpoint(db, progress=report)
        state.details.update(info)
        state.bytes = max(0, info["wal_before"] - info["wal_after"])
        return info["message"]
    if name == "vacuum":
        try:
            info = db.backend.tasks.vacuum(db, progress=report)
        except errors.NotEnoughDisk as exc:
            raise Refused(str(exc)) from None
        state.details.update(info)
        state.bytes = info["bytes_reclaimed"]
        if info.get("message"):   # the engine says what its VACUUM did
            return info["message"]
        return f"VACUUM reclaimed {human_bytes(state.bytes)} in {info['vacuum_seconds']:.1f} s"
    if name == "integrity":
        report(None, "checking every page" if not quick else "quick check")
        info = check.run_check(db, quick=quick)
        state.details.update(info)
        integrity = info["integrity"]
        if integrity["ok"] is None:   # not available here (no amcheck): not run
            raise Refused("integrity check not run: " + "; ".join(integrity["messages"]))
        orphans = {k: v for k, v in info["orphans"].items() if v}
        state.details["integrity_ok"] = integrity["ok"]
        if not integrity["ok"]:
            found = " ".join("; ".join(integrity["messages"][:3]).split())  # one line
            return (f"{integrity['mode']} integrity check FAILED: {found} "
                    "(restore from a verified backup)")
        text = f"{integrity['mode']} integrity check ok"
        if orphans:
            text += "; orphan rows: " + ", ".join(f"{v:,} {k}" for k, v in orphans.items())
        drift = info["schema"]
        missing = drift["missing_tables"] + drift["missing_columns"] + drift["missing_indexes"]
        if missing:
            more = " ..." if len(missing) > 3 else ""
            text += f"; schema incomplete (missing {', '.join(missing[:3])}{more}): run migrate"
        return text
    if name == "backup":
        taken = backups.create_backup(db, dest, keep=keep, method=method, monitor=monitor,
                                      progress=report)
        state.backup = taken["path"]
        state.details.update(taken)
        rotated = len(taken["rotated"])
        return (f"backup written and verified: {taken['path']} ({human_bytes(taken['size'])}, "
                f"{taken['seconds']:.1f} s)" + (f"; {plural(rotated, 'old backup')} rotated away"
                                                 if rotated else ""))
    raise AssertionError(name)


def _with_stop(func, db, days, *, progress, should_stop):
    """Call a colleague's cleanup (no should_stop parameter): stop through its progress callback."""
    class _Stop(Exception):
        pass

    def report(n):
        progress(n)
        if should_stop is not None and should_stop():
            raise _Stop(n)
    try:
        return func(db, days, progress=report)
    except _Stop as stop:
        return stop.args[0]


# ------------------------------------------------------------------------- restore

def restore(db, backup_path, *, user=None, dest=None, force=False, progress=None, monitor=None):
    """Restore a backup over the database (command line only; the application must be
    stopped): verified first, the current file saved aside, swapped atomically. Logged
    as task 'restore'. `force` accepts a file the backup log does not know as a backup of
    this database, or an older documented schema. Returns the Result; raises Refused or
    Failed after logging."""
    db = open_database(db)
    refusal = read_only_refusal("restore")
    if refusal:
        raise Refused(refusal)
    monitor = monitor or MonitorStore()
    parameters = {"backup": str(backup_path), "dest": str(backups.resolve_dest(dest, db))}
    if force:
        parameters["force"] = True
    started = time.perf_counter()
    log_id = monitor.log_start(user=_who(user), task="restore", database=db, parameters=parameters)

    def finish(outcome, message, error=None, info=None):
        info = info or {}
        seconds = time.perf_counter() - started
        monitor.log_finish(log_id, outcome=outcome, seconds=seconds, error=error,
                           backup=info.get("pre_restore_backup"))
        return Result("restore", db.display, False, parameters, None, None, None, seconds,
                      outcome, message, error=error, backup=info.get("pre_restore_backup"),
                      log_id=log_id, details=info)
    try:
        info = restore_file(db, backup_path, dest=dest, monitor=monitor, force=force,
                            progress=progress)
    except errors.RestoreRefused as exc:
        raise Refused(str(exc), finish("refused", str(exc), str(exc))) from None
    except errors.R2WError as exc:
        raise Failed(str(exc), finish("failed", str(exc), str(exc))) from None
    except Exception as exc:
        error = _one_line(exc, db)
        raise Failed(error, finish("failed", error, error)) from None
    except BaseException:
        finish("cancelled", "cancelled", "cancelled")
        raise
    return finish("ok", restore_message(db, backup_path, info), info=info)


# ------------------------------------------------------------------------ log view

def last_runs(db, monitor=None):
    """{task: the newest log entry of it on this database (any outcome) or None}."""
    monitor = monitor or MonitorStore()
    return {name: monitor.last_run(name, database=db) for name in TASKS}


def log_entries(db=None, limit=200, monitor=None):
    """The newest maintenance log entries (of one database when given), for display."""
    monitor = monitor or MonitorStore()
    return monitor.recent_log(limit=limit, database=db)
