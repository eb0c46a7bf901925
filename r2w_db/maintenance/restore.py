"""Restore: replace the database file with a verified backup, the current file saved aside."""
import os
import shutil
import sqlite3
import time
from pathlib import Path

from r2w_db import errors
from r2w_db.engine.connection import as_database
from r2w_db.maintenance.backups import (
    PARTIAL,
    RestoreRefused,
    _free_name,
    _fsync_dir,
    _fsync_file,
    _is_full,
    _remove,
    check_dest,
    disk_free,
    resolve_dest,
    stem_of,
    verify_backup,
    verify_file,
)


class _ExclusiveHold:
    """Hold the database exclusively (EXCLUSIVE locking mode): fails at once if any
    other connection has it open in WAL mode or is using it."""

    def __init__(self, path):
        self.path = path
        self.conn = None

    def __enter__(self):
        try:
            self.conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=0.5)
            self.conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            self.conn.execute("BEGIN EXCLUSIVE")
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self.close()
            name = getattr(exc, "sqlite_errorname", "") or ""
            if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc):
                raise RestoreRefused(
                    f"{self.path} is in use by another process: stop the application (and the "
                    f"dashboard) first, then restore; nothing was changed") from None
            raise RestoreRefused(
                f"cannot open {self.path} to replace it: {exc}; nothing was changed") from None
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __exit__(self, *exc):
        self.close()


def restore_file(db, backup_path, *, dest=None, monitor=None, progress=None):
    """Replace the database file with a verified backup. The application must be stopped.

    1. verify the backup (integrity_check) - refuse if it fails;
    2. take the database exclusively (refuse if another process has it open), save it
       aside as a pre-restore backup (online backup API, verified), checkpoint its WAL;
    3. copy the backup beside the database under a temporary name, fsync, and swap it
       in with os.replace; remove the old file's -wal/-shm so they are never replayed
       onto the restored one.
    Returns {database, restored_from, pre_restore_backup, seconds}.
    """
    db = as_database(db)
    backup_path = Path(backup_path).expanduser()
    report = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    report(0.0, f"verifying {backup_path.name}")
    ok, message = verify_backup(backup_path, monitor)
    if not ok:
        raise RestoreRefused(f"{backup_path} is not a sound backup ({message}); nothing was changed")
    if db.path.resolve() == backup_path.resolve():
        raise RestoreRefused("the backup and the database are the same file; nothing was changed")
    db.path.parent.mkdir(parents=True, exist_ok=True)
    size = backup_path.stat().st_size
    free = disk_free(db.path.parent)
    if free < size:
        raise RestoreRefused(f"not enough free disk beside {db.path} to restore {backup_path} "
                             f"({size:,} bytes needed, {free:,} free); nothing was changed")
    temporary = db.path.with_name(f".{db.path.name}.restore{PARTIAL}{os.getpid()}")
    pre_restore = None
    try:
        hold = _ExclusiveHold(db.path) if db.path.exists() else None
        with hold or _Nothing() as conn:
            if conn is not None:
                report(0.2, "saving the current database aside (pre-restore backup)")
                pre_restore = _pre_restore_copy(conn, db, dest)
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            report(0.5, "copying the backup beside the database")
            shutil.copyfile(backup_path, temporary)
            _fsync_file(temporary)
            ok, message = verify_file(temporary)
            if not ok:
                raise RestoreRefused(f"the copy of {backup_path} failed verification ({message}); "
                                     "nothing was changed")
        # the exclusive connection is closed: its WAL was checkpointed and removed
        wal = Path(str(db.path) + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise RestoreRefused(f"{db.path} was written while restoring (its -wal is not empty): "
                                 "stop the application first; nothing was changed")
        report(0.8, "swapping the restored file into place")
        os.replace(temporary, db.path)
        for suffix in ("-wal", "-shm", "-journal"):
            try:
                Path(str(db.path) + suffix).unlink()
            except FileNotFoundError:
                pass
        _fsync_dir(db.path.parent)
    except BaseException as exc:
        _remove(temporary)
        if isinstance(exc, errors.R2WError):
            raise
        if isinstance(exc, (sqlite3.Error, OSError)):
            what = "disk full" if _is_full(exc) else (getattr(exc, "strerror", None) or str(exc))
            raise RestoreRefused(f"restore of {db.path} failed: {what}; the database was not "
                                 f"replaced") from None
        raise
    ok, message = verify_file(db.path)
    if not ok:
        raise errors.R2WError(f"restored {db.path} but it fails verification ({message}): "
                              f"restore the pre-restore copy {pre_restore}")
    report(1.0, f"restored {db.path.name} from {backup_path.name}")
    return {"database": str(db.path), "restored_from": str(backup_path),
            "pre_restore_backup": None if pre_restore is None else str(pre_restore),
            "seconds": time.perf_counter() - started}


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _pre_restore_copy(conn, db, dest):
    dest = check_dest(resolve_dest(dest))
    final = _free_name(dest, stem_of(db), kind="pre-restore-")
    temporary = dest / f".{final.name}{PARTIAL}{os.getpid()}"
    try:
        dst = sqlite3.connect(str(temporary), isolation_level=None)
        try:
            conn.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode = DELETE").fetchall()
        finally:
            dst.close()
        ok, message = verify_file(temporary)
        if not ok:
            # the current file is damaged: keep the copy anyway, it is all there is
            message = f"(current database was already damaged: {message})"
        _fsync_file(temporary)
        os.replace(temporary, final)
        _fsync_dir(dest)
    except (sqlite3.Error, OSError) as exc:
        removed = _remove(temporary)
        raise RestoreRefused(
            f"could not save the current database aside before restoring: "
            f"{'disk full' if _is_full(exc) else exc}"
            f"{'; the partial copy was removed' if removed else ''}; nothing was changed") from None
    return final
