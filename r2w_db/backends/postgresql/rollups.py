"""Roll-ups on PostgreSQL: rollups.compute's and rollups.first_day's statements, with the same
result shape and values as SQLite's (figures/rollups.py shapes them into its periods).

The definitions are the pages' own PostgreSQL statements (the window and UTC periods of
window_sql, overview's hits, anonymous' new ids, uploads' status classes, confidence's bins):
timestamps are `timestamptz` compared as instants, periods are UTC days 'YYYY-MM-DD' or hours
'YYYY-MM-DD HH:00'. Statuses are counted per stored value and classed in Python; file types
are ordered as SQLite orders them (uploads desc, then the type in byte order, NULL first).
tests/test_pg_history.py proves compute() equal to SQLite's on the moved demo history.
"""
from datetime import datetime, timezone

from r2w_db.backends.postgresql.anonymous import NEW_IDS
from r2w_db.backends.postgresql.confidence import (COUNTS, VALID, VALID_IN_WINDOW,
                                                   _params as confidence_params)
from r2w_db.backends.postgresql.overview import hits_by_period
from r2w_db.backends.postgresql.window_sql import (CREATED_IN_WINDOW, FIRST_IN_WINDOW,
                                                   UPLOAD_IN_WINDOW, per_period, period_rows,
                                                   window_params)
from r2w_db.backends.postgresql.uploads import status_class
from r2w_db.engine import timeutil

HASHED = ("count(*) AS n,"
          " count(*) FILTER (WHERE file_hash IS NOT NULL AND file_hash <> '') AS hashed")
UPLOADS = per_period("upload_date", UPLOAD_IN_WINDOW, by="status", values=HASHED
                     + ", count(*) FILTER (WHERE starts_with(user_id, %(anon)s)) AS anonymous")
UPLOADS_HASHED = per_period("upload_date", UPLOAD_IN_WINDOW, by="status",
                            values=HASHED + ", 0 AS anonymous")
# NEW_IDS over a short range: the ids with an upload or a users row in it, each looked up on
# the (user_id, upload_date) index and users' key (an id first seen in the range has one)
NEW_IDS_SHORT = ("SELECT to_char(date_trunc(%(grain)s, first AT TIME ZONE 'UTC'), %(fmt)s),"
                 " count(*) FROM (SELECT least((SELECT min(o.upload_date) FROM cv_uploads o"
                 " WHERE o.user_id = ids.user_id), (SELECT min(s.created_at) FROM users s"
                 " WHERE s.user_id = ids.user_id)) AS first FROM ("
                 "SELECT user_id FROM cv_uploads WHERE starts_with(user_id, %(anon)s) AND "
                 + UPLOAD_IN_WINDOW + " UNION SELECT user_id FROM users"
                 " WHERE starts_with(user_id, %(anon)s) AND " + CREATED_IN_WINDOW
                 + ") AS ids) AS f WHERE " + FIRST_IN_WINDOW + " GROUP BY 1")
FILE_TYPES = """
SELECT to_char(t, %(fmt)s), file_type, n, failed, finished FROM (
    SELECT date_trunc(%(grain)s, upload_date AT TIME ZONE 'UTC') AS t, file_type, count(*) AS n,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE status IN ('completed', 'failed')) AS finished
    FROM cv_uploads WHERE """ + UPLOAD_IN_WINDOW + """ GROUP BY 1, 2) AS p
ORDER BY t, n DESC, file_type COLLATE "C" NULLS FIRST"""
CONFIDENCE = per_period("created_at", CREATED_IN_WINDOW, table="cv_extraction_cache", values=f"""
    {COUNTS},
    coalesce(sum(confidence_score) FILTER (WHERE {VALID}), 0.0) AS score_sum""")
