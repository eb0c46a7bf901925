"""The monitor's own state (maintenance log, ...) in its own SQLite file.

Kept apart from the application's database so that its schema stays exactly the
documented one. `R2W_MONITOR_DB` moves it; it is created on first write.
"""
import json
from pathlib import Path

from . import config, timeutil
from .connection import Database, transaction

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
    backup TEXT
);
CREATE INDEX IF NOT EXISTS idx_maintenance_log_task ON maintenance_log(task, started_at);
"""

LOG_COLUMNS = ("id", "started_at", "finished_at", "user", "task", "database", "parameters",
               "previewed", "rows", "bytes_reclaimed", "seconds", "outcome", "error", "backup")


class MonitorStore:
    """The monitor database: one file, created on the first write."""

    def __init__(self, path=None):
        self.db = Database(Path(path) if path else config.monitor_db_path())

    @property
    def path(self):
        return self.db.path

    def _writer(self):
        return self.db.write(create=True)

    def _ensure(self, conn):
        conn.executescript(SCHEMA)

    # -------------------------------------------------------------- maintenance log
    def log_start(self, *, user, task, database, parameters=None, previewed=None):
        """Record a run as it starts (outcome 'running'); returns its id."""
        with self._writer() as conn:
            self._ensure(conn)
            with transaction(conn):
                cur = conn.execute(
                    "INSERT INTO maintenance_log (started_at, user, task, database, parameters, previewed)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (timeutil.now_iso(), user, task, database_key(database),
                     json.dumps(parameters or {}, sort_keys=True), previewed))
                return cur.lastrowid

    def log_finish(self, entry_id, *, outcome, rows=None, bytes_reclaimed=None, seconds=None,
                   error=None, backup=None):
        with self._writer() as conn:
            self._ensure(conn)
            with transaction(conn):
                conn.execute(
                    "UPDATE maintenance_log SET finished_at = ?, outcome = ?, rows = ?, bytes_reclaimed = ?,"
                    " seconds = ?, error = ?, backup = ? WHERE id = ?",
                    (timeutil.now_iso(), outcome, rows, bytes_reclaimed, seconds, error,
                     None if backup is None else str(backup), entry_id))

    def recent_log(self, limit=200, database=None):
        """The newest entries first, as dicts ([] when the monitor database does not exist yet)."""
        if not self.path.exists():
            return []
        where, params = ("WHERE database = ?", (database_key(database),)) if database else ("", ())
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
        where, params = ("AND database = ?", (database_key(database),)) if database else ("", ())
        with self.db.read() as conn:
            if not _has_table(conn, "maintenance_log"):
                return None
            row = conn.execute(
                f"SELECT * FROM maintenance_log WHERE task = ? AND outcome = 'ok' {where}"
                " ORDER BY id DESC LIMIT 1", (task, *params)).fetchone()
            return dict(row) if row else None


def database_key(database):
    """How a database is named in the log: its absolute path."""
    return str(Path(getattr(database, "path", database)).resolve())


def _has_table(conn, name):
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None
