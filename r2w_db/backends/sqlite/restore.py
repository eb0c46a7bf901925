"""SQLite's restore: replace the database file with a verified backup, the current file saved
aside (maintenance/restore.py checks the backup log first and logs the run).

1. The backup must be one the backup log knows as a backup of this database (else force=True):
   maintenance/restore.py.
2. It is read through SQLite, its -wal included, into a temporary file beside the database
   (one backup step, bounded by the busy timeout), and that copy - exactly what will be put in
   place - is verified: integrity_check, the whole documented schema, a schema version this
   code knows. An older state of the documented schema needs force=True (then run migrate).
3. The database is held with a file lock (filelock.py: refused while any connection has it
   open), and the current file with its -wal/-journal is copied aside byte for byte into the
   backup folder: that works when the file is damaged, which is when a restore is needed. A
   readable copy is then folded into one verified file; a damaged one is kept as it was.
4. The old -wal/-shm/-journal are removed (they would be replayed onto the restored file) and
   the copy is swapped in with os.replace, in the live file's journal mode.
A failure before step 4 changes nothing; the temporary copy is removed.
"""
import os
import shutil
import sqlite3
import time
from pathlib import Path

from r2w_db import errors
from r2w_db.backends.sqlite import filelock
from r2w_db.backends.sqlite.backups import _is_full
from r2w_db.backends.sqlite import connection
from r2w_db.backends.sqlite.verification import (backup_step, is_locked, restore_problems,
                                                 snapshot, verify_file)
from r2w_db.engine.files import PARTIAL, SIDE_FILES, disk_free, fsync_dir, fsync_file, pid_alive
from r2w_db.engine.files import remove as _remove

HEADER = b"SQLite format 3\x00"
NOTHING = "nothing was changed"


def check_source(db, source):
    """RestoreRefused when `source` cannot be a backup to put in place of the database file."""
    target = db.path
    if not source.exists():
        raise errors.RestoreRefused(f"backup not found: {source}; {NOTHING}")
    if not source.is_file():
        raise errors.RestoreRefused(f"{source} is not a regular file, not a backup; {NOTHING}")
    if target.exists() and not target.is_file():
        raise errors.RestoreRefused(f"{target} is not a regular file: name the database file; "
                                    f"{NOTHING}")
    if target.exists() and os.path.samefile(target, source) or target.resolve() == source.resolve():
        raise errors.RestoreRefused(f"the backup and the database are the same file; {NOTHING}")


def restore(db, source, *, folder, aside, monitor, force, warnings, progress, swap):
    """Replace the database file with a verified backup. The application must be stopped.
    `folder`: the backup folder (where the current file is saved aside); `aside()`: the path of
    the pre-restore copy, its folder created; `monitor` records the verifications.

    Returns {database, restored_from, pre_restore_backup, pre_restore_sound,
    pre_restore_message, warnings, seconds}; raises RestoreRefused (one line) when nothing
    was changed."""
    if not swap:
        raise errors.InvalidValue("an SQLite restore always replaces the database file")
    report = progress
    started = time.perf_counter()
    warnings = list(warnings)
    _check_disk(db.path, source, folder)
    _sweep(db.path)
    temporary = db.path.with_name(f".{db.path.name}.restore{PARTIAL}{os.getpid()}")
    hold, kept = None, (None, None, None)
    try:
        db.path.parent.mkdir(parents=True, exist_ok=True)
        hold = _hold(db.path) if db.path.exists() else None   # refused at once while in use
        report(0.1, f"reading {source.name} through SQLite (its -wal included)")
        _read_whole(source, temporary)
        report(0.3, "verifying it: integrity, the documented schema, its version")
        warnings += _verify(source, temporary, monitor, force)
        if hold is not None and _journal_mode(hold.header()) == "wal":
            _set_wal(temporary)
        if hold is not None:
            report(0.6, "saving the current database aside (pre-restore copy)")
            kept = _save_aside(hold, db, aside, monitor)
        report(0.9, "swapping the restored file into place")
        fsync_file(temporary)
        for suffix in SIDE_FILES:   # never replayed onto the restored file
            Path(str(db.path) + suffix).unlink(missing_ok=True)
        os.replace(temporary, db.path)
        fsync_dir(db.path.parent)
    except BaseException as exc:
        _remove(temporary)
        if isinstance(exc, errors.R2WError):
            raise
        if isinstance(exc, (sqlite3.Error, OSError)):
            what = "disk full" if _is_full(exc) else (getattr(exc, "strerror", None) or exc)
            raise errors.RestoreRefused(f"restore of {db.path} failed: {errors.one_line(what)}; "
                                        f"the database was not replaced") from None
        raise
    finally:
        if hold is not None:
            hold.release()
    report(1.0, f"restored {db.path.name} from {source.name}")
    path, sound, message = kept
    return {"database": str(db.path), "restored_from": str(source),
            "pre_restore_backup": None if path is None else str(path),
            "pre_restore_sound": sound, "pre_restore_message": message,
            "warnings": warnings, "seconds": time.perf_counter() - started}


