"""The monitor's voice, remembered: the status last notified per check, every notification sent
or failed, and the watcher's own status, per database, in the monitor database.

`claim` decides and records what to send in one BEGIN IMMEDIATE transaction, so two watchers on
one monitor database never send the same change twice: the second sees the state the first
wrote. The checks' silences (silences.py) are read inside that transaction too. Deliveries are rows: 'sending' while claimed, then 'sent' or 'failed'; a failed one is
claimed again by a later cycle (retry) until it is sent or too old ('abandoned').
"""
import json
from datetime import timedelta

from r2w_db.engine import timeutil
from r2w_db.backends import open_database
from r2w_db.monitor import silences
from r2w_db.monitor.store import MonitorPart, _has_table

SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_state (
    database TEXT NOT NULL,
    check_key TEXT NOT NULL,
    status TEXT NOT NULL,             -- the status last notified: ok, warn, error
    number REAL,
    changed_at TEXT NOT NULL,
    notified_at TEXT,                 -- when a message about it last went out (reminders)
    PRIMARY KEY (database, check_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY,
    database TEXT NOT NULL,
    created_at TEXT NOT NULL,
    destination TEXT NOT NULL,        -- shown: scheme://host/... (never the token in a URL)
    destination_id TEXT NOT NULL,     -- a hash of the URL, to retry at the same place
    kind TEXT NOT NULL,               -- change, reminder, first, settings
    status TEXT NOT NULL,             -- OK, WARNING, CRITICAL, UNKNOWN
    summary TEXT NOT NULL,
    payload TEXT NOT NULL,            -- the JSON sent
    outcome TEXT NOT NULL,            -- sending, sent, failed, abandoned
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt_at TEXT,
    sent_at TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS idx_notifications_database ON notifications(database, id);
CREATE INDEX IF NOT EXISTS idx_notifications_outcome ON notifications(outcome, database);
CREATE TABLE IF NOT EXISTS watch_status (
    database TEXT PRIMARY KEY,
    pid INTEGER,
    interval_seconds REAL,
    last_cycle_at TEXT,
    last_ok INTEGER,
    last_error TEXT,
    last_snapshot_at TEXT,
    heartbeat_at TEXT,
    heartbeat_ok INTEGER,
    heartbeat_error TEXT
) WITHOUT ROWID;
"""


def _schema(conn):
    conn.executescript(SCHEMA)
    silences.schema(conn)


STALE_SENDING = timedelta(minutes=10)   # a claim older than this died with its process
LOG_COLUMNS = ("id", "created_at", "destination", "kind", "status", "summary", "outcome",
               "attempts", "last_attempt_at", "sent_at", "error")


class AlertStore(MonitorPart):
    """Alert state and the notification log (the monitor database is created on first write)."""

    def claim(self, database, decide, destinations, now=None, retry_hours=24, max_attempts=50):
        """In one transaction: `decide(state, first, silenced)` (state {check: {status, number,
        notified_at}}, first: no state yet, silenced: {check: {reason, user, until, seen_status}}
        of the active silences) returns (new_state {check: {status, number, notified, silence}},
        message or None, kind); the state is written and one 'sending' row per destination
        recorded. An entry's `silence`: "seen" keeps the notified state as it was and notes the
        status on the silence; "recovered" ends the silence (logged) and writes the state. Failed
        deliveries younger than `retry_hours` to a destination still configured are claimed too.
        destinations: [(destination_id, label)]. Returns [{"id", "destination_id", "payload"}]."""
        now = now or timeutil.utcnow()
        key, stamp = open_database(database).key, timeutil.iso(now)
        with self.monitor.transaction(_schema) as conn:
            state = {r["check_key"]: dict(r) for r in conn.execute(
                "SELECT check_key, status, number, changed_at, notified_at FROM alert_state"
                " WHERE database = ?", (key,))}
            silenced = silences.active_in(conn, key, now)
            new_state, message, kind = decide(state, not state, silenced)
            for check, got in new_state.items():
                if got.get("silence") == "seen":
                    silences.seen_in(conn, key, check, got["status"])
                    continue
                if got.get("silence") == "recovered":
                    silences.end_in(conn, key, check, "recovered", now)
                old = state.get(check, {})
                conn.execute(
                    "INSERT INTO alert_state (database, check_key, status, number, changed_at,"
                    " notified_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (database, check_key)"
                    " DO UPDATE SET status = excluded.status, number = excluded.number,"
                    " changed_at = excluded.changed_at, notified_at = excluded.notified_at",
                    (key, check, got["status"], got.get("number"),
                     stamp if old.get("status") != got["status"] else old.get("changed_at", stamp),
                     stamp if got.get("notified") else old.get("notified_at")))
            claimed = []
            if message is not None:
                body = json.dumps(message, default=str)
                for destination_id, label in destinations:
                    cur = conn.execute(
                        "INSERT INTO notifications (database, created_at, destination,"
                        " destination_id, kind, status, summary, payload, outcome, attempts,"
                        " last_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'sending', 1, ?)",
                        (key, stamp, label, destination_id, kind, message.get("status", ""),
                         message.get("text", "")[:500], body, stamp))
                    claimed.append({"id": cur.lastrowid, "destination_id": destination_id,
                                    "payload": message})
            claimed += self._claim_retries(conn, key, [d for d, _ in destinations], now,
                                           retry_hours, max_attempts, {c["id"] for c in claimed})
        return claimed

    def _claim_retries(self, conn, key, ids, now, retry_hours, max_attempts, skip):
        stamp = timeutil.iso(now)
        conn.execute(
            "UPDATE notifications SET outcome = 'abandoned' WHERE database = ?"
            " AND outcome IN ('failed', 'sending') AND (created_at < ? OR attempts >= ?)",
            (key, timeutil.iso(now - timedelta(hours=retry_hours)), int(max_attempts)))
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = conn.execute(
            "SELECT id, destination_id, payload FROM notifications WHERE database = ?"
            f" AND destination_id IN ({marks}) AND (outcome = 'failed' OR (outcome = 'sending'"
            " AND last_attempt_at < ?)) ORDER BY id",
            (key, *ids, timeutil.iso(now - STALE_SENDING))).fetchall()
        claimed = []
        for row in rows:
            if row["id"] in skip:
                continue
            conn.execute("UPDATE notifications SET outcome = 'sending', attempts = attempts + 1,"
                         " last_attempt_at = ? WHERE id = ?", (stamp, row["id"]))
            claimed.append({"id": row["id"], "destination_id": row["destination_id"],
                            "payload": json.loads(row["payload"]), "retry": True})
        return claimed

    def finish(self, notification_id, ok, error=None, now=None):
        """Record a delivery's outcome: 'sent', or 'failed' with the error (retried later)."""
        stamp = timeutil.iso(now or timeutil.utcnow())
        with self.monitor.transaction(_schema) as conn:
            conn.execute(
                "UPDATE notifications SET outcome = ?, sent_at = ?, error = ? WHERE id = ?",
                ("sent" if ok else "failed", stamp if ok else None, error, notification_id))

    def log_problem(self, database, problem, now=None):
        """A notification that could not even be addressed (the settings cannot be read): one
        'failed' row, counted up instead of repeated while the problem stays the same."""
        key, stamp = open_database(database).key, timeutil.iso(now or timeutil.utcnow())
        with self.monitor.transaction(_schema) as conn:
            last = conn.execute(
                "SELECT id, error, outcome FROM notifications WHERE database = ?"
                " ORDER BY id DESC LIMIT 1", (key,)).fetchone()
            if last and last["error"] == problem and last["outcome"] == "failed":
                conn.execute("UPDATE notifications SET attempts = attempts + 1,"
                             " last_attempt_at = ? WHERE id = ?", (stamp, last["id"]))
                return last["id"]
            return conn.execute(
                "INSERT INTO notifications (database, created_at, destination, destination_id,"
                " kind, status, summary, payload, outcome, attempts, last_attempt_at, error)"
                " VALUES (?, ?, 'settings', '', 'settings', 'UNKNOWN', ?, '{}', 'failed', 1, ?, ?)",
                (key, stamp, "no notification could be addressed", stamp, problem)).lastrowid

    def notifications(self, database=None, limit=200):
        """The newest notifications first: [{LOG_COLUMNS}] ([] when there are none)."""
        if not self.path.exists():
            return []
        where, params = ("WHERE database = ?", (open_database(database).key,)) if database else ("", ())
        with self.monitor.db.read() as conn:
            if not _has_table(conn, "notifications"):
                return []
            return [dict(r) for r in conn.execute(
                f"SELECT {', '.join(LOG_COLUMNS)} FROM notifications {where}"
                " ORDER BY id DESC LIMIT ?", (*params, int(limit)))]

    def state(self, database):
        """{check: {status, number, changed_at, notified_at}}: what was last notified."""
        if not self.path.exists():
            return {}
        with self.monitor.db.read() as conn:
            if not _has_table(conn, "alert_state"):
                return {}
            return {r["check_key"]: dict(r) for r in conn.execute(
                "SELECT check_key, status, number, changed_at, notified_at FROM alert_state"
                " WHERE database = ?", (open_database(database).key,))}

    # ------------------------------------------------------------------ the watcher itself
    def record_cycle(self, database, *, ok, error=None, snapshot_at=None, interval=None,
                     pid=None, heartbeat=None, now=None):
        """The watcher's last cycle (heartbeat: (ok, error) or None when none is configured)."""
        stamp = timeutil.iso(now or timeutil.utcnow())
        hb_ok, hb_error = heartbeat if heartbeat else (None, None)
        with self.monitor.transaction(_schema) as conn:
            conn.execute(
                "INSERT INTO watch_status (database, pid, interval_seconds, last_cycle_at,"
                " last_ok, last_error, last_snapshot_at, heartbeat_at, heartbeat_ok,"
                " heartbeat_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (database) DO UPDATE SET pid = excluded.pid,"
                " interval_seconds = excluded.interval_seconds,"
                " last_cycle_at = excluded.last_cycle_at, last_ok = excluded.last_ok,"
                " last_error = excluded.last_error,"
                " last_snapshot_at = coalesce(excluded.last_snapshot_at, last_snapshot_at),"
                " heartbeat_at = coalesce(excluded.heartbeat_at, heartbeat_at),"
                " heartbeat_ok = coalesce(excluded.heartbeat_ok, heartbeat_ok),"
                " heartbeat_error = CASE WHEN excluded.heartbeat_at IS NULL THEN heartbeat_error"
                " ELSE excluded.heartbeat_error END",
                (open_database(database).key, pid, interval, stamp, int(bool(ok)), error,
                 None if snapshot_at is None else timeutil.iso(snapshot_at),
                 stamp if heartbeat else None, None if hb_ok is None else int(hb_ok), hb_error))

    def watch_status(self, database):
        """{pid, interval_seconds, last_cycle_at, last_ok, last_error, last_snapshot_at,
        heartbeat_at, heartbeat_ok, heartbeat_error} of the database's watcher, or None."""
        if not self.path.exists():
            return None
        with self.monitor.db.read() as conn:
            if not _has_table(conn, "watch_status"):
                return None
            row = conn.execute("SELECT * FROM watch_status WHERE database = ?",
                               (open_database(database).key,)).fetchone()
        return dict(row) if row else None
