"""Daily roll-ups: each closed UTC day's per-page aggregates, computed from the application's
database (read-only) with the pages' own definitions and recorded once in the monitor database.

A day's figures (JSON):
- uploads: {processing, completed, failed, uploaded, other, total} (uploads.by_period)
- file_types: [[file_type, uploads, failed, finished]] (uploads.file_types; finished = completed
  + failed, so failure rates add up over days)
- cache: {uploads, hashed, hits} (cache_hits.hit_rate)
- anonymous: {new_ids, uploads} (anonymous.ids_by_period's new ids, anonymous.share_by_period)
- confidence: {entries, valid, null, out_of_range, low, below_threshold_not_low, cacheable,
  score_sum, histogram: 20 counts} (confidence.summary and confidence.histogram of the entries
  created that day; mean = score_sum / valid)
- signups (registered users created, overview.people_figures), sessions_created

The first run back-fills every day the database still holds (days recorded more than a day after
they closed are marked back-filled: rows deleted before then are missing from them).
"""
from datetime import date, datetime, timedelta

from r2w_db import config
from r2w_db.engine import timeutil
from r2w_db.backends.sqlite import predicates as P
from r2w_db.backends.dispatch import per_backend
from r2w_db.figures import definitions
from r2w_db.backends.sqlite.ops import (BINNED, BINNED_PARAMS, VALID_CONFIDENCE,
                                        first_seen_anonymous_sql, in_window, julian_where,
                                        period_of, status_class)
from r2w_db.backends.sqlite.overview import hits_by_period
from r2w_db.figures.periods import Window, read

CHUNK_DAYS = 31       # days computed per pass (each pass is a handful of short reads)
TIME_COLUMNS = (("cv_uploads", "upload_date"), ("cv_extraction_cache", "created_at"),
                ("users", "created_at"), ("sessions", "created_at"))


KEY_FORMAT = {"day": "%Y-%m-%d", "hour": "%Y-%m-%d %H:00"}   # periods.PERIOD_FORMAT's keys
STEP = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
SHORT_RANGE = timedelta(days=2)   # a live edge of a window (see overview.first_seen_anonymous_sql)


def _midnight(day):
    return datetime(day.year, day.month, day.day)


def floor(moment, grain):
    """The start of the day or hour holding a moment."""
    if grain == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def empty_day():
    """The figures of a day (or an hour) without any row."""
    return {"uploads": {**{s: 0 for s in definitions.STATUS_CLASSES}, "total": 0},
            "file_types": [], "cache": {"uploads": 0, "hashed": 0, "hits": 0},
            "anonymous": {"new_ids": 0, "uploads": 0},
            "confidence": {"entries": 0, "valid": 0, "null": 0, "out_of_range": 0, "low": 0,
                           "below_threshold_not_low": 0, "cacheable": 0, "score_sum": 0.0,
                           "histogram": [0] * definitions.BINS},
            "signups": 0, "sessions_created": 0}


@per_backend("r2w_db.backends.postgresql.rollups")
def compute(db, start, end, grain="day"):
    """{period: figures} for every UTC day (grain "day", keys 'YYYY-MM-DD') or hour (grain
    "hour", keys 'YYYY-MM-DD HH:00') that [start, end) touches, each over the part of the period
    inside the range (start/end: datetimes). start None: all history before `end`, end None:
    everything from `start` on; on an open side only the periods that hold a row. Plain SQL on one read, with the pages' own expressions (no pandas:
    the watcher rolls up an hour at a time)."""
    window = Window.between(start, end, now=end or start, grain=grain)
    periods = {}
    moment = floor(start, grain) if start is not None else None
    while moment is not None and end is not None and moment < end:
        periods[moment.strftime(KEY_FORMAT[grain])] = empty_day()
        moment += STEP[grain]
    first = None if start is None else floor(start, grain).strftime(KEY_FORMAT[grain])
    last = None if end is None else end.strftime(KEY_FORMAT[grain])

    def slot(key):
        """A period's figures; one outside the range's periods is added for an open side."""
        if key is not None and key not in periods and (
                (start is None and key < last) or (end is None and key >= first)):
            periods[key] = empty_day()
        return periods.get(key)

    def put(key, section, name, value):
        if slot(key) is not None and value:
            periods[key][section][name] = value

    where, params = in_window("u.upload_date", window)
    period = period_of("u.upload_date", grain)
    with read(db) as conn:
        _uploads(conn, window, period, where, params, slot)
        hashed = sum(p["cache"]["hashed"] for p in periods.values())
        for key, n in hits_by_period(conn, window, hashed):
            put(key, "cache", "hits", n)
        # anonymous.ids_by_period's new ids, without its running total of owners: the same SQL
        short = start is not None and (end is None or end - start <= SHORT_RANGE)
        first_sql, first_params = first_seen_anonymous_sql(window.start, window.end, short)
        jwhere, jparams = julian_where("first", window)
        for key, n in conn.execute(f"SELECT {period_of('first', grain)}, count(*) FROM ({first_sql})"
                                   f" WHERE {jwhere} GROUP BY 1", (*first_params, *jparams)):
            put(key, "anonymous", "new_ids", n)
        _confidence(conn, window, slot)
        for name, table, extra in (("signups", "users", f" AND {P.not_anonymous()}"),
                                   ("sessions_created", "sessions", "")):
            where, params = in_window("created_at", window)
            for key, n in conn.execute(
                    f"SELECT {period_of('created_at', grain)}, count(*) FROM {table}"
                    f" WHERE {where}{extra} GROUP BY 1", params):
                if slot(key) is not None:
                    periods[key][name] = n
    return periods


