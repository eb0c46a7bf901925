"""Verified backups of a PostgreSQL database: pg_dump -Fc from one snapshot, restored to check.

backups.py dispatches here (folder_of, stem_of, preview, create_backup) for a PgDatabase; the
folder, naming, listing and rotation are backups.py's, with `.dump` files:
1. A read-only REPEATABLE READ transaction exports its snapshot (pg_export_snapshot) and
   counts the four tables' rows in it; pg_dump --snapshot dumps exactly that snapshot
   (`--lock-wait-timeout` bounds its wait behind a schema change), while the application
   keeps reading and writing.
2. The dump is written under a temporary name, then VERIFIED: restored (pg_restore) into a
   scratch database created for the purpose, whose row counts must equal the snapshot's; the
   scratch database is dropped whatever happens.
3. Only then is it renamed into place (os.replace) and the folder rotated to the newest `keep`.
A failure at any step removes the temporary file: nothing half-written looks like a backup.
"""
import hashlib
import os
import re
import tempfile
import time

from r2w_db import errors
from r2w_db.backends.postgresql.database import as_pg
from r2w_db.backends.postgresql import tools as pg_tools
from r2w_db.maintenance.backups import (
    DEFAULT_KEEP,
    PARTIAL,
    BackupFailed,
    _free_name,
    _fsync_dir,
    _fsync_file,
    _remove,
    _sweep_partials,
    check_dest,
    disk_free,
    list_backups,
    resolve_dest,
    rotate,
)
from r2w_db.monitor.store import database_key

SUFFIX = ".dump"
LOCK_WAIT_MS = 5000   # pg_dump gives up behind a schema change instead of queueing the app


def stem_of(db) -> str:
    """The database's name (as the URL or PGDATABASE gives it), fit for a file name."""
    from psycopg import conninfo

    params = conninfo.conninfo_to_dict(as_pg(db).url)
    name = params.get("dbname") or os.environ.get("PGDATABASE") or params.get("user") \
        or os.environ.get("PGUSER") or "postgresql"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(name)).strip(".") or "postgresql"


def folder_of(db) -> str:
    """`<database name>-<8 hex of its redacted URL>`: one folder per database."""
    return f"{stem_of(db)}-{hashlib.sha256(database_key(as_pg(db)).encode()).hexdigest()[:8]}"


def _checked(keep, method):
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise errors.InvalidValue(f"keep must be a whole number >= 1, not {keep!r}")
    if method not in ("backup", "pg_dump"):
        raise errors.InvalidValue(f"method {method!r} is SQLite's: PostgreSQL backups are "
                                  f"pg_dump -Fc archives (leave --method out)")


def refusal(db, facts=None):
    """Why a backup cannot be taken and verified here, or None (tools missing, no CREATEDB)."""
    try:
        pg_tools.find_tool("pg_dump")
        pg_tools.find_tool("pg_restore")
    except pg_tools.ToolMissing as exc:
        return str(exc)
    facts = facts or pg_tools.database_facts(db)
    if not facts["may_create"]:
        return ("the backup is verified by restoring it into a scratch database, which needs "
                "CREATEDB: ALTER ROLE ... CREATEDB for the maintenance role, or run it as the owner")
    return None


def preview(db, dest=None, keep=DEFAULT_KEEP):
    """What a backup would do: the database's size, free space, what rotation removes."""
    db = as_pg(db)
    dest = resolve_dest(dest, db)
    facts = pg_tools.database_facts(db)
    existing = [b for b in list_backups(dest, stem=stem_of(db)) if b.kind == "backup"]
    free = disk_free(dest)
    why = refusal(db, facts)
    if why is None and free < facts["size_bytes"]:
        why = (f"not enough free disk in {dest} for a backup: needs up to "
               f"{facts['size_bytes']:,} bytes, {free:,} free")
    return {"database_bytes": facts["size_bytes"], "wal_bytes": 0, "dest": str(dest),
            "free_bytes": free, "needed_bytes": facts["size_bytes"], "existing": len(existing),
            "would_rotate": max(0, len(existing) + 1 - keep), "keep": keep, "refusal": why,
            "format": "pg_dump -Fc"}


