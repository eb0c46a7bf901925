"""The journal mode: read it, and switch to WAL only when asked (an explicit, previewed step).

No other writer changes it: the application may keep its file on a volume where WAL is unsafe.
"""
from r2w_db import errors

WAL_WARNING = ("WAL keeps a -wal and a -shm file beside the database and needs shared memory "
               "between every process that opens it: use it only on a local disk, never on a "
               "network file system (NFS, SMB) or a volume shared between machines")


def mode(db) -> str:
    """The journal mode the file is in now ('delete', 'wal', 'truncate', ...); read-only."""
    with db.read() as conn:
        return conn.execute("PRAGMA journal_mode").fetchone()[0].lower()


def switch_to_wal(db) -> str:
    """Put the file in WAL mode (persistent); returns the mode it had before."""
    before = mode(db)
    if before == "wal":
        return before
    with db.write() as conn:
        after = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower()
    if after != "wal":
        raise errors.R2WError(f"{db.path} stayed in {after} mode: SQLite could not switch it to "
                              f"WAL (another process has it open, or the volume lacks shared memory)")
    return before


def recover(db, limit=20):
    """Roll back a crashed writer's hot journal (a writer's first read does it); then
    quick_check's lines (["ok"] when the file is sound)."""
    with db.write() as conn:
        return [row[0] for row in conn.execute(f"PRAGMA quick_check({int(limit)})")]
