"""The maintenance tasks: each declared once (name, title, parameters, role), its checks, and
its preview (writes nothing). What a task does on an engine, and how it is described there, is
that engine's (`db.backend.tasks`, `db.backend.backups`); a task an engine has no use for is
declared unsupported in its features (`tasks.<name>`), with the reason its preview shows.

Running a task and its log live in runner.py.

Every task has a preview that only reads (what would be deleted, reclaimed or
copied) and a run that reports progress through `progress(fraction_or_None,
message)`. A run is logged in the monitor database before it starts and when it
ends, whatever the outcome (ok, failed, refused, cancelled), with who ran it,
the parameters, the previewed count, rows affected, bytes reclaimed, duration
and the backup taken. Deletes go in short transactions (engine/batching.py) so the
live application is never blocked for long; a run killed at any moment leaves
every row (every anonymous id) either untouched or fully handled.
"""
import numbers
from dataclasses import asdict, dataclass, field, replace

from r2w_db import config, errors
from r2w_db.app import anonymous, cache, sessions
from r2w_db.backends import open_database
from r2w_db.formatting import human_bytes, plural
from r2w_db.maintenance import backups, stuck_jobs

OUTCOMES = ("ok", "failed", "refused", "cancelled")


@dataclass(frozen=True)
class Task:
    name: str            # the name in the log and on the command line
    title: str
    what: str = field(compare=False)   # what it does (an engine's task: as task_for describes it)
    when: str = field(compare=False)   # when to run it
    destructive: bool    # deletes or rewrites data: admin only, "back up first" offered
    default_days: object = None   # None: the task takes no --days
    days_label: str = ""
    default_minutes: object = None   # None: the task takes no --minutes
    minutes_label: str = ""


TASKS = {task.name: task for task in (
    Task("sessions", "Expired sessions",
         "Deletes sign-in sessions older than the retention. The application never expires "
         "sessions itself (it signs in anyone whose session row exists), so this SIGNS THOSE "
         "USERS OUT: the preview says how many.",
         "Daily (the schedule of docs/maintenance.md: cleanup_old_sessions(days=7)).",
         True, config.SESSION_DAYS, "Older than (days)"),
    Task("cache", "Unused cache entries",
         "Deletes extraction-cache entries older than the retention that were never reused "
         "(access_count = 1). Reused entries stay, whatever their age.",
         "Weekly (the schedule of docs/maintenance.md: cleanup_old_cache_entries(days=30)).",
         True, config.CACHE_RETENTION_DAYS, "Older than (days)"),
    Task("anonymous", "Stale anonymous uploads",
         "Removes the uploads of anonymous ids (user_id starting with `anonymous_`) whose every "
         "upload is older than the retention. Whole ids at a time: an id is either kept or fully "
         "removed, and an id that uploaded again or was transferred to an account stays.",
         "Weekly, or when the anonymous buildup grows.",
         True, config.ANONYMOUS_RETENTION_DAYS, "Every upload older than (days)"),
    Task("stuck", "Stuck jobs",
         "Marks uploads still 'processing' long after upload as 'failed', as the application "
         "marks a failed extraction, so that their owners see a failure and can upload again "
         "instead of waiting forever. A job that finishes meanwhile is never touched.",
         "When the Stuck jobs check is red and the extraction worker has been looked at.",
         True, default_minutes=stuck_jobs.DEFAULT_MINUTES,
         minutes_label="Processing for more than (minutes)"),
    # what these do, and when to run them, the engine says (task_for), and how it titles the
    # ones that do different things on each (VACUUM compacts SQLite's file, reclaims PostgreSQL's
    # dead tuples)
    Task("analyze", "Refresh query statistics", "", "", False),
    Task("checkpoint", "WAL checkpoint", "", "", False),
    Task("vacuum", "VACUUM", "", "", True),
    Task("integrity", "Integrity check", "", "", False),
    Task("backup", "Backup", "", "", False),
)}

CLEANUPS = ("sessions", "cache", "anonymous")   # the application's data: the same on every engine
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
    nothing_to_do: bool = False   # the preview knows a run would change nothing

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


def task_for(db, name) -> Task:
    """The task as it runs on this database's engine (its title there, what it does, when to
    run it)."""
    db = open_database(db)
    task = get_task(name)
    title = db.backend.tasks.title(task.name)
    if title is not None:
        task = replace(task, title=title)
    described = db.backend.tasks.description(task.name)
    if described is None:
        return task
    what, when = described
    return replace(task, what=what, when=when)


def read_only_refusal(task, environ=None, secrets=None):
    """Why `task` may not run now because the monitor is read-only (config.read_only), or None.
    Integrity checks and backups still run: they do not write the database."""
    if task in READ_ONLY_SAFE or not config.read_only(environ, secrets):
        return None
    return f"{task}: {config.READ_ONLY_REASON}"


