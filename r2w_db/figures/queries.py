"""The Queries figures: the statements the application's database really runs, from
pg_stat_statements (db.backend.statements), as PgHero's Queries page shows them.

- `live(db)`: whether the extension can be read here (else the one line that says how to
  enable it) and its counters since the last reset;
- `capture(db, ...)`: what a watcher snapshot stores: the deltas since the previous capture
  (monitor/statement_store.py);
- `top(db, since, limit)`: the top statements of a window by total time, with calls, mean,
  max, rows, shared-buffer hit ratio and the application's operation they belong to (or "not
  the application's"); read from the captures, or live (since the reset) before there are any;
- `mean_over_time(db, queryids, since)`: each statement's mean time per capture interval;
- `slowdowns(db, now, ...)`: statements whose mean over the last day is far above their own
  mean over the days before (the health check "Statement slower than its baseline").

Only engines that keep statement statistics have these figures: SQLite declares the area
unsupported (db.backend.require("statements") says why, in one line).
"""
from datetime import timedelta

from r2w_db import errors
from r2w_db.backends import open_database
from r2w_db.engine import timeutil
from r2w_db.monitor.statement_store import DEFAULT_DAYS, StatementStore

AREA = "statements"
NOT_OURS = "not the application's"
DEFAULT_LIMIT = 20
RECENT = timedelta(days=1)      # the slow-down check: the last day against
BASELINE = timedelta(days=7)    # the seven days before it


def supported(db):
    return open_database(db).backend.supports(AREA)


def live(db):
    """{"available", "enable" (the line saying how, when not available), "preloaded",
    "installed", "privileged", "role", "stats_reset", "hidden", "readings"} read now."""
    db = open_database(db)
    db.backend.require(AREA, "statement statistics")
    queries = db.backend.statements
    with db.read() as conn:
        found = queries.availability(conn)
        available = bool(found["preloaded"] and found["installed"])
        readings, hidden = queries.workload(conn, found) if available else ({}, 0)
    missing = [what for what, ok in (("not preloaded (shared_preload_libraries)",
                                      found["preloaded"]),
                                     ("not installed in this database", found["installed"]))
               if ok is False]   # None: this role may not see shared_preload_libraries
    enable = (f"pg_stat_statements is {' and '.join(missing)}: {queries.ENABLE}"
              if missing else None)
    hidden_line = (f"{hidden:,} {queries.HIDDEN.format(role=found['role'])}" if hidden else None)
    return {**found, "available": available, "enable": enable, "hidden": hidden,
            "hidden_line": hidden_line, "readings": readings}


def capture(db, monitor=None, now=None, keep_days=DEFAULT_DAYS):
    """Store the deltas since the previous capture (StatementStore.record); None where the
    engine keeps no statement statistics, {"available": False, "enable"} without the
    extension, and {"available": False, "problem"} when the view cannot be read (the snapshot
    stands without the capture)."""
    db = open_database(db)
    if not supported(db):
        return None
    try:
        state = live(db)
    except errors.R2WError as exc:
        return {"available": False, "problem": errors.one_line(exc)}
    if not state["available"]:
        return {"available": False, "enable": state["enable"]}
    stored = StatementStore(monitor).record(db, state["readings"], stats_reset=state["stats_reset"],
                                            hidden=state["hidden"], now=now, keep_days=keep_days)
    return {"available": True, **stored}


def _row(db, found):
    """One statement as shown: its counters, mean, hit ratio and operation."""
    calls, blocks = found["calls"], found["hit"] + found["read"]
    operation = db.backend.statements.known_operation(found["query"] or "")
    return {"queryid": found["queryid"], "operation": operation or NOT_OURS,
            "known": operation is not None, "calls": int(calls),
            "total_ms": round(found["total_ms"], 3),
            "mean_ms": round(found["total_ms"] / calls, 3) if calls else None,
            "max_ms": None if found["max_ms"] is None else round(found["max_ms"], 3),
            "rows": int(found["rows"]),
            "hit_ratio": round(found["hit"] / blocks, 4) if blocks else None,
            "query": found["query"]}


def top(db, since=timedelta(days=1), limit=DEFAULT_LIMIT, now=None, monitor=None):
    """{"database", "available", "enable", "source" ("captures" or "live": since the reset,
    before any capture covers the window), "since", "stats_reset", "captures", "hidden",
    "hidden_line", "statement_count", "statements": the top `limit` by total time}."""
    db = open_database(db)
    now = now or timeutil.utcnow()
    state = live(db)
    start = now - since if since else None
    out = {"database": db.display, "available": state["available"], "enable": state["enable"],
           "since": timeutil.iso(start) if start else None,
           "stats_reset": timeutil.iso(state["stats_reset"]) if state["stats_reset"] else None,
           "hidden": state["hidden"], "hidden_line": state["hidden_line"],
           "source": None, "captures": 0, "statement_count": 0, "statements": []}
    if not state["available"]:
        return out
    store = StatementStore(monitor)
    intervals = [c for c in store.captures(db, start) if c["since"] is not None]
    if intervals:
        found = store.totals(db, start)
        out.update(source="captures", captures=len(intervals))
    else:
        found = sorted(state["readings"].values(), key=lambda r: -r["total_ms"])
        out["source"] = "live"
    rows = [_row(db, r) for r in found if r["calls"]]
    out.update(statement_count=len(rows), statements=rows[:max(0, int(limit))])
    return out


