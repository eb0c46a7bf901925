"""Roll-ups on PostgreSQL: rollups.compute and rollups.first_day for a PgDatabase (the backend
seam dispatches here), with the same result shape and values; rollups.roll_up records them.

The definitions are the pages' own PostgreSQL statements (pg_periods' window and UTC periods,
pg_overview's hits, pg_anonymous' new ids, pg_uploads' status classes, pg_confidence's bins):
timestamps are `timestamptz` compared as instants, periods are UTC days 'YYYY-MM-DD' or hours
'YYYY-MM-DD HH:00'. Statuses are counted per stored value and classed in Python; file types
are ordered as SQLite orders them (uploads desc, then the type in byte order, NULL first).
tests/test_pg_history.py proves compute() equal to SQLite's on the moved demo history.
"""
from datetime import date

from r2w_db.figures import definitions
from r2w_db.figures.periods import Window
from r2w_db.backends.postgresql.anonymous import NEW_IDS
from r2w_db.backends.postgresql.confidence import VALID, _params as confidence_params
from r2w_db.backends.postgresql.overview import hits_by_period
from r2w_db.backends.postgresql.periods import (CREATED_IN_WINDOW, UPLOAD_IN_WINDOW, per_period,
                                       period_rows, read, window_params)
from r2w_db.backends.postgresql.uploads import status_class
from r2w_db.figures.rollups import KEY_FORMAT, STEP, TIME_COLUMNS, empty_day, floor

UPLOADS = per_period(
    "upload_date", UPLOAD_IN_WINDOW, by="status",
    values="count(*) AS n, count(*) FILTER (WHERE file_hash IS NOT NULL AND file_hash <> '')"
           " AS hashed, count(*) FILTER (WHERE starts_with(user_id, %(anon)s)) AS anonymous")
FILE_TYPES = """
SELECT to_char(t, %(fmt)s), file_type, n, failed, finished FROM (
    SELECT date_trunc(%(grain)s, upload_date AT TIME ZONE 'UTC') AS t, file_type, count(*) AS n,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE status IN ('completed', 'failed')) AS finished
    FROM cv_uploads WHERE """ + UPLOAD_IN_WINDOW + """ GROUP BY 1, 2) AS p
ORDER BY t, n DESC, file_type COLLATE "C" NULLS FIRST"""
CONFIDENCE = per_period("created_at", CREATED_IN_WINDOW, table="cv_extraction_cache", values=f"""
    count(*) AS entries, count(*) FILTER (WHERE {VALID}) AS valid,
    count(*) FILTER (WHERE confidence_score IS NULL) AS null_,
    count(*) FILTER (WHERE confidence_score < 0 OR confidence_score > 1) AS out_of_range,
    count(*) FILTER (WHERE {VALID} AND confidence_score < %(low)s) AS low,
    count(*) FILTER (WHERE {VALID} AND confidence_score >= %(low)s
                       AND confidence_score < %(threshold)s) AS mid,
    count(*) FILTER (WHERE {VALID} AND confidence_score >= %(threshold)s) AS cacheable,
    coalesce(sum(confidence_score) FILTER (WHERE {VALID}), 0.0) AS score_sum""")
CONFIDENCE_NAMES = ("entries", "valid", "null", "out_of_range", "low", "below_threshold_not_low",
                    "cacheable", "score_sum")
# pg_confidence.HISTOGRAM's bins (a score inside its own band), per period
HISTOGRAM_BY_PERIOD = f"""
SELECT to_char(date_trunc(%(grain)s, created_at AT TIME ZONE 'UTC'), %(fmt)s),
       CASE WHEN score < %(low)s THEN least(raw, %(low_bin)s - 1)
            WHEN score < %(threshold)s THEN greatest(least(raw, %(cacheable_bin)s - 1), %(low_bin)s)
            ELSE greatest(least(raw, %(bins)s - 1), %(cacheable_bin)s) END, count(*)
FROM (SELECT created_at, confidence_score AS score,
             trunc(round((confidence_score * %(bins)s)::numeric, 6))::int AS raw
      FROM cv_extraction_cache WHERE {VALID} AND """ + CREATED_IN_WINDOW + """) AS scores
GROUP BY 1, 2"""
SIGNUPS = per_period("created_at", "NOT starts_with(user_id, %(anon)s) AND " + CREATED_IN_WINDOW,
                     table="users")
