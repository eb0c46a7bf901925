"""A window's figures from the daily roll-ups plus the application's database for what they do
not cover (the open day, a window's partial first day, days not rolled up yet): a long window
costs days, not rows, and keeps the history that cleanups deleted.

`daily(db, window)` gives one row per UTC day; `totals(db, window)` the window's sums. Both say
which days came from roll-ups (`source`) and which were back-filled.
"""
from datetime import date, datetime, timedelta

import pandas as pd

from r2w_db import config
from r2w_db.engine import timeutil
from r2w_db.figures import confidence, rollups, uploads
from r2w_db.figures.periods import Window, ratio

DAILY_COLUMNS = ("day", "source", "backfilled", *uploads.STATUS_CLASSES, "uploads", "failure_rate",
                 "hashed", "hits", "hit_rate", "new_anonymous_ids", "anonymous_uploads", "signups",
                 "sessions_created", "confidence_entries", "confidence_valid", "confidence_mean",
                 "low_confidence", "below_threshold", "invalid_confidence")


def days_of(db, window: Window, store=None):
    """[(day 'YYYY-MM-DD', figures, source 'rollup' or 'live', backfilled)] covering the window,
    oldest first. Whole closed days come from roll-ups where recorded; the rest is read live."""
    from r2w_db.monitor.history_store import HistoryStore

    store = store if isinstance(store, HistoryStore) else HistoryStore(store)
    end = window.end or window.now
    recorded = store.rollups(db, None if window.start is None else _day_after(window.start),
                             (end.date() - timedelta(days=1)).isoformat())
    full = sorted(d for d in recorded
                  if (window.start is None or _midnight(d) >= window.start)
                  and _midnight(d) + timedelta(days=1) <= end)
    found = {d: (recorded[d]["figures"], "rollup", recorded[d]["backfilled"]) for d in full}
    # live ranges: before the first recorded day, the gaps between them, after the last
    edges, cursor = [], window.start
    for d in full:
        if cursor is None or cursor < _midnight(d):
            edges.append((cursor, _midnight(d)))
        cursor = _midnight(d) + timedelta(days=1)
    if cursor is None or cursor < end:
        edges.append((cursor, end))
    for start, stop in edges:
        for day, figures in rollups.compute(db, start, stop).items():
            if day in found:   # a partial day on both sides of a gap: add the parts
                figures = add(found[day][0], figures)
            found[day] = (figures, "live", False)
    return [(d, *found[d]) for d in sorted(found)]


def _midnight(day):
    if isinstance(day, datetime):
        return day.replace(hour=0, minute=0, second=0, microsecond=0)
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime(day.year, day.month, day.day)


def _day_after(moment):
    """The first whole day at or after a moment ('YYYY-MM-DD')."""
    day = _midnight(moment)
    return (day if day == moment else day + timedelta(days=1)).date().isoformat()


def add(a, b):
    """The figures of two periods together."""
    out = rollups.empty_day()
    for part in (a, b):
        for section in ("uploads", "cache", "anonymous"):
            for key, value in part[section].items():
                out[section][key] = out[section].get(key, 0) + value
        for key, value in part["confidence"].items():
            if key == "histogram":
                out["confidence"]["histogram"] = [x + y for x, y in
                                                  zip(out["confidence"]["histogram"], value)]
            else:
                out["confidence"][key] = out["confidence"].get(key, 0) + value
        for key in ("signups", "sessions_created"):
            out[key] += part[key]
    types = {}
    for part in (a, b):
        for file_type, n, failed, finished in part["file_types"]:
            got = types.setdefault(file_type, [0, 0, 0])
            got[0], got[1], got[2] = got[0] + n, got[1] + failed, got[2] + finished
    out["file_types"] = sorted(([t, *v] for t, v in types.items()),
                               key=lambda r: (-r[1], str(r[0])))
    return out


def daily(db, window: Window, store=None):
    """DataFrame, one row per UTC day of the window (DAILY_COLUMNS): day (datetime), source,
    backfilled, the uploads by status, failure_rate, hashed, hits, hit_rate (NaN: no data),
    new_anonymous_ids, anonymous_uploads, signups, sessions_created and the confidence figures
    of the cache entries created that day."""
    rows = []
    for day, f, source, backfilled in days_of(db, window, store):
        u, c, conf = f["uploads"], f["cache"], f["confidence"]
        rows.append((pd.Timestamp(day), source, backfilled, *(u[s] for s in uploads.STATUS_CLASSES),
                     u["total"], ratio(u["failed"], u["completed"] + u["failed"]), c["hashed"],
                     c["hits"], ratio(c["hits"], c["hashed"]), f["anonymous"]["new_ids"],
                     f["anonymous"]["uploads"], f["signups"], f["sessions_created"],
                     conf["entries"], conf["valid"], ratio(conf["score_sum"], conf["valid"]),
                     conf["low"], conf["low"] + conf["below_threshold_not_low"],
                     conf["null"] + conf["out_of_range"]))
    frame = pd.DataFrame(rows, columns=list(DAILY_COLUMNS))
    for column in ("failure_rate", "hit_rate", "confidence_mean"):
        frame[column] = frame[column].astype("float64")
    return frame


def totals(db, window: Window, store=None):
    """The window's figures: {"uploads": {status: n, "total"}, "failure_rate", "hashed", "hits",
    "hit_rate", "new_anonymous_ids", "anonymous_uploads", "signups", "sessions_created",
    "confidence": {... as confidence.summary, "mean"}, "histogram": DataFrame as
    confidence.histogram, "file_types": DataFrame as uploads.file_types, "coverage":
    {"days", "rollup_days", "live_days", "backfilled_days"}}."""
    found = days_of(db, window, store)
    total = rollups.empty_day()
    for _, figures, _, _ in found:
        total = add(total, figures)
    u, c, conf = total["uploads"], total["cache"], total["confidence"]
    starts = [round(i * confidence.BIN, 2) for i in range(confidence.BINS)]
    types = pd.DataFrame(total["file_types"], columns=["file_type", "uploads", "failed", "finished"])
    types["failure_rate"] = [ratio(f, n) for f, n in zip(types["failed"], types["finished"])]
    types["failure_rate"] = types["failure_rate"].astype("float64")
    return {
        "uploads": dict(u), "failure_rate": ratio(u["failed"], u["completed"] + u["failed"]),
        "hashed": c["hashed"], "hits": c["hits"], "hit_rate": ratio(c["hits"], c["hashed"]),
        "new_anonymous_ids": total["anonymous"]["new_ids"],
        "anonymous_uploads": total["anonymous"]["uploads"],
        "signups": total["signups"], "sessions_created": total["sessions_created"],
        "confidence": {**{k: v for k, v in conf.items() if k not in ("histogram", "score_sum")},
                       "invalid": conf["null"] + conf["out_of_range"],
                       "below_threshold": conf["low"] + conf["below_threshold_not_low"],
                       "mean": ratio(conf["score_sum"], conf["valid"])},
        "histogram": pd.DataFrame({
            "bin_start": starts, "bin_end": [round(s + confidence.BIN, 2) for s in starts],
            "entries": conf["histogram"], "band": [confidence.band(s) for s in starts]}),
        "file_types": types.drop(columns="finished"),
        "coverage": {"days": len(found),
                     "rollup_days": sum(1 for f in found if f[2] == "rollup"),
                     "live_days": sum(1 for f in found if f[2] == "live"),
                     "backfilled_days": sum(1 for f in found if f[3])},
        "as_of": timeutil.iso(window.now), "caching_threshold": config.CACHE_THRESHOLD,
    }
