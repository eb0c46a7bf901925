"""The History page's figures and the Overview's sparklines, read from the monitor database
(snapshots, daily roll-ups, the maintenance log, the watcher's status, the notification log).
Only `daily` reads the application's database, for the days the roll-ups do not hold.

Every function takes the application's database (the key of its history) and an optional
`monitor` (a path or MonitorStore; default R2W_MONITOR_DB).
"""
import dataclasses
import itertools
import statistics
from datetime import timedelta

import pandas as pd

from r2w_db.backends import all_backends, open_database
from r2w_db.engine import timeutil
from r2w_db.figures import forecast as fc
from r2w_db.figures import rollup_window
from r2w_db.figures.periods import floor_period
from r2w_db.monitor.alert_store import AlertStore
from r2w_db.monitor.history_store import HistoryStore, history_frame
from r2w_db.monitor import lineage
from r2w_db.monitor.store import MonitorStore

SIZE_SERIES = {"file.size_bytes": None, "file.wal_bytes": "WAL",   # None: the engine names it
               "file.free_bytes": "free pages", "disk.free_bytes": "free disk"}
# file.size_bytes as each engine names it (an SQLite file; PostgreSQL's pg_database_size)
DATABASE_SIZE_LABELS = tuple(backend.snapshot.SIZE_LABEL for backend in all_backends())
LEVEL_SERIES = {"stats.cache.cached_extractions": "cache entries",
                "stats.users.anonymous": "anonymous ids"}
SPARK_POINTS = 60          # at most this many points in a sparkline


DAILY_COLUMNS = ["period", "source", "processing", "completed", "failed", "uploaded", "other",
                 "uploads", "confidence_entries", "new_anonymous_ids", "signups",
                 "sessions_created"]


def daily(db, window, monitor=None):
    """{"days": DataFrame DAILY_COLUMNS, one row per whole UTC day the window touches (the
    24-hour window's two too; the all-time window from the first day the roll-ups hold):
    period (datetime), source ("rollup" or "live"), the uploads by status and in all, the
    cache entries created (confidence_entries), new anonymous ids, sign-ups and sessions
    created; "rollup_days", "live_days", "rolled_up": whether the watcher has rolled this
    database up}. Closed days come from the roll-ups (as recorded when each closed: they keep
    what cleanups deleted since); only the days after the newest roll-up are read live from
    the application's database (figures/rollup_window.py). Without any roll-up nothing is
    read: counting every day live costs rows (26 s for 90 days at 600k uploads), and the
    watcher's first cycle records them all."""
    store = HistoryStore(_store(monitor))
    if store.last_rollup_day(db) is None:
        return {"days": pd.DataFrame(columns=DAILY_COLUMNS), "rollup_days": 0, "live_days": 0,
                "rolled_up": False}
    start = None if window.start is None else floor_period(window.start, "day")
    days = dataclasses.replace(window, start=start, grain="day", previous=None)
    frame = rollup_window.daily(db, days, store)
    frame = frame.rename(columns={"day": "period"})[DAILY_COLUMNS].reset_index(drop=True)
    return {"days": frame, "rollup_days": int((frame["source"] == "rollup").sum()),
            "live_days": int((frame["source"] == "live").sum()), "rolled_up": True}


def _store(monitor):
    return monitor if isinstance(monitor, MonitorStore) else MonitorStore(monitor)


def _frame(db, since, metrics, monitor):
    return history_frame(db, since=since, metrics=metrics, monitor=_store(monitor))


def _long(frame, names, value):
    """Wide snapshot columns `names` {metric: label} as long rows taken_at, grain, series, value."""
    present = [m for m in names if m in frame]
    if frame.empty or not present:
        return pd.DataFrame(columns=["taken_at", "grain", "series", value])
    long = frame[["taken_at", "grain", *present]].melt(
        id_vars=["taken_at", "grain"], var_name="series", value_name=value).dropna(subset=[value])
    long["series"] = long["series"].map(names)
    return long.reset_index(drop=True)


