"""Restore: put a verified backup in the database's place, on any engine.

Written once here: the backup must be one the backup log knows as a backup of this database
(else force=True), and the pre-restore copy goes into the database's backup folder. What a
restore is belongs to the engine (`db.backend.restore`): SQLite swaps a verified copy of the file
in, the current file saved aside; PostgreSQL restores the archive into a new database, verifies
it and renames it into the target's place.
"""
from pathlib import Path

from r2w_db import errors
from r2w_db.backends import open_database
from r2w_db.maintenance.backups import _free_name, check_dest, resolve_dest, stem_of
from r2w_db.monitor.store import MonitorStore

NOTHING = "nothing was changed"


def restore_file(db, backup_path, *, dest=None, monitor=None, force=False, progress=None,
                 swap=True):
    """Restore `backup_path` over the database (the application must be stopped). `swap=False`:
    PostgreSQL restores into a new database and leaves the target as it is.

    Returns what the engine reports (database, restored_from, pre_restore_backup, warnings,
    seconds, ...); raises RestoreRefused (one line) when nothing was changed."""
    db = open_database(db)
    source = Path(backup_path).expanduser()
    monitor = monitor or MonitorStore()
    engine = db.backend.restore
    engine.check_source(db, source)
    warnings = _provenance(monitor, db, source, force)
    folder = resolve_dest(dest, db)

    def aside():
        """The pre-restore copy's path in the backup folder (created)."""
        return _free_name(check_dest(folder).absolute(), stem_of(db), kind="pre-restore-")

    return engine.restore(db, source, folder=folder, aside=aside, monitor=monitor, force=force,
                          warnings=warnings, swap=swap,
                          progress=progress or (lambda fraction, message: None))


def restore_message(db, backup_path, info):
    """One line: what was restored, where the previous database went, any warning."""
    db = open_database(db)
    return db.backend.restore.message(db, backup_path, info)


def known_backup(monitor, db, source):
    """None when the backup log knows `source` as a backup (or pre-restore copy) of `db`,
    unchanged since it was verified; else why not (one line)."""
    unknown = (f"{source} is not in the backup log as a backup of {db.display} (taken elsewhere, "
               f"copied, renamed, or of another database)")
    if not monitor.path.exists():
        return unknown
    resolved = source.resolve()
    try:
        with monitor.db.read() as conn:
            rows = conn.execute(
                "SELECT backup FROM maintenance_log WHERE database = ? AND backup IS NOT NULL"
                " AND substr(backup, -?) = ?",
                (db.key, len(source.name), source.name)).fetchall()
        recorded = monitor.verifications().get(str(resolved))
    except errors.R2WError:   # a monitor file without the log yet
        return unknown
    if not any(Path(row[0]).resolve() == resolved for row in rows):
        return unknown
    stat = source.stat()
    if recorded and (recorded["size"], recorded["mtime_ns"]) != (stat.st_size, stat.st_mtime_ns):
        return f"{source} changed since it was taken and verified (its size or time differs)"
    return None


def _provenance(monitor, db, source, force):
    why = known_backup(monitor, db, source)
    if why is None:
        return []
    if not force:
        raise errors.RestoreRefused(f"{why}: check it is the right file, then rerun with --force; "
                                    f"{NOTHING}")
    return [f"restored with --force: {why}"]
