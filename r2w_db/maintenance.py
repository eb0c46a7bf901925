"""Maintenance: what each task does, its preview (writes nothing), its run, and the log.

Every task has a preview that only reads (what would be deleted, reclaimed or
copied) and a run that reports progress through `progress(fraction_or_None,
message)`. A run is logged in the monitor database before it starts and when it
ends, whatever the outcome (ok, failed, refused, cancelled), with who ran it,
the parameters, the previewed count, rows affected, bytes reclaimed, duration
and the backup taken. Deletes go in short transactions (batching.py) so the
live application is never blocked for long; a run killed at any moment leaves
every row (every anonymous id) either untouched or fully handled.
"""
import getpass
import numbers
import time
from dataclasses import asdict, dataclass, field

from . import (anonymous_cleanup, backup as backups, cache, check, config, errors, sessions,
               sqlite_tasks)
from .connection import as_database, translate
from .monitor import MonitorStore
from .formatting import human_bytes

OUTCOMES = ("ok", "failed", "refused", "cancelled")


@dataclass(frozen=True)
class Task:
    name: str            # the name in the log and on the command line
    title: str
    what: str            # what it does
    when: str            # when to run it
    destructive: bool    # deletes or rewrites data: admin only, "back up first" offered
    default_days: object = None   # None: the task takes no --days
    days_label: str = ""


TASKS = {task.name: task for task in (
    Task("sessions", "Expired sessions",
         "Deletes sign-in sessions older than the retention. Expired sessions no longer sign "
         "anyone in; they only take space and slow the session lookups.",
         "Daily (the schema document's schedule: cleanup_old_sessions(days=7)).",
         True, config.SESSION_DAYS, "Older than (days)"),
    Task("cache", "Unused cache entries",
         "Deletes extraction-cache entries older than the retention that were never reused "
         "(access_count = 1). Reused entries stay, whatever their age.",
         "Weekly (the schema document's schedule: cleanup_old_cache_entries(days=30)).",
         True, config.CACHE_RETENTION_DAYS, "Older than (days)"),
    Task("anonymous", "Stale anonymous uploads",
         "Removes the uploads of anonymous ids (user_id starting with `anonymous_`) whose every "
         "upload is older than the retention. Whole ids at a time: an id is either kept or fully "
         "removed, and an id that uploaded again or was transferred to an account stays.",
         "Weekly, or when the anonymous buildup grows.",
         True, config.ANONYMOUS_RETENTION_DAYS, "Every upload older than (days)"),
    Task("analyze", "Refresh query statistics",
         "Runs a sampled ANALYZE on each table (a short lock each) and PRAGMA optimize, so "
         "the query planner keeps choosing the right indexes.",
         "Monthly (with VACUUM), and after a large cleanup.",
         False),
    Task("checkpoint", "WAL checkpoint",
         "Copies the write-ahead log into the database file and truncates it. It first copies "
         "without waiting (PASSIVE), then truncates with a wait of at most "
         f"{sqlite_tasks.CHECKPOINT_WAIT_MS} ms, so it never blocks the application for long.",
         "When the WAL is large (the Overview shows its size), e.g. after a big cleanup.",
         False),
    Task("vacuum", "VACUUM (compact the file)",
         "Rewrites the database file without its free pages, returning them to the disk. "
         "It LOCKS THE DATABASE for writers while it runs (seconds per GB): the application's "
         "writes wait, and may time out, until it ends. It first checks the free disk.",
         "Monthly (with ANALYZE), at a quiet hour, after large deletions.",
         True),
    Task("integrity", "Integrity check",
         "Checks every page and index (PRAGMA integrity_check, or the faster quick_check), "
         "compares the schema with the documented one and counts orphan rows. Reads only.",
         "Weekly, and before relying on a backup or after a crash or disk problem.",
         False),
    Task("backup", "Backup",
         "Copies the live database in one step with SQLite's online backup, verifies the copy "
         "with integrity_check and renames it into place; keeps the newest copies.",
         "Daily, and before any destructive task (\"back up first\").",
         False),
)}

DESTRUCTIVE = tuple(name for name, task in TASKS.items() if task.destructive)
# what still runs when the monitor is read-only: these only read the database (a backup writes
# only into the backup folder)
READ_ONLY_SAFE = ("integrity", "backup")


