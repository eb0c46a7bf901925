"""The overview's named queries on PostgreSQL: a window's upload counts, its cache hits (by
period or by side), new people and the mean confidence.

A hit: an upload with a file_hash whose cache entry was created strictly before it; file_hash
is the cache's primary key, so an upload joins at most one entry and a plain join counts each
hit once (the planner picks the join; no SQLite index hints are needed). A side splits a span
at %(split)s: 'current' from it on, 'previous' before it (a NULL split: all current).
"""
from r2w_db import config
from r2w_db.engine import schema, timeutil
from r2w_db.backends.postgresql.window_sql import (CREATED_IN_WINDOW, FIRST_IN_WINDOW,
                                                   FIRST_SEEN_ANONYMOUS, U_UPLOAD_IN_WINDOW,
                                                   UPLOAD_IN_WINDOW, rows, utc, window_params)

HIT_JOIN = ("FROM cv_uploads u JOIN cv_extraction_cache c ON c.file_hash = u.file_hash"
            " WHERE u.file_hash <> '' AND c.created_at < u.upload_date AND " + U_UPLOAD_IN_WINDOW)
# hits per period of the window (text, as period_frame reads it)
HITS_BY_PERIOD = ("SELECT to_char(t, %(fmt)s), n FROM (SELECT date_trunc(%(grain)s,"
                  " u.upload_date AT TIME ZONE 'UTC') AS t, count(*) AS n " + HIT_JOIN
                  + " GROUP BY 1) AS p")
HITS_BY_SIDE = ("SELECT CASE WHEN %(split)s::timestamptz IS NULL"
                " OR u.upload_date >= %(split)s::timestamptz THEN 'current' ELSE 'previous' END,"
                " count(*) " + HIT_JOIN + " GROUP BY 1")

UPLOAD_COUNTS = """
SELECT count(*) AS uploads, status, count(*) FILTER (WHERE status = 'processing'
           AND upload_date < %(stuck)s) AS stuck,
       count(*) FILTER (WHERE file_hash IS NOT NULL AND file_hash <> '') AS hashed
FROM cv_uploads WHERE """ + UPLOAD_IN_WINDOW + " GROUP BY status"
STUCK_IN = ("SELECT count(*) FROM cv_uploads WHERE status = 'processing'"
            " AND upload_date < %(stuck)s AND " + UPLOAD_IN_WINDOW)
REGISTERED_NEW = ("SELECT count(*) FROM users WHERE NOT starts_with(user_id, %(anon)s) AND "
                  + CREATED_IN_WINDOW)
ANONYMOUS_NEW = ("SELECT CASE WHEN %(split)s::timestamptz IS NULL"
                 " OR first >= %(split)s::timestamptz THEN 'current' ELSE 'previous' END,"
                 " count(*) FROM (" + FIRST_SEEN_ANONYMOUS + ") AS f WHERE " + FIRST_IN_WINDOW
                 + " GROUP BY 1")
CONFIDENCE_AVERAGE = ("SELECT avg(confidence_score) FROM cv_extraction_cache"
                      f" WHERE {schema.valid_score_filter('false')} AND " + CREATED_IN_WINDOW)


def _stuck(now):
    return utc(timeutil.ago(now, minutes=config.STUCK_MINUTES))


def hits_by_period(conn, window, hashed=None):
    """[(period, hits)] among the uploads of the window (`hashed` is SQLite's choice of plan)."""
    return rows(conn, HITS_BY_PERIOD, window_params(window))


def hits_by_side(conn, window, split, hashed):
    """[(side, hits)] among the uploads of a span split at `split`."""
    return rows(conn, HITS_BY_SIDE, window_params(window, split=utc(split)))


def upload_counts(conn, window):
    """{uploads, one count per config.STATUSES, stuck, hashed} of the window's uploads."""
    figures = {"uploads": 0, **{s: 0 for s in config.STATUSES}, "stuck": 0, "hashed": 0}
    for n, status, stuck_n, hashed in conn.execute(
            UPLOAD_COUNTS, window_params(window, stuck=_stuck(window.now))):
        figures["uploads"] += n
        if status in config.STATUSES:
            figures[status] += n
        figures["stuck"] += stuck_n
        figures["hashed"] += hashed
    return figures


def stuck_in(conn, window):
    """Uploads of the window still 'processing' more than 60 minutes after upload, as of
    window.now (upload_counts' `stuck`, on its own)."""
    return conn.execute(STUCK_IN, window_params(window, stuck=_stuck(window.now))).fetchone()[0]


def registered_new(conn, window):
    """Registered users created in the window."""
    return conn.execute(REGISTERED_NEW, window_params(window)).fetchone()[0]


def anonymous_new_by_side(conn, window, split):
    """[(side, ids)]: anonymous ids first seen in a span split at `split`."""
    params = window_params(window, split=utc(split))
    return rows(conn, ANONYMOUS_NEW, {**params, "since": params["start"]})


def confidence_average(conn, window):
    """Mean valid confidence of the cache entries created in the window (None: none)."""
    return conn.execute(CONFIDENCE_AVERAGE, window_params(window)).fetchone()[0]