def message(db, backup_path, info):
    """One line: what was restored, where the previous file went, any warning."""
    text = f"restored {db.path} from {backup_path}"
    if info["pre_restore_backup"] and info["pre_restore_sound"]:
        text += f"; the previous file was saved as {info['pre_restore_backup']}"
    elif info["pre_restore_backup"]:
        text += (f"; the previous file was damaged and was kept aside as it was (with its "
                 f"-wal/-journal) in {info['pre_restore_backup']}")
    for warning in info.get("warnings") or ():
        text += f"; warning: {warning}"
    return text


# ------------------------------------------------------------------ before anything

def _device(folder):
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder.stat().st_dev


def _set_size(path):
    return sum(p.stat().st_size for p in (Path(path), *(Path(str(path) + s) for s in SIDE_FILES))
               if p.is_file())


def _check_disk(target, source, folder):
    """Room for the restored copy beside the database and for the copy set aside."""
    here, aside = _set_size(source), _set_size(target) if target.exists() else 0
    needs = [(target.parent, here), (folder, aside)]
    if _device(target.parent) == _device(folder):
        needs = [(target.parent, here + aside)]
    for where, need in needs:
        free = disk_free(where)
        if free < need:
            raise errors.RestoreRefused(f"not enough free disk in {where} to restore {source} "
                                 f"({need:,} bytes needed, {free:,} free); {NOTHING}")


def _sweep(target):
    """Remove the temporary copy a killed restore left beside the database (its process gone)."""
    for path in target.parent.glob(f".{target.name}.restore{PARTIAL}*"):
        try:
            pid = int(path.name.rsplit(PARTIAL, 1)[1].split("-")[0])
        except ValueError:
            continue
        if not pid_alive(pid):
            _remove(path)


# ------------------------------------------------------------ the backup, whole

def _read_whole(source, temporary):
    """Copy what SQLite reads in `source` (its -wal included) into `temporary`, one file."""
    shm = Path(str(source) + "-shm")
    had_shm = shm.exists()
    try:
        dst = sqlite3.connect(str(temporary), isolation_level=None)
        try:
            with snapshot(source) as src:
                backup_step(src, dst, source)
            dst.execute("PRAGMA journal_mode = DELETE").fetchall()
        finally:
            dst.close()
    except errors.DatabaseLocked:
        raise errors.RestoreRefused(f"{source} stayed locked by another process past the busy timeout "
                             f"({connection.BUSY_TIMEOUT_MS / 1000:g} s): try again shortly; {NOTHING}") from None
    except sqlite3.Error as exc:
        if is_locked(exc):
            raise errors.RestoreRefused(f"{source} stayed locked by another process past the busy "
                                 f"timeout: try again shortly; {NOTHING}") from None
        raise errors.RestoreRefused(f"{source} is not a sound backup ({_why(exc, source)}); "
                                    f"{NOTHING}") from None
    finally:   # the -shm a read-only reader of a -wal leaves: removed when nobody uses it
        if not had_shm and shm.exists() and filelock.unlocked(shm, *filelock.SHM_LOCKS):
            shm.unlink(missing_ok=True)


def _why(exc, source):
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name == "SQLITE_READONLY_ROLLBACK":
        return (f"it has a hot journal (a write to it was interrupted): roll that back with "
                f"`{errors.command(source, 'recover')}`, or restore another backup")
    if name.startswith("SQLITE_NOTADB") or "not a database" in text:
        return "it is not an SQLite database, or its header is damaged"
    if name.startswith("SQLITE_CORRUPT") or "malformed" in text:
        return "it is damaged: database disk image is malformed"
    return errors.one_line(text, limit=200)


