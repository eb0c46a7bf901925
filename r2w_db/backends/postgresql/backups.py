"""PostgreSQL's backups: pg_dump -Fc from one snapshot, restored to check.

maintenance/backups.py does the folder, the naming, the temporary file and its rename, the
listing and the rotation, with `.dump` files; here:
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
import os
import re
import tempfile

from r2w_db import errors
from r2w_db.backends.postgresql import tools as pg_tools

SUFFIX = ".dump"
LOCK_WAIT_MS = 5000   # pg_dump gives up behind a schema change instead of queueing the app
METHOD = "pg_dump -Fc"
PREVIEW = ("up to {size} would be dumped (pg_dump -Fc) to {dest} and verified by restoring it "
           "into a scratch database")


def stem(db):
    """The database's name (as the URL or PGDATABASE gives it), fit for a file name."""
    from psycopg import conninfo

    params = conninfo.conninfo_to_dict(db.url)
    name = params.get("dbname") or os.environ.get("PGDATABASE") or params.get("user") \
        or os.environ.get("PGUSER") or "postgresql"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(name)).strip(".") or "postgresql"


def identity(db):
    """What names the database's backup folder: its redacted URL (db.key)."""
    return db.key


def check_method(method):
    if method not in ("backup", "pg_dump"):
        raise errors.InvalidValue(f"method {method!r} is SQLite's: PostgreSQL backups are "
                                  f"pg_dump -Fc archives (leave --method out)")


def _refusal(db, facts):
    """Why a backup cannot be taken and verified here, or None (tools missing, no CREATEDB)."""
    try:
        pg_tools.find_tool("pg_dump")
        pg_tools.find_tool("pg_restore")
    except pg_tools.ToolMissing as exc:
        return str(exc)
    if not facts["may_create"]:
        return ("the backup is verified by restoring it into a scratch database, which needs "
                "CREATEDB: ALTER ROLE ... CREATEDB for the maintenance role, or run it as the owner")
    return None


def sizes(db):
    """{database_bytes, wal_bytes, refusal, format}: what a backup dumps, and why it could not."""
    facts = pg_tools.database_facts(db)
    return {"database_bytes": facts["size_bytes"], "wal_bytes": 0,
            "refusal": _refusal(db, facts), "format": METHOD}


def needed_bytes(db):
    """The disk a backup needs; BackupFailed when it cannot be taken and verified here."""
    facts = pg_tools.database_facts(db)
    why = _refusal(db, facts)
    if why:
        raise errors.BackupFailed(f"no backup of {db.display}: {why}")
    return facts["size_bytes"]


def copy(db, temporary, method, progress):
    """pg_dump of one snapshot into `temporary`, verified by a restore; {message, method, rows}."""
    facts = pg_tools.database_facts(db)
    progress(0.0, f"pg_dump -Fc of {facts['name']} from one snapshot")
    counts = dump(db, temporary)
    progress(0.5, "verifying: restoring the dump into a scratch database")
    _verify_by_restore(db, temporary, counts, facts)
    return {"message": "restored into a scratch database, row counts equal: "
                       + pg_tools.describe_counts(counts), "method": METHOD, "rows": counts}


def verify(path):
    """(ok, message) of a pg_dump archive, without a server: read whole, rows counted."""
    return pg_tools.verify_dump(path)


def failure(exc, db, final, removed):
    """The BackupFailed to raise for an error met while dumping (None: re-raise it as it is)."""
    if not isinstance(exc, (errors.R2WError, OSError)):
        return None
    what = str(exc) if isinstance(exc, errors.R2WError) else (exc.strerror or str(exc))
    partial = "the partial dump was removed" if removed else "no partial dump was left"
    return errors.BackupFailed(f"backup of {db.display} to {final} failed: "
                               f"{errors.one_line(what, 400)}; {partial}, the database is untouched")


def dump(db, path):
    """pg_dump -Fc of one exported snapshot into `path`; the row counts in that snapshot."""
    with db.read() as conn:
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        counts = pg_tools.counts_in(conn)
        pg_tools.run_tool("pg_dump", ["--format=custom", f"--snapshot={snapshot}",
                                      f"--lock-wait-timeout={LOCK_WAIT_MS}", f"--file={path}"],
                          db=db, what="pg_dump")
    return counts


def _verify_by_restore(db, path, counts, facts):
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
        raise errors.BackupFailed(f"the dump of {db.display} failed verification: "
                           f"{'; '.join(differ)}; it was removed, the database is untouched")
    return restored
