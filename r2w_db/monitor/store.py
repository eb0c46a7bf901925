"""The monitor's own state (maintenance log, ...) in its own SQLite file.

Kept apart from the application's database so that its schema stays exactly the
documented one. `R2W_MONITOR_DB` moves it; it is created on first write.
"""
import json
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from r2w_db import errors
from r2w_db.backends import open_database
from r2w_db.engine import locations, schema as app_schema, timeutil

APPLICATION_TABLES = tuple(app_schema.TABLES)   # the application's own tables

SCHEMA = """
CREATE TABLE IF NOT EXISTS maintenance_log (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    user TEXT NOT NULL,
    task TEXT NOT NULL,
    database TEXT NOT NULL,
    parameters TEXT NOT NULL DEFAULT '{}',
    previewed INTEGER,
    rows INTEGER,
    bytes_reclaimed INTEGER,
    seconds REAL,
    outcome TEXT NOT NULL DEFAULT 'running',   -- running, ok, failed, refused, cancelled
    error TEXT,
    backup TEXT,
    pid INTEGER                                -- the process running it (to spot interrupted runs)
);
CREATE INDEX IF NOT EXISTS idx_maintenance_log_task ON maintenance_log(task, started_at);
CREATE TABLE IF NOT EXISTS backup_verifications (
    path TEXT PRIMARY KEY,       -- absolute path of a backup file
    size INTEGER NOT NULL,       -- the file as it was verified: a changed file is unverified again
    mtime_ns INTEGER NOT NULL,
    verified_at TEXT NOT NULL,
    ok INTEGER NOT NULL,
    message TEXT
);
"""

LOG_COLUMNS = ("id", "started_at", "finished_at", "user", "task", "database", "parameters",
               "previewed", "rows", "bytes_reclaimed", "seconds", "outcome", "error", "backup")
INTERRUPTED = "interrupted: the process ended before the run finished"


