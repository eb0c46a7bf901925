"""The real query workload over time: what each watcher snapshot captured of pg_stat_statements,
per database, in the monitor database.

pg_stat_statements counts from its last reset, so a capture stores the difference from the
previous one: per statement (queryid) the calls, execution time, rows and shared blocks of the
interval, and the largest execution time the view held then (a maximum does not add up). The
counters last read are kept as the next capture's baseline. A statement whose counters went
down (the statistics, or that statement's, were reset; or it was evicted and came back) counts
from zero again, so a delta is never negative; the first capture of a database is a baseline
only. The text of each statement is stored once per queryid. Captures are kept as long as the
history's raw snapshots (`[history] raw_days`, 14 days by default).
"""
from datetime import timedelta

from r2w_db.engine import timeutil
from r2w_db.backends import open_database
from r2w_db.monitor.store import MonitorPart, _has_table

SCHEMA = """
CREATE TABLE IF NOT EXISTS statement_captures (
    id INTEGER PRIMARY KEY,
    database TEXT NOT NULL,                -- the database's key (db.key)
    captured_at TEXT NOT NULL,             -- naive UTC ISO-8601
    since TEXT,                            -- the previous capture: the interval's start (NULL: a baseline)
    stats_reset TEXT,                      -- pg_stat_statements_info.stats_reset as read
    reset INTEGER NOT NULL DEFAULT 0,      -- 1: counters were reset since the previous capture
    hidden INTEGER NOT NULL DEFAULT 0      -- statements the monitoring role may not read
);
CREATE INDEX IF NOT EXISTS idx_statement_captures_time ON statement_captures(database, captured_at);
CREATE TABLE IF NOT EXISTS statement_deltas (
    capture_id INTEGER NOT NULL,
    queryid INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    total_ms REAL NOT NULL,
    rows INTEGER NOT NULL,
    hit INTEGER NOT NULL,                  -- shared blocks found in the buffer cache
    read INTEGER NOT NULL,                 -- shared blocks read from disk (or the OS cache)
    max_ms REAL,                           -- the view's max_exec_time at the capture (not a delta)
    PRIMARY KEY (capture_id, queryid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS statement_texts (
    database TEXT NOT NULL,
    queryid INTEGER NOT NULL,
    query TEXT NOT NULL,                   -- normalised by pg_stat_statements ($1 for constants)
    last_seen TEXT NOT NULL,
    PRIMARY KEY (database, queryid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS statement_counters (
    database TEXT NOT NULL,                -- the counters last read: the next capture's baseline
    queryid INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    total_ms REAL NOT NULL,
    rows INTEGER NOT NULL,
    hit INTEGER NOT NULL,
    read INTEGER NOT NULL,
    PRIMARY KEY (database, queryid)
) WITHOUT ROWID;
"""
COUNTERS = ("calls", "total_ms", "rows", "hit", "read")
DEFAULT_DAYS = 14


def _schema(conn):
    conn.executescript(SCHEMA)


def deltas(current, previous):
    """{queryid: {counter: interval's amount, "max_ms"}} of the statements that ran since
    `previous` ({queryid: counters}); a statement whose counters went down, or that is new,
    counts from zero (never a negative delta). Also returns whether any went down."""
    found, went_down = {}, False
    for queryid, now in current.items():
        before = previous.get(queryid)
        if before is not None and any(now[c] < before[c] for c in COUNTERS):
            went_down, before = True, None
        change = {c: now[c] - (before[c] if before else 0) for c in COUNTERS}
        if change["calls"] > 0:
            found[queryid] = {**change, "max_ms": now["max_ms"]}
    return found, went_down