def mean_over_time(db, queryids, since=None, monitor=None):
    """DataFrame captured_at (datetime), queryid, calls, mean_ms: each statement's mean
    execution time over each capture interval, oldest first."""
    import pandas as pd

    db = open_database(db)
    rows = StatementStore(monitor).intervals(db, queryids, since)
    frame = pd.DataFrame(rows, columns=["captured_at", "since", "queryid", "calls", "total_ms"])
    frame["captured_at"] = pd.to_datetime(frame["captured_at"], format="ISO8601")
    frame["mean_ms"] = (frame["total_ms"] / frame["calls"]).astype("float64")
    return frame[["captured_at", "queryid", "calls", "mean_ms"]]


def slowdowns(db, now=None, monitor=None, min_calls=1, min_mean_ms=0.0):
    """{"captures": intervals captured over the last day and the baseline days, "slower":
    [{"queryid", "operation", "query", "calls", "mean_ms", "baseline_ms", "ratio"}] largest
    ratio first}: statements with at least `min_calls` calls and a mean of at least
    `min_mean_ms` both over the last day and over the seven days before it."""
    db = open_database(db)
    now = now or timeutil.utcnow()
    store = StatementStore(monitor)
    recent_start, base_start = now - RECENT, now - RECENT - BASELINE
    counted = [c for c in store.captures(db, base_start) if c["since"] is not None]
    before = {r["queryid"]: r for r in store.totals(db, base_start, recent_start)}
    slower = []
    for row in store.totals(db, recent_start, now + timedelta(seconds=1)):
        base = before.get(row["queryid"])
        if base is None or min(row["calls"], base["calls"]) < max(min_calls, 1):
            continue
        mean, base_mean = row["total_ms"] / row["calls"], base["total_ms"] / base["calls"]
        if mean < min_mean_ms or base_mean <= 0:
            continue
        shown = _row(db, row)
        slower.append({"queryid": row["queryid"], "operation": shown["operation"],
                       "query": row["query"], "calls": row["calls"], "mean_ms": round(mean, 3),
                       "baseline_ms": round(base_mean, 3), "ratio": round(mean / base_mean, 3)})
    slower.sort(key=lambda s: -s["ratio"])
    return {"captures": len(counted), "slower": slower}


def slowdown_check(db, now, t, monitor=None):
    """The health check "Statement slower than its baseline" as a plain dict (key, title,
    status, value, detail, remedy, measured = (ratio, "", warn, crit)), judged with `t`'s
    pg_statement_* thresholds (health.Thresholds). Green with "not enough captures yet" before
    the watcher has captured any; amber when the captures cannot be read."""
    ratios = (t.pg_statement_slow_warn_ratio, t.pg_statement_slow_error_ratio)
    check = {"key": "statement_slowdown", "title": "Statement slower than its baseline",
             "status": "ok", "remedy": "", "measured": (None, "", *ratios)}
    try:
        found = slowdowns(db, now, monitor, min_calls=t.pg_statement_min_calls,
                          min_mean_ms=t.pg_statement_min_mean_ms)
    except errors.R2WError as exc:
        return {**check, "status": "warn", "value": "unknown",
                "detail": f"the statement captures cannot be read: {errors.one_line(exc)}",
                "remedy": "Check R2W_MONITOR_DB and the monitor database file."}
    if not found["captures"]:
        return {**check, "value": "not enough captures yet",
                "detail": "no capture of the statement statistics over the last 8 days: the "
                          "watcher captures them at each snapshot (pg_stat_statements)"}
    worst = found["slower"][0] if found["slower"] else None
    ratio = worst["ratio"] if worst else None
    status = ("ok" if ratio is None or ratio < ratios[0] else
              "error" if ratio >= ratios[1] else "warn")
    detail = (f"each statement's mean time over the last day against its mean over the 7 days "
              f"before (at least {t.pg_statement_min_calls:,} calls in each, a mean of "
              f"{t.pg_statement_min_mean_ms:g} ms or more)")
    if worst:
        flagged = sum(s["ratio"] >= ratios[0] for s in found["slower"])
        detail = (f"{worst['operation']}: {worst['mean_ms']:,.2f} ms on average over the last day "
                  f"against {worst['baseline_ms']:,.2f} ms over the 7 days before "
                  f"({worst['calls']:,} calls); {flagged:,} statement(s) at least "
                  f"{ratios[0]:g}x slower; " + detail)
    return {**check, "status": status, "detail": detail,
            "value": f"{ratio:.1f}x" if ratio is not None else "none comparable",
            "measured": (ratio, "", *ratios),
            "remedy": "" if status == "ok" else (
                "See the statement on the Queries page, then EXPLAIN (ANALYZE, BUFFERS) it: a "
                "changed plan (statistics, a dropped index), more rows, or lock waits.")}
