"""The overview's headline figures for a window and the one before it.

A window and the previous one: plain counts run once per window (a GROUP BY on the side costs
more than a second range scan); the two costly passes, the hit count and the anonymous ids'
first sightings, run once over `span` and split by side. The engine's named queries
(db.backend.overview) give the rows; the figures are shaped here.
"""
from r2w_db import config
from r2w_db.backends import open_database
from r2w_db.figures import stats
from r2w_db.figures.periods import Window, ratio, read


def sides(window: Window):
    """[("current", window), ("previous", window.previous)] (no previous for all time)."""
    return [("current", window)] + ([("previous", window.previous)] if window.previous else [])


def span(window: Window):
    """The window together with the previous one (they are adjacent)."""
    if window.previous is None:
        return window
    return Window.between(window.previous.start, window.end, now=window.now, grain=window.grain)


def split(window: Window):
    """Where span(window) turns from the previous window to the current one (None: all time)."""
    return window.start if window.previous else None


def upload_figures(conn, queries, window: Window):
    """{side: uploads, statuses, stuck jobs, cache hits and rates among the uploads of a side}."""
    figures = {name: queries.upload_counts(conn, w) for name, w in sides(window)}
    hashed = sum(f["hashed"] for f in figures.values())
    hit_counts = dict(queries.hits_by_side(conn, span(window), split(window), hashed))
    for name, f in figures.items():
        f["hits"] = hit_counts.get(name, 0)
        f["other"] = f["uploads"] - sum(f[s] for s in config.STATUSES)
        f["failure_rate"] = ratio(f["failed"], f["completed"] + f["failed"])
        f["cache_hit_rate"] = stats.hit_rate_from(f["hashed"], f["hits"])
    return figures


def people_figures(conn, queries, window: Window):
    """{side: registered users created in it, anonymous ids first seen in it}."""
    figures = {name: {"registered_new": queries.registered_new(conn, w)}
               for name, w in sides(window)}
    anonymous = dict(queries.anonymous_new_by_side(conn, span(window), split(window)))
    for name, f in figures.items():
        f["anonymous_new"] = anonymous.get(name, 0)
    return figures


def now_figures(conn, db, now, active_sessions=None):
    """{"active_sessions", "stuck_total"} as of now, exactly as `stats` counts them
    (`active_sessions`: already counted, by the watcher's snapshot)."""
    if active_sessions is None:
        active_sessions = db.backend.stats.active(conn, now)
    return {"active_sessions": active_sessions,
            "stuck_total": db.backend.stats.stuck(conn, now)}


def file_sizes(db):
    """{"size_bytes", "wal_bytes"} as `stats` gives them (wal_bytes None where the engine's WAL
    is not the database's own)."""
    sizes = db.backend.stats.sizes(db)
    return {"size_bytes": sizes["size_bytes"], "wal_bytes": sizes["wal_bytes"]}


def headline(db, window: Window, active_sessions=None):
    """The overview's figures: {"current": {...}, "previous": {...} or None, "now": {...}}.

    current/previous: registered_new, anonymous_new, uploads, completed, failed,
    processing, uploaded (waiting for extraction), other (a status the application
    never writes), stuck (uploads of the window still processing after 60
    minutes), hashed, hits, cache_hit_rate (None = no data), failure_rate
    (failed / (completed + failed), None = no finished job), average_confidence
    (of cache entries created in the window). now: active_sessions,
    stuck_total, size_bytes, wal_bytes, as of window.now (`active_sessions`: see
    now_figures).
    """
    db = open_database(db)
    queries = db.backend.overview
    with read(db) as conn:
        people, uploads = people_figures(conn, queries, window), upload_figures(conn, queries, window)
        figures = {name: {**people[name], **uploads[name],
                          "average_confidence": queries.confidence_average(conn, w)}
                   for name, w in sides(window)}
        point = now_figures(conn, db, window.now, active_sessions)
    point.update(file_sizes(db))
    return {"current": figures["current"], "previous": figures.get("previous"), "now": point}
