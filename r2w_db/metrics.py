"""The dashboard's windowed figures: the time window, shared SQL pieces, the overview headline.

Every figure is an SQL aggregate (GROUP BY in SQLite) over one short read-only
connection; pandas only receives the aggregated rows. Timestamps are compared as
instants (predicates.py), days are UTC calendar days. The per-page figures live
in metrics_cache, metrics_confidence, metrics_uploads and metrics_anonymous;
database-file figures (sizes, free pages, statistics) in metrics_db.
"""
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from . import config, predicates as P, schema, stats, timeutil
from .connection import as_database


# key -> (label, length; None = all history)
WINDOWS = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "90d": ("Last 90 days", timedelta(days=90)),
    "all": ("All time", None),
}
DEFAULT_WINDOW = "7d"
# Cache hit (DESIGN.md): an upload whose file_hash has an entry created strictly before it.
# Two ways to count hits among the uploads of a window (alias u), same result (file_hash is the
# cache's primary key, so an upload matches at most one entry):
# - per upload: look its hash up in the cache (cost ~ uploads of the window);
# - per cache entry: walk the cache on its (file_hash, created_at) index and find each file's
#   uploads of the window on the (file_hash, upload_date) index of migration 9 (cost ~ cache
#   entries; as stats.HITS_SQL does for all time). No table row is read either way.
HIT = """(u.file_hash <> '' AND EXISTS (
    SELECT 1 FROM cv_extraction_cache c {indexed_by} WHERE c.file_hash = u.file_hash
       AND julianday(c.created_at) < julianday(u.upload_date)))"""
HITS_PER_UPLOAD = "SELECT {period} AS period, count(*) FROM cv_uploads u WHERE {where} AND {hit} GROUP BY 1"
HITS_PER_ENTRY = """
SELECT {period} AS period, count(*) FROM cv_extraction_cache c CROSS JOIN cv_uploads u
    ON u.file_hash = c.file_hash
WHERE c.file_hash <> '' AND julianday(c.created_at) < julianday(u.upload_date) AND {where}
GROUP BY 1"""
HIT_INDEX = "idx_extraction_cache_hash_created"      # migration 8
UPLOAD_HASH_INDEX = "idx_cv_uploads_hash_date"        # migration 9
# Walk the cache when the window's hashed uploads outnumber this share of its entries
# (measured on 600k uploads / 240k entries: ~2 µs per upload looked up, ~0.8 µs per entry walked).
WALK_SHARE = 0.4
PERIOD_FORMAT = {"day": "%Y-%m-%d", "hour": "%Y-%m-%d %H:00"}


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

    def where(self, column):
        """(sql, params) selecting rows whose `column` lies in the window."""
        return window_where(column, self.start, self.end)

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


def window_where(column, start, end):
    if start is None and end is None:
        return "1", ()
    if end is None:
        return P.at_or_after(column, start)
    if start is None:
        return P.older_than(column, end)
    return P.between(column, start, end)


def period_of(column, grain="day"):
    """SQL: the UTC day ('YYYY-MM-DD') or hour ('YYYY-MM-DD HH:00') of a timestamp."""
    if grain == "day":
        return P.day_of(column)
    return f"strftime('{PERIOD_FORMAT['hour']}', julianday({column}))"


def floor_period(moment: datetime, grain):
    if grain == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def period_frame(rows, window: Window, counts=(), values=()):
    """A DataFrame with one row per period of the window, `period` a datetime (UTC, naive).

    `counts` columns are integers, 0 for a period without rows; `values` columns
    (averages, rates) stay NaN there. Rows without a period (an unparseable
    timestamp) are dropped; an all-time window starts at its first row.
    """
    columns = [*counts, *values]
    frame = pd.DataFrame([tuple(r) for r in rows], columns=["period", *columns])
    frame = frame[frame["period"].notna()]
    frame["period"] = pd.to_datetime(frame["period"], format=PERIOD_FORMAT[window.grain])
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
    db = as_database(db)
    with db.read() as conn:
        schema.require_schema(conn, db.path)
        yield conn


