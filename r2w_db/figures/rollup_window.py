"""A window's figures from the daily roll-ups plus the application's database for what they do
not cover (the open day, a window's partial first day, days not rolled up yet): a long window
costs days, not rows, and keeps the history that cleanups deleted.

`daily(db, window)` gives one row per UTC day; `totals(db, window)` the window's sums. Both say
which days came from roll-ups (`source`) and which were back-filled.
"""
import threading

import pandas as pd

from r2w_db import config
from r2w_db.backends import open_database
from r2w_db.engine import timeutil
from r2w_db.engine.files import file_token
from r2w_db.figures import confidence, database_file, rollups, uploads
from r2w_db.figures.periods import Window, chart_span, ratio

DAILY_COLUMNS = ("day", "source", "backfilled", *uploads.STATUS_CLASSES, "uploads", "failure_rate",
                 "hashed", "hits", "hit_rate", "new_anonymous_ids", "anonymous_uploads", "signups",
                 "sessions_created", "confidence_entries", "confidence_valid", "confidence_mean",
                 "low_confidence", "below_threshold", "invalid_confidence")


def days_of(db, window: Window, store=None, sections=None):
    """[(period, figures, source 'rollup' or 'live', backfilled)] covering the window, oldest
    first; periods are the window's grain ('YYYY-MM-DD' days or 'YYYY-MM-DD HH:00' hours).
    Whole closed days come from the daily roll-ups where recorded, whole closed hours of what
    is left from the hourly ones, whole closed minutes of the rest from the minute ones (kept
    for the hours where the pages' windows have their edges: rollups.edge_hours), and only the
    rest (what came since the watcher's last roll-up, the seconds of an edge off the minute,
    periods not rolled up) is read live: a window costs periods, not rows.
    `sections` (some of rollups.SECTIONS; None: all): only these are read live, the others
    of a live part count nothing, so read only the sections asked for.

    The last few answers are kept in this process, keyed on both databases' change tokens: the
    roll-ups read for a window, and each live range's figures per section, so the several
    figures of one page read them once (treat them as read-only).
    """
    from r2w_db.monitor.history_store import HistoryStore

    store = store if isinstance(store, HistoryStore) else HistoryStore(store)
    tokens = (open_database(db).key, str(store.path), file_token(store.path),
              database_file.change_token(db))
    recorded, ranges = _remembered(_RECENT, RECENT_ANSWERS, (window, *tokens),
                                   lambda: _rolled_up(db, window, store))
    found = dict(recorded)
    for start, stop in ranges:
        for key, figures in _live(db, start, stop, window.grain,
                                  rollups.SECTIONS if sections is None else sections,
                                  tokens).items():
            _put(found, key, figures, "live", False)
    return [(k, *found[k]) for k in sorted(found)]


RECENT_ANSWERS = 16     # windows' roll-ups
LIVE_PARTS = 256        # (live range, section) figures: a page reads a few ranges, 1-7 sections
_RECENT, _LIVE = {}, {}
_MEMORY_LOCK = threading.Lock()


def _remembered(memory, size, key, make):
    """memory[key], made once (the oldest answer is forgotten past `size`; pages of several
    sessions run in threads)."""
    found = memory.get(key)
    if found is None:
        found = make()
        with _MEMORY_LOCK:
            while len(memory) >= size:
                memory.pop(next(iter(memory)))
            memory[key] = found
    return found


def _rolled_up(db, window, store):
    """({period: (figures, 'rollup', backfilled)} of the roll-ups used, [(start, stop)] left
    to read live; stop None: the open window's tail, a row stamped after now counts too)."""
    end = window.end or window.now
    ranges, found = [(window.start, end)], {}
    for unit in (("day", "hour", "minute") if window.grain == "day" else ("hour", "minute")):
        recorded = _recorded(store, db, unit, ranges)
        ranges, used = _cover(ranges, recorded, unit)
        for moment in used:
            _put(found, _key(moment, window.grain), recorded[moment]["figures"], "rollup",
                 recorded[moment]["backfilled"])
    if window.end is None:   # the current window is open: a row stamped after now counts too
        tail = [r for r in ranges if r[1] == end]
        ranges = [r for r in ranges if r[1] != end] + [(tail[0][0] if tail else end, None)]
    return found, ranges


def _live(db, start, stop, grain, sections, tokens):
    """{period: figures} of one live range, only `sections` counted: each section's figures
    are read once per range (those missing together, on one read). On an open side a period
    is kept for a section only where it holds a row of it, as compute() keeps it."""
    keys = {name: (start, stop, grain, name, *tokens) for name in sections}
    parts = {name: _LIVE.get(keys[name]) for name in sections}
    missing = [name for name, part in parts.items() if part is None]
    if missing:
        got = rollups.compute(db, start, stop, grain, missing)
        empty, bounded = rollups.empty_day(), start is not None and stop is not None
        for name in missing:
            parts[name] = {key: figures[name] for key, figures in got.items()
                           if bounded or figures[name] != empty[name]}
            _remembered(_LIVE, LIVE_PARTS, keys[name], lambda name=name: parts[name])
    periods = {}
    for name in sections:
        for key, value in parts[name].items():
            periods.setdefault(key, rollups.empty_day())[name] = value
    return periods