# confidence.BY_MODEL's figures per period and model (the sum and count of valid scores: the mean)
CONFIDENCE_MODELS = per_period("created_at", CREATED_IN_WINDOW, table="cv_extraction_cache",
                               by="extraction_model", values=f"""
    count(*), count(*) FILTER (WHERE {VALID}),
    coalesce(sum(confidence_score) FILTER (WHERE {VALID}), 0.0),
    count(*) FILTER (WHERE {VALID} AND confidence_score < %(low)s),
    count(*) FILTER (WHERE {VALID} AND confidence_score < %(threshold)s),
    count(*) FILTER (WHERE NOT coalesce({VALID}, false))""")
CONFIDENCE_NAMES = ("entries", "valid", "null", "out_of_range", "low", "below_threshold_not_low",
                    "cacheable", "score_sum")
# confidence.HISTOGRAM's bins (a score inside its own band), per period
HISTOGRAM_BY_PERIOD = f"""
SELECT to_char(date_trunc(%(grain)s, created_at AT TIME ZONE 'UTC'), %(fmt)s),
       CASE WHEN score < %(low)s THEN least(raw, %(low_bin)s - 1)
            WHEN score < %(threshold)s THEN greatest(least(raw, %(cacheable_bin)s - 1), %(low_bin)s)
            ELSE greatest(least(raw, %(bins)s - 1), %(cacheable_bin)s) END, count(*)
FROM (SELECT created_at, confidence_score AS score,
             trunc(round((confidence_score * %(bins)s)::numeric, 6))::int AS raw
      FROM cv_extraction_cache WHERE {VALID_IN_WINDOW} AND """ + CREATED_IN_WINDOW + """) AS scores
GROUP BY 1, 2"""
SIGNUPS = per_period("created_at", "NOT starts_with(user_id, %(anon)s) AND " + CREATED_IN_WINDOW,
                     table="users")
SESSIONS = per_period("created_at", CREATED_IN_WINDOW, table="sessions")


# a first day of year 1 to 9999 (PostgreSQL holds BC and later years too)
FIRST_INSTANT_AT = datetime(1, 1, 1, tzinfo=timezone.utc)
LAST_INSTANT_AT = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)


def _first_day_sql(time_columns):
    """The earliest finite instant of [(table, column)] in [since, until), as its UTC day."""
    from psycopg import sql

    firsts = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT min({c}) FROM {t} WHERE isfinite({c}) AND {c} >= %(since)s"
                " AND {c} < %(until)s").format(c=sql.Identifier(column), t=sql.Identifier(table))
        for table, column in time_columns)
    return sql.SQL("SELECT to_char(min(m) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
                   " FROM ({}) AS firsts(m)").format(firsts)


def _per_column(template, time_columns):
    from psycopg import sql

    return sql.SQL(" UNION ALL ").join(
        sql.SQL(template).format(c=sql.Identifier(column), t=sql.Identifier(table),
                                 name=sql.Literal(f"{table}.{column}"))
        for table, column in time_columns)


def _bound(moment, default):
    return default if moment is None else moment.replace(tzinfo=timezone.utc)


def fill(conn, window, periods, sections=None):
    """Count the window's rows into `periods` (rollups.Periods: slot(key) gives a period's
    figures, None outside; put(key, section, name, value) sets one figure), from the reader's
    one snapshot: only the figures of `sections` (a set of their names; None: all), the
    others left as they are."""
    asked = (lambda name: sections is None or name in sections)
    params = window_params(window)
    if any(asked(name) for name in ("uploads", "cache", "anonymous")):
        _uploads(conn, params, periods, asked)
    if asked("cache"):
        for key, n in hits_by_period(conn, window):
            periods.put(key, "cache", "hits", n)
    if asked("anonymous"):
        for key, n in conn.execute(_new_ids(periods), {**params, "since": params["start"]}):
            periods.put(key, "anonymous", "new_ids", n)
    if asked("file_types"):
        for key, file_type, n, failed, finished in conn.execute(FILE_TYPES, params):
            if periods.slot(key) is not None:
                periods.slot(key)["file_types"].append([file_type, n, failed, finished])
    if asked("confidence"):
        _confidence(conn, window, periods)
    if asked("confidence_models"):
        for key, *row in period_rows(conn, CONFIDENCE_MODELS, confidence_params(window)):
            if periods.slot(key) is not None:
                periods.slot(key)["confidence_models"].append(row)
    for name, query in (("signups", SIGNUPS), ("sessions_created", SESSIONS)):
        if asked(name):
            for key, n in period_rows(conn, query, params):
                if periods.slot(key) is not None:
                    periods.slot(key)[name] = n


