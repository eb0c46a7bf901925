"""The journal mode: read it, and switch to WAL only when asked (an explicit, previewed step).

No other writer changes it: the application may keep its file on a volume where WAL is unsafe.
"""
from r2w_db import errors
from r2w_db.backends.dispatch import sqlite_only
from r2w_db.backends.sqlite.database import as_database

WAL_WARNING = ("WAL keeps a -wal and a -shm file beside the database and needs shared memory "
               "between every process that opens it: use it only on a local disk, never on a "
               "network file system (NFS, SMB) or a volume shared between machines")


NOT_ON_POSTGRESQL = ("the journal mode (--wal)", "it is SQLite's; PostgreSQL always writes "
                     "ahead to its WAL")


@sqlite_only(*NOT_ON_POSTGRESQL)
def mode(db) -> str:
    """The journal mode the file is in now ('delete', 'wal', 'truncate', ...); read-only."""
    with as_database(db).read() as conn:
        return conn.execute("PRAGMA journal_mode").fetchone()[0].lower()


@sqlite_only(*NOT_ON_POSTGRESQL)
def switch_to_wal(db) -> str:
    """Put the file in WAL mode (persistent); returns the mode it had before."""
    db = as_database(db)
    before = mode(db)
    if before == "wal":
        return before
    with db.write() as conn:
        after = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower()
    if after != "wal":
        raise errors.R2WError(f"{db.path} stayed in {after} mode: SQLite could not switch it to "
                              f"WAL (another process has it open, or the volume lacks shared memory)")
    return before