# ------------------------------------------------------------------ cache hits

def hit_sql(conn, indexes=None):
    """The per-upload hit expression. SQLite prefers the cache's unique primary key for the
    lookup, which then reads the cache row (created_at sits after the multi-kilobyte cv_data);
    where migration 8's (file_hash, created_at) index exists, it is named so that the lookup
    never leaves the index. Without it the figure is the same, only slower."""
    indexes = schema.existing_indexes(conn) if indexes is None else indexes
    return HIT.format(indexed_by=f"INDEXED BY {HIT_INDEX}" if HIT_INDEX in indexes else "")


def hits(conn, window: Window, hashed, group=("NULL", ())):
    """[(group, hits)] among the uploads of the window, grouped by `group` ((sql, params) of an
    expression on u.upload_date: a period, a side; one row by default).

    `hashed` (the window's uploads with a file_hash) picks the cheaper way to count.
    """
    where, params = window.where("u.upload_date")
    indexes = schema.existing_indexes(conn)
    walk = HIT_INDEX in indexes and UPLOAD_HASH_INDEX in indexes and hashed > WALK_SHARE * (
        conn.execute("SELECT max(rowid) FROM cv_extraction_cache").fetchone()[0] or 0)
    sql = HITS_PER_ENTRY if walk else HITS_PER_UPLOAD
    return conn.execute(sql.format(period=group[0], where=where, hit=hit_sql(conn, indexes)),
                        (*group[1], *params)).fetchall()


# ------------------------------------------------------------------ the overview headline
# A window and the previous one. Plain counts run once per window on the covering indexes
# (a GROUP BY on the side costs more than a second range scan); the two costly passes, the
# hit walk and the anonymous ids' first sightings, run once over `span` and split by `side`.

def sides(window: Window):
    """[("current", window), ("previous", window.previous)] (no previous for all time)."""
    return [("current", window)] + ([("previous", window.previous)] if window.previous else [])


def span(window: Window):
    """The window together with the previous one (they are adjacent)."""
    if window.previous is None:
        return window
    return Window.between(window.previous.start, window.end, now=window.now, grain=window.grain)


def side(expr, window: Window, julian=False):
    """(sql, params): 'current' or 'previous' for a timestamp (or julianday value) in span."""
    if window.previous is None:
        return "'current'", ()
    value = expr if julian else f"julianday({expr})"
    return (f"(CASE WHEN {value} >= julianday(?) THEN 'current' ELSE 'previous' END)",
            (timeutil.iso(window.start),))


def upload_counts(conn, window: Window):
    """Uploads of a window, their statuses, stuck jobs and uploads with a file_hash."""
    where, params = window.where("u.upload_date")
    stuck, stuck_params = P.older_than("u.upload_date",
                                       timeutil.ago(window.now, minutes=config.STUCK_MINUTES))
    return dict(conn.execute(f"""
        SELECT count(*) AS uploads,
               coalesce(sum(u.status = 'completed'), 0) AS completed,
               coalesce(sum(u.status = 'failed'), 0) AS failed,
               coalesce(sum(u.status = 'processing'), 0) AS processing,
               coalesce(sum(u.status = 'processing' AND {stuck}), 0) AS stuck,
               coalesce(sum(u.file_hash IS NOT NULL AND u.file_hash <> ''), 0) AS hashed
        FROM cv_uploads u WHERE {where}""", (*stuck_params, *params)).fetchone())


def upload_figures(conn, window: Window):
    """{side: uploads, statuses, stuck jobs, cache hits and rates among the uploads of a side}."""
    figures = {name: upload_counts(conn, w) for name, w in sides(window)}
    hashed = sum(f["hashed"] for f in figures.values())
    hit_counts = dict(hits(conn, span(window), hashed, side("u.upload_date", window)))
    for name, f in figures.items():
        f["hits"] = hit_counts.get(name, 0)
        f["other"] = f["uploads"] - f["completed"] - f["failed"] - f["processing"]
        f["failure_rate"] = ratio(f["failed"], f["completed"] + f["failed"])
        f["cache_hit_rate"] = stats.hit_rate_from(f["hashed"], f["hits"])
    return figures


