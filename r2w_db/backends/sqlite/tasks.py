"""SQLite's maintenance: what each task does here, its previews, and the runs of ANALYZE, the
WAL checkpoint and VACUUM (maintenance/registry.py declares the tasks, runner.py runs them)."""
import os
import shutil
import sqlite3
import time
from pathlib import Path

from r2w_db import errors
from r2w_db.backends.sqlite.connection import translate
from r2w_db.backends.sqlite import schema as sqlite_schema
from r2w_db.engine import schema
from r2w_db.formatting import human_bytes, plural

ANALYSIS_LIMIT = 1000       # rows sampled per index: each ANALYZE holds the lock only briefly
CHECKPOINT_WAIT_MS = 50     # how long a TRUNCATE checkpoint may wait (it blocks new writers meanwhile)

DESCRIPTIONS = {
    "analyze": ("Runs a sampled ANALYZE on each table (a short lock each) and PRAGMA optimize, so "
                "the query planner keeps choosing the right indexes.",
                "Monthly (with VACUUM), and after a large cleanup."),
    "checkpoint": ("Copies the write-ahead log into the database file and truncates it. It first "
                   "copies without waiting (PASSIVE), then truncates with a wait of at most "
                   f"{CHECKPOINT_WAIT_MS} ms, so it never blocks the application for long.",
                   "When the WAL is large (the Overview shows its size), e.g. after a big cleanup."),
    "vacuum": ("Rewrites the database file without its free pages, returning them to the disk. "
               "It LOCKS THE DATABASE for writers while it runs (seconds per GB): the application's "
               "writes wait, and may time out, until it ends. It first checks the free disk.",
               "Monthly (with ANALYZE), at a quiet hour, after large deletions."),
    "integrity": ("Checks every page and index (PRAGMA integrity_check, or the faster quick_check), "
                  "compares the schema with the documented one and counts orphan rows. Reads only.",
                  "Weekly, and before relying on a backup or after a crash or disk problem."),
    "backup": ("Copies the live database in one step with SQLite's online backup, verifies the copy "
               "with integrity_check and renames it into place; keeps the newest copies.",
               "Daily, and before any destructive task (\"back up first\")."),
}


TITLES = {"vacuum": "VACUUM (compact the file)"}


def title(name):
    """A task's title where SQLite names it by what it does there; None: the registry's."""
    return TITLES.get(name)


def description(name):
    """(what it does, when to run it) of a task as it runs on SQLite; None: the registry's."""
    return DESCRIPTIONS.get(name)


def error_line(db, exc):
    """An SQLite error that no module translated, as one line a person can act on; else None."""
    return str(translate(exc, db.path)) if isinstance(exc, sqlite3.Error) else None


def _file_sizes(path):
    path = Path(path)
    if not path.is_file():
        raise errors.DatabaseMissing(path)
    wal = Path(str(path) + "-wal")
    return path.stat().st_size, (wal.stat().st_size if wal.exists() else 0)


def _page_figures(conn):
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return {"page_size": page_size, "pages": pages, "free_pages": free,
            "bytes": pages * page_size, "free_bytes": free * page_size,
            "live_bytes": (pages - free) * page_size}


# ----------------------------------------------------------------------- previews

def analyze_preview(db):
    with db.read() as conn:
        tables = sorted(sqlite_schema.existing_tables(conn) & set(schema.TABLES))
        has_stats = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone() is not None
    info = {"tables": tables, "has_statistics": has_stats}
    return {"message": f"statistics of {plural(len(tables), 'table')} would be refreshed"
                       + ("" if has_stats else " (none gathered yet)"), "details": info}


def checkpoint_preview(db):
    size, wal = _file_sizes(db.path)
    if not wal:
        return {"message": "nothing to do: the WAL is empty", "bytes": 0, "nothing_to_do": True,
                "details": {"database_bytes": size, "wal_bytes": wal}}
    return {"message": f"the WAL holds {human_bytes(wal)}: it would be copied into the database "
                       f"and truncated", "bytes": wal,
            "details": {"database_bytes": size, "wal_bytes": wal}}


def vacuum_preview(db):
    plan = _vacuum_plan(db)
    return {"message": f"{human_bytes(plan['free_bytes'])} of {human_bytes(plan['bytes'])} are free "
                       f"pages and would be returned to the disk; the database is locked for "
                       f"writers while it runs",
            "bytes": plan["free_bytes"], "refusal": plan["refusal"], "details": plan}


def integrity_preview(db, quick):
    size, wal = _file_sizes(db.path)
    with db.read() as conn:  # fails clearly on a missing or foreign file
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    mode = "quick_check" if quick else "integrity_check"
    return {"message": f"{mode} would read the whole database ({human_bytes(size + wal)}) and "
                       f"count orphan rows; nothing is written",
            "details": {"quick": quick, "bytes": size + wal}}


# ---------------------------------------------------------------------- analyze

