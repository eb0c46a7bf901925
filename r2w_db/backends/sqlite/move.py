"""The move's source side on SQLite: one snapshot of the file and its rows (maintenance/move.py).

One snapshot of the source, while the application keeps running. In WAL mode: a single read
transaction (`BEGIN` + reads) on a read-only connection; it does not block the application's
writers (it holds back checkpoints while it lasts). In a rollback-journal mode such a transaction
would hold a SHARED lock that stops every writer for the whole move, so the snapshot is a copy of
the file taken under that lock (a writer's commit waits for the copy, never for the move), read
the same way. The copy is the file's bytes, copied by the kernel (sendfile) in a child process
while this one holds the lock: no writer can change the file meanwhile, and a close() of the file
in this process would release SQLite's own locks. A 3 GB file: 2.6 s, against 4-9 s for
SQLite's backup API in one step. It goes to memory (/dev/shm) when the tmpfs and the machine's
available memory both hold twice the file (and TMPDIR does not choose a folder): 4-7 s on the
disk. A file in WAL mode needs no copy: its read transaction blocks no writer, only holds back
checkpoints (the -wal grows) until the move ends. Text is decoded by sqlite3 itself (in C); a table holding text
that is not valid UTF-8 (the read fails on it) is read again with surrogateescape (decode_text,
a Python call per value: several times slower), its rows already given skipped: the converter
lists the bad value, with its bytes, instead of the read failing.
"""
import functools
import os
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from r2w_db import errors
from r2w_db.backends.sqlite import schema as sqlite_schema
from r2w_db.backends.sqlite.connection import open_reader, translated
from r2w_db.engine import files

FETCH_ROWS = 2000
MEMORY = Path("/dev/shm")
MEMORY_MARGIN = 2   # the copy goes to memory when twice its size is free there and in RAM
COPY_FILE = "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])"   # sendfile on Linux


@contextmanager
def source_snapshot(db):
    """(connection in an open read transaction, how the snapshot was taken)."""
    with db.read() as conn:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0].lower()
    where = None if mode == "wal" else _snapshot_folder(os.path.getsize(db.path))
    with tempfile.TemporaryDirectory(prefix="r2w-move-", dir=where) as folder:
        path, how = db.path, "one read transaction (WAL)"
        if mode != "wal":
            path = Path(folder) / "snapshot.db"
            how = f"copy under a read lock ({mode} journal) into {'memory' if where else 'a temporary file'}"
            _copy_under_read_lock(db.path, path)
        conn = open_reader(path)
        try:
            with translated(db.path):
                conn.execute("BEGIN")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts
                yield conn, how
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()


def _copy_under_read_lock(source, target):
    """`source`'s bytes into `target`, copied by a child process while a read transaction here
    holds the file's SHARED lock (consistent: no writer can write the file until it ends)."""
    reader = open_reader(source)
    try:
        with translated(source):
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM sqlite_master").fetchone()   # locked from here
            done = subprocess.run([sys.executable, "-c", COPY_FILE, str(source), str(target)],
                                  capture_output=True, text=True)
        if done.returncode:
            why = (done.stderr.strip().splitlines() or ["it failed"])[-1]
            raise errors.R2WError(f"could not copy {source} for the move's snapshot "
                                  f"({errors.one_line(why)}); nothing was written")
    finally:
        if reader.in_transaction:
            reader.execute("ROLLBACK")
        reader.close()


def _snapshot_folder(size):
    """/dev/shm when it and the available memory hold MEMORY_MARGIN times `size` bytes and
    TMPDIR is not set; else None (the temporary folder)."""
    if os.environ.get("TMPDIR") or not os.access(MEMORY, os.W_OK):
        return None
    need = MEMORY_MARGIN * size
    roomy = files.disk_free(MEMORY) >= need and _available_memory() >= need
    return str(MEMORY) if roomy else None


def _available_memory():
    """MemAvailable of /proc/meminfo in bytes (0 where there is none)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


# SQLite text as str; bytes that are not valid UTF-8 kept as lone surrogates (surrogateescape),
# so that one bad value is reported by the converter instead of failing the whole read
# ("Could not decode to UTF-8"); a partial of str, not a Python function: no frame per value
decode_text = functools.partial(str, encoding="utf-8", errors="surrogateescape")


def source_batches(conn, table, columns):
    """The rows of `table` in the snapshot, `columns` in that order, in batches (lists)."""
    names = ", ".join(f'"{c}"' for c in columns)  # schema names only
    query, given = f'SELECT {names} FROM "{table}"', 0
    try:
        cur = conn.execute(query)
        while batch := cur.fetchmany(FETCH_ROWS):
            given += len(batch)
            yield batch
        return
    except sqlite3.OperationalError as exc:
        if "decode" not in str(exc):
            raise
    # the same statement on the same snapshot gives the same rows in the same order
    conn.text_factory = decode_text
    try:
        cur = conn.execute(query)
        while given:   # the rows already given
            given -= len(cur.fetchmany(min(given, FETCH_ROWS)))
        while batch := cur.fetchmany(FETCH_ROWS):
            yield batch
    finally:
        conn.text_factory = str


def check_source(conn, db):
    """The tables the move leaves behind (not in the schema); refuses columns it would drop."""
    sqlite_schema.require_schema(conn, db.path)
    drift = sqlite_schema.drift(conn)
    if drift.extra_columns:
        raise errors.R2WError(f"{db.path} has columns the schema does not know "
                              f"({', '.join(drift.extra_columns)}): the move would drop them")
    return drift.extra_tables
