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

from r2w_db.backends import open_database
from r2w_db.engine import timeutil
from r2w_db.figures import definitions
from r2w_db.figures.periods import Window, read

CHUNK_DAYS = 31       # days computed per pass (each pass is a handful of short reads)
TIME_COLUMNS = (("cv_uploads", "upload_date"), ("cv_extraction_cache", "created_at"),
                ("users", "created_at"), ("sessions", "created_at"))


KEY_FORMAT = {"day": "%Y-%m-%d", "hour": "%Y-%m-%d %H:00"}   # periods.PERIOD_FORMAT's keys
STEP = {"day": timedelta(days=1), "hour": timedelta(hours=1)}


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


class Periods:
    """compute()'s periods: every period of a bounded range, or on an open side only those
    holding a row. The engine's `fill` counts into them through slot and put."""

    def __init__(self, start, end, grain):
        self.start, self.end, fmt = start, end, KEY_FORMAT[grain]
        self.found, moment = {}, floor(start, grain) if start is not None else None
        while moment is not None and end is not None and moment < end:
            self.found[moment.strftime(fmt)] = empty_day()
            moment += STEP[grain]
        self.first = None if start is None else floor(start, grain).strftime(fmt)
        self.last = None if end is None else end.strftime(fmt)

    def slot(self, key):
        """A period's figures; one outside the range's periods is added for an open side."""
        if key is not None and key not in self.found and (
                (self.start is None and key < self.last)
                or (self.end is None and key >= self.first)):
            self.found[key] = empty_day()
        return self.found.get(key)

    def put(self, key, section, name, value):
        if self.slot(key) is not None and value:
            self.found[key][section][name] = value


def compute(db, start, end, grain="day"):
    """{period: figures} for every UTC day (grain "day", keys 'YYYY-MM-DD') or hour (grain
    "hour", keys 'YYYY-MM-DD HH:00') that [start, end) touches, each over the part of the period
    inside the range (start/end: datetimes). start None: all history before `end`, end None:
    everything from `start` on; on an open side only the periods that hold a row. Counted on
    one read by the engine's statements (db.backend.rollups.fill), the pages' own definitions."""
    db = open_database(db)
    window = Window.between(start, end, now=end or start, grain=grain)
    periods = Periods(start, end, grain)
    with read(db) as conn:
        db.backend.rollups.fill(conn, window, periods)
    return dict(sorted(periods.found.items()))


def first_day(db):
    """The earliest UTC day any of the four tables has a readable timestamp on, or None."""
    db = open_database(db)
    with read(db) as conn:
        text = db.backend.rollups.first_day(conn, TIME_COLUMNS)
    return None if text is None else date.fromisoformat(text)


def roll_up(db, store=None, now=None):
    """Record the roll-up of every closed UTC day, and of every closed hour of the last
    HOURLY_ROLLUP_DAYS, not recorded yet (back-filling from the first day the database holds on
    the first run). Returns {"recorded": [days], "backfilled": n, "hours": n}."""
    from r2w_db.monitor.history_store import HOURLY_ROLLUP_DAYS, HistoryStore

    db = open_database(db)
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
