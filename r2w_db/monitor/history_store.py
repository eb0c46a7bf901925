"""The monitor's memory: snapshots and daily (and hourly) roll-ups, per database, in the monitor database.

A snapshot is one row: when it was taken and its metrics as flat JSON ({name: number}),
zlib-compressed (the names repeat in every row: 2.4 KB of JSON is 0.75 KB stored).
Retention downsamples instead of forgetting: snapshots older than `raw_days` keep only the
newest of each UTC hour (grain 'hour'), older than `hourly_days` the newest of each UTC day
(grain 'day'), kept for ever unless `daily_days` is set. A closed UTC day's roll-up is
recorded once (the first writer wins) and never rewritten; so is a closed hour's, kept
HOURLY_ROLLUP_DAYS, and a closed minute's, kept while a window's edge is in its hour. The one
exception: a period recorded before the data's own clock passed its end (`data_clock`, a
watcher's clock ahead of the data's) is provisional, and replaced when rows arrive in it later
(figures/rollups.py).

History runs on across a move (monitor/lineage.py): a database's snapshots, roll-ups and
retention include those recorded under the databases it was moved from, up to each cut-over
(snapshots taken before it, periods closed by it; for a period both hold, the source's roll-up
wins: it was recorded while the source was the application's database). Records are always
written under the database's own key.
"""
import json
import os
import sqlite3
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from r2w_db import config, errors
from r2w_db.engine import timeutil
from r2w_db.backends import open_database
from r2w_db.monitor import lineage
from r2w_db.monitor.store import MonitorPart, _has_table

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY,
    database TEXT NOT NULL,                -- the database's key (db.key): its absolute path
    taken_at TEXT NOT NULL,                -- naive UTC ISO-8601
    grain TEXT NOT NULL DEFAULT 'raw',     -- raw; hour or day once downsampled
    seconds REAL,                          -- how long taking it took
    metrics BLOB NOT NULL                  -- zlib-compressed JSON {name: number or null}
);
CREATE INDEX IF NOT EXISTS idx_snapshots_database_time ON snapshots(database, taken_at);
CREATE TABLE IF NOT EXISTS daily_rollups (
    database TEXT NOT NULL,
    day TEXT NOT NULL,                     -- YYYY-MM-DD, a closed UTC day
    recorded_at TEXT NOT NULL,
    backfilled INTEGER NOT NULL,           -- 1: recorded over a day after the day closed
    figures TEXT NOT NULL,                 -- JSON, see figures/rollups.py
    data_clock TEXT,                       -- the data's newest timestamp when recorded
    PRIMARY KEY (database, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hourly_rollups (
    database TEXT NOT NULL,
    hour TEXT NOT NULL,                    -- YYYY-MM-DD HH:00, a closed UTC hour
    recorded_at TEXT NOT NULL,
    backfilled INTEGER NOT NULL,
    figures TEXT NOT NULL,
    data_clock TEXT,
    PRIMARY KEY (database, hour)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS minute_rollups (
    database TEXT NOT NULL,
    minute TEXT NOT NULL,                  -- YYYY-MM-DD HH:MM, a closed UTC minute
    recorded_at TEXT NOT NULL,
    backfilled INTEGER NOT NULL,
    figures TEXT NOT NULL,
    data_clock TEXT,
    PRIMARY KEY (database, minute)
) WITHOUT ROWID;
"""


def _schema(conn):
    conn.executescript(SCHEMA)
    for table in ("daily_rollups", "hourly_rollups"):   # roll-ups recorded before data_clock
        if not _has_column(conn, table, "data_clock"):
            try:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN data_clock TEXT")
            except sqlite3.OperationalError:
                pass   # another process added it first


def _has_column(conn, table, column):
    return column in [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


# grain -> (table, key column, length): hourly roll-ups answer the partial days at a window's
# edges; they are kept HOURLY_ROLLUP_DAYS (two 90-day windows and a margin), daily ones for ever.
# Minute roll-ups answer the partial hours at the edges of the pages' windows (a window starts
# on a minute: Window.of floors now), so an edge costs minutes, not rows; only the hours where
# such an edge falls are kept (rollups.edge_hours, keep_minutes).
ROLLUP_TABLES = {"day": ("daily_rollups", "day", timedelta(days=1)),
                 "hour": ("hourly_rollups", "hour", timedelta(hours=1)),
                 "minute": ("minute_rollups", "minute", timedelta(minutes=1))}
HOURLY_ROLLUP_DAYS = 186
GRAINS = ("raw", "hour", "day")
ENV = {"raw_days": "R2W_HISTORY_RAW_DAYS", "hourly_days": "R2W_HISTORY_HOURLY_DAYS",
       "daily_days": "R2W_HISTORY_DAILY_DAYS"}


@dataclass(frozen=True)
class Retention:
    """How long each grain is kept, in days (daily_days 0: for ever)."""

    raw_days: float = 14
    hourly_days: float = 90
    daily_days: float = 0

    @classmethod
    def load(cls, table=None, environ=None):
        """Defaults, then `[history]` (a mapping), then R2W_HISTORY_* variables (which win).
        A value that is not a number of days from 0 to config.MAX_SETTING_DAYS (100 years:
        beyond, a date no longer fits), or hourly_days below raw_days, is an InvalidValue."""
        environ = os.environ if environ is None else environ
        values = {}
        for name, variable in ENV.items():
            for where, raw in ((f"[history] {name}", (table or {}).get(name)),
                               (variable, environ.get(variable))):
                if raw is None or raw == "":
                    continue
                value = config.bounded_number(raw, 0, config.MAX_SETTING_DAYS)
                if value is None:
                    raise errors.InvalidValue(f"{where}: {raw!r} is not a number of days from 0 "
                                              f"to {config.MAX_SETTING_DAYS}")
                values[name] = value
        unknown = sorted(set(table or {}) - set(ENV))
        if unknown:
            raise errors.InvalidValue(f"[history]: unknown setting(s) {', '.join(unknown)} "
                                      f"(known: {', '.join(ENV)})")
        retention = cls(**values)
        if retention.hourly_days < retention.raw_days:
            raise errors.InvalidValue("history retention: hourly_days must be at least raw_days")
        if retention.daily_days and retention.daily_days < retention.hourly_days:
            raise errors.InvalidValue("history retention: daily_days must be 0 (for ever) or at "
                                      "least hourly_days")
        return retention


class HistoryStore(MonitorPart):
    """Snapshots and roll-ups in the monitor database (created on the first write)."""

    def _readable(self, conn, table):
        return _has_table(conn, table)

    # ------------------------------------------------------------------ snapshots
    def record_snapshot(self, database, metrics, taken_at=None, seconds=None):
        """Store one snapshot ({name: number or None}); returns its id."""
        taken_at = timeutil.iso(taken_at or timeutil.utcnow())
        with self.monitor.transaction(_schema) as conn:
            return conn.execute(
                "INSERT INTO snapshots (database, taken_at, grain, seconds, metrics)"
                " VALUES (?, ?, 'raw', ?, ?)",
                (open_database(database).key, taken_at, seconds, _pack(metrics))).lastrowid

    def count_snapshots(self, database):
        """How many snapshots of this database (and of no other) the monitor keeps."""
        if not self.path.exists():
            return 0
        with self.monitor.db.read() as conn:
            if not self._readable(conn, "snapshots"):
                return 0
            return conn.execute("SELECT count(*) FROM snapshots WHERE database = ?",
                                (open_database(database).key,)).fetchone()[0]

    def snapshots(self, database, since=None, until=None, limit=None):
        """[{"id", "taken_at", "grain", "seconds", "metrics"}] oldest first ([] when none).
        `since`/`until`: datetimes (since <= taken_at < until)."""
        if not self.path.exists():
            return []
        mine, params = self._lineage_where(database, "taken_at")
        where = [mine]
        if since is not None:
            where.append("taken_at >= ?")
            params.append(timeutil.iso(since))
        if until is not None:
            where.append("taken_at < ?")
            params.append(timeutil.iso(until))
        tail = ""
        if limit is not None:   # the newest `limit`, still returned oldest first
            tail = " ORDER BY taken_at DESC, id DESC LIMIT ?"
            params.append(int(limit))
        with self.monitor.db.read() as conn:
            if not self._readable(conn, "snapshots"):
                return []
            rows = conn.execute(
                "SELECT id, taken_at, grain, seconds, metrics FROM snapshots"
                f" WHERE {' AND '.join(where)}{tail or ' ORDER BY taken_at, id'}", params).fetchall()
        found = [{**dict(r), "metrics": _unpack(r["metrics"])} for r in rows]
        return sorted(found, key=lambda r: (r["taken_at"], r["id"])) if tail else found

    def latest_snapshot(self, database):
        """The newest snapshot of a database, or None."""
        found = self.snapshots(database, limit=1)
        return found[0] if found else None

    def prune(self, database, retention=None, now=None):
        """Downsample and forget per `retention`; returns {"to_hour", "to_day", "deleted"}."""
        retention = retention or Retention()
        now = now or timeutil.utcnow()
        keys = [key for key, _ in self.lineage(database)]   # its history, its sources' too
        owned = f"database IN ({', '.join('?' * len(keys))})"
        raw_cut = timeutil.iso(_floor(now - timedelta(days=retention.raw_days), "hour"))
        hour_cut = timeutil.iso(_floor(now - timedelta(days=retention.hourly_days), "day"))
        done = {"to_hour": 0, "to_day": 0, "deleted": 0}
        if not self.path.exists():
            return done
        with self.monitor.transaction(_schema) as conn:
            for grain, coarser, cut, width, name in (("raw", "hour", raw_cut, 13, "to_hour"),
                                                     ("hour", "day", hour_cut, 10, "to_day")):
                done[name] = conn.execute(
                    "UPDATE snapshots SET grain = ? WHERE id IN (SELECT id FROM ("
                    f" SELECT id, max(taken_at) FROM snapshots WHERE {owned} AND grain = ?"
                    " AND taken_at < ? GROUP BY database, substr(taken_at, 1, ?)))",
                    (coarser, *keys, grain, cut, width)).rowcount
                done["deleted"] += conn.execute(
                    f"DELETE FROM snapshots WHERE {owned} AND grain = ? AND taken_at < ?",
                    (*keys, grain, cut)).rowcount
            if retention.daily_days:
                day_cut = timeutil.iso(_floor(now - timedelta(days=retention.daily_days), "day"))
                done["deleted"] += conn.execute(
                    f"DELETE FROM snapshots WHERE {owned} AND grain = 'day' AND taken_at < ?",
                    (*keys, day_cut)).rowcount
        return done

    # ------------------------------------------------------------------ roll-ups
    def record_rollups(self, database, days, recorded_at=None, backfill_grace=timedelta(days=1),
                       grain="day", data_clock=None):
        """Record {period: figures} once each ('YYYY-MM-DD' days, 'YYYY-MM-DD HH:00' hours with
        grain "hour", 'YYYY-MM-DD HH:MM' minutes with grain "minute"); a period already recorded
        is kept as it is, and one recorded more than `backfill_grace` after it closed is marked
        back-filled. `data_clock`: the data's newest timestamp (ISO text) as the periods were
        computed. Returns the periods actually
        recorded (a key that names no period Python can hold is left out). Hourly roll-ups
        older than HOURLY_ROLLUP_DAYS are forgotten (minutes: keep_minutes)."""
        table, column, length = ROLLUP_TABLES[grain]
        recorded_at = recorded_at or timeutil.utcnow()
        key, written = open_database(database).key, []
        with self.monitor.transaction(_schema) as conn:
            for period, figures in sorted(days.items()):
                start = timeutil.period_start(period)
                if start is None or timeutil.period_key(start, grain) != period:
                    continue
                cur = conn.execute(
                    f"INSERT INTO {table} (database, {column}, recorded_at, backfilled, figures,"
                    " data_clock) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (key, period, timeutil.iso(recorded_at),
                     _backfilled(start, length, recorded_at, backfill_grace), _json(figures),
                     data_clock))
                if cur.rowcount:
                    written.append(period)
            if grain == "hour":
                forget = recorded_at - timedelta(days=HOURLY_ROLLUP_DAYS)
                conn.execute("DELETE FROM hourly_rollups WHERE database = ? AND hour < ?",
                             (key, timeutil.period_key(forget, "hour")))
        return written

    def keep_minutes(self, database, hours):
        """Forget the database's minute roll-ups outside `hours` (period starts of hours)."""
        prefixes = sorted(timeutil.period_key(h, "hour")[:13] for h in hours)
        marks = ", ".join("?" * len(prefixes))
        with self.monitor.transaction(_schema) as conn:
            conn.execute("DELETE FROM minute_rollups WHERE database = ?"
                         f" AND substr(minute, 1, 13) NOT IN ({marks})",
                         (open_database(database).key, *prefixes))

    def provisional(self, database, grain="day"):
        """{period: {"figures", "data_clock", "recorded_at"}} of the database's own periods
        recorded before the data's clock passed their end (figures/rollups.py revises them)."""
        table, column, _ = ROLLUP_TABLES[grain]
        if not self.path.exists():
            return {}
        # the data clock's own period, in the grain's key form, is the period or a later one
        mine = {"day": "substr(data_clock, 1, 10)",
                "hour": "substr(data_clock, 1, 10) || ' ' || substr(data_clock, 12, 2) || ':00'",
                "minute": "substr(data_clock, 1, 10) || ' ' || substr(data_clock, 12, 5)"}[grain]
        with self.monitor.db.read() as conn:
            if not self._readable(conn, table) or not _has_column(conn, table, "data_clock"):
                return {}
            rows = conn.execute(
                f"SELECT {column}, recorded_at, figures, data_clock FROM {table}"
                f" WHERE database = ? AND data_clock IS NOT NULL AND {mine} <= {column}",
                (open_database(database).key,)).fetchall()
        found = {}
        for row in rows:
            try:
                figures = json.loads(row["figures"])
            except ValueError:
                figures = None
            found[row[0]] = {"figures": figures, "data_clock": row["data_clock"],
                             "recorded_at": row["recorded_at"]}
        return found

    def revise_rollups(self, database, grain, *, recorded_at, data_clock, replace=None,
                       touch=()):
        """In one transaction: replace the figures of {period: figures} (recorded again at
        `recorded_at`) and set `data_clock` on the periods in `touch` (rechecked)."""
        table, column, length = ROLLUP_TABLES[grain]
        key = open_database(database).key
        grace = timedelta(days=1) if grain == "day" else timedelta(hours=1)
        with self.monitor.transaction(_schema) as conn:
            for period in touch:
                conn.execute(f"UPDATE {table} SET data_clock = ? WHERE database = ?"
                             f" AND {column} = ?", (data_clock, key, period))
            for period, figures in (replace or {}).items():
                start = timeutil.period_start(period)
                if start is None:
                    continue
                conn.execute(
                    f"UPDATE {table} SET figures = ?, recorded_at = ?, backfilled = ?,"
                    f" data_clock = ? WHERE database = ? AND {column} = ?",
                    (_json(figures), timeutil.iso(recorded_at),
                     _backfilled(start, length, recorded_at, grace), data_clock, key, period))

    def lacking(self, database, section, grain="day"):
        """[period] of the database's own roll-ups recorded without `section` (a key of the
        figures added later: figures/rollups.py LATER_SECTIONS)."""
        table, column, _ = ROLLUP_TABLES[grain]
        if not self.path.exists():
            return []
        with self.monitor.db.read() as conn:
            if not self._readable(conn, table):
                return []
            return [r[0] for r in conn.execute(
                f"SELECT {column} FROM {table} WHERE database = ? AND instr(figures, ?) = 0"
                f" ORDER BY {column}", (open_database(database).key, _key_text(section)))]

    def add_section(self, database, section, values, grain="day"):
        """In one transaction: set `section` of the database's own periods {period: value} that
        are still recorded without it (nothing else of a period changes); how many were set."""
        table, column, _ = ROLLUP_TABLES[grain]
        key, done = open_database(database).key, 0
        with self.monitor.transaction(_schema) as conn:
            for period, value in sorted(values.items()):
                row = conn.execute(f"SELECT figures FROM {table} WHERE database = ? AND"
                                   f" {column} = ? AND instr(figures, ?) = 0",
                                   (key, period, _key_text(section))).fetchone()
                try:
                    figures = json.loads(row[0]) if row else None
                except ValueError:
                    figures = None
                if not isinstance(figures, dict):
                    continue
                figures[section] = value
                conn.execute(f"UPDATE {table} SET figures = ? WHERE database = ? AND {column} = ?",
                             (_json(figures), key, period))
                done += 1
        return done

    def rollups(self, database, first_day=None, last_day=None, grain="day"):
        """{period: {"figures", "backfilled", "recorded_at"}} for first_day <= period <= last_day
        (strings in the grain's form)."""
        table, column, _ = ROLLUP_TABLES[grain]
        if not self.path.exists():
            return {}
        mine, params = self._lineage_where(database, column, grain)
        where = [mine]
        if first_day is not None:
            where.append(f"{column} >= ?")
            params.append(str(first_day))
        if last_day is not None:
            where.append(f"{column} <= ?")
            params.append(str(last_day))
        with self.monitor.db.read() as conn:
            if not self._readable(conn, table):
                return {}
            rows = conn.execute(
                f"SELECT {column}, recorded_at, backfilled, figures FROM {table}"
                f" WHERE {' AND '.join(where)} ORDER BY {column}, database = ? DESC",
                (*params, open_database(database).key)).fetchall()   # a source's wins (docstring)
        return {r[0]: {"figures": json.loads(r["figures"]), "backfilled": bool(r["backfilled"]),
                       "recorded_at": r["recorded_at"]} for r in rows}

    def last_rollup_day(self, database, grain="day"):
        """The newest period rolled up ('YYYY-MM-DD', 'YYYY-MM-DD HH:00' or 'YYYY-MM-DD HH:MM'), or
        None."""
        return self._rollup_bound(database, grain, "max")

    def first_rollup_day(self, database, grain="day"):
        """The oldest period rolled up, or None."""
        return self._rollup_bound(database, grain, "min")

    def _rollup_bound(self, database, grain, bound):
        table, column, _ = ROLLUP_TABLES[grain]
        if not self.path.exists():
            return None
        with self.monitor.db.read() as conn:
            if not self._readable(conn, table):
                return None
            mine, params = self._lineage_where(database, column, grain)
            return conn.execute(f"SELECT {bound}({column}) FROM {table} WHERE {mine}",
                                params).fetchone()[0]

    # ------------------------------------------------------------------ across a move
    def lineage(self, database):
        """[(key, cut-over or None)]: the database and those its history runs on from."""
        return lineage.lineage(open_database(database).key, self.monitor)

    def _lineage_where(self, database, column, grain=None):
        """(sql, params): the rows of the database's history: its own, and its sources' up to
        each cut-over (snapshots taken before it; with a grain, periods closed by it)."""
        parts, params = [], []
        for key, cut in self.lineage(database):
            if cut is None:
                parts.append("database = ?")
                params.append(key)
            elif grain is None:
                parts.append(f"(database = ? AND {column} < ?)")
                params += [key, cut]
            else:
                parts.append(f"(database = ? AND {column} <= ?)")
                params += [key, _last_closed(cut, grain)]
        return "(" + " OR ".join(parts) + ")", params


def _json(figures):
    return json.dumps(figures, separators=(",", ":"), sort_keys=True)


def _key_text(section):
    """How a section's key appears in _json's text (only a key is followed by a colon there: a
    quote inside a JSON string is escaped)."""
    return json.dumps(section) + ":"


def _backfilled(start, length, recorded_at, grace):
    """1 when a period is recorded more than `grace` after it closed."""
    return int(recorded_at - (start + length) > grace)


def _pack(metrics):
    return zlib.compress(json.dumps(metrics, separators=(",", ":"), sort_keys=True).encode(), 6)


def _unpack(stored):
    """Metrics as stored: compressed JSON (or plain JSON text)."""
    return json.loads(zlib.decompress(stored) if isinstance(stored, bytes) else stored)


def _last_closed(cut, grain):
    """The last period ('YYYY-MM-DD' or 'YYYY-MM-DD HH:00') that closed by a cut-over."""
    _, _, length = ROLLUP_TABLES[grain]
    return timeutil.period_key(_floor(datetime.fromisoformat(cut) - length, grain), grain)


def _floor(moment, grain):
    if grain == "minute":
        return moment.replace(second=0, microsecond=0)
    if grain == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def history_frame(database, since=None, until=None, metrics=None, monitor=None):
    """DataFrame of a database's snapshots, oldest first: taken_at (datetime), grain, then one
    column per metric (all, or the names / fnmatch patterns in `metrics`; NaN where a snapshot
    did not record it)."""
    import fnmatch

    import pandas as pd

    points = HistoryStore(monitor).snapshots(database, since=since, until=until)
    names = sorted({k for p in points for k in p["metrics"]})
    if metrics is not None:
        names = [n for n in names if any(fnmatch.fnmatchcase(n, m) for m in metrics)]
    frame = pd.DataFrame([[p["taken_at"], p["grain"], *(p["metrics"].get(n) for n in names)]
                          for p in points], columns=["taken_at", "grain", *names])
    # a snapshot taken under a clock pandas cannot hold (year 1500, 2300) is left out
    frame["taken_at"] = pd.to_datetime(frame["taken_at"], format="ISO8601", errors="coerce")
    frame = frame[frame["taken_at"].notna()].reset_index(drop=True)
    for name in names:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    return frame