class MaintenanceError(errors.R2WError):
    """A run that ended refused or failed; `result` holds what was logged."""

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result


class Refused(MaintenanceError):
    pass


class Failed(MaintenanceError):
    pass


@dataclass
class Preview:
    task: str
    count: object          # rows (ids for anonymous) that would be affected; None when not a count
    bytes: object          # bytes that would be reclaimed or copied; None when not applicable
    message: str           # one line for a person
    refusal: object = None  # why a run would be refused now (not enough disk, ...)
    details: dict = field(default_factory=dict)

    def as_dict(self):
        return asdict(self)


@dataclass
class Result:
    task: str
    database: str
    dry_run: bool
    parameters: dict
    previewed: object
    rows: object
    bytes_reclaimed: object
    seconds: float
    outcome: str           # ok, failed, refused, cancelled; "dry-run" for a preview
    message: str
    error: object = None
    backup: object = None
    log_id: object = None
    details: dict = field(default_factory=dict)

    def as_dict(self):
        return asdict(self)


def get_task(name) -> Task:
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise errors.InvalidValue(
            f"unknown maintenance task {name!r}: one of {', '.join(TASKS)}") from None


def read_only_refusal(task, environ=None, secrets=None):
    """Why `task` may not run now because the monitor is read-only (config.read_only), or None.
    Integrity checks and backups still run: they do not write the database."""
    if task in READ_ONLY_SAFE or not config.read_only(environ, secrets):
        return None
    return f"{task}: {config.READ_ONLY_REASON}"


def check_days(task, days):
    """The days a task runs with: its default when None; a whole number >= 1 otherwise."""
    task = get_task(task) if isinstance(task, str) else task
    if task.default_days is None:
        return None
    if days is None:
        return task.default_days
    if isinstance(days, bool) or not isinstance(days, numbers.Integral) or days < 1:
        raise errors.InvalidValue(f"days must be a whole number >= 1, not {days!r}")
    return int(days)


def _plural(n, word, plural=None):
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


# ----------------------------------------------------------------------- preview

