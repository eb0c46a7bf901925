"""Verified online backups: take, list, verify, rotate, restore.

DESIGN.md: SQLite's backup API in ONE step (a stepped backup restarts on every
write of the live application and never finishes) or VACUUM INTO gives a
consistent copy while the application writes; copying the file does not. A
copy is written under a temporary name in the destination folder, checked with
PRAGMA integrity_check, and only then renamed into place (os.replace), so a
failure (disk full shows up as SQLITE_IOERR, permissions, a kill) never leaves
a half-written file that looks like a backup. A lock held by another process ends the
backup within the busy timeout with the "locked" message (verification.py), never a hang.
"""
import hashlib
import os
import re
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from r2w_db import errors
from r2w_db.engine import locations, timeutil
from r2w_db.backends.dispatch import per_backend
from r2w_db.backends.sqlite.connection import BUSY_TIMEOUT_MS, translate
from r2w_db.backends.sqlite.database import as_database
from r2w_db.backends.postgresql.tools import verify_dump
from r2w_db.maintenance.verification import (
    backup_step,
    is_locked,
    ro_uri,
    snapshot,
    verify_file,
)

BACKUP_DIR_ENV = "R2W_BACKUP_DIR"
DEFAULT_KEEP = 7
METHODS = ("backup", "vacuum-into")
STAMP = "%Y%m%dT%H%M%SZ"
NAME = re.compile(r"^(?P<stem>.+?)-(?P<kind>pre-restore-)?(?P<stamp>\d{8}T\d{6}Z)"
                  r"(?:-(?P<seq>\d+))?\.(?:db|dump)$")  # .dump: pg_dump -Fc (PostgreSQL)
PARTIAL = ".partial-"
SIDE_FILES = ("-journal", "-wal", "-shm")


class BackupFailed(errors.R2WError):
    """A backup could not be written or verified; nothing half-written is left."""


class BackupLocked(BackupFailed, errors.DatabaseLocked):
    """The database stayed locked by another process past the busy timeout: no backup."""

    def __init__(self, path):
        errors.DatabaseLocked.__init__(self, path)
        self.args = (f"{self.args[0]}; no backup was written, the database is untouched",)


class RestoreRefused(errors.R2WError):
    """A restore was not started (bad backup, database in use, ...); nothing was changed."""


# ----------------------------------------------------------------------- names

def default_dest(environ=None, db=None) -> Path:
    """R2W_BACKUP_DIR, else data/backups/ beside the monitor database; with `db`, that
    database's own folder in it (`<file stem>-<8 hex of its absolute path>`), so that two
    databases never share a folder, a rotation or a listing, even with the same file name."""
    environ = os.environ if environ is None else environ
    if environ.get(BACKUP_DIR_ENV):
        base = Path(environ[BACKUP_DIR_ENV]).expanduser()
    else:
        base = locations.monitor_db_path(environ).parent / "backups"
    return base if db is None else base / folder_of(db)


@per_backend("r2w_db.backends.postgresql.backups")
def folder_of(db) -> str:
    path = as_database(db).path.absolute()
    return f"{stem_of(db)}-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"


def resolve_dest(dest=None, db=None) -> Path:
    """An explicit --dest as given, else the database's own default folder."""
    return Path(dest).expanduser() if dest else default_dest(db=db)


@per_backend("r2w_db.backends.postgresql.backups")
def stem_of(db) -> str:
    """Backups of data/resume2website.db are named resume2website-YYYYmmddTHHMMSSZ.db."""
    return as_database(db).path.stem or "database"


def backup_name(stem, moment=None, kind="", seq=0, suffix=".db") -> str:
    moment = moment or datetime.now(timezone.utc)
    return f"{stem}-{kind}{moment.strftime(STAMP)}{'-' + str(seq) if seq else ''}{suffix}"


def _free_name(dest, stem, kind="", suffix=".db"):
    """A new name that sorts after every backup taken in the same second (-1, -2, ...)."""
    moment = datetime.now(timezone.utc)
    first = backup_name(stem, moment, kind, suffix=suffix)
    taken = [_seq(p.name) for p in Path(dest).glob(first[:-len(suffix)] + "*" + suffix)
             if NAME.match(p.name) and NAME.match(p.name)["stem"] == stem]
    seq = max(taken) + 1 if taken else 0
    return Path(dest) / backup_name(stem, moment, kind, seq, suffix)


# -------------------------------------------------------------------- helpers

def _remove(path):
    """Remove a file and its SQLite side files; True if anything was there."""
    found = False
    for candidate in (Path(path), *(Path(str(path) + s) for s in SIDE_FILES)):
        try:
            candidate.unlink()
            found = True
        except FileNotFoundError:
            pass
    return found