class StatementStore(MonitorPart):
    """Captures of pg_stat_statements and the statements' texts (created on the first write)."""

    def record(self, database, readings, *, stats_reset=None, hidden=0, now=None,
               keep_days=DEFAULT_DAYS):
        """Store one capture of `readings` ({queryid: {"query", counters..., "max_ms"}}, the
        view's counters since its reset) as deltas from the previous capture, in one
        transaction; forget captures older than `keep_days`. Returns {"id", "statements",
        "baseline", "reset", "pruned"}."""
        key = open_database(database).key
        now = timeutil.iso(now or timeutil.utcnow())
        reset_text = timeutil.iso(stats_reset) if stats_reset is not None else None
        with self.monitor.transaction(_schema) as conn:
            last = conn.execute(
                "SELECT captured_at, stats_reset FROM statement_captures WHERE database = ?"
                " ORDER BY captured_at DESC, id DESC LIMIT 1", (key,)).fetchone()
            previous = {row[0]: dict(zip(COUNTERS, row[1:])) for row in conn.execute(
                "SELECT queryid, calls, total_ms, rows, hit, read FROM statement_counters"
                " WHERE database = ?", (key,))}
            restarted = (last is not None and reset_text is not None and last[1] is not None
                         and reset_text != last[1])
            # after a reset of the whole view every statement counts from zero
            found, went_down = deltas(readings, {} if restarted else previous)
            reset = last is not None and (restarted or went_down)
            capture_id = conn.execute(
                "INSERT INTO statement_captures (database, captured_at, since, stats_reset,"
                " reset, hidden) VALUES (?, ?, ?, ?, ?, ?)",
                (key, now, last[0] if last else None, reset_text, int(reset), hidden)).lastrowid
            if last is not None:
                conn.executemany(
                    "INSERT INTO statement_deltas (capture_id, queryid, calls, total_ms, rows,"
                    " hit, read, max_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(capture_id, q, *(d[c] for c in COUNTERS), d["max_ms"])
                     for q, d in found.items()])
            conn.executemany(
                "INSERT INTO statement_texts (database, queryid, query, last_seen)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (database, queryid) DO UPDATE"
                " SET last_seen = excluded.last_seen",
                [(key, q, r["query"], now) for q, r in readings.items()])
            conn.execute("DELETE FROM statement_counters WHERE database = ?", (key,))
            conn.executemany(
                "INSERT INTO statement_counters (database, queryid, calls, total_ms, rows, hit,"
                " read) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(key, q, *(r[c] for c in COUNTERS)) for q, r in readings.items()])
            pruned = _prune(conn, key, timeutil.parse(now) - timedelta(days=keep_days))
        return {"id": capture_id, "statements": len(found) if last else 0,
                "baseline": last is None, "reset": bool(reset), "pruned": pruned}

    def _read(self, statement, params):
        if not self.path.exists():
            return []
        with self.monitor.db.read() as conn:
            if not _has_table(conn, "statement_captures"):
                return []
            return [dict(row) for row in conn.execute(statement, params)]

    def captures(self, database, since=None):
        """[{"id", "captured_at", "since", "stats_reset", "reset", "hidden"}] oldest first."""
        return self._read(
            "SELECT id, captured_at, since, stats_reset, reset, hidden FROM statement_captures"
            " WHERE database = ? AND captured_at >= ? ORDER BY captured_at, id",
            (open_database(database).key, timeutil.iso(since) if since else ""))

    def totals(self, database, since=None, until=None):
        """[{"queryid", "query", "calls", "total_ms", "rows", "hit", "read", "max_ms"}]: each
        statement's sums over the captures taken in since <= captured_at < until (max: the
        largest), by total time, largest first."""
        return self._read(
            "SELECT d.queryid, t.query, sum(d.calls) AS calls, sum(d.total_ms) AS total_ms,"
            " sum(d.rows) AS rows, sum(d.hit) AS hit, sum(d.read) AS read,"
            " max(d.max_ms) AS max_ms"
            " FROM statement_captures c JOIN statement_deltas d ON d.capture_id = c.id"
            " LEFT JOIN statement_texts t ON t.database = c.database AND t.queryid = d.queryid"
            " WHERE c.database = ? AND c.captured_at >= ? AND c.captured_at < ?"
            " GROUP BY d.queryid ORDER BY total_ms DESC, d.queryid",
            (open_database(database).key, timeutil.iso(since) if since else "",
             timeutil.iso(until) if until else "~"))

    def intervals(self, database, queryids, since=None):
        """[{"captured_at", "since", "queryid", "calls", "total_ms"}]: each capture's deltas
        of the statements `queryids`, oldest first."""
        queryids = [int(q) for q in queryids]
        if not queryids:
            return []
        return self._read(
            "SELECT c.captured_at, c.since, d.queryid, d.calls, d.total_ms"
            " FROM statement_captures c JOIN statement_deltas d ON d.capture_id = c.id"
            f" WHERE c.database = ? AND c.captured_at >= ? AND d.queryid IN"
            f" ({', '.join('?' * len(queryids))}) ORDER BY c.captured_at, d.queryid",
            (open_database(database).key, timeutil.iso(since) if since else "", *queryids))


def _prune(conn, key, cut):
    """Forget a database's captures older than `cut` (their deltas), and the texts of
    statements seen by none of the captures kept. Returns the captures forgotten."""
    cut = timeutil.iso(cut)
    old = "SELECT id FROM statement_captures WHERE database = ? AND captured_at < ?"
    conn.execute(f"DELETE FROM statement_deltas WHERE capture_id IN ({old})", (key, cut))
    gone = conn.execute("DELETE FROM statement_captures WHERE database = ? AND captured_at < ?",
                        (key, cut)).rowcount
    conn.execute("DELETE FROM statement_texts WHERE database = ? AND last_seen < ?", (key, cut))
    return gone