def create_backup(db, dest=None, *, keep=DEFAULT_KEEP, method="backup", monitor=None,
                  progress=None):
    """Take a verified pg_dump of `db` into `dest`; rotate to the newest `keep`.

    Returns {path, size, seconds, method, verified, rotated, rows}. Raises BackupFailed (one
    line; the partial dump removed, the database untouched) on any failure.
    """
    db = as_pg(db)
    _checked(keep, method)
    facts = pg_tools.database_facts(db)
    why = refusal(db, facts)
    if why:
        raise BackupFailed(f"no backup of {db.display}: {why}")
    dest = check_dest(resolve_dest(dest, db)).absolute()
    free = disk_free(dest)
    if free < facts["size_bytes"]:
        raise BackupFailed(f"not enough free disk in {dest} for a backup of {db.display}: needs "
                           f"up to {facts['size_bytes']:,} bytes, {free:,} free")
    _sweep_partials(dest)
    final = _free_name(dest, stem_of(db), suffix=SUFFIX)
    temporary = dest / f".{final.name}{PARTIAL}{os.getpid()}"
    report = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    try:
        report(0.0, f"pg_dump -Fc of {facts['name']} from one snapshot")
        counts = dump(db, temporary)
        report(0.5, "verifying: restoring the dump into a scratch database")
        verify_by_restore(db, temporary, counts, facts)
        _fsync_file(temporary)
        os.replace(temporary, final)
        _fsync_dir(dest)
    except BaseException as exc:
        removed = _remove(temporary)
        if isinstance(exc, BackupFailed):
            raise
        if isinstance(exc, (errors.R2WError, OSError)):
            what = str(exc) if isinstance(exc, errors.R2WError) else (exc.strerror or str(exc))
            partial = "the partial dump was removed" if removed else "no partial dump was left"
            raise BackupFailed(f"backup of {db.display} to {final} failed: "
                               f"{errors.one_line(what, 400)}; {partial}, the database is "
                               f"untouched") from None
        raise
    seconds = time.perf_counter() - started
    stat = final.stat()
    message = "restored into a scratch database, row counts equal: " + pg_tools.describe_counts(counts)
    if monitor is not None:
        monitor.record_verification(final, size=stat.st_size, mtime_ns=stat.st_mtime_ns,
                                    ok=True, message=message)
    report(0.9, "rotating old backups")
    rotated = rotate(dest, keep, stem_of(db))
    report(1.0, f"backup written: {final.name}")
    return {"path": str(final), "size": stat.st_size, "seconds": seconds,
            "method": "pg_dump -Fc", "verified": True, "rows": counts,
            "rotated": [str(p) for p in rotated]}


def dump(db, path):
    """pg_dump -Fc of one exported snapshot into `path`; the row counts in that snapshot."""
    with db.read() as conn:
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        counts = pg_tools.counts_in(conn)
        pg_tools.run_tool("pg_dump", ["--format=custom", f"--snapshot={snapshot}",
                                      f"--lock-wait-timeout={LOCK_WAIT_MS}", f"--file={path}"],
                          db=db, what="pg_dump")
    return counts


def verify_by_restore(db, path, counts, facts):
    """Restore `path` into a scratch database and compare its row counts with `counts`;
    BackupFailed when they differ. The scratch database is dropped in every case."""
    name = pg_tools.derived_name(facts["name"], "verify")
    scratch = pg_tools.create_database(db, name, facts)
    try:
        with tempfile.TemporaryDirectory(prefix="r2w-verify-") as folder:
            entries = pg_tools.restore_list(path, folder)
            pg_tools.run_tool("pg_restore", ["--exit-on-error", "--single-transaction",
                                             "--no-owner", "--no-privileges",
                                             f"--use-list={entries}", str(path)],
                              db=db, dbname=name, what="restoring the dump to verify it")
        restored = pg_tools.table_counts(scratch)
    finally:
        pg_tools.drop_database(db, name)
    differ = [f"{t} {restored.get(t)} restored, {n} in the snapshot" for t, n in counts.items()
              if restored.get(t) != n]
    if differ:
        raise BackupFailed(f"the dump of {db.display} failed verification: "
                           f"{'; '.join(differ)}; it was removed, the database is untouched")
    return restored