def size_series(db):
    """{metric: label} of the size series, the database's size named by its engine."""
    return {metric: label or open_database(db).backend.snapshot.SIZE_LABEL
            for metric, label in SIZE_SERIES.items()}


def sizes(db, since=None, monitor=None):
    """{"series": long DataFrame taken_at, grain, series, bytes; "growth": DataFrame series, now,
    per_day, per_week (None: the history is shorter than a day / a week)}."""
    names = size_series(db)
    frame = _frame(db, since, list(SIZE_SERIES), monitor)
    # the growth looks a week back whatever the window (a 24-hour window holds no week)
    whole = frame if since is None else _frame(db, since - timedelta(days=8), list(SIZE_SERIES),
                                               monitor)
    rows = []
    for metric, label in names.items():
        if metric not in whole or whole[metric].dropna().empty:
            continue
        got = fc.growth_table(whole.rename(columns={metric: "bytes"}), "bytes")
        rows.append((label, float(whole[metric].dropna().iloc[-1]), got["per_day"],
                     got["per_week"]))
    return {"series": _long(frame, names, "bytes"),
            "growth": pd.DataFrame(rows, columns=["series", "now", "per_day", "per_week"])}


def size_forecast(db, monitor=None, days=fc.FIT_DAYS):
    """{"forecast": forecast.Forecast of the database file (+ its WAL), "band": DataFrame
    taken_at, bytes, low, high, "observed": DataFrame taken_at, bytes (the fitted span and
    before), "label": what the bytes are, as the engine names them}. The disk-full date uses
    the newest snapshot's free disk."""
    frame = _frame(db, None, ["file.size_bytes", "file.wal_bytes", "disk.free_bytes"], monitor)
    if frame.empty or "file.size_bytes" not in frame:
        return {"forecast": fc.fit(pd.DataFrame(columns=["taken_at", "bytes"])),
                "band": fc.band(fc.Forecast(fc.NOT_ENOUGH, "")),
                "observed": pd.DataFrame(columns=["taken_at", "bytes"]), "label": size_label(db)}
    wal = frame["file.wal_bytes"].fillna(0) if "file.wal_bytes" in frame else 0
    observed = pd.DataFrame({"taken_at": frame["taken_at"], "bytes": frame["file.size_bytes"] + wal})
    observed = observed.dropna()
    free = frame["disk.free_bytes"].dropna() if "disk.free_bytes" in frame else pd.Series([])
    # sizes from before a move measure the other engine's storage: fit only what came after
    moved_at = moved_since(db, monitor)
    fitted = observed if moved_at is None else observed[observed["taken_at"] >= moved_at]
    result = fc.fit(fitted, "bytes", free_bytes=float(free.iloc[-1]) if len(free) else None,
                    days=days)
    recent = observed[observed["taken_at"] >= observed["taken_at"].max() - timedelta(days=2 * days)]
    return {"forecast": result, "band": fc.band(result, step_days=1.0), "observed": recent,
            "moved_at": moved_at, "label": size_label(db)}


def size_label(db):
    """The forecast's bytes as the engine names them: the file (+ its WAL where it has one)."""
    db = open_database(db)
    return db.backend.snapshot.SIZE_LABEL + (" + WAL" if db.backend.features.wal else "")


def moved_since(db, monitor=None):
    """When the database's history last crossed a move (a naive UTC datetime), or None."""
    cuts = [cut for _, cut in lineage.lineage(open_database(db).key, _store(monitor)) if cut]
    return pd.Timestamp(max(cuts)).to_pydatetime() if cuts else None


