"""The load test on SQLite: its scratch database, a temporary file copy, and its statements.

The copy is made with SQLite's online backup API in one step: consistent even while the
application writes; the source is opened read-only and left unchanged. The file is deleted
with its temporary folder when the test ends, fails or is interrupted.
"""
import shutil
import sqlite3
import tempfile
from contextlib import contextmanager
from pathlib import Path

from r2w_db import errors
from r2w_db.backends.sqlite import predicates as P
from r2w_db.backends.sqlite.connection import open_reader, translate
from r2w_db.backends.sqlite.database import Database

SCRATCH_METHOD = ("a temporary copy made with SQLite's online backup (consistent even while the "
                  "application writes; deleted afterwards)")
RAN_ON = {"copy": "a temporary copy (online backup) of the database",
          "generated": "a small generated demo database"}
CACHE_LOOKUP_SQL = "SELECT cv_data FROM cv_extraction_cache WHERE file_hash = ?"


def copy_into(db, scratch, progress=None):
    """Copy `db` to the file of `scratch` in one step of the online backup API. The source is
    opened read-only; a copy taken while the application writes is consistent. Refuses
    (DiskFull) when the destination's disk lacks room."""
    dest = scratch.path
    size = db.path.stat().st_size
    wal = Path(str(db.path) + "-wal")
    size += wal.stat().st_size if wal.exists() else 0
    if shutil.disk_usage(dest.parent).free < size * 1.1 + 64 * 2 ** 20:
        raise errors.DiskFull(dest)
    if progress:
        progress(0.0, f"copying {db.path.name} (online backup)")
    source = open_reader(db.path)
    try:
        target = sqlite3.connect(str(dest))
        try:
            source.backup(target, pages=-1)
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise translate(exc, dest) from None
    finally:
        source.close()


@contextmanager
def scratch_database(db, directory=None, empty=False, progress=None):
    """A temporary file holding a copy of `db` (`empty`: no file yet, for a generated database);
    yields its database, and deletes it with its folder when the block ends."""
    with tempfile.TemporaryDirectory(prefix="r2w-loadtest-", dir=directory) as folder:
        scratch = Database(Path(folder) / "scratch.db")
        if not empty:
            copy_into(db, scratch, progress)
        yield scratch


def pool(conn, rng, table, column, registered, size):
    """Up to `size` existing values of table.column (`registered`: of registered users only),
    sampled by rowid (no full scan)."""
    where = P.not_anonymous() if registered else "1"
    low, high = conn.execute(f"SELECT min(rowid), max(rowid) FROM {table}").fetchone()
    if low is None:
        return []
    ids = sorted({rng.randint(low, high) for _ in range(size * 2)})
    found = []
    for start in range(0, len(ids), 400):
        chunk = ids[start:start + 400]
        found += [row[0] for row in conn.execute(
            f"SELECT {column} FROM {table} WHERE rowid IN ({', '.join('?' * len(chunk))})"
            f" AND {where} AND {column} IS NOT NULL", chunk)]
    return found[:size]


def cache_lookup(conn, file_hash):
    """The cache entry's cv_data row, or None."""
    return conn.execute(CACHE_LOOKUP_SQL, (file_hash,)).fetchone()