def _uploads(conn, window, period, where, params, slot):
    """Uploads by status, file types, hashed and anonymous uploads per period: one pass over
    the window's uploads (on the (upload_date, status, file_type, file_hash) index)."""
    types = {}
    for key, status, file_type, n, hashed, anonymous_uploads in conn.execute(
            f"SELECT {period}, {status_class('u.status')}, u.file_type, count(*),"
            " coalesce(sum(u.file_hash IS NOT NULL AND u.file_hash <> ''), 0),"
            f" coalesce(sum({P.is_anonymous('u.user_id')}), 0)"
            f" FROM cv_uploads u WHERE {where} GROUP BY 1, 2, 3", params):
        figures = slot(key)
        if figures is None:
            continue
        figures["uploads"][status] += n
        figures["uploads"]["total"] += n
        figures["cache"]["uploads"] += n
        figures["cache"]["hashed"] += hashed
        figures["anonymous"]["uploads"] += anonymous_uploads
        got = types.setdefault(key, {}).setdefault(file_type, [0, 0, 0])
        got[0] += n
        got[1] += n if status == "failed" else 0
        got[2] += n if status in ("completed", "failed") else 0
    for key, found in types.items():
        slot(key)["file_types"] = sorted(([t, *v] for t, v in found.items()),
                                         key=lambda r: (-r[1], str(r[0])))


def _confidence(conn, window, slot):
    where, params = in_window("created_at", window)
    valid = VALID_CONFIDENCE
    for row in conn.execute(
            f"SELECT {period_of('created_at', window.grain)}, count(*), coalesce(sum({valid}), 0),"
            " coalesce(sum(confidence_score IS NULL), 0),"
            " coalesce(sum(confidence_score < 0 OR confidence_score > 1), 0),"
            f" coalesce(sum({valid} AND confidence_score < ?), 0),"
            f" coalesce(sum({valid} AND confidence_score >= ? AND confidence_score < ?), 0),"
            f" coalesce(sum({valid} AND confidence_score >= ?), 0),"
            f" coalesce(sum(CASE WHEN {valid} THEN confidence_score END), 0.0)"
            f" FROM cv_extraction_cache WHERE {where} GROUP BY 1",
            (config.LOW_CONFIDENCE, config.LOW_CONFIDENCE, config.CACHE_THRESHOLD,
             config.CACHE_THRESHOLD, *params)):
        if slot(row[0]) is not None:
            slot(row[0])["confidence"].update(dict(zip(
                ("entries", "valid", "null", "out_of_range", "low", "below_threshold_not_low",
                 "cacheable", "score_sum"), tuple(row)[1:])))
    bins = definitions.BINS
    for day, bin_, n in conn.execute(
            f"SELECT {period_of('created_at', window.grain)}, {BINNED}, count(*)"
            f" FROM cv_extraction_cache WHERE {valid} AND {where} GROUP BY 1, 2",
            (*BINNED_PARAMS, *params)):
        if slot(day) is not None and 0 <= bin_ < bins:
            slot(day)["confidence"]["histogram"][bin_] = n


@per_backend("r2w_db.backends.postgresql.rollups")
def first_day(db):
    """The earliest UTC day any of the four tables has a readable timestamp on, or None."""
    with read(db) as conn:
        found = [conn.execute(f"SELECT min(julianday({column})) FROM {table}").fetchone()[0]
                 for table, column in TIME_COLUMNS]
        found = [j for j in found if j is not None]
        if not found:
            return None
        text = conn.execute("SELECT date(?)", (min(found),)).fetchone()[0]
    return date.fromisoformat(text)


def roll_up(db, store=None, now=None):
    """Record the roll-up of every closed UTC day, and of every closed hour of the last
    HOURLY_ROLLUP_DAYS, not recorded yet (back-filling from the first day the database holds on
    the first run). Returns {"recorded": [days], "backfilled": n, "hours": n}."""
    from r2w_db.monitor.history_store import HOURLY_ROLLUP_DAYS, HistoryStore

    store = store if isinstance(store, HistoryStore) else HistoryStore(store)
    now = now or timeutil.utcnow()
    last_closed = now.date() - timedelta(days=1)
    last = store.last_rollup_day(db)
    first = None if last else (first_day(db) or last_closed)
    begin = date.fromisoformat(last) + timedelta(days=1) if last else min(first, last_closed)
    recorded = []
    while begin <= last_closed:
        stop = min(begin + timedelta(days=CHUNK_DAYS - 1), last_closed)
        days = compute(db, _midnight(begin), _midnight(stop + timedelta(days=1)))
        recorded += store.record_rollups(db, days, recorded_at=now)
        begin = stop + timedelta(days=1)
    backfilled = sum(1 for d in recorded
                     if now - _midnight(date.fromisoformat(d) + timedelta(days=1)) > timedelta(days=1))
    return {"recorded": recorded, "backfilled": backfilled,
            "hours": _roll_up_hours(db, store, now, first, HOURLY_ROLLUP_DAYS)}


def _roll_up_hours(db, store, now, first, keep_days):
    """Record every closed hour not recorded yet, at most `keep_days` back (and not before the
    database's first day); the number recorded."""
    last_closed = floor(now, "hour")          # hours before this one are closed
    last = store.last_rollup_day(db, "hour")
    if last:
        begin = datetime.fromisoformat(last) + STEP["hour"]
    else:
        first = first or first_day(db)
        begin = floor(now - timedelta(days=keep_days), "day")
        begin = max(begin, _midnight(first)) if first else last_closed
    begin = max(begin, floor(now - timedelta(days=keep_days), "hour"))
    count = 0
    while begin < last_closed:
        stop = min(begin + timedelta(days=7), last_closed)
        count += len(store.record_rollups(db, compute(db, begin, stop, "hour"), recorded_at=now,
                                          backfill_grace=timedelta(hours=1), grain="hour"))
        begin = stop
    return count