def tables(db, since=None, monitor=None):
    """{"latest": DataFrame table, rows, bytes, index_bytes (the newest snapshot), "exact": True
    (dbstat), False (estimate) or None (not recorded), "catalog": True when the bytes are
    PostgreSQL's pg_table_size (exact too), "taken_at", "series": long DataFrame taken_at,
    table, rows, bytes}."""
    frame = _frame(db, since, ["tables.*", "table_bytes_exact", "table_rows_exact"], monitor)
    names = sorted({c.split(".")[1] for c in frame.columns if c.startswith("tables.")})
    empty = {"latest": pd.DataFrame(columns=["table", "rows", "bytes", "index_bytes"]),
             "exact": None, "catalog": False, "taken_at": None,
             "series": pd.DataFrame(columns=["taken_at", "table", "rows", "bytes"])}
    if frame.empty or not names:
        return empty
    last = frame.iloc[-1]
    latest = pd.DataFrame([(t, last.get(f"tables.{t}.rows"), last.get(f"tables.{t}.bytes"),
                            last.get(f"tables.{t}.index_bytes")) for t in names],
                          columns=["table", "rows", "bytes", "index_bytes"])
    latest = latest.dropna(subset=["rows"]).astype({"rows": "int64"})
    latest = latest.sort_values("bytes", ascending=False).reset_index(drop=True)
    exact = last.get("table_bytes_exact")
    series = pd.concat([pd.DataFrame({"taken_at": frame["taken_at"], "table": t,
                                      "rows": frame.get(f"tables.{t}.rows"),
                                      "bytes": frame.get(f"tables.{t}.bytes")}) for t in names],
                       ignore_index=True).dropna(subset=["rows"])
    return {"latest": latest, "exact": None if pd.isna(exact) else bool(exact),
            # only PostgreSQL's snapshots record table_rows_exact (backends/postgresql/snapshot.py)
            "catalog": not pd.isna(last.get("table_rows_exact", float("nan"))),
            "taken_at": last["taken_at"], "series": series.reset_index(drop=True)}


def levels(db, since=None, monitor=None):
    """{"series": long DataFrame taken_at, grain, series ('cache entries', 'anonymous ids'),
    value; "runs": DataFrame started_at, task, outcome, rows, user of every maintenance run of
    the database in the span (since the first snapshot shown, or `since`)}."""
    frame = _frame(db, since, list(LEVEL_SERIES), monitor)
    series = _long(frame, LEVEL_SERIES, "value")
    return {"series": series, "runs": maintenance_runs(db, since, monitor)}


def maintenance_runs(db, since=None, monitor=None, limit=1000):
    """DataFrame started_at (datetime), task, outcome, rows, user of the database's maintenance
    runs started at or after `since`, oldest first."""
    log = _store(monitor).recent_log(limit=limit, database=db)
    rows = [(timeutil.parse(e["started_at"]), e["task"], e["outcome"], e.get("rows"),
             e.get("user")) for e in log]
    frame = pd.DataFrame([r for r in rows if r[0] is not None and (since is None or r[0] >= since)],
                         columns=["started_at", "task", "outcome", "rows", "user"])
    frame["started_at"] = pd.to_datetime(frame["started_at"])
    frame["rows"] = frame["rows"].astype("Int64")
    return frame.sort_values("started_at").reset_index(drop=True)


def watcher(db, now=None, monitor=None):
    """{"state": "none" (no snapshot, no watcher), "ok", "stale" (the newest snapshot is older
    than two intervals), "failing" (the watcher's last cycle failed), "last_snapshot_at",
    "age_seconds", "interval_seconds" (the watcher's, else the median gap between the last
    snapshots, else None), "from": "watch" or "snapshots", "status": watch_status or None}."""
    now = now or timeutil.utcnow()
    store = _store(monitor)
    status = AlertStore(store).watch_status(db)
    recent = HistoryStore(store).snapshots(db, limit=20)
    last = recent[-1]["taken_at"] if recent else (status or {}).get("last_snapshot_at")
    interval, source = (status or {}).get("interval_seconds"), "watch"
    if not interval and len(recent) >= 3:
        moments = [(timeutil.parse(r["taken_at"]), r["grain"]) for r in recent]
        gaps = [(b - a).total_seconds() for (a, ga), (b, gb) in itertools.pairwise(moments)
                if ga == gb == "raw" and a is not None and b is not None]
        interval, source = (statistics.median(gaps) if gaps else None), "snapshots"
    out = {"state": "none", "last_snapshot_at": last, "age_seconds": None,
           "interval_seconds": interval, "from": source, "status": status}
    if last is None or timeutil.parse(last) is None:
        return out
    age = (now - timeutil.parse(last)).total_seconds()
    out["age_seconds"] = age
    if status is not None and status.get("last_ok") == 0:
        out["state"] = "failing"
    elif interval and age > 2 * interval:
        out["state"] = "stale"
    else:
        out["state"] = "ok"
    return out