def first_seen_anonymous_sql(since=None):
    """(sql, params) of (user_id, first): each anonymous id and the instant (julianday) it was
    first seen, over its uploads and, should one exist, its users row. With `since` only ids
    that have an upload at or after it (any id first seen then has one): a window's new ids
    without aggregating all of history."""
    recent, params = "", ()
    if since is not None:
        at, params = P.at_or_after("upload_date", since)
        recent = (f" AND user_id IN (SELECT user_id FROM cv_uploads"
                  f" WHERE {P.is_anonymous()} AND {at})")
    return f"""
        SELECT user_id, min(first) AS first FROM (
            SELECT user_id, min(julianday(upload_date)) AS first FROM cv_uploads
            WHERE {P.is_anonymous()}{recent} GROUP BY user_id
            UNION ALL
            SELECT user_id, julianday(created_at) FROM users WHERE {P.is_anonymous()})
        GROUP BY user_id""", params


def julian_where(expr, window: Window):
    """(sql, params): a julianday-valued expression lies in the window."""
    parts, params = [], []
    if window.start is not None:
        parts.append(f"{expr} >= julianday(?)")
        params.append(timeutil.iso(window.start))
    if window.end is not None:
        parts.append(f"{expr} < julianday(?)")
        params.append(timeutil.iso(window.end))
    return (" AND ".join(parts) or "1"), tuple(params)


def people_figures(conn, window: Window):
    """{side: registered users created in it, anonymous ids first seen in it}."""
    figures = {}
    for name, w in sides(window):
        where, params = w.where("created_at")
        figures[name] = {"registered_new": conn.execute(
            f"SELECT count(*) FROM users WHERE {P.not_anonymous()} AND {where}", params).fetchone()[0]}
    # all time: "1", so that an id whose every timestamp is unparseable still counts
    jwhere, jparams = julian_where("first", span(window))
    group, gparams = side("first", window, julian=True)
    first_sql, first_params = first_seen_anonymous_sql(span(window).start)
    anonymous = dict(conn.execute(
        f"SELECT {group}, count(*) FROM ({first_sql}) WHERE {jwhere} GROUP BY 1",
        (*gparams, *first_params, *jparams)).fetchall())
    for name, f in figures.items():
        f["anonymous_new"] = anonymous.get(name, 0)
    return figures


def confidence_average(conn, window: Window):
    """Mean valid confidence of the cache entries created in the window (None: none)."""
    where, params = window.where("created_at")
    return conn.execute(
        "SELECT avg(confidence_score) FROM cv_extraction_cache"
        f" WHERE confidence_score BETWEEN 0 AND 1 AND {where}", params).fetchone()[0]


def headline(db, window: Window):
    """The overview's figures: {"current": {...}, "previous": {...} or None, "now": {...}}.

    current/previous: registered_new, anonymous_new, uploads, completed, failed,
    processing, other, stuck (uploads of the window still processing after 60
    minutes), hashed, hits, cache_hit_rate (None = no data), failure_rate
    (failed / (completed + failed), None = no finished job), average_confidence
    (of cache entries created in the window). now: active_sessions,
    stuck_total, size_bytes, wal_bytes, as of window.now.
    """
    db = as_database(db)
    with read(db) as conn:
        people, uploads = people_figures(conn, window), upload_figures(conn, window)
        figures = {name: {**people[name], **uploads[name],
                          "average_confidence": confidence_average(conn, w)}
                   for name, w in sides(window)}
        point = {"active_sessions": stats._active(conn, window.now),   # exactly as `stats`
                 "stuck_total": stats._stuck(conn, window.now)}
    point.update(stats.file_sizes(db.path))
    return {"current": figures["current"], "previous": figures.get("previous"), "now": point}
