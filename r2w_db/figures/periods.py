"""The dashboard's time window and its periods: Window, period frames, ratios, and the
read-only connection every figure uses.

Every figure is an SQL aggregate (GROUP BY) over one short read-only connection; pandas only
receives the aggregated rows. Timestamps are compared as instants, days are UTC calendar days;
the SQL of a window and of a period is the engine's (db.backend.ops). The per-page figures live in cache_hits, confidence, uploads and anonymous; the
overview's in overview; database-file figures (sizes, free pages, statistics) in database_file.
"""
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from r2w_db.engine import timeutil
from r2w_db.backends import open_database

# key -> (label, length; None = all history)
WINDOWS = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "90d": ("Last 90 days", timedelta(days=90)),
    "all": ("All time", None),
}
DEFAULT_WINDOW = "7d"
PERIOD_FORMAT = {"day": "%Y-%m-%d", "hour": "%Y-%m-%d %H:00", "minute": "%Y-%m-%d %H:%M"}
# A chart covers at most this much history before now, and ends a day after now at the latest:
# one row dated in year 100 or 9999 must not make a chart of millions of empty periods.
CHART_HISTORY = timedelta(days=3653)


@dataclass(frozen=True)
class Window:
    """A time window: start <= t < end, as instants; None on a side means unbounded.

    The current window is open at its end (a row written a second ago, or with a
    clock slightly ahead, still counts); `previous` is the window of the same
    length just before it (None for all time), for the deltas. `now` is the
    moment "stuck" and "active" are judged at; `grain` is the chart bucket.
    """

    key: str
    label: str
    start: datetime | None
    end: datetime | None
    now: datetime
    grain: str = "day"
    previous: "Window | None" = field(default=None, compare=False)

    @classmethod
    def of(cls, key=DEFAULT_WINDOW, now=None):
        """The window called `key` ('24h', '7d', '30d', '90d', 'all') ending at now.

        `now` defaults to the current minute (floored), so that figures computed
        within the same minute share a cache key.
        """
        if key not in WINDOWS:
            raise ValueError(f"unknown window {key!r}: choose one of {', '.join(WINDOWS)}")
        now = now or timeutil.utcnow().replace(second=0, microsecond=0)
        label, length = WINDOWS[key]
        grain = "hour" if length is not None and length <= timedelta(days=1) else "day"
        if length is None:
            return cls(key, label, None, None, now, grain)
        start = now - length
        previous = cls(key, f"the {length_words(length)} before", start - length, start, now, grain)
        return cls(key, label, start, None, now, grain, previous)

    @classmethod
    def between(cls, start, end, now=None, grain="day"):
        """An explicit window (tests, custom ranges); no previous window."""
        return cls("custom", "Custom", start, end, now or end or timeutil.utcnow(), grain)

    @property
    def first_period(self):
        return None if self.start is None else floor_period(self.start, self.grain)

    @property
    def last_period(self):
        return floor_period(self.end - timedelta(microseconds=1) if self.end else self.now, self.grain)


def length_words(length: timedelta):
    if length <= timedelta(days=1):
        return f"{int(length.total_seconds() // 3600)} hours"
    return f"{length.days} days"


def floor_period(moment: datetime, grain):
    if grain == "minute":
        return moment.replace(second=0, microsecond=0)
    if grain == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def period_frame(rows, window: Window, counts=(), values=()):
    """A DataFrame with one row per period of the window, `period` a datetime (UTC, naive).

    `counts` columns are integers, 0 for a period without rows; `values` columns
    (averages, rates) stay NaN there. Rows without a period (an unparseable
    timestamp) are dropped, and so are periods outside what a chart shows (more than
    CHART_HISTORY before now, more than a day after it: the window's totals still count
    them); an all-time window starts at its first row.
    """
    import pandas as pd   # here: the watcher's snapshot imports this module, never a frame

    columns = [*counts, *values]
    frame = pd.DataFrame([tuple(r) for r in rows], columns=["period", *columns])
    frame["period"] = pd.to_datetime(frame["period"], format=PERIOD_FORMAT[window.grain],
                                     errors="coerce")   # a year SQLite can write, pandas cannot
    low, high = chart_span(window)
    frame = frame[frame["period"].notna() & (frame["period"] >= low) & (frame["period"] <= high)]
    first = window.first_period
    if first is None:
        if frame.empty:
            return frame.astype({c: "int64" for c in counts} | {c: "float64" for c in values})
        first = frame["period"].min()
    last = window.last_period if frame.empty else max(window.last_period, frame["period"].max())
    index = pd.date_range(first, last, freq="h" if window.grain == "hour" else "D", name="period")
    frame = frame.set_index("period").reindex(index)
    frame[list(counts)] = frame[list(counts)].fillna(0).astype("int64")
    frame[list(values)] = frame[list(values)].astype("float64")
    return frame.reset_index()


def chart_span(window: Window):
    """(first, last) periods a chart of the window may show."""
    low = window.first_period or floor_period(window.now - CHART_HISTORY, window.grain)
    return low, max(window.last_period, floor_period(window.now + timeutil.SLACK, window.grain))


def ratio(numerator, denominator):
    """numerator / denominator, or None when the denominator is 0 ("no data", never 0 %)."""
    return None if not denominator else numerator / denominator


def rate_column(frame, numerator, denominator):
    """A float column numerator/denominator, NaN where the denominator is 0."""
    den = frame[denominator].astype("float64")
    return (frame[numerator].astype("float64") / den.where(den > 0)).astype("float64")


@contextmanager
def read(db):
    """A read-only connection to a database at the documented schema (else a clear error)."""
    db = open_database(db)
    with db.read() as conn:
        db.backend.schema.require_schema(conn, db)
        yield conn