def _recorded(store, db, unit, ranges):
    """{period start (datetime): roll-up} of the unit's roll-ups inside the ranges (each read
    on its own: an all-time window's hours are those before its first day and of its open day,
    not every hour in between)."""
    got = {}
    for start, stop in ranges:
        first = None if start is None else timeutil.period_key(start, unit)
        got.update(store.rollups(db, first, timeutil.period_key(stop - rollups.STEP[unit], unit),
                                 grain=unit))
    found = {timeutil.period_start(k): v for k, v in got.items()}
    found.pop(None, None)   # a key that names no period (never written by roll_up)
    return found


def _cover(ranges, recorded, unit):
    """(ranges left, period starts used): every whole recorded period inside a range is used,
    and cut out of it."""
    step, left, used = rollups.STEP[unit], [], []
    for start, stop in ranges:
        cursor = start
        for moment in sorted(m for m in recorded
                             if (start is None or m >= start) and m + step <= stop):
            if cursor is None or cursor < moment:
                left.append((cursor, moment))
            used.append(moment)
            cursor = moment + step
        if cursor is None or cursor < stop:
            left.append((cursor, stop))
    return left, used


def _key(moment, grain):
    return timeutil.period_key(moment, grain)


def _put(found, key, figures, source, backfilled):
    """Add a part's figures to its period (a period may come in several parts)."""
    if key in found:
        old, old_source, old_backfilled = found[key]
        found[key] = (add(old, figures), "live" if "live" in (old_source, source) else "rollup",
                      old_backfilled or backfilled)
    else:
        found[key] = (figures, source, backfilled)


def covered(db, window: Window, store=None) -> bool:
    """Whether roll-ups of this database exist inside the window (then days_of answers it
    cheaply); False without a monitor database or roll-ups."""
    from r2w_db.monitor.history_store import HistoryStore

    store = store if isinstance(store, HistoryStore) else HistoryStore(store)
    last = store.last_rollup_day(db, "hour")
    return bool(last) and (window.start is None or last >= _key(window.start, "hour"))


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
    out["confidence_models"] = add_models(a.get("confidence_models"),
                                          b.get("confidence_models"))
    return out


def add_models(a, b):
    """Two periods' confidence_models together, by model ([model, entries, valid, score_sum,
    low, below_threshold, invalid]); None when either period was recorded without them."""
    if a is None or b is None:
        return None
    models = {}
    for model, *values in (*a, *b):
        got = models.setdefault(model, [0] * len(values))
        models[model] = [x + y for x, y in zip(got, values)]
    return [[model, *models[model]] for model in sorted(models, key=rollups.sql_order)]


def models_of(found):
    """The confidence_models of days_of's periods together, or None when one of them was
    recorded without them."""
    total = []
    for _, figures, _, _ in found:
        total = add_models(total, figures.get("confidence_models"))
        if total is None:
            return None
    return total


def daily(db, window: Window, store=None):
    """DataFrame, one row per UTC day of the window (DAILY_COLUMNS) that a chart of it spans
    (periods.chart_span; `frame.attrs["left_out"]`: the periods holding rows beyond, such as
    year 100 or 9999, which totals() still counts): day (datetime), source,
    backfilled, the uploads by status, failure_rate, hashed, hits, hit_rate (NaN: no data),
    new_anonymous_ids, anonymous_uploads, signups, sessions_created and the confidence figures
    of the cache entries created that day."""
    rows, left_out = [], 0
    low, high = chart_span(window)
    for day, f, source, backfilled in days_of(db, window, store):
        u, c, conf = f["uploads"], f["cache"], f["confidence"]
        start = timeutil.period_start(day)
        if start is None or not low <= start <= high:
            left_out += 1   # year 0, 100 or 9999: counted in totals(), never a row here
            continue
        rows.append((pd.Timestamp(start), source, backfilled, *(u[s] for s in uploads.STATUS_CLASSES),
                     u["total"], ratio(u["failed"], u["completed"] + u["failed"]), c["hashed"],
                     c["hits"], ratio(c["hits"], c["hashed"]), f["anonymous"]["new_ids"],
                     f["anonymous"]["uploads"], f["signups"], f["sessions_created"],
                     conf["entries"], conf["valid"], ratio(conf["score_sum"], conf["valid"]),
                     conf["low"], conf["low"] + conf["below_threshold_not_low"],
                     conf["null"] + conf["out_of_range"]))
    frame = pd.DataFrame(rows, columns=list(DAILY_COLUMNS))
    for column in ("failure_rate", "hit_rate", "confidence_mean"):
        frame[column] = frame[column].astype("float64")
    frame.attrs["left_out"] = left_out
    return frame


def totals(db, window: Window, store=None):
    """The window's figures: {"uploads": {status: n, "total"}, "failure_rate", "hashed", "hits",
    "hit_rate", "new_anonymous_ids", "anonymous_uploads", "signups", "sessions_created",
    "confidence": {... as confidence.summary, "mean"}, "histogram": DataFrame as
    confidence.histogram, "file_types": DataFrame as uploads.file_types, "coverage":
    {"days", "rollup_days", "live_days", "backfilled_days"}}."""
    return totals_of(days_of(db, window, store), window)


def totals_of(found, window: Window):
    """totals() of days_of's periods."""
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