def _fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _file_sizes(path):
    path = Path(path)
    if path.exists() and not path.is_file():
        raise BackupFailed(f"{path} is not a regular file: name the database file itself")
    if not path.is_file():
        raise errors.DatabaseMissing(path)
    wal = Path(str(path) + "-wal")
    return path.stat().st_size, (wal.stat().st_size if wal.exists() else 0)


def _is_full(exc):
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_FULL", "SQLITE_IOERR")) or isinstance(exc, OSError) and \
        exc.errno in (28, 27)  # ENOSPC, EFBIG


def disk_free(folder) -> int:
    """Free bytes on the filesystem holding `folder` (or its nearest existing parent)."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def check_dest(dest) -> Path:
    """Create the backup folder if needed; a clear error when it cannot hold backups."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise BackupFailed(f"cannot write backups to {dest}: it is a file, not a folder")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupFailed(f"cannot create the backup folder {dest}: {exc.strerror or exc}") from None
    if not os.access(dest, os.W_OK | os.X_OK):
        raise BackupFailed(f"cannot write backups to {dest}: permission denied")
    return dest


# ---------------------------------------------------------------- verification

def verify_backup(path, monitor=None):
    """Verify a backup file and record the result in the monitor database; (ok, message).
    A PostgreSQL dump (.dump) is read whole by pg_restore, its rows counted."""
    path = Path(path)
    ok, message = verify_dump(path) if path.suffix == ".dump" else verify_file(path)
    if monitor is not None and path.exists():
        stat = path.stat()
        monitor.record_verification(path, size=stat.st_size, mtime_ns=stat.st_mtime_ns,
                                    ok=ok, message=message)
    return ok, message


# ---------------------------------------------------------------------- backup

@per_backend("r2w_db.backends.postgresql.backups")
def preview(db, dest=None, keep=DEFAULT_KEEP):
    """What a backup would do: sizes, free space, how many old backups rotation removes."""
    db = as_database(db)
    dest = resolve_dest(dest, db)
    size, wal = _file_sizes(db.path)
    existing = [b for b in list_backups(dest, stem=stem_of(db)) if b.kind == "backup"]
    free = disk_free(dest)
    return {"database_bytes": size, "wal_bytes": wal, "dest": str(dest), "free_bytes": free,
            "needed_bytes": size + wal, "existing": len(existing),
            "would_rotate": max(0, len(existing) + 1 - keep), "keep": keep}