def preview(db, task, *, days=None, quick=False, dest=None, keep=backups.DEFAULT_KEEP) -> Preview:
    """What a run would do now. Only reads; never writes the database or the log."""
    db = as_database(db)
    task = get_task(task)
    days = check_days(task, days)
    name = task.name
    if name == "sessions":
        n = sessions.count_old_sessions(db, days)
        message = f"{_plural(n, 'session')} older than {days} days would be deleted"
        if days < config.SESSION_DAYS:
            message += f" (sessions stay active for {config.SESSION_DAYS} days: this signs users out)"
        return Preview(name, n, None, message, details={"days": days})
    if name == "cache":
        n = cache.count_old_cache_entries(db, days)
        return Preview(name, n, None, f"{_plural(n, 'cache entry', 'cache entries')} older than "
                       f"{days} days and never reused would be deleted", details={"days": days})
    if name == "anonymous":
        ids, uploads = anonymous_cleanup.count_stale(db, days)
        return Preview(name, ids, None,
                       f"{_plural(ids, 'anonymous id')} ({_plural(uploads, 'upload')}) with every "
                       f"upload older than {days} days would be removed",
                       details={"days": days, "ids": ids, "uploads": uploads})
    if name == "analyze":
        info = sqlite_tasks.analyze_preview(db)
        return Preview(name, None, None,
                       f"statistics of {_plural(len(info['tables']), 'table')} would be refreshed"
                       + ("" if info["has_statistics"] else " (none gathered yet)"), details=info)
    if name == "checkpoint":
        info = sqlite_tasks.checkpoint_preview(db)
        return Preview(name, None, info["wal_bytes"],
                       f"the WAL holds {human_bytes(info['wal_bytes'])}: it would be copied into "
                       f"the database and truncated", details=info)
    if name == "vacuum":
        plan = sqlite_tasks.vacuum_plan(db)
        message = (f"{human_bytes(plan['free_bytes'])} of {human_bytes(plan['bytes'])} are free "
                   f"pages and would be returned to the disk; the database is locked for writers "
                   f"while it runs")
        return Preview(name, None, plan["free_bytes"], message, refusal=plan["refusal"],
                       details=plan)
    if name == "integrity":
        size, wal = sqlite_tasks.file_sizes(db.path)
        with db.read() as conn:  # fails clearly on a missing or foreign file
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        mode = "quick_check" if quick else "integrity_check"
        return Preview(name, None, None,
                       f"{mode} would read the whole database ({human_bytes(size + wal)}) and count "
                       f"orphan rows; nothing is written", details={"quick": quick, "bytes": size + wal})
    if name == "backup":
        info = backups.preview(db, dest, keep)
        refusal = None
        if info["free_bytes"] < info["needed_bytes"]:
            refusal = (f"not enough free disk in {info['dest']} for a backup: needs up to "
                       f"{info['needed_bytes']:,} bytes, {info['free_bytes']:,} free")
        return Preview(name, None, info["needed_bytes"],
                       f"{human_bytes(info['needed_bytes'])} would be copied to {info['dest']} and "
                       f"verified; the newest {keep} backups are kept"
                       + (f" ({_plural(info['would_rotate'], 'old backup')} removed)"
                          if info["would_rotate"] else ""),
                       refusal=refusal, details=info)
    raise AssertionError(name)


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
        monitor=None) -> Result:
    """Preview, then (unless dry_run) run a task and log it; the Result of an ok run.

    Raises Refused (not enough disk, already running) or Failed (the error, in one
    line) after logging them; KeyboardInterrupt and other interruptions are logged
    as 'cancelled' and re-raised. `should_stop()` ends a delete between two
    transactions (logged 'cancelled' with the rows deleted so far).
    """
    db = as_database(db)
    spec = get_task(task)
    days = check_days(spec, days)
    parameters = {}
    if spec.default_days is not None:
        parameters["days"] = days
    if spec.name == "integrity":
        parameters["quick"] = bool(quick)
    if spec.name == "backup":
        parameters.update(dest=str(backups.resolve_dest(dest)), keep=keep, method=method)
    if spec.destructive:
        parameters["backup_first"] = bool(backup_first)
    started = time.perf_counter()
    try:
        pv = preview(db, spec.name, days=days, quick=quick, dest=dest, keep=keep)
    except (errors.R2WError, OSError) as exc:
        if dry_run:
            raise
        return _failed_before_start(monitor, user, spec, db, parameters, exc, started)
    if dry_run:
        return Result(spec.name, str(db.path), True, parameters, pv.count, pv.count, pv.bytes,
                      time.perf_counter() - started, "dry-run", pv.message,
                      error=pv.refusal, details=pv.details)
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
        result = Result(spec.name, str(db.path), False, parameters, pv.count, state.rows,
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
        message = (f"{spec.name} is already running on {db.path} (started {others[0]['started_at']} "
                   f"by {others[0]['user']}): wait for it to finish")
        raise Refused(message, finish("refused", message, message))
    if pv.refusal:
        raise Refused(pv.refusal, finish("refused", pv.refusal, pv.refusal))
    try:
        if backup_first and spec.destructive:
            state.progress(0.0, "backing up first")
            state.backup = _backup_first(monitor, who, db, dest, keep)
        message = _execute(spec.name, db, days, quick, state, dest, keep, method, monitor,
                           state.stopper(should_stop))
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
    """The database could not even be previewed (missing, locked, not SQLite): logged, raised."""
    monitor = monitor or MonitorStore()
    message = str(exc) if isinstance(exc, errors.R2WError) else _one_line(exc, db)
    log_id = monitor.log_start(user=_who(user), task=spec.name, database=db, parameters=parameters)
    seconds = time.perf_counter() - started
    monitor.log_finish(log_id, outcome="failed", seconds=seconds, error=message)
    result = Result(spec.name, str(db.path), False, parameters, None, None, None, seconds,
                    "failed", message, error=message, log_id=log_id)
    raise Failed(message, result)


def _one_line(exc, db):
    import sqlite3

    if isinstance(exc, sqlite3.Error):
        return str(translate(exc, db.path))
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} ({exc.filename or db.path})"
    return f"{type(exc).__name__}: {exc}"