def _uploads(conn, params, periods, asked):
    """Uploads by status, hashed and anonymous uploads per period, as asked (one statement;
    the anonymous uploads' test only when asked)."""
    counted = {}
    for key, status, n, hashed, anonymous_uploads in period_rows(
            conn, UPLOADS if asked("anonymous") else UPLOADS_HASHED, params):
        figures = counted.setdefault(key, {"status": {}, "n": 0, "hashed": 0, "anonymous": 0})
        klass = status_class(status)
        figures["status"][klass] = figures["status"].get(klass, 0) + n
        figures["n"] += n
        figures["hashed"] += hashed
        figures["anonymous"] += anonymous_uploads
    for key, figures in counted.items():
        if asked("uploads"):
            for klass, n in figures["status"].items():
                periods.put(key, "uploads", klass, n)
            periods.put(key, "uploads", "total", figures["n"])
        if asked("cache"):
            periods.put(key, "cache", "uploads", figures["n"])
            periods.put(key, "cache", "hashed", figures["hashed"])
        if asked("anonymous"):
            periods.put(key, "anonymous", "uploads", figures["anonymous"])


def _new_ids(periods):
    """The new ids' statement: a live edge (timeutil.is_short) looks each of its own ids up
    (NEW_IDS_SHORT), a longer range groups the anonymous uploads since its start."""
    return NEW_IDS_SHORT if timeutil.is_short(periods.start, periods.end) else NEW_IDS


def _confidence(conn, window, periods):
    params = confidence_params(window)
    for key, *values in period_rows(conn, CONFIDENCE, params):
        if periods.slot(key) is not None:
            periods.slot(key)["confidence"].update(zip(CONFIDENCE_NAMES, values))
    for key, bin_, n in conn.execute(HISTOGRAM_BY_PERIOD, params):
        if periods.slot(key) is not None and 0 <= bin_ < len(
                periods.slot(key)["confidence"]["histogram"]):
            periods.slot(key)["confidence"]["histogram"][bin_] = n


def first_day(conn, time_columns, since=None, until=None):
    """The earliest UTC day ('YYYY-MM-DD') in [since, until) (naive UTC datetimes, None:
    unbounded) any of [(table, column)] has a (finite) timestamp on, or None; a day of years
    1 to 9999."""
    return conn.execute(_first_day_sql(time_columns), {
        "since": max(_bound(since, FIRST_INSTANT_AT), FIRST_INSTANT_AT),
        "until": min(_bound(until, LAST_INSTANT_AT), LAST_INSTANT_AT)}).fetchone()[0]


def data_clock(conn, time_columns, until):
    """The data's own clock: the newest finite timestamp of [(table, column)] not after
    `until` (a naive UTC datetime), as naive UTC ISO text, or None (each on its index)."""
    query = _per_column("SELECT max({c}) FROM {t} WHERE {c} <= %(until)s", time_columns)
    from psycopg import sql

    row = conn.execute(sql.SQL("SELECT to_char(max(m) AT TIME ZONE 'UTC',"
                               " 'YYYY-MM-DD\"T\"HH24:MI:SS.US') FROM ({}) AS newest(m)"
                               " WHERE isfinite(m)").format(query),
                       {"until": _bound(until, None)}).fetchone()
    return row[0]


def unplaced(conn, time_columns, since):
    """{"table.column": rows} of the rows no roll-up period can hold: an infinite timestamp or
    one before `since` (the first day the roll-ups cover)."""
    query = _per_column("SELECT {name}, count(*) FROM {t} WHERE {c} < %(since)s"
                        " OR NOT isfinite({c})", time_columns)
    return dict(conn.execute(query, {"since": _bound(since, None)}).fetchall())
