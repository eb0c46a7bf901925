"""Silences: a health check acknowledged on one database, with a reason and an expiry, in the
monitor database. A silenced check keeps its true status everywhere; only its notifications
stop (watch/notify.py) until the silence expires, is lifted, or the check recovers.

Every change is an event in `silence_log` (set, lifted, expired, recovered). Expiry is lazy:
whoever reads a silence past its `until` ends it, in one BEGIN IMMEDIATE transaction whose
DELETE repeats the condition, so two readers at once log "expired" once. The alert claim
(alert_store.AlertStore.claim) reads the silences inside its own transaction (`active_in`),
so two watchers never disagree about one.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from r2w_db import errors
from r2w_db.backends import open_database
from r2w_db.engine import checks, durations, timeutil
from r2w_db.monitor.store import MonitorPart, _has_table

SCHEMA = """
CREATE TABLE IF NOT EXISTS silences (
    database TEXT NOT NULL,
    check_key TEXT NOT NULL,
    reason TEXT NOT NULL,
    user TEXT NOT NULL,
    set_at TEXT NOT NULL,
    until TEXT NOT NULL,
    seen_status TEXT,            -- the last failing status the watcher saw while it was silenced
    PRIMARY KEY (database, check_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS silence_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    database TEXT NOT NULL,
    check_key TEXT NOT NULL,
    event TEXT NOT NULL,         -- set, lifted, expired, recovered
    user TEXT,
    reason TEXT,
    until TEXT
);
CREATE INDEX IF NOT EXISTS idx_silence_log_database ON silence_log(database, id);
"""

MAX_SILENCE = timedelta(days=90)
MAX_REASON = 500
EVENTS = ("set", "lifted", "expired", "recovered")
LOG_COLUMNS = ("at", "database", "check", "event", "user", "reason", "until")


class BadSilence(errors.InvalidValue):
    """A silence that cannot be set as asked (one line saying why)."""


@dataclass(frozen=True)
class Silence:
    check: str
    database: str      # the database's key in the monitor (db.key)
    reason: str
    user: str
    set_at: datetime   # naive UTC, as timeutil keeps moments
    until: datetime

    def as_dict(self):
        """{"check", "database", "by", "reason", "set_at", "until"}: JSON-ready (ISO strings)."""
        return {"check": self.check, "database": self.database, "by": self.user,
                "reason": self.reason, "set_at": timeutil.iso(self.set_at),
                "until": timeutil.iso(self.until)}

    def marking(self):
        """{"by", "reason", "until"}: how a report marks a check it silences."""
        return {"by": self.user, "reason": self.reason, "until": timeutil.iso(self.until)}


def schema(conn):
    conn.executescript(SCHEMA)


def parse_for(text, now=None):
    """The expiry `--for` names: now + 1h / 1d / 1w (any duration), or an ISO date or datetime
    (UTC); at most MAX_SILENCE ahead. BadSilence (one line) otherwise."""
    try:
        return durations.parse_until(text, now or timeutil.utcnow(), "--for", MAX_SILENCE)
    except errors.InvalidValue as exc:
        raise BadSilence(str(exc)) from None


def valid_checks(database):
    """The check keys a silence may name on this database (its engine's checks)."""
    return checks.keys_for(open_database(database).backend)


def checked(database, check):
    """`check` when it is a check of this database's engine; BadSilence listing them if not."""
    known = valid_checks(database)
    if check not in known:
        raise BadSilence(f"unknown check {check!r}: one of {', '.join(known)}")
    return check


def _silence(row):
    return Silence(row["check_key"], row["database"], row["reason"], row["user"],
                   timeutil.parse(row["set_at"]), timeutil.parse(row["until"]))


def _log(conn, key, check, event, stamp, user, reason, until):
    conn.execute("INSERT INTO silence_log (at, database, check_key, event, user, reason, until)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?)", (stamp, key, check, event, user, reason, until))


def _expire(conn, key, stamp):
    """End every silence (of one database, or all when key is None) whose until has passed,
    logging "expired" for each one this transaction deleted."""
    where, params = ("database = ? AND ", (key,)) if key is not None else ("", ())
    rows = conn.execute(f"SELECT * FROM silences WHERE {where}until <= ?",
                        (*params, stamp)).fetchall()
    for row in rows:
        gone = conn.execute("DELETE FROM silences WHERE database = ? AND check_key = ?"
                            " AND until = ? AND until <= ?",
                            (row["database"], row["check_key"], row["until"], stamp)).rowcount
        if gone:
            _log(conn, row["database"], row["check_key"], "expired", stamp, row["user"],
                 row["reason"], row["until"])


def active_in(conn, key, now):
    """Inside a monitor transaction: expire what is due, then {check: {reason, user, set_at,
    until, seen_status}} of the database's active silences."""
    if not _has_table(conn, "silences"):
        return {}
    _expire(conn, key, timeutil.iso(now))
    return {row["check_key"]: dict(row) for row in conn.execute(
        "SELECT * FROM silences WHERE database = ?", (key,))}


def seen_in(conn, key, check, status):
    """Inside a monitor transaction: remember the failing status a silenced check showed."""
    conn.execute("UPDATE silences SET seen_status = ? WHERE database = ? AND check_key = ?",
                 (status, key, check))


def end_in(conn, key, check, event, now, user=None):
    """Inside a monitor transaction: end a silence with `event` ("lifted", "recovered");
    True when there was one."""
    row = conn.execute("SELECT * FROM silences WHERE database = ? AND check_key = ?",
                       (key, check)).fetchone()
    if row is None:
        return False
    conn.execute("DELETE FROM silences WHERE database = ? AND check_key = ?", (key, check))
    _log(conn, key, check, event, timeutil.iso(now), user or row["user"], row["reason"],
         row["until"])
    return True


class SilenceStore(MonitorPart):
    """The silences of every database (the monitor database is created on first write)."""

    def silence(self, database, check, *, until, reason, user, now=None) -> Silence:
        """Set (or replace) the silence of `check` on `database` until `until` (a datetime,
        UTC). BadSilence for an unknown check, an empty reason or user, an `until` not in the
        future or more than MAX_SILENCE ahead."""
        now = durations.naive_utc(now or timeutil.utcnow())
        db = open_database(database)
        checked(db, check)
        reason = " ".join(str(reason or "").split())
        if not reason:
            raise BadSilence("a silence needs a reason (--reason): say why and who is on it")
        if len(reason) > MAX_REASON:
            raise BadSilence(f"the reason is too long: at most {MAX_REASON} characters")
        user = str(user or "").strip()
        if not user:
            raise BadSilence("a silence needs the user who sets it")
        if not isinstance(until, datetime):
            raise BadSilence(f"until must be a date and time, not {until!r}")
        until = durations.naive_utc(until)
        if until <= now:
            raise BadSilence(f"until {timeutil.iso(until)[:16]} UTC is not in the future")
        if until - now > MAX_SILENCE:
            raise BadSilence(f"until {timeutil.iso(until)[:16]} UTC is too far ahead: a silence "
                             f"lasts at most {MAX_SILENCE.days} days")
        stamp, end = timeutil.iso(now), timeutil.iso(until)
        with self.monitor.transaction(schema) as conn:
            conn.execute(
                "INSERT INTO silences (database, check_key, reason, user, set_at, until)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (database, check_key) DO UPDATE SET"
                " reason = excluded.reason, user = excluded.user, set_at = excluded.set_at,"
                " until = excluded.until, seen_status = NULL",
                (db.key, check, reason, user, stamp, end))
            _log(conn, db.key, check, "set", stamp, user, reason, end)
        return Silence(check, db.key, reason, user, timeutil.parse(stamp), timeutil.parse(end))

    def lift(self, database, check, *, user, now=None) -> bool:
        """Lift the silence of `check` on `database`; False when there was none (BadSilence
        for a check the database does not have)."""
        now = durations.naive_utc(now or timeutil.utcnow())
        key = open_database(database).key
        checked(database, check)
        with self.monitor.transaction(schema) as conn:
            _expire(conn, key, timeutil.iso(now))
            return end_in(conn, key, check, "lifted", now, user=str(user or "").strip() or None)

    def active(self, database, now=None) -> dict:
        """{check: Silence} of the database's unexpired silences. Those found expired are ended
        (and logged) on the way; when the monitor cannot be written, they are still left out."""
        key = open_database(database).key
        return {s.check: s for s in self._active(key, now)}

    def active_everywhere(self, now=None) -> list:
        """Every database's unexpired silences, by database then check."""
        return self._active(None, now)

    def _active(self, key, now):
        now = durations.naive_utc(now or timeutil.utcnow())
        stamp = timeutil.iso(now)
        rows = self._rows(key)
        if any(row["until"] <= stamp for row in rows):
            try:
                with self.monitor.transaction(schema) as conn:
                    _expire(conn, key, stamp)
            except (errors.R2WError, OSError):
                pass   # a monitor that cannot be written: the answer below is still right
        return [_silence(row) for row in rows if row["until"] > stamp]

    def _rows(self, key):
        if not self.path.exists():
            return []
        where, params = ("WHERE database = ?", (key,)) if key is not None else ("", ())
        with self.monitor.db.read() as conn:
            if not _has_table(conn, "silences"):
                return []
            return [dict(r) for r in conn.execute(
                f"SELECT * FROM silences {where} ORDER BY database, check_key", params)]

    def log(self, database=None, limit=200) -> list:
        """Every set, lifted, expired and recovered event, newest first: [{LOG_COLUMNS}]."""
        if not self.path.exists():
            return []
        where, params = ("WHERE database = ?", (open_database(database).key,)) \
            if database is not None else ("", ())
        with self.monitor.db.read() as conn:
            if not _has_table(conn, "silence_log"):
                return []
            return [dict(r) for r in conn.execute(
                "SELECT at, database, check_key AS \"check\", event, user, reason, until"
                f" FROM silence_log {where} ORDER BY id DESC LIMIT ?", (*params, int(limit)))]