def check_days(task, days):
    """The days a task runs with: its default when None; a whole number from 1 to
    config.MAX_SETTING_DAYS otherwise (beyond, the cut-off date no longer fits in a date)."""
    task = get_task(task) if isinstance(task, str) else task
    if task.default_days is None:
        return None
    if days is None:
        return task.default_days
    if isinstance(days, bool) or not isinstance(days, numbers.Integral) or days < 1:
        raise errors.InvalidValue(f"days must be a whole number >= 1, not {days!r}")
    if days > config.MAX_SETTING_DAYS:
        raise errors.InvalidValue(f"days must be at most {config.MAX_SETTING_DAYS}, not {days}")
    return int(days)


def check_minutes(task, minutes):
    """The minutes a task runs with: its default when None (stuck_jobs.check_minutes); None
    for a task that takes no minutes."""
    task = get_task(task) if isinstance(task, str) else task
    if task.default_minutes is None:
        return None
    return stuck_jobs.check_minutes(minutes)


# ----------------------------------------------------------------------- preview

def cleanup_preview(db, name, days, signed_out=True, counted=None) -> Preview:
    """The preview of a retention cleanup (sessions, cache, anonymous) on any engine (the counts
    are app/'s). `signed_out=False`: the
    sessions preview leaves out the distinct users it signs out (that count reads every old
    session row: a second on 400k sessions), as the Maintenance page's cards do; the run's
    confirmation counts them. `counted`: (rows, uploads or None) already counted at these
    days (the watcher's snapshot, maintenance/watched_previews.py) instead of counting now."""
    pv = _cleanup_preview(db, name, days, signed_out, counted)
    if not pv.count:
        pv.nothing_to_do = True
        pv.message = f"nothing to do: {pv.message}"
    return pv


def _cleanup_preview(db, name, days, signed_out, counted):
    if name == "sessions" and not signed_out:
        n = counted[0] if counted else sessions.count_old_sessions(db, days)
        return Preview(name, n, None, f"{plural(n, 'session')} older than {days} days would be "
                       f"deleted (Run counts the users this signs out)",
                       details={"days": days, "users": None})
    if name == "sessions":
        n, users = sessions.old_session_counts(db, days)
        message = (f"{plural(n, 'session')} older than {days} days would be deleted, signing "
                   f"{plural(users, 'distinct user')} out (the application never expires "
                   f"sessions itself)")
        return Preview(name, n, None, message, details={"days": days, "users": users})
    if name == "cache":
        n = counted[0] if counted else cache.count_old_cache_entries(db, days)
        return Preview(name, n, None, f"{plural(n, 'cache entry', 'cache entries')} older than "
                       f"{days} days and never reused would be deleted", details={"days": days})
    if name == "anonymous":
        ids, uploads = counted if counted else anonymous.count_stale(db, days)
        return Preview(name, ids, None,
                       f"{plural(ids, 'anonymous id')} ({plural(uploads, 'upload')}) with every "
                       f"upload older than {days} days would be removed",
                       details={"days": days, "ids": ids, "uploads": uploads})
    raise AssertionError(name)


def stuck_preview(db, minutes, now=None) -> Preview:
    """The preview of the stuck task: the jobs, their ages, file types and owners as counts."""
    found = stuck_jobs.figures(db, minutes, now)
    return Preview("stuck", found["count"], None, stuck_jobs.preview_message(found),
                   details=found, nothing_to_do=not found["count"])


def preview(db, task, *, days=None, quick=False, dest=None, keep=backups.DEFAULT_KEEP,
            signed_out=True, minutes=None, now=None, counted=None) -> Preview:
    """What a run would do now. Only reads; never writes the database or the log.
    `signed_out` and `counted` (a cleanup's): see cleanup_preview; `minutes` (stuck) and
    `now`: see stuck_preview."""
    db = open_database(db)
    task = task_for(db, task)
    days = check_days(task, days)
    minutes = check_minutes(task, minutes)
    name = task.name
    unsupported = db.backend.features.unsupported.get(f"tasks.{name}")
    if unsupported is not None:   # a task this engine has no use for: shown, never run
        return Preview(name, None, None, f"{task.title}: {unsupported}", refusal=unsupported,
                       details={"applicable": False})
    if name in CLEANUPS:
        return cleanup_preview(db, name, days, signed_out, counted)
    if name == "stuck":
        return stuck_preview(db, minutes, now)
    if name == "backup":
        return backup_preview(db, dest, keep)
    if name == "integrity":
        info = db.backend.tasks.integrity_preview(db, quick)
    else:   # analyze, checkpoint, vacuum: the engine's `<name>_preview`
        info = getattr(db.backend.tasks, f"{name}_preview")(db)
    return Preview(name, None, info.get("bytes"), info["message"], refusal=info.get("refusal"),
                   details=info["details"], nothing_to_do=bool(info.get("nothing_to_do")))


def backup_preview(db, dest, keep) -> Preview:
    info = backups.preview(db, dest, keep)
    what = db.backend.backups.PREVIEW.format(size=human_bytes(info["needed_bytes"]),
                                             dest=info["dest"])
    return Preview("backup", None, info["needed_bytes"],
                   f"{what}; the newest {keep} backups are kept"
                   + (f" ({plural(info['would_rotate'], 'old backup')} removed)"
                      if info["would_rotate"] else ""),
                   refusal=info["refusal"], details=info)
