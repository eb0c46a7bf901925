"""SQLite's SQL for a time window and its periods, and the pages' shared expressions: a window
as (sql, params) on a column, UTC days and hours, the anonymous ids' first sightings, a cache
hit, the status classes and the confidence bins. Re-exported by ops.py.

A window is duck-typed (start, end, grain: periods.Window's): start <= t < end as instants,
None on a side is unbounded.
"""
from r2w_db import config
from r2w_db.engine import schema, timeutil
from r2w_db.backends.sqlite.schema import existing_indexes
from r2w_db.backends.sqlite.predicates import at_or_after, between, day_of, is_anonymous, older_than

HOUR_FORMAT = "%Y-%m-%d %H:00"   # periods.PERIOD_FORMAT["hour"]
MINUTE_FORMAT = "%Y-%m-%d %H:%M"   # periods.PERIOD_FORMAT["minute"]


def window_where(column, start, end, table=None):
    """(sql, params) selecting rows whose `column` lies in [start, end) (None: unbounded).
    `table`: the column's table; a live edge (timeutil.is_short) then reads only its own range
    of the column's index unless an odd timestamp lies near it (predicates._text_bound)."""
    table = table if timeutil.is_short(start, end) else None
    if start is None and end is None:
        return "1", ()
    if end is None:
        return at_or_after(column, start, table)
    if start is None:
        return older_than(column, end, table)
    return between(column, start, end, table)


def in_window(column, window, table=None):
    """(sql, params) selecting rows whose `column` (of `table`: see window_where) lies in the
    window."""
    return window_where(column, window.start, window.end, table)


def period_of(column, grain="day"):
    """SQL: the UTC day ('YYYY-MM-DD'), hour ('YYYY-MM-DD HH:00') or minute ('YYYY-MM-DD HH:MM')
    of a timestamp."""
    if grain == "day":
        return day_of(column)
    return f"strftime('{MINUTE_FORMAT if grain == 'minute' else HOUR_FORMAT}', julianday({column}))"


def julian_where(expr, window):
    """(sql, params): a julianday-valued expression lies in the window."""
    parts, params = [], []
    if window.start is not None:
        parts.append(f"{expr} >= julianday(?)")
        params.append(timeutil.iso(window.start))
    if window.end is not None:
        parts.append(f"{expr} < julianday(?)")
        params.append(timeutil.iso(window.end))
    return (" AND ".join(parts) or "1"), tuple(params)


def first_seen_anonymous_sql(since=None, until=None, short=False):
    """(sql, params) of (user_id, first): each anonymous id and the instant (julianday) it was
    first seen, over its uploads and, should one exist, its users row. With `since` (and
    `until`) only ids that have an upload or a users row in [since, until), as any id first
    seen then has: each of them is looked up on the (user_id, upload_date) index, so a short
    range costs its own ids, not every anonymous upload. `short`: the range is a few hours,
    so its ids are found on the upload_date index (SQLite would walk every anonymous id on
    the user_id one), and each id's users row is looked up by its id (not every anonymous
    users row walked)."""
    users = f"SELECT user_id, julianday(created_at) FROM users WHERE {is_anonymous()}"
    if since is None and until is None:
        return f"""
        SELECT user_id, min(first) AS first FROM (
            SELECT user_id, min(julianday(upload_date)) AS first FROM cv_uploads
            WHERE {is_anonymous()} GROUP BY user_id
            UNION ALL {users})
        GROUP BY user_id""", ()
    uploaded, uploaded_params = window_where("upload_date", since, until, "cv_uploads")
    created, created_params = window_where("created_at", since, until, "users")
    if short:
        anonymous = is_anonymous("+user_id")
        return f"""
        SELECT ids.user_id, (SELECT min(seen) FROM (
                   SELECT min(julianday(o.upload_date)) AS seen FROM cv_uploads o
                   WHERE o.user_id = ids.user_id
                   UNION ALL SELECT julianday(s.created_at) FROM users s
                   WHERE s.user_id = ids.user_id)) AS first
        FROM (SELECT user_id FROM cv_uploads WHERE {anonymous} AND {uploaded}
              UNION SELECT user_id FROM users WHERE {anonymous} AND {created}) ids""", \
            (*uploaded_params, *created_params)
    return f"""
        SELECT user_id, min(first) AS first FROM (
            SELECT ids.user_id, (SELECT min(julianday(o.upload_date)) FROM cv_uploads o
                                 WHERE o.user_id = ids.user_id) AS first
            FROM (SELECT user_id FROM cv_uploads
                  WHERE {is_anonymous()} AND {uploaded}
                  UNION SELECT user_id FROM users WHERE {is_anonymous()} AND {created}) ids
            UNION ALL {users})
        GROUP BY user_id""", (*uploaded_params, *created_params)


HIT = """(u.file_hash <> '' AND EXISTS (
    SELECT 1 FROM cv_extraction_cache c {indexed_by} WHERE c.file_hash = u.file_hash
       AND julianday(c.created_at) < julianday(u.upload_date)))"""
HIT_INDEX = "idx_extraction_cache_hash_created"      # migration 8


def hit_sql(conn, indexes=None):
    """The per-upload cache-hit expression (alias u). SQLite prefers the cache's unique primary
    key for the lookup, which then reads the cache row (created_at sits after the
    multi-kilobyte cv_data); where migration 8's (file_hash, created_at) index exists, it is
    named so that the lookup never leaves the index. Without it the figure is the same, only
    slower."""
    indexes = existing_indexes(conn) if indexes is None else indexes
    return HIT.format(indexed_by=f"INDEXED BY {HIT_INDEX}" if HIT_INDEX in indexes else "")


def status_class(column="status"):
    """SQL: the status, or 'other' for anything the application never writes (NULL included)."""
    documented = ", ".join(f"'{s}'" for s in config.STATUSES)
    return f"(CASE WHEN {column} IN ({documented}) THEN {column} ELSE 'other' END)"


VALID_CONFIDENCE = schema.VALID_SCORE
# the same test filtering a window's rows: read off the created_at index, never off migration
# 10's partial index of valid scores (which only the lowest scores walk)
VALID_IN_WINDOW = schema.valid_score_filter()
BINS = config.CONFIDENCE_BINS
# the first bin of the two upper bands: a score is binned inside its own band, even a score
# a hair below a rule that rounding to 6 places would put in the next bin
LOW_BIN, CACHEABLE_BIN = round(config.LOW_CONFIDENCE * BINS), round(config.CACHE_THRESHOLD * BINS)
_RAW = f"CAST(round(confidence_score * {BINS}, 6) AS INTEGER)"
# SQL: a valid score's bin (0..BINS-1), inside its own band; parameters BINNED_PARAMS
BINNED = (f"CASE WHEN confidence_score < ? THEN min({_RAW}, {LOW_BIN - 1})"
          f" WHEN confidence_score < ? THEN max(min({_RAW}, {CACHEABLE_BIN - 1}), {LOW_BIN})"
          f" ELSE max(min({_RAW}, {BINS - 1}), {CACHEABLE_BIN}) END")
BINNED_PARAMS = (config.LOW_CONFIDENCE, config.CACHE_THRESHOLD)
