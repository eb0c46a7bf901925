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
from r2w_db.engine import predicates as P, timeutil
from r2w_db.figures import anonymous, cache_hits, confidence, uploads
from r2w_db.figures.overview import first_seen_anonymous_sql, julian_where
from r2w_db.figures.periods import Window, period_of, read

CHUNK_DAYS = 31       # days computed per pass (each pass is a handful of short reads)
TIME_COLUMNS = (("cv_uploads", "upload_date"), ("cv_extraction_cache", "created_at"),
                ("users", "created_at"), ("sessions", "created_at"))


def _day(moment):
    return moment.strftime("%Y-%m-%d")


def _midnight(day):
    return datetime(day.year, day.month, day.day)


def empty_day():
    """The figures of a day without any row."""
    return {"uploads": {**{s: 0 for s in uploads.STATUS_CLASSES}, "total": 0},
            "file_types": [], "cache": {"uploads": 0, "hashed": 0, "hits": 0},
            "anonymous": {"new_ids": 0, "uploads": 0},
            "confidence": {"entries": 0, "valid": 0, "null": 0, "out_of_range": 0, "low": 0,
                           "below_threshold_not_low": 0, "cacheable": 0, "score_sum": 0.0,
                           "histogram": [0] * confidence.BINS},
            "signups": 0, "sessions_created": 0}


def compute(db, start, end):
    """{day 'YYYY-MM-DD': figures} for every UTC day that [start, end) touches, each over the
    part of the day inside the range (start/end: datetimes). start None: all history before
    `end`, and only the days that hold a row."""
    window = Window.between(start, end, now=end, grain="day")
    days = {}
    day = start.date() if start is not None else end.date()
    while start is not None and _midnight(day) < end:
        days[day.isoformat()] = empty_day()
        day += timedelta(days=1)

    def slot(day_value):
        if start is None and day_value is not None and day_value < end.date().isoformat():
            days.setdefault(day_value, empty_day())
        return days.get(day_value)

    def put(day_value, section, key, value):
        if slot(day_value) is not None and value:
            days[day_value][section][key] = value

    for _, row in uploads.by_period(db, window).iterrows():
        day = _day(row["period"])
        for status in uploads.STATUS_CLASSES:
            put(day, "uploads", status, int(row[status]))
        put(day, "uploads", "total", int(row["uploads"]))
    for _, row in cache_hits.hit_rate(db, window)["by_period"].iterrows():
        for key in ("uploads", "hashed", "hits"):
            put(_day(row["period"]), "cache", key, int(row[key]))
    for _, row in anonymous.share_by_period(db, window)["by_period"].iterrows():
        put(_day(row["period"]), "anonymous", "uploads", int(row["anonymous"]))
    with read(db) as conn:
        # anonymous.ids_by_period's new ids, without its running total of owners (a pass over
        # every anonymous id): the same SQL
        first_sql, first_params = first_seen_anonymous_sql(window.start)
        jwhere, jparams = julian_where("first", window)
        for day, n in conn.execute(f"SELECT {period_of('first')}, count(*) FROM ({first_sql})"
                                   f" WHERE {jwhere} GROUP BY 1", (*first_params, *jparams)):
            put(day, "anonymous", "new_ids", n)
        _file_types(conn, window, slot)
        _confidence(conn, window, slot)
        for key, table, extra in (("signups", "users", f" AND {P.not_anonymous()}"),
                                  ("sessions_created", "sessions", "")):
            where, params = window.where("created_at")
            for day, n in conn.execute(
                    f"SELECT {period_of('created_at')}, count(*) FROM {table}"
                    f" WHERE {where}{extra} GROUP BY 1", params):
                if slot(day) is not None:
                    days[day][key] = n
    return days


def _file_types(conn, window, slot):
    where, params = window.where("upload_date")
    for day, file_type, n, failed, finished in conn.execute(
            f"SELECT {period_of('upload_date')}, file_type, count(*),"
            " coalesce(sum(status = 'failed'), 0),"
            " coalesce(sum(status IN ('completed', 'failed')), 0)"
            f" FROM cv_uploads WHERE {where} GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2", params):
        if slot(day) is not None:
            slot(day)["file_types"].append([file_type, n, failed, finished])


def _confidence(conn, window, slot):
    where, params = window.where("created_at")
    valid = confidence.VALID
    for row in conn.execute(
            f"SELECT {period_of('created_at')}, count(*), coalesce(sum({valid}), 0),"
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
    bins = confidence.BINS
    for day, bin_, n in conn.execute(
            f"SELECT {period_of('created_at')},"
            f" min(CAST(round(confidence_score * {bins}, 6) AS INTEGER), {bins - 1}), count(*)"
            f" FROM cv_extraction_cache WHERE {valid} AND {where} GROUP BY 1, 2", params):
        if slot(day) is not None and 0 <= bin_ < bins:
            slot(day)["confidence"]["histogram"][bin_] = n


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
    """Record the roll-up of every closed UTC day not recorded yet (back-filling from the first
    day the database holds on the first run). Returns {"recorded": [days], "backfilled": n}."""
    from r2w_db.monitor.history_store import HistoryStore

    store = store if isinstance(store, HistoryStore) else HistoryStore(store)
    now = now or timeutil.utcnow()
    last_closed = now.date() - timedelta(days=1)
    last = store.last_rollup_day(db)
    if last:
        begin = date.fromisoformat(last) + timedelta(days=1)
    else:
        begin = min(first_day(db) or last_closed, last_closed)
    recorded = []
    while begin <= last_closed:
        stop = min(begin + timedelta(days=CHUNK_DAYS - 1), last_closed)
        days = compute(db, _midnight(begin), _midnight(stop + timedelta(days=1)))
        recorded += store.record_rollups(db, days, recorded_at=now)
        begin = stop + timedelta(days=1)
    backfilled = sum(1 for d in recorded
                     if now - _midnight(date.fromisoformat(d) + timedelta(days=1)) > timedelta(days=1))
    return {"recorded": recorded, "backfilled": backfilled}