SESSIONS = per_period("created_at", CREATED_IN_WINDOW, table="sessions")


def first_day_sql():
    """The earliest finite instant of rollups.TIME_COLUMNS (the four tables), as its UTC day."""
    from psycopg import sql

    firsts = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT min({c}) FILTER (WHERE isfinite({c})) FROM {t}").format(
            c=sql.Identifier(column), t=sql.Identifier(table)) for table, column in TIME_COLUMNS)
    return sql.SQL("SELECT to_char(min(m) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
                   " FROM ({}) AS firsts(m)").format(firsts)


class Periods:
    """compute()'s periods: every period of a bounded range, or on an open side only those
    holding a row (rollups.compute's `slot`)."""

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
    """rollups.compute on PostgreSQL: {period: figures} for every UTC day or hour [start, end)
    touches, from one read-only snapshot."""
    window = Window.between(start, end, now=end or start, grain=grain)
    params = window_params(window)
    periods = Periods(start, end, grain)
    with read(db) as conn:
        counted = {}
        for key, status, n, hashed, anonymous_uploads in period_rows(conn, UPLOADS, params):
            figures = counted.setdefault(key, {"status": {}, "n": 0, "hashed": 0, "anonymous": 0})
            klass = status_class(status)
            figures["status"][klass] = figures["status"].get(klass, 0) + n
            figures["n"] += n
            figures["hashed"] += hashed
            figures["anonymous"] += anonymous_uploads
        for key, figures in counted.items():
            for klass, n in figures["status"].items():
                periods.put(key, "uploads", klass, n)
            periods.put(key, "uploads", "total", figures["n"])
            periods.put(key, "cache", "uploads", figures["n"])
            periods.put(key, "cache", "hashed", figures["hashed"])
            periods.put(key, "anonymous", "uploads", figures["anonymous"])
        for key, n in hits_by_period(conn, window):
            periods.put(key, "cache", "hits", n)
        for key, n in conn.execute(NEW_IDS, {**params, "since": params["start"]}):
            periods.put(key, "anonymous", "new_ids", n)
        for key, file_type, n, failed, finished in conn.execute(FILE_TYPES, params):
            if periods.slot(key) is not None:
                periods.slot(key)["file_types"].append([file_type, n, failed, finished])
        _confidence(conn, window, periods)
        for name, query in (("signups", SIGNUPS), ("sessions_created", SESSIONS)):
            for key, n in period_rows(conn, query, params):
                if periods.slot(key) is not None:
                    periods.found[key][name] = n
    return dict(sorted(periods.found.items()))   # SQLite's order is its rows' (a dict all the same)


def _confidence(conn, window, periods):
    params = confidence_params(window)
    for key, *values in period_rows(conn, CONFIDENCE, params):
        if periods.slot(key) is not None:
            periods.slot(key)["confidence"].update(zip(CONFIDENCE_NAMES, values))
    for key, bin_, n in conn.execute(HISTOGRAM_BY_PERIOD, params):
        if periods.slot(key) is not None and 0 <= bin_ < definitions.BINS:
            periods.slot(key)["confidence"]["histogram"][bin_] = n


def first_day(db):
    """rollups.first_day on PostgreSQL: the earliest UTC day any of the four tables has a
    (finite) timestamp on, or None."""
    with read(db) as conn:
        text = conn.execute(first_day_sql()).fetchone()[0]
    return None if text is None else date.fromisoformat(text)