@per_backend("r2w_db.backends.postgresql.backups")
def create_backup(db, dest=None, *, keep=DEFAULT_KEEP, method="backup", monitor=None,
                  progress=None):
    """Take a verified backup of `db` into `dest`; rotate to the newest `keep`.

    Returns {path, size, seconds, method, verified, rotated}. Raises BackupFailed
    (one line; the partial copy removed, the database untouched) on any failure.
    """
    db = as_database(db)
    if method not in METHODS:
        raise errors.InvalidValue(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise errors.InvalidValue(f"keep must be a whole number >= 1, not {keep!r}")
    if not db.path.exists():
        raise errors.DatabaseMissing(db.path)
    dest = check_dest(resolve_dest(dest, db)).absolute()
    size, wal = _file_sizes(db.path)
    free = disk_free(dest)
    if free < size + wal:
        raise BackupFailed(
            f"not enough free disk in {dest} for a backup of {db.path}: needs up to "
            f"{size + wal:,} bytes, {free:,} free")
    _sweep_partials(dest)
    final = _free_name(dest, stem_of(db))
    temporary = dest / f".{final.name}{PARTIAL}{os.getpid()}"
    started = time.perf_counter()
    report = progress or (lambda fraction, message: None)
    try:
        report(0.0, f"copying {db.path.name} ({method})")
        _copy(db, temporary, method)
        report(0.7, "verifying the copy (integrity_check)")
        ok, message = verify_file(temporary)
        if not ok:
            raise BackupFailed(f"the copy of {db.path} failed verification ({message}): "
                               f"it was removed, the database is untouched")
        _fsync_file(temporary)
        os.replace(temporary, final)
        _fsync_dir(dest)
    except BaseException as exc:
        removed = _remove(temporary)
        if isinstance(exc, errors.DatabaseLocked):
            raise BackupLocked(db.path) from None
        if isinstance(exc, BackupFailed):
            raise
        if isinstance(exc, (sqlite3.Error, OSError)):
            raise _failure(exc, db, final, removed) from None
        raise
    seconds = time.perf_counter() - started
    stat = final.stat()
    if monitor is not None:
        monitor.record_verification(final, size=stat.st_size, mtime_ns=stat.st_mtime_ns,
                                    ok=True, message=message)
    report(0.9, "rotating old backups")
    rotated = rotate(dest, keep, stem_of(db))
    report(1.0, f"backup written: {final.name}")
    return {"path": str(final), "size": stat.st_size, "seconds": seconds, "method": method,
            "verified": True, "rotated": [str(p) for p in rotated]}


def _copy(db, temporary, method):
    """Copy the live database into `temporary` in one step, giving up within the busy timeout
    on a lock held by another process; sqlite3/OS errors propagate raw."""
    if method == "vacuum-into":
        src = sqlite3.connect(ro_uri(db.path), uri=True, isolation_level=None,
                              timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        try:
            src.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # VACUUM INTO honours it
            src.execute("VACUUM INTO ?", (str(temporary),))
        finally:
            src.close()
        dst = sqlite3.connect(str(temporary), isolation_level=None)
    else:
        dst = sqlite3.connect(str(temporary), isolation_level=None)
        try:
            with snapshot(db.path) as src:
                backup_step(src, dst, db.path)
        except BaseException:
            dst.close()
            raise
    try:
        # a self-contained single file: no -wal beside it, fit to download or restore
        dst.execute("PRAGMA journal_mode = DELETE").fetchall()
    finally:
        dst.close()


def _failure(exc, db, final, removed):
    if is_locked(exc):
        return BackupLocked(db.path)
    if _is_full(exc):
        what = "disk full (or file size limit reached)"
    elif isinstance(exc, PermissionError) or "readonly" in str(exc) or "unable to open" in str(exc):
        what = "permission denied"
    elif isinstance(exc, sqlite3.Error):
        what = str(translate(exc, db.path))
    else:
        what = exc.strerror or str(exc)
    partial = "the partial copy was removed" if removed else "no partial copy was left"
    return BackupFailed(f"backup of {db.path} to {final} failed: {what}; {partial}, "
                        f"the database is untouched")


def _sweep_partials(dest, older_than_s=3600):
    """Remove temporary copies left by killed backups (older than an hour, owner gone)."""
    now = time.time()
    for path in Path(dest).glob(f".*{PARTIAL}*"):
        if path.name.endswith(SIDE_FILES):
            continue
        try:
            pid = int(path.name.rsplit(PARTIAL, 1)[1])
            old = now - path.stat().st_mtime > older_than_s
        except (ValueError, OSError):
            continue
        if old and not _pid_alive(pid):
            _remove(path)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


# ------------------------------------------------------------- list and rotate

@dataclass
class BackupInfo:
    path: str
    name: str
    stem: str
    kind: str            # "backup" or "pre-restore"
    size: int
    created_at: str      # UTC, from the name
    age_seconds: float
    verified: object     # True / False / None (never verified, or changed since)
    verified_at: object
    message: object

    def as_dict(self):
        return asdict(self)


def _parse(path):
    match = NAME.match(path.name)
    if not match:
        return None
    moment = datetime.strptime(match["stamp"], STAMP)
    return match, moment


def list_backups(dest=None, *, verify=False, monitor=None, stem=None, db=None):
    """The backups in `dest`, newest first: size, age and verification status.

    verify=True runs integrity_check on each (and records it when a monitor is given);
    otherwise the status comes from the recorded verifications (None: never verified,
    or the file changed since).
    """
    dest = resolve_dest(dest, db)
    stem = stem_of(db) if stem is None and db is not None else stem
    if not dest.is_dir():
        return []
    recorded = monitor.verifications() if monitor is not None and not verify else {}
    now = timeutil.utcnow()
    found = []
    for path in dest.iterdir():
        parsed = _parse(path)
        if parsed is None or not path.is_file():
            continue
        match, moment = parsed
        if stem is not None and match["stem"] != stem:
            continue
        stat = path.stat()
        if verify:
            ok, message = verify_backup(path, monitor)
            verified, verified_at = ok, timeutil.now_iso()
        else:
            entry = recorded.get(str(path.resolve()))
            if entry and entry["size"] == stat.st_size and entry["mtime_ns"] == stat.st_mtime_ns:
                verified, verified_at, message = entry["ok"], entry["verified_at"], entry["message"]
            else:
                verified = verified_at = message = None
        found.append(BackupInfo(
            path=str(path), name=path.name, stem=match["stem"],
            kind="pre-restore" if match["kind"] else "backup", size=stat.st_size,
            created_at=timeutil.iso(moment), age_seconds=(now - moment).total_seconds(),
            verified=verified, verified_at=verified_at, message=message))
    found.sort(key=lambda b: (b.created_at, _seq(b.name)), reverse=True)
    return found


def _seq(name):
    match = NAME.match(name)
    return int(match["seq"] or 0) if match else 0


def rotate(dest, keep, stem):
    """Remove the oldest regular backups of `stem` beyond the newest `keep`; the removed paths.

    Pre-restore copies are never rotated away."""
    if keep < 1:
        raise errors.InvalidValue("keep must be >= 1")
    regular = [b for b in list_backups(dest, stem=stem) if b.kind == "backup"]
    removed = []
    for old in regular[keep:]:
        _remove(old.path)
        removed.append(Path(old.path))
    return removed
