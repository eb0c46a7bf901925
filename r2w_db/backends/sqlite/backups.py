"""SQLite's backups: the copy and its verification (maintenance/backups.py does the rest).

SQLite's backup API in ONE step (a stepped backup restarts on every write of the live
application and never finishes) or VACUUM INTO gives a consistent copy while the application
writes; copying the file does not. The copy is checked with PRAGMA integrity_check before it is
renamed into place. A lock held by another process ends the backup within the busy timeout with
the "locked" message (verification.py), never a hang. A hot rollback journal (a writer crashed
mid-transaction) is named as such, with `recover`, never as "permission denied".
"""
import sqlite3
from pathlib import Path

from r2w_db import errors
from r2w_db.backends.sqlite import connection
from r2w_db.backends.sqlite.connection import translate
from r2w_db.backends.sqlite.verification import backup_step, is_locked, ro_uri, snapshot, verify_file

SUFFIX = ".db"
METHODS = ("backup", "vacuum-into")
PREVIEW = "{size} would be copied to {dest} and verified"


def stem(db):
    return db.path.stem or "database"


def identity(db):
    """What names the database's backup folder: its absolute path."""
    return str(db.path.absolute())


def _file_sizes(path):
    path = Path(path)
    if path.exists() and not path.is_file():
        raise errors.BackupFailed(f"{path} is not a regular file: name the database file itself")
    if not path.is_file():
        raise errors.DatabaseMissing(path)
    wal = Path(str(path) + "-wal")
    return path.stat().st_size, (wal.stat().st_size if wal.exists() else 0)


def sizes(db):
    """{database_bytes, wal_bytes}: what a backup copies."""
    size, wal = _file_sizes(db.path)
    return {"database_bytes": size, "wal_bytes": wal}


def check_method(method):
    if method not in METHODS:
        raise errors.InvalidValue(f"method must be one of {', '.join(METHODS)}, not {method!r}")


def needed_bytes(db):
    """The disk a backup needs; DatabaseMissing when there is nothing to back up."""
    if not db.path.exists():
        raise errors.DatabaseMissing(db.path)
    size, wal = _file_sizes(db.path)
    return size + wal


def copy(db, temporary, method, progress):
    """Copy the live database into `temporary` and verify the copy; {message} of the check."""
    progress(0.0, f"copying {db.path.name} ({method})")
    _copy(db, temporary, method)
    progress(0.7, "verifying the copy (integrity_check)")
    ok, message = verify_file(temporary)
    if not ok:
        raise errors.BackupFailed(f"the copy of {db.path} failed verification ({message}): "
                                  f"it was removed, the database is untouched")
    return {"message": message}


def verify(path):
    """(ok, one-line message): integrity_check of a backup file, read-only."""
    return verify_file(path)


def _copy(db, temporary, method):
    """Copy the live database into `temporary` in one step, giving up within the busy timeout
    on a lock held by another process; sqlite3/OS errors propagate raw."""
    if method == "vacuum-into":
        src = sqlite3.connect(ro_uri(db.path), uri=True, isolation_level=None,
                              timeout=connection.BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        try:
            src.execute(f"PRAGMA busy_timeout = {connection.BUSY_TIMEOUT_MS}")  # VACUUM INTO honours it
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


def _hot_journal(exc, path):
    """A read-only copy refused because a writer crashed mid-transaction: SQLite names it
    (SQLITE_READONLY_ROLLBACK), or VACUUM INTO's plain "readonly" with a non-empty -journal
    beside the file (a live writer's journal would have let the read through)."""
    if not isinstance(exc, sqlite3.Error):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name == "SQLITE_READONLY_ROLLBACK":
        return True
    if not (name.startswith("SQLITE_READONLY") or "readonly" in str(exc)):
        return False
    try:
        return Path(str(path) + "-journal").stat().st_size > 0
    except OSError:
        return False


def _is_full(exc):
    """Disk full (or a file size limit) behind an SQLite or OS error."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_FULL", "SQLITE_IOERR")) or isinstance(exc, OSError) and \
        exc.errno in (28, 27)  # ENOSPC, EFBIG


def failure(exc, db, final, removed):
    """The BackupFailed to raise for an error met while copying (None: re-raise it as it is)."""
    if isinstance(exc, errors.DatabaseLocked):
        return errors.BackupLocked(db.path)
    if isinstance(exc, errors.HotJournal) or _hot_journal(exc, db.path):
        partial = "the partial copy was removed" if removed else "no partial copy was left"
        return errors.BackupFailed(f"backup failed: {errors.HotJournal(db.path)}; "
                                   f"{partial}")
    if not isinstance(exc, (sqlite3.Error, OSError)):
        return None
    if is_locked(exc):
        return errors.BackupLocked(db.path)
    if _is_full(exc):
        what = "disk full (or file size limit reached)"
    elif isinstance(exc, PermissionError) or "readonly" in str(exc) or "unable to open" in str(exc):
        what = "permission denied"
    elif isinstance(exc, sqlite3.Error):
        what = str(translate(exc, db.path))
    else:
        what = exc.strerror or str(exc)
    partial = "the partial copy was removed" if removed else "no partial copy was left"
    return errors.BackupFailed(f"backup of {db.path} to {final} failed: {what}; {partial}, "
                               f"the database is untouched")