class MonitorStore:
    """The monitor database: one file, created on the first write."""

    def __init__(self, path=None):
        self.db = open_database(Path(path) if path else locations.monitor_db_path())

    @property
    def path(self):
        return self.db.path

    @contextmanager
    def _writer(self):
        """A writer on the monitor's own file (WAL: the dashboard and watchers share it), never
        on a file that holds the application's tables (refuse_application_file)."""
        self.refuse_application_file()
        with self.db.write(create=True, app_schema=False) as conn:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            yield conn

    def refuse_application_file(self):
        """BadLocation when the monitor's file holds an application's tables (R2W_MONITOR_DB
        pointing at an application's database, through a link or `..` too): the monitor never
        adds its tables to such a file or switches its journal mode. Checked on a read-only
        connection before any writer opens it; a file that cannot be read is that error."""
        if not self.path.exists():
            return
        with self.db.read() as conn:
            found = [row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN"
                f" ({', '.join('?' * len(APPLICATION_TABLES))}) ORDER BY name",
                APPLICATION_TABLES)]
        if found:
            raise errors.BadLocation(
                f"the monitor database {self.path} (R2W_MONITOR_DB) holds the application's "
                f"tables ({', '.join(found)}): it is an application's database, and the monitor "
                "never writes to one; point R2W_MONITOR_DB at a file of its own")

    @contextmanager
    def transaction(self, prepare=None):
        """One BEGIN IMMEDIATE transaction on the monitor's own file. The file is made first (in
        WAL) and `prepare(conn)` run (CREATE ... IF NOT EXISTS), outside it: a script commits."""
        with self._writer() as conn:
            if prepare is not None:
                prepare(conn)
        with self.db.transaction(create=True, app_schema=False) as conn:
            yield conn

    def count_rows(self, table):
        """Rows of one of its tables (0 before the file or the table exists)."""
        if not self.path.exists():
            return 0
        with self.db.read() as conn:
            if not _has_table(conn, table):
                return 0
            return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def _ensure(self, conn):
        conn.executescript(SCHEMA)
        if "pid" not in [row[1] for row in conn.execute("PRAGMA table_info(maintenance_log)")]:
            try:  # a log written before the pid column existed
                conn.execute("ALTER TABLE maintenance_log ADD COLUMN pid INTEGER")
            except sqlite3.OperationalError:
                pass  # another process added it first

    # -------------------------------------------------------------- maintenance log
    def log_start(self, *, user, task, database, parameters=None, previewed=None):
        """Record a run as it starts (outcome 'running'); returns its id."""
        with self.transaction(self._ensure) as conn:
            self._reap(conn)
            cur = conn.execute(
                "INSERT INTO maintenance_log (started_at, user, task, database, parameters, previewed, pid)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (timeutil.now_iso(), user, task, open_database(database).key,
                 json.dumps(parameters or {}, sort_keys=True), previewed, os.getpid()))
            return cur.lastrowid

    def _reap(self, conn):
        """Runs still marked 'running' whose process is gone (killed, crashed) become 'failed'."""
        rows = conn.execute(
            "SELECT id, pid FROM maintenance_log WHERE outcome = 'running' AND pid IS NOT NULL").fetchall()
        for row in rows:
            if not _alive(row["pid"]):
                conn.execute("UPDATE maintenance_log SET outcome = 'failed', error = ?, finished_at = ?"
                             " WHERE id = ? AND outcome = 'running'",
                             (INTERRUPTED, timeutil.now_iso(), row["id"]))

    def running(self, task, database=None):
        """Runs of `task` marked 'running' by a process that is still alive (newest first)."""
        return [entry for entry in self._select(
            "WHERE task = ? AND outcome = 'running'", (task,), database, limit=20)
            if entry.get("pid") is None or _alive(entry["pid"])]

    def last_run(self, task, database=None):
        """The newest run of a task whatever its outcome, or None."""
        rows = self._select("WHERE task = ?", (task,), database, limit=1)
        return rows[0] if rows else None

    def _select(self, where, params, database, limit):
        if not self.path.exists():
            return []
        if database is not None:
            where, params = where + " AND database = ?", (*params, open_database(database).key)
        with self.db.read() as conn:
            if not _has_table(conn, "maintenance_log"):
                return []
            return [dict(r) for r in conn.execute(
                f"SELECT * FROM maintenance_log {where} ORDER BY id DESC LIMIT ?", (*params, int(limit)))]

    # ------------------------------------------------------------ backup verification
    def record_verification(self, path, *, size, mtime_ns, ok, message=None):
        """Remember that the backup file `path` (as it was: size, mtime) was verified."""
        with self.transaction(self._ensure) as conn:
            conn.execute(
                "INSERT INTO backup_verifications (path, size, mtime_ns, verified_at, ok, message)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET size = excluded.size,"
                " mtime_ns = excluded.mtime_ns, verified_at = excluded.verified_at,"
                " ok = excluded.ok, message = excluded.message",
                (str(Path(path).resolve()), int(size), int(mtime_ns), timeutil.now_iso(),
                 int(bool(ok)), message))

    def verifications(self):
        """{absolute path: {size, mtime_ns, verified_at, ok, message}} of recorded verifications."""
        if not self.path.exists():
            return {}
        with self.db.read() as conn:
            if not _has_table(conn, "backup_verifications"):
                return {}
            return {row["path"]: {**dict(row), "ok": bool(row["ok"])}
                    for row in conn.execute("SELECT * FROM backup_verifications")}

    def log_finish(self, entry_id, *, outcome, rows=None, bytes_reclaimed=None, seconds=None,
                   error=None, backup=None):
        with self.transaction(self._ensure) as conn:
            conn.execute(
                "UPDATE maintenance_log SET finished_at = ?, outcome = ?, rows = ?, bytes_reclaimed = ?,"
                " seconds = ?, error = ?, backup = ? WHERE id = ?",
                (timeutil.now_iso(), outcome, rows, bytes_reclaimed, seconds, error,
                 None if backup is None else str(backup), entry_id))

    def recent_log(self, limit=200, database=None):
        """The newest entries first, as dicts ([] when the monitor database does not exist yet)."""
        if not self.path.exists():
            return []
        where, params = ("WHERE database = ?", (open_database(database).key,)) if database else ("", ())
        with self.db.read() as conn:
            if not _has_table(conn, "maintenance_log"):
                return []
            rows = conn.execute(
                f"SELECT * FROM maintenance_log {where} ORDER BY id DESC LIMIT ?", (*params, int(limit)))
            return [dict(r) for r in rows]

    def last_success(self, task, database=None):
        """The newest successful run of a task, or None."""
        if not self.path.exists():
            return None
        where, params = ("AND database = ?", (open_database(database).key,)) if database else ("", ())
        with self.db.read() as conn:
            if not _has_table(conn, "maintenance_log"):
                return None
            row = conn.execute(
                f"SELECT * FROM maintenance_log WHERE task = ? AND outcome = 'ok' {where}"
                " ORDER BY id DESC LIMIT 1", (task, *params)).fetchone()
            return dict(row) if row else None

    # ------------------------------------------------------------ benchmark runs
    BENCH_SCHEMA = """
    CREATE TABLE IF NOT EXISTS bench_runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        database TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'queries',     -- queries (r2w_db.benchmark) or load (loadtest)
        user TEXT,
        iterations INTEGER,
        seconds REAL,
        result TEXT NOT NULL                      -- the run as JSON
    );
    CREATE INDEX IF NOT EXISTS idx_bench_runs_database ON bench_runs(database, kind, id);
    """

    def save_bench_run(self, run, *, user=None, kind="queries"):
        """Store a benchmark (or load-test) run, a dict with "database"; returns its id."""
        with self.transaction(lambda conn: conn.executescript(self.BENCH_SCHEMA)) as conn:
            return conn.execute(
                "INSERT INTO bench_runs (started_at, database, kind, user, iterations, seconds,"
                " result) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run.get("started_at") or timeutil.now_iso(), open_database(run["database"]).key,
                 kind, user, run.get("iterations"), run.get("seconds"),
                 json.dumps(run, default=str))).lastrowid

    def bench_runs(self, database=None, kind="queries", limit=50, before_id=None):
        """Stored runs, newest first, each the stored dict plus "id" and "user" ([] if none)."""
        if not self.path.exists():
            return []
        where, params = ["kind = ?"], [kind]
        if database is not None:
            where.append("database = ?")
            params.append(open_database(database).key)
        if before_id is not None:
            where.append("id < ?")
            params.append(int(before_id))
        with self.db.read() as conn:
            if not _has_table(conn, "bench_runs"):
                return []
            rows = conn.execute(
                f"SELECT id, user, result FROM bench_runs WHERE {' AND '.join(where)}"
                " ORDER BY id DESC LIMIT ?", (*params, int(limit))).fetchall()
        return [{**json.loads(row["result"]), "id": row["id"], "user": row["user"]} for row in rows]

    def previous_bench_run(self, database, before_id=None, kind="queries"):
        """The newest stored run for this database (older than run `before_id`), or None."""
        runs = self.bench_runs(database, kind=kind, limit=1, before_id=before_id)
        return runs[0] if runs else None


class MonitorPart:
    """A part of the monitor database (alerts, history) on a MonitorStore (or its path)."""

    def __init__(self, monitor=None):
        self.monitor = monitor if isinstance(monitor, MonitorStore) else MonitorStore(monitor)

    @property
    def path(self):
        return self.monitor.path


def _has_table(conn, name):
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None


def _alive(pid):
    """Whether a process with this id exists (on this machine)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True
