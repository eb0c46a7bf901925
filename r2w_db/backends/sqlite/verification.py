"""Reading a database for a copy within the busy timeout, and verifying a copy.

SQLite's backup step retries forever on BUSY, and Python's Connection.backup
sleeps and retries with it. A copy here first takes a read transaction on the source with
the busy timeout (so a lock held by another process ends in DatabaseLocked after
BUSY_TIMEOUT_MS), then copies in one step with a guard that gives up at the same deadline.

Verification reports in one line: "integrity_check failed: 14 problems, first: ...".
"""
import sqlite3
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

from r2w_db import errors
from r2w_db.backends.sqlite import schema as sqlite_schema
from r2w_db.engine import schema
from r2w_db.backends.sqlite import connection

INTEGRITY_LIMIT = 100
_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED as the backup step reports them


def ro_uri(path):
    return "file:" + urllib.parse.quote(str(Path(path).absolute())) + "?mode=ro"


def is_locked(exc):
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc)


def integrity_summary(rows, mode="integrity_check", limit=INTEGRITY_LIMIT):
    """None when the check said ok; else one line with the count and the first problem."""
    problems = [line.strip() for row in rows for line in str(row).splitlines()
                if line.strip() and not line.strip().startswith("***")]
    if problems == ["ok"]:
        return None
    if not problems:
        return f"{mode} failed"
    many = f"at least {len(problems)}" if len(problems) >= limit else f"{len(problems)}"
    first = errors.one_line(problems[0], limit=200)
    if len(problems) == 1:
        return f"{mode} failed: 1 problem: {first}"
    return f"{mode} failed: {many} problems, first: {first}"


def _open_ro(path):
    return sqlite3.connect(ro_uri(path), uri=True, isolation_level=None,
                           timeout=connection.BUSY_TIMEOUT_MS / 1000, check_same_thread=False)


def verify_file(path):
    """(ok, one-line message): PRAGMA integrity_check on a copy, read-only."""
    path = Path(path)
    if not path.is_file():
        return False, f"{path} does not exist or is not a regular file"
    try:
        conn = _open_ro(path)
    except sqlite3.Error as exc:
        return False, f"cannot open: {errors.one_line(exc)}"
    try:
        rows = [row[0] for row in conn.execute(f"PRAGMA integrity_check({INTEGRITY_LIMIT})")]
        tables = sqlite_schema.existing_tables(conn)
    except sqlite3.Error as exc:
        if is_locked(exc):
            return False, "locked by another process past the busy timeout: try again shortly"
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_READONLY_ROLLBACK":
            return False, (f"it has a hot rollback journal (a write to it was interrupted): "
                           f"`{errors.command(path, 'recover')}` rolls it back")
        return False, f"not a readable SQLite database: {errors.one_line(exc)}"
    finally:
        conn.close()
    problem = integrity_summary(rows)
    if problem:
        return False, problem
    if not tables & set(schema.TABLES):
        return False, "integrity ok, but it holds none of the Resume2Website tables"
    return True, "integrity_check ok"


# ------------------------------------------------------------------- bounded copy

@contextmanager
def snapshot(path, timeout_ms=None):
    """A read-only connection holding one read transaction (its -wal included), taken within
    the busy timeout; sqlite3 errors propagate raw (BUSY when another process kept it locked)."""
    timeout_ms = timeout_ms or connection.BUSY_TIMEOUT_MS
    conn = sqlite3.connect(ro_uri(path), uri=True, isolation_level=None,
                           timeout=timeout_ms / 1000, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the SHARED lock, bounded
        yield conn
    finally:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        conn.close()


def backup_step(src, dst, path, timeout_ms=None):
    """src.backup(dst) in one step (a stepped backup restarts on every write), abandoned with
    DatabaseLocked(path) once a BUSY/LOCKED source stays so past the busy timeout."""
    deadline = time.monotonic() + (timeout_ms or connection.BUSY_TIMEOUT_MS) / 1000

    def guard(status, remaining, total):
        if status in _BUSY_CODES and time.monotonic() >= deadline:
            raise errors.DatabaseLocked(path)
    src.backup(dst, pages=-1, progress=guard, sleep=0.05)


# --------------------------------------------------------------- restorable?

def restore_problems(path):
    """What stops `path` (a self-contained copy) from replacing the database: (hard, soft).

    hard: never restorable - not SQLite, damaged (integrity_check), a schema version this code
    does not know, none or only part of the documented tables. soft: restorable with --force -
    an older state of the documented schema (columns or documented indexes missing: run
    migrate after restoring)."""
    try:
        conn = _open_ro(path)
        try:
            version = sqlite_schema.user_version(conn)
            missing = sqlite_schema.missing_documented(conn)
            indexes = sqlite_schema.existing_indexes(conn)
            rows = [row[0] for row in conn.execute(f"PRAGMA integrity_check({INTEGRITY_LIMIT})")]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if is_locked(exc):
            return ["it stayed locked by another process past the busy timeout"], []
        return [f"it is not a readable SQLite database ({errors.one_line(exc, limit=200)})"], []
    hard, soft = [], []
    if not 0 <= version <= schema.CURRENT_VERSION:
        hard.append(f"its schema version {version} is not one this r2w_db knows "
                    f"(0-{schema.CURRENT_VERSION}): upgrade r2w monitor first")
    problem = integrity_summary(rows)
    if problem:
        hard.append(problem)
    tables = [m for m in missing if "." not in m]
    if tables:
        hard.append(f"it lacks the documented table(s) {', '.join(tables)}: it is not a "
                    f"Resume2Website database")
    columns = [m for m in missing if "." in m and m.split(".")[0] not in tables]
    lacking = columns + [name for name in schema.DOCUMENTED_INDEXES if name not in indexes]
    if lacking and not tables:
        more = " ..." if len(lacking) > 4 else ""
        soft.append(f"its schema is an older state of the documented one (missing "
                    f"{', '.join(lacking[:4])}{more}): run migrate after restoring it")
    return hard, soft
