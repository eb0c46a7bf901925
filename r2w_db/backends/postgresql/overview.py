"""overview on PostgreSQL: the headline figures for a window and the one before it, and the
cache-hit count the overview and the Cache hits page share. Same results as overview.py.

A hit (DESIGN.md): an upload with a file_hash whose cache entry was created strictly before it;
file_hash is the cache's primary key, so an upload joins at most one entry and a plain join
counts each hit once (the planner picks the join; no SQLite index hints are needed).
"""
from r2w_db import config
from r2w_db.engine import timeutil
from r2w_db.figures import stats
from r2w_db.backends.postgresql import stats as pg_stats
from r2w_db.figures.overview import sides, span
from r2w_db.figures.periods import Window, ratio
from r2w_db.backends.postgresql.periods import (CREATED_IN_WINDOW, FIRST_IN_WINDOW, FIRST_SEEN_ANONYMOUS,
                                       U_UPLOAD_IN_WINDOW, UPLOAD_IN_WINDOW, read, rows, utc,
                                       window_params)

HIT_JOIN = ("FROM cv_uploads u JOIN cv_extraction_cache c ON c.file_hash = u.file_hash"
            " WHERE u.file_hash <> '' AND c.created_at < u.upload_date AND " + U_UPLOAD_IN_WINDOW)
# hits per period of the window (text, as period_frame reads it)
HITS_BY_PERIOD = ("SELECT to_char(t, %(fmt)s), n FROM (SELECT date_trunc(%(grain)s,"
                  " u.upload_date AT TIME ZONE 'UTC') AS t, count(*) AS n " + HIT_JOIN
                  + " GROUP BY 1) AS p")
# hits and new anonymous ids per side: 'current' from %(split)s on, 'previous' before it
# (a NULL split, the all-time window: all current)
HITS_BY_SIDE = ("SELECT CASE WHEN %(split)s::timestamptz IS NULL"
                " OR u.upload_date >= %(split)s::timestamptz THEN 'current' ELSE 'previous' END,"
                " count(*) " + HIT_JOIN + " GROUP BY 1")

UPLOAD_COUNTS = """
SELECT count(*) AS uploads, status, count(*) FILTER (WHERE status = 'processing'
           AND upload_date < %(stuck)s) AS stuck,
       count(*) FILTER (WHERE file_hash IS NOT NULL AND file_hash <> '') AS hashed
FROM cv_uploads WHERE """ + UPLOAD_IN_WINDOW + " GROUP BY status"
REGISTERED_NEW = ("SELECT count(*) FROM users WHERE NOT starts_with(user_id, %(anon)s) AND "
                  + CREATED_IN_WINDOW)
ANONYMOUS_NEW = ("SELECT CASE WHEN %(split)s::timestamptz IS NULL"
                 " OR first >= %(split)s::timestamptz THEN 'current' ELSE 'previous' END,"
                 " count(*) FROM (" + FIRST_SEEN_ANONYMOUS + ") AS f WHERE " + FIRST_IN_WINDOW
                 + " GROUP BY 1")
CONFIDENCE_AVERAGE = ("SELECT avg(confidence_score) FROM cv_extraction_cache"
                      " WHERE confidence_score BETWEEN 0 AND 1 AND " + CREATED_IN_WINDOW)


def split_params(window: Window):
    """Parameters of the side statements over span(window): split at the window's start."""
    return window_params(span(window), split=utc(window.start) if window.previous else None)


def hits_by_period(conn, window: Window):
    """[(period, hits)] among the uploads of the window (overview.hits grouped by period)."""
    return rows(conn, HITS_BY_PERIOD, window_params(window))


def upload_counts(conn, window: Window):
    """overview.upload_counts: uploads, one count per config.STATUSES, stuck, hashed."""
    stuck = utc(timeutil.ago(window.now, minutes=config.STUCK_MINUTES))
    figures = {"uploads": 0, **{s: 0 for s in config.STATUSES}, "stuck": 0, "hashed": 0}
    for n, status, stuck_n, hashed in conn.execute(UPLOAD_COUNTS,
                                                   window_params(window, stuck=stuck)):
        figures["uploads"] += n
        if status in config.STATUSES:
            figures[status] += n
        figures["stuck"] += stuck_n
        figures["hashed"] += hashed
    return figures


def upload_figures(conn, window: Window):
    """overview.upload_figures: per side, uploads, statuses, stuck, hits and the rates."""
    figures = {name: upload_counts(conn, w) for name, w in sides(window)}
    hit_counts = dict(rows(conn, HITS_BY_SIDE, split_params(window)))
    for name, f in figures.items():
        f["hits"] = hit_counts.get(name, 0)
        f["other"] = f["uploads"] - sum(f[s] for s in config.STATUSES)
        f["failure_rate"] = ratio(f["failed"], f["completed"] + f["failed"])
        f["cache_hit_rate"] = stats.hit_rate_from(f["hashed"], f["hits"])
    return figures


def people_figures(conn, window: Window):
    """overview.people_figures: per side, registered users created and anonymous ids first
    seen in it."""
    figures = {name: {"registered_new": conn.execute(REGISTERED_NEW,
                                                     window_params(w)).fetchone()[0]}
               for name, w in sides(window)}
    params = split_params(window)
    anonymous = dict(rows(conn, ANONYMOUS_NEW, {**params, "since": params["start"]}))
    for name, f in figures.items():
        f["anonymous_new"] = anonymous.get(name, 0)
    return figures


def headline(db, window: Window):
    """overview.headline on PostgreSQL: {"current", "previous" (None for all time), "now"};
    now's size_bytes is stats' database.size_bytes, wal_bytes None (PostgreSQL's WAL belongs
    to the whole cluster, pg_stats.py)."""
    params = pg_stats._params(window.now)
    with read(db) as conn:
        people, uploads = people_figures(conn, window), upload_figures(conn, window)
        figures = {name: {**people[name], **uploads[name], "average_confidence": conn.execute(
                       CONFIDENCE_AVERAGE, window_params(w)).fetchone()[0]}
                   for name, w in sides(window)}
        active = conn.execute(pg_stats.SESSIONS_SQL, params).fetchone()[0]
        point = {"active_sessions": active,
                 "stuck_total": conn.execute(pg_stats.STUCK_SQL, params).fetchone()[0],
                 "size_bytes": int(conn.execute(pg_stats.SIZE_SQL, params).fetchone()[0]),
                 "wal_bytes": None}
    return {"current": figures["current"], "previous": figures.get("previous"), "now": point}
