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
- confidence_models: [[extraction_model, entries, valid, score_sum, low, below_threshold,
  invalid]] (confidence.by_model of the entries created that period, one row per model; mean =
  score_sum / valid). A period recorded before these were kept lacks the key: the next roll_up
  counts them once, from the rows the period then holds (fill_missing), and until then a window
  holding such a period is read live (windowed.confidence_by_model), never shown as zero.

The first run back-fills every day the database still holds, at most BACKFILL_HISTORY back (days
recorded more than a day after they closed are marked back-filled: rows deleted before then are
missing from them). A row no period can hold (a timestamp that cannot be read, or one before the
first day the roll-ups cover: year 100, year 0) is counted (`unplaced`), never a stop: an
all-time window still counts it, read live.

Each period records the data's own clock when it was recorded (the newest timestamp the
database held, `data_clock`). A period recorded before it closed by the data (a watcher's clock
ahead of the data's, or a quiet last hour) is provisional: once it is closed by the watcher's
clock and the data has moved on since, it is recomputed, and replaced when rows arrived in it
(a cleanup only removes rows, so the history it deleted is kept); it is final once the data's
clock has passed its end. A clock jumped forward, then corrected, thus never leaves the periods
it recorded too early wrong for good; a clock jumped back rewrites nothing.
"""
from datetime import datetime, timedelta

from r2w_db.backends import open_database
from r2w_db.engine import timeutil
from r2w_db.figures import definitions
from r2w_db.figures.periods import CHART_HISTORY, WINDOWS, Window, floor_period, read

CHUNK_DAYS = 31       # days computed per pass (each pass is a handful of short reads)
TIME_COLUMNS = (("cv_uploads", "upload_date"), ("cv_extraction_cache", "created_at"),
                ("users", "created_at"), ("sessions", "created_at"))


KEY_FORMAT = {"day": "%Y-%m-%d", "hour": "%Y-%m-%d %H:00",   # periods.PERIOD_FORMAT's keys
              "minute": "%Y-%m-%d %H:%M"}
STEP = {"day": timedelta(days=1), "hour": timedelta(hours=1), "minute": timedelta(minutes=1)}
CHUNK = {"day": timedelta(days=CHUNK_DAYS), "hour": timedelta(days=7), "minute": timedelta(days=1)}
# the first run back-fills at most this far back (a chart's history): one row dated in year 100
# must not make 700,000 empty days; older rows are counted as unplaced and read live
BACKFILL_HISTORY = CHART_HISTORY
# the figures that only grow while rows arrive in a period (a cleanup only lowers them)
ARRIVALS = (("uploads", "total"), ("cache", "hashed"), ("cache", "hits"),
            ("anonymous", "new_ids"), ("anonymous", "uploads"), ("confidence", "entries"),
            ("signups",), ("sessions_created",))


def _midnight(day):
    return datetime(day.year, day.month, day.day)


def floor(moment, grain):
    """The start of the day, hour or minute holding a moment."""
    return floor_period(moment, grain)


def empty_day():
    """The figures of a day (or an hour) without any row."""
    return {"uploads": {**{s: 0 for s in definitions.STATUS_CLASSES}, "total": 0},
            "file_types": [], "cache": {"uploads": 0, "hashed": 0, "hits": 0},
            "anonymous": {"new_ids": 0, "uploads": 0},
            "confidence": {"entries": 0, "valid": 0, "null": 0, "out_of_range": 0, "low": 0,
                           "below_threshold_not_low": 0, "cacheable": 0, "score_sum": 0.0,
                           "histogram": [0] * definitions.BINS},
            "signups": 0, "sessions_created": 0, "confidence_models": []}


# the sections of a period's figures (empty_day's keys): what compute() can be asked to count
SECTIONS = tuple(empty_day())


class Periods:
    """compute()'s periods: every period of a bounded range, or on an open side only those
    holding a row. The engine's `fill` counts into them through slot and put."""

    def __init__(self, start, end, grain):
        self.start, self.end = start, end
        self.found, moment = {}, floor(start, grain) if start is not None else None
        while moment is not None and end is not None and moment < end:
            self.found[timeutil.period_key(moment, grain)] = empty_day()
            moment += STEP[grain]
        self.first = None if start is None else timeutil.period_key(start, grain)
        self.last = None if end is None else timeutil.period_key(end, grain)

    def slot(self, key):
        """A period's figures; one outside the range's periods is added for an open side (its
        key as the engine writes it: SQLite's years 0000 and below too)."""
        if key is not None and key not in self.found and (
                (self.start is None and (self.end is None or key < self.last))
                or (self.end is None and key >= self.first)):
            self.found[key] = empty_day()
        return self.found.get(key)

    def put(self, key, section, name, value):
        if self.slot(key) is not None and value:
            self.found[key][section][name] = value


def compute(db, start, end, grain="day", sections=None):
    """{period: figures} for every UTC day (grain "day", keys 'YYYY-MM-DD'), hour (grain
    "hour", keys 'YYYY-MM-DD HH:00') or minute ("minute", 'YYYY-MM-DD HH:MM') that [start, end)
    touches, each over the part of the period inside the range (start/end: datetimes). start
    None: all history before `end`, end None: everything from `start` on; on an open side only
    the periods that hold a row. Counted on one read by the engine's statements
    (db.backend.rollups.fill), the pages' own definitions. `sections` (some of SECTIONS; None:
    all): only these are counted, each exactly as in the full figures; the others stay empty (on
    an open side, only periods holding a row of these)."""
    db = open_database(db)
    if sections is not None and not set(sections) <= set(SECTIONS):
        raise ValueError(f"unknown roll-up sections: {sorted(set(sections) - set(SECTIONS))}")
    window = Window.between(start, end, now=end or start, grain=grain)
    periods = Periods(start, end, grain)
    with read(db) as conn:
        db.backend.rollups.fill(conn, window, periods,
                                None if sections is None else frozenset(sections))
    for figures in periods.found.values():
        figures["confidence_models"].sort(key=lambda row: sql_order(row[0]))
    return dict(sorted(periods.found.items()))


def sql_order(value):
    """A value's place in ORDER BY: NULL, numbers, text in byte order, then blobs (SQLite's
    order; PostgreSQL's text under COLLATE "C")."""
    if value is None:
        return (0, 0, b"")
    if isinstance(value, (int, float)):
        return (1, value, b"")
    if isinstance(value, str):
        return (2, 0, value.encode("utf-8", "surrogatepass"))
    return (3, 0, bytes(value))


def first_day(db, since=None, until=None):
    """The earliest UTC day in [since, until) (datetimes, None: unbounded) any of the four
    tables has a readable timestamp on, or None."""
    db = open_database(db)
    with read(db) as conn:
        text = db.backend.rollups.first_day(conn, TIME_COLUMNS, since, until)
    start = timeutil.period_start(text)
    return None if start is None else start.date()


def roll_up(db, store=None, now=None):
    """Record the roll-up of every closed UTC day, of every closed hour of the last
    HOURLY_ROLLUP_DAYS and of every closed minute of the edge_hours, not recorded yet
    (back-filling from the first day the database holds, at most BACKFILL_HISTORY back, on the
    first run), after revising the provisional periods. Returns {"recorded": [days],
    "backfilled": n, "hours": n, "minutes": n, "recomputed": n (provisional periods replaced),
    "unplaced": {"table.column": rows no period holds}}."""
    from r2w_db.monitor.history_store import HOURLY_ROLLUP_DAYS, HistoryStore

    db = open_database(db)
    store = store if isinstance(store, HistoryStore) else HistoryStore(store)
    now = now or timeutil.utcnow()
    horizon = _midnight((now - BACKFILL_HISTORY).date())
    with read(db) as conn:
        clock = db.backend.rollups.data_clock(conn, TIME_COLUMNS, now + timeutil.SLACK)
        unplaced = db.backend.rollups.unplaced(conn, TIME_COLUMNS, horizon)
    recomputed = sum(_revise(db, store, now, clock, grain) for grain in ("day", "hour", "minute"))
    for grain in ("day", "hour", "minute"):
        fill_missing(db, store, grain)
    last_closed = now.date() - timedelta(days=1)
    last = timeutil.period_start(store.last_rollup_day(db))
    first = None if last else (first_day(db, horizon, _midnight(last_closed + timedelta(days=1)))
                               or last_closed)
    begin = last.date() + timedelta(days=1) if last else min(first, last_closed)
    begin = max(begin, horizon.date())
    recorded = []
    while begin <= last_closed:
        stop = min(begin + timedelta(days=CHUNK_DAYS - 1), last_closed)
        days = compute(db, _midnight(begin), _midnight(stop + timedelta(days=1)))
        recorded += store.record_rollups(db, days, recorded_at=now, data_clock=clock)
        begin = stop + timedelta(days=1)
    backfilled = sum(1 for d in recorded
                     if now - timeutil.period_start(d) - STEP["day"] > timedelta(days=1))
    return {"recorded": recorded, "backfilled": backfilled,
            "hours": _roll_up_hours(db, store, now, first, HOURLY_ROLLUP_DAYS, clock),
            "minutes": _roll_up_edges(db, store, now, clock),
            "recomputed": recomputed, "unplaced": {k: n for k, n in unplaced.items() if n}}


def edge_hours(now):
    """The hours whose minutes are rolled up: the one holding each start of the pages' windows
    and of the periods before them (now - length, now - 2 length, periods.WINDOWS), the hour
    after each (where that edge moves before the watcher's next run) and the open hour (an open
    window's end). A window's edge anywhere else is read live."""
    hours = {floor(now, "hour")}
    for _, length in WINDOWS.values():
        if length is not None:
            for back in (length, 2 * length):
                edge = floor(now - back, "hour")
                hours |= {edge, edge + STEP["hour"]}
    return sorted(hours)


def _roll_up_edges(db, store, now, clock):
    """Record every closed minute of the edge_hours not recorded yet (from the first day rolled
    up, the first the database holds, or today: before it, an all-time window's start is open,
    and minutes there would cut it into a bounded part of empty days), and forget the minutes of
    other hours; the number recorded."""
    last_closed, hours = floor(now, "minute"), edge_hours(now)
    first = (timeutil.period_start(store.first_rollup_day(db)) or floor(now, "day")).date()
    have = store.rollups(
        db, timeutil.period_key(max(hours[0], _midnight(first)), "minute"),
        timeutil.period_key(last_closed - STEP["minute"], "minute"), grain="minute")
    found = {}
    for hour in hours:
        stop = min(hour + STEP["hour"], last_closed)
        if stop <= max(hour, _midnight(first)):
            continue
        missing = sorted(key for key in Periods(hour, stop, "minute").found if key not in have)
        if missing:
            found.update(compute(db, timeutil.period_start(missing[0]),
                                 timeutil.period_start(missing[-1]) + STEP["minute"], "minute"))
    count = len(store.record_rollups(db, found, recorded_at=now, grain="minute", data_clock=clock,
                                     backfill_grace=timedelta(hours=1))) if found else 0
    store.keep_minutes(db, hours)
    return count


def _roll_up_hours(db, store, now, first, keep_days, clock):
    """Record every closed hour not recorded yet, at most `keep_days` back (and not before the
    database's first day); the number recorded."""
    last_closed = floor(now, "hour")          # hours before this one are closed
    last = timeutil.period_start(store.last_rollup_day(db, "hour"))
    if last:
        begin = last + STEP["hour"]
    else:
        first = first or first_day(db, floor(now - timedelta(days=keep_days), "day"),
                                   last_closed)
        begin = floor(now - timedelta(days=keep_days), "day")
        begin = max(begin, _midnight(first)) if first else last_closed
    begin = max(begin, floor(now - timedelta(days=keep_days), "hour"))
    count = 0
    while begin < last_closed:
        stop = min(begin + CHUNK["hour"], last_closed)
        count += len(store.record_rollups(db, compute(db, begin, stop, "hour"), recorded_at=now,
                                          backfill_grace=timedelta(hours=1), grain="hour",
                                          data_clock=clock))
        begin = stop
    return count


def _revise(db, store, now, clock, grain):
    """Revise the provisional periods of one grain (recorded before the data's clock passed
    their end): when the data's clock has moved since they were recorded, recompute those now
    closed, replace those rows arrived in and note the data's clock on all of them (one that
    lies ahead of `now`, recorded under a clock ahead of this one, waits until it closes).
    Returns how many were replaced."""
    held = {}
    for period, row in store.provisional(db, grain).items():
        start = timeutil.period_start(period)
        if start is not None:
            held[start] = row
    moved = timeutil.parse(clock)
    due = sorted(m for m in held if m + STEP[grain] <= now and moved is not None
                 and (timeutil.parse(held[m]["data_clock"]) or moved) < moved)
    replace = {}
    for begin, end in _spans(due, grain):
        live = compute(db, begin, end, grain)
        for moment in due:
            key = timeutil.period_key(moment, grain)
            if begin <= moment < end and key in live and _arrived(held[moment]["figures"],
                                                                  live[key]):
                replace[key] = live[key]
    if due:
        store.revise_rollups(db, grain, recorded_at=now, data_clock=clock, replace=replace,
                             touch=[timeutil.period_key(m, grain) for m in due])
    return len(replace)


# sections added to the figures after roll-ups were first recorded: a period lacking one gets
# it counted once (fill_missing)
LATER_SECTIONS = ("confidence_models",)


def fill_missing(db, store, grain):
    """Count the LATER_SECTIONS into the database's own periods recorded without them (from the
    rows each period holds now), a chunk of periods per pass; returns how many were filled."""
    filled = 0
    for section in LATER_SECTIONS:
        lacking = sorted(m for m in (timeutil.period_start(p)
                                     for p in store.lacking(db, section, grain)) if m is not None)
        for begin, end in _spans(lacking, grain):
            got = compute(db, begin, end, grain, (section,))
            filled += store.add_section(db, section, {key: figures[section]
                                                      for key, figures in got.items()}, grain)
    return filled


def _spans(moments, grain):
    """[(start, end)] covering sorted period starts, each at most CHUNK[grain] long, in order."""
    spans = []
    for moment in moments:
        if spans and moment + STEP[grain] - spans[-1][0] <= CHUNK[grain]:
            spans[-1][1] = moment + STEP[grain]
        else:
            spans.append([moment, moment + STEP[grain]])
    return [tuple(s) for s in spans]


def _arrived(recorded, live):
    """Whether rows arrived in a period after it was recorded: a count that only grows while
    rows arrive is higher live (a cleanup only lowers them; a recorded value that is not a
    period's figures counts as arrived too)."""
    try:
        for path in ARRIVALS:
            was, now = recorded, live
            for part in path:
                was, now = was[part], now[part]
            if now > was:
                return True
    except (KeyError, TypeError):
        return True
    return False