def analyze(db, progress=None):
    """ANALYZE each table in its own short transaction (sampled), then PRAGMA optimize."""
    report = progress or (lambda fraction, message: None)
    done = []
    with db.write() as conn:
        tables = sorted(sqlite_schema.existing_tables(conn) & set(schema.TABLES))
        conn.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
        for i, table in enumerate(tables):
            report(i / (len(tables) + 1), f"ANALYZE {table}")
            conn.execute(f'ANALYZE "{table}"')
            done.append(table)
        report(len(tables) / (len(tables) + 1), "PRAGMA optimize")
        conn.execute("PRAGMA optimize")
    report(1.0, f"statistics refreshed for {len(done)} tables")
    return {"tables": done}


# ------------------------------------------------------------------- checkpoint

def _truncate(conn, wait_ms):
    """A TRUNCATE checkpoint that waits at most wait_ms (it blocks new writers while it waits)."""
    conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
    try:
        return tuple(conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
    except sqlite3.Error as exc:  # SQLITE_BUSY may surface as an error
        if "locked" in str(exc) or "busy" in str(exc).lower():
            return (1, -1, -1)
        raise


def checkpoint(db, wait_ms=CHECKPOINT_WAIT_MS, progress=None):
    """PASSIVE checkpoint (never waits), then TRUNCATE with a bounded wait.

    Returns {wal_before, wal_after, frames, copied, truncated, message}.
    """
    report = progress or (lambda fraction, message: None)
    _, wal_before = _file_sizes(db.path)
    with db.write() as conn:
        report(0.1, "PASSIVE checkpoint")
        busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        report(0.5, f"TRUNCATE checkpoint (waits at most {wait_ms} ms)")
        busy_t, frames_t, copied_t = _truncate(conn, wait_ms)
    _, wal_after = _file_sizes(db.path)
    truncated = not busy_t
    if truncated:
        message = (f"WAL checkpointed and truncated: {wal_before:,} -> {wal_after:,} bytes "
                   f"({max(frames, 0):,} frames copied)")
    else:
        message = (f"WAL checkpointed ({max(copied, 0):,} of {max(frames, 0):,} frames copied) "
                   f"but not truncated: a reader or writer stayed active past {wait_ms} ms; "
                   f"it is truncated by a later run")
    report(1.0, message)
    return {"wal_before": wal_before, "wal_after": wal_after, "frames": frames, "copied": copied,
            "truncated": truncated, "message": message}


# ----------------------------------------------------------------------- vacuum

def _temp_dir():
    """Where SQLite writes VACUUM's temporary copy (its own search order on Unix)."""
    for candidate in (os.environ.get("SQLITE_TMPDIR"), os.environ.get("TMPDIR"),
                      "/var/tmp", "/usr/tmp", "/tmp", "."):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return Path(candidate)
    return Path(".")


def _vacuum_plan(db):
    """Sizes, reclaimable bytes, disk needed and free, and a refusal message when it does not fit.

    VACUUM writes the live pages to a temporary copy (temp folder) and then back
    through the WAL: up to the database's live size again on each, twice when
    both are on the same filesystem.
    """
    with db.read() as conn:
        figures = _page_figures(conn)
    size, wal = _file_sizes(db.path)
    tmp = _temp_dir()
    needs = {}
    for folder in (db.path.parent, tmp):
        dev = os.stat(folder).st_dev
        entry = needs.setdefault(dev, {"folder": str(folder), "needed": 0,
                                       "free": shutil.disk_usage(folder).free})
        entry["needed"] += figures["live_bytes"]
    short = [e for e in needs.values() if e["free"] < e["needed"]]
    refusal = None
    if short:
        e = short[0]
        refusal = (f"not enough free disk for VACUUM: it needs about {e['needed']:,} bytes in "
                   f"{e['folder']} (a copy of the database), {e['free']:,} free; free space first")
    return {**figures, "file_bytes": size, "wal_bytes": wal, "temp_dir": str(tmp),
            "disk": list(needs.values()), "refusal": refusal}


def vacuum(db, progress=None):
    """VACUUM (locks the database for writers while it runs), then a bounded checkpoint.

    Raises errors.NotEnoughDisk before touching anything when it would not fit.
    Returns {bytes_reclaimed, before, after, vacuum_seconds, checkpoint}.
    """
    report = progress or (lambda fraction, message: None)
    plan = _vacuum_plan(db)
    if plan["refusal"]:
        raise errors.NotEnoughDisk(plan["refusal"])
    report(0.05, f"VACUUM of {plan['bytes']:,} bytes: writers wait until it ends")
    started = time.perf_counter()
    with db.write() as conn:
        before = _page_figures(conn)
        conn.execute("VACUUM")
        after = _page_figures(conn)
    seconds = time.perf_counter() - started
    report(0.8, "checkpointing the WAL back into the file")
    ckpt = checkpoint(db)
    reclaimed = before["bytes"] - after["bytes"]
    report(1.0, f"VACUUM reclaimed {reclaimed:,} bytes in {seconds:.1f} s")
    return {"bytes_reclaimed": reclaimed, "before": before, "after": after,
            "vacuum_seconds": seconds, "checkpoint": ckpt}