def _backup_first(monitor, who, db, dest, keep):
    """The verified backup a destructive task takes first; logged as a backup run of its own
    (so the overview sees it). Its path, or Failed: then nothing was changed."""
    started = time.perf_counter()
    entry = monitor.log_start(user=who, task="backup", database=db,
                              parameters={"dest": str(backups.resolve_dest(dest)), "keep": keep,
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


def _execute(name, db, days, quick, state, dest, keep, method, monitor, should_stop):
    """Run one task; update state (rows, bytes, backup, details); return the result message."""
    report = state.progress
    if name == "sessions":
        state.rows = 0
        n = _with_stop(sessions.cleanup_old_sessions, db, days,
                       progress=lambda k: state.deleted(k, "sessions"), should_stop=should_stop)
        state.rows = n
        return f"deleted {_plural(n, 'session')} older than {days} days"
    if name == "cache":
        state.rows = 0
        n = _with_stop(cache.cleanup_old_cache_entries, db, days,
                       progress=lambda k: state.deleted(k, "cache entries"), should_stop=should_stop)
        state.rows = n
        return f"deleted {_plural(n, 'unused cache entry', 'unused cache entries')} older than {days} days"
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
        return f"removed {_plural(ids, 'anonymous id')} ({_plural(uploads, 'upload')}) older than {days} days"
    if name == "analyze":
        info = sqlite_tasks.analyze(db, progress=report)
        state.details.update(info)
        return f"statistics refreshed for {_plural(len(info['tables']), 'table')}"
    if name == "checkpoint":
        info = sqlite_tasks.checkpoint(db, progress=report)
        state.details.update(info)
        state.bytes = max(0, info["wal_before"] - info["wal_after"])
        return info["message"]
    if name == "vacuum":
        try:
            info = sqlite_tasks.vacuum(db, progress=report)
        except sqlite_tasks.NotEnoughDisk as exc:
            raise Refused(str(exc)) from None
        state.details.update(info)
        state.bytes = info["bytes_reclaimed"]
        return f"VACUUM reclaimed {human_bytes(state.bytes)} in {info['vacuum_seconds']:.1f} s"
    if name == "integrity":
        report(None, "checking every page" if not quick else "quick check")
        info = check.run_check(db, quick=quick)
        state.details.update(info)
        integrity = info["integrity"]
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
                f"{taken['seconds']:.1f} s)" + (f"; {_plural(rotated, 'old backup')} rotated away"
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

def restore(db, backup_path, *, user=None, dest=None, progress=None, monitor=None):
    """Restore a backup over the database (command line only; the application must be
    stopped): verified first, the current file saved aside, swapped atomically. Logged
    as task 'restore'. Returns the Result; raises Refused or Failed after logging."""
    db = as_database(db)
    refusal = read_only_refusal("restore")
    if refusal:
        raise Refused(refusal)
    monitor = monitor or MonitorStore()
    parameters = {"backup": str(backup_path), "dest": str(backups.resolve_dest(dest))}
    started = time.perf_counter()
    log_id = monitor.log_start(user=_who(user), task="restore", database=db, parameters=parameters)

    def finish(outcome, message, error=None, info=None):
        info = info or {}
        seconds = time.perf_counter() - started
        monitor.log_finish(log_id, outcome=outcome, seconds=seconds, error=error,
                           backup=info.get("pre_restore_backup"))
        return Result("restore", str(db.path), False, parameters, None, None, None, seconds,
                      outcome, message, error=error, backup=info.get("pre_restore_backup"),
                      log_id=log_id, details=info)
    try:
        info = backups.restore(db, backup_path, dest=dest, monitor=monitor, progress=progress)
    except backups.RestoreRefused as exc:
        raise Refused(str(exc), finish("refused", str(exc), str(exc))) from None
    except errors.R2WError as exc:
        raise Failed(str(exc), finish("failed", str(exc), str(exc))) from None
    except BaseException:
        finish("cancelled", "cancelled", "cancelled")
        raise
    message = (f"restored {db.path} from {backup_path}"
               + (f"; the previous file was saved as {info['pre_restore_backup']}"
                  if info["pre_restore_backup"] else ""))
    return finish("ok", message, info=info)


# ------------------------------------------------------------------------ log view

def last_runs(db, monitor=None):
    """{task: the newest log entry of it on this database (any outcome) or None}."""
    monitor = monitor or MonitorStore()
    return {name: monitor.last_run(name, database=db) for name in TASKS}


def log_entries(db=None, limit=200, monitor=None):
    """The newest maintenance log entries (of one database when given), for display."""
    monitor = monitor or MonitorStore()
    return monitor.recent_log(limit=limit, database=db)
