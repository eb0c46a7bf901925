"""The Space view (PgHero's Space page is the model): every table and index of the application's
database with its rows (tables), bytes, share of the database and growth over 7 and 30 days,
and the unused space beside it (SQLite's free pages, PostgreSQL's dead tuples) with the
maintenance task that reclaims it.

Sizes are read now, read-only, by the engine (db.backend.space: dbstat or an estimate on SQLite,
the catalog on PostgreSQL). Growth compares them with the newest snapshot at least 7 (30) days
old and at most a day older than that (the snapshots' tables.<t>.bytes and indexes.<i>.bytes,
figures/snapshot.py); none there, or one from before the database was moved to another engine,
gives no growth (None). A table's rows are the watcher's newest snapshot's when it is recent
(figures.watched_checks.recent_snapshot: counting every table per page view is a scan), with
the snapshot's time; counted now otherwise.
"""
from datetime import timedelta

import pandas as pd

from r2w_db import errors
from r2w_db.backends import open_database
from r2w_db.engine import timeutil
from r2w_db.figures.history_page import moved_since
from r2w_db.figures.watched_checks import recent_snapshot
from r2w_db.monitor.history_store import HistoryStore
from r2w_db.monitor.store import MonitorStore

GROWTH_DAYS = (7, 30)
LOOKBACK_SLACK = timedelta(days=1)   # a snapshot kept at day grain is at most a day apart
RECLAIMED_BY = "vacuum"              # the maintenance task that gives the unused space back
COLUMNS = ["name", "kind", "table", "rows", "bytes", "share", "total_bytes",
           *(f"growth_{d}d" for d in GROWTH_DAYS)]
UNUSED_COLUMNS = ["table", "dead_rows", "live_rows", "bytes"]


def space(db, now=None, monitor=None, exact=None):
    """{"relations": DataFrame COLUMNS, biggest first (rows and total_bytes: tables only;
    share: of the database's bytes; growth_7d, growth_30d: bytes gained since the compared
    snapshot, None without one), "method": "dbstat", "estimate" or "catalog", "why": why the
    estimate (else None), "rows": "count" or "estimate", "database_bytes", "database_growth": {days: bytes or None}, "compared":
    {days: the compared snapshot's taken_at (ISO text) or None}, "history_problem": why the
    monitor database could not be read (then no growth) or None, "unused": {"what", "bytes",
    "share", "tables": DataFrame UNUSED_COLUMNS, empty on SQLite} (db.backend.space.unused),
    "reclaimed_by": the task's name, "as_of", "rows_as_of": the snapshot's taken_at (datetime)
    when the rows are its counts ("rows": "snapshot"), else None}.
    `exact`: the engine's (SQLite: True dbstat, False the estimate, None by the file's size)."""
    db = open_database(db)
    now = now or timeutil.utcnow()
    store = monitor if isinstance(monitor, MonitorStore) else MonitorStore(monitor)
    kept = recent_snapshot(db, now, HistoryStore(store), store)
    known = {} if kept is None else {
        name[len("tables."):-len(".rows")]: int(value) for name, value in kept[1].items()
        if name.startswith("tables.") and name.endswith(".rows") and value is not None}
    got = db.backend.space.relations(db, exact, known_rows=known)
    unused = db.backend.space.unused(db)
    unused["tables"] = pd.DataFrame(unused["tables"], columns=UNUSED_COLUMNS)
    total = got["file"]["bytes"]
    frame = pd.DataFrame(got["relations"], columns=COLUMNS[:5] + ["total_bytes"])
    frame["share"] = frame["bytes"] / total if total else float("nan")
    compared, database_growth, problem = {}, {}, None
    for days in GROWTH_DAYS:
        try:
            snap = None if problem else _compared_snapshot(db, now, days, monitor)
        except errors.R2WError as exc:   # the sizes still show; the page says why no growth
            snap, problem = None, str(exc)
        metrics = snap["metrics"] if snap else {}
        compared[days] = snap["taken_at"] if snap else None
        frame[f"growth_{days}d"] = [_growth(b, metrics.get(f"{_prefix(k)}.{n}.bytes"), snap)
                                    for n, k, b in zip(frame["name"], frame["kind"], frame["bytes"])]
        database_growth[days] = _growth(total, metrics.get("file.size_bytes"), snap)
    frame = frame[COLUMNS].astype({"rows": "Int64", "total_bytes": "Int64", "bytes": "int64",
                                   **{f"growth_{d}d": "Int64" for d in GROWTH_DAYS}})
    frame = frame.sort_values(["bytes", "name"], ascending=[False, True]).reset_index(drop=True)
    return {"relations": frame, "method": got["method"], "why": got["why"], "rows": got["rows"],
            "database_bytes": total, "database_growth": database_growth, "compared": compared,
            "history_problem": problem,
            "unused": unused, "reclaimed_by": RECLAIMED_BY, "as_of": timeutil.iso(now),
            "rows_as_of": kept[0] if got["rows"] == "snapshot" else None}


def _compared_snapshot(db, now, days, monitor=None):
    """The newest snapshot taken `days` to `days` + LOOKBACK_SLACK before `now`, and after the
    database's last move (sizes before it are another engine's), or None."""
    store = monitor if isinstance(monitor, MonitorStore) else MonitorStore(monitor)
    back = now - timedelta(days=days)
    found = HistoryStore(store).snapshots(db, since=back - LOOKBACK_SLACK,
                                          until=back + timedelta(microseconds=1), limit=1)
    if not found:
        return None
    moved = moved_since(db, store)
    taken = timeutil.parse(found[0]["taken_at"])
    return None if moved is not None and (taken is None or taken < moved) else found[0]


def _prefix(kind):
    return "tables" if kind == "table" else "indexes"


def _growth(now_bytes, then_bytes, snap):
    if snap is None or then_bytes is None or now_bytes is None:
        return None
    return int(now_bytes) - int(then_bytes)