def _verify(source, temporary, monitor, force):
    """Refuse a copy that is not a sound backup of this database; the warnings of one restored
    with force (an older documented schema)."""
    hard, soft = restore_problems(temporary)
    stat = source.stat()
    monitor.record_verification(source, size=stat.st_size, mtime_ns=stat.st_mtime_ns,
                                ok=not hard, message=hard[0] if hard else "integrity_check ok")
    if hard:
        raise errors.RestoreRefused(f"{source} is not a sound backup of this database: "
                             f"{'; '.join(hard)}; {NOTHING}")
    if soft and not force:
        raise errors.RestoreRefused(f"{source}: {soft[0]}. If it is an old backup of this database, "
                             f"rerun with --force; {NOTHING}")
    return [f"restored with --force: {w}" for w in soft]


def _journal_mode(header):
    """'wal' when a file's first bytes say WAL, else 'delete' (also for a damaged header)."""
    return "wal" if header.startswith(HEADER) and len(header) > 19 and header[18] == 2 else "delete"


def _set_wal(temporary):
    """Keep the live file's journal mode: the restored copy in WAL, with no -wal left beside it."""
    conn = sqlite3.connect(str(temporary), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL").fetchall()
    finally:
        conn.close()   # the last connection: checkpoints and removes the -wal and -shm
    for suffix in ("-wal", "-shm"):
        Path(str(temporary) + suffix).unlink(missing_ok=True)


# ------------------------------------------------------------- the current file

def _hold(path):
    try:
        return filelock.FileHold(path)
    except filelock.InUse:
        raise errors.RestoreRefused(f"{path} is in use by another process: stop the application (and "
                             f"the dashboard) first, then restore; {NOTHING}") from None
    except OSError as exc:
        raise errors.RestoreRefused(f"cannot open {path} to replace it: {exc.strerror or exc}; "
                             f"{NOTHING}") from None


def _save_aside(hold, db, aside, monitor):
    """Copy the held file and its -wal/-journal into the backup folder as a pre-restore copy:
    (path, sound, message). Folded into one verified file when SQLite reads it whole; a damaged
    file is kept as it was (with its side files)."""
    final = aside()
    folder = final.parent
    temporary = folder / f".{final.name}{PARTIAL}{os.getpid()}"
    try:
        hold.copy_to(temporary)
        for suffix in ("-wal", "-journal"):
            side = Path(str(db.path) + suffix)
            if side.is_file() and side.stat().st_size:
                shutil.copyfile(side, str(temporary) + suffix)
        sound, message = _seal(temporary)
        Path(str(temporary) + "-shm").unlink(missing_ok=True)
        for suffix in ("-wal", "-journal"):   # only a copy kept as it was still has them
            part = Path(str(temporary) + suffix)
            if part.exists():
                fsync_file(part)
                os.replace(part, str(final) + suffix)
        os.replace(temporary, final)
        fsync_dir(folder)
    except (sqlite3.Error, OSError) as exc:
        removed = _remove(temporary)
        raise errors.RestoreRefused(
            f"could not save the current database aside before restoring: "
            f"{'disk full' if _is_full(exc) else errors.one_line(exc)}"
            f"{'; the partial copy was removed' if removed else ''}; {NOTHING}") from None
    stat = final.stat()
    monitor.record_verification(final, size=stat.st_size, mtime_ns=stat.st_mtime_ns, ok=sound,
                                message=message)
    return final, sound, message


def _seal(temporary):
    """(sound, message): fold a readable copy's -wal in (or roll back its hot journal) so it is
    one self-contained file; leave a damaged one exactly as copied."""
    journal = Path(str(temporary) + "-journal").exists()
    if not journal:   # read-only first: a damaged copy is never written to
        ok, message = verify_file(temporary)
        Path(str(temporary) + "-shm").unlink(missing_ok=True)
        if not ok:
            return False, f"the current file was damaged ({message}): kept as it was"
    try:
        conn = sqlite3.connect(str(temporary), isolation_level=None, timeout=connection.BUSY_TIMEOUT_MS / 1000)
        try:
            conn.execute("PRAGMA journal_mode = DELETE").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return False, f"the current file was damaged ({errors.one_line(exc)}): kept as it was"
    if journal:
        ok, message = verify_file(temporary)
        if not ok:
            return False, f"the current file was damaged ({message})"
    return True, "integrity_check ok"