def notifications(db, limit=200, monitor=None):
    """DataFrame of the notification log, newest first: created_at, kind, status, summary,
    destination, outcome, attempts, sent_at, error."""
    got = AlertStore(_store(monitor)).notifications(db, limit=limit)
    columns = ["created_at", "kind", "status", "summary", "destination", "outcome", "attempts",
               "sent_at", "error"]
    return pd.DataFrame([{c: r.get(c) for c in columns} for r in got], columns=columns)


def _thin(values, points=SPARK_POINTS):
    """At most `points` values, evenly picked, the newest always kept."""
    if len(values) <= points:
        return values
    step = (len(values) - 1) / (points - 1)
    return [values[round(i * step)] for i in range(points)]


SPARK_SNAPSHOT = {"active_sessions": "stats.sessions.active", "stuck": "stats.uploads.stuck",
                  "size_bytes": "file.size_bytes", "wal_bytes": "file.wal_bytes"}
SPARK_DAILY = {"registered_new": "signups", "anonymous_new": "new_anonymous_ids",
               "uploads": "uploads", "failure_rate": "failure_rate", "cache_hit_rate": "hit_rate",
               "average_confidence": "confidence_mean"}


def sparklines(db, since=None, now=None, monitor=None, min_days=7, max_days=90):
    """{headline key: [numbers, oldest first]} for the Overview's sparklines, only where history
    holds at least two points: point-in-time figures from the snapshots since `since` (all when
    None), per-day figures from the daily roll-ups of the closed days (the window's days, at
    least `min_days`, at most `max_days`). Missing keys: no history, no sparkline."""
    now = now or timeutil.utcnow()
    store = _store(monitor)
    out = {}
    frame = _frame(db, since, list(SPARK_SNAPSHOT.values()), store)
    for key, metric in SPARK_SNAPSHOT.items():
        if metric in frame:
            values = [float(v) for v in frame[metric].dropna()]
            if len(values) >= 2:
                out[key] = _thin(values)
    days = max_days if since is None else (now - since).total_seconds() / 86400
    days = int(min(max_days, max(min_days, round(days))))
    today = now.date()
    rolled = HistoryStore(store).rollups(db, (today - timedelta(days=days)).isoformat(),
                                         (today - timedelta(days=1)).isoformat())
    if len(rolled) >= 2:
        for key, column in SPARK_DAILY.items():
            values = [_daily_value(r["figures"], column) for r in rolled.values()]
            values = [v for v in values if v is not None]
            if len(values) >= 2:
                out[key] = values
    return out


def _daily_value(f, column):
    u, c, conf = f["uploads"], f["cache"], f["confidence"]
    if column == "signups":
        return f["signups"]
    if column == "new_anonymous_ids":
        return f["anonymous"]["new_ids"]
    if column == "uploads":
        return u["total"]
    if column == "failure_rate":
        finished = u["completed"] + u["failed"]
        return u["failed"] / finished if finished else None
    if column == "hit_rate":
        return c["hits"] / c["hashed"] if c["hashed"] else None
    if column == "confidence_mean":
        return conf["score_sum"] / conf["valid"] if conf["valid"] else None
    raise KeyError(column)
