"""Figures "as of now" that grow with the rows, read back from the watcher's snapshot.

The uploads waiting for extraction (an index range over every upload in status 'uploaded')
and the active sessions (over every session of the last SESSION_DAYS) grow with the rows. The
watcher's snapshot counts both with `stats` (stats.uploads.uploaded, stats.sessions.active);
these functions read them back from the newest snapshot that may stand for now
(watched_checks.recent_snapshot: under an hour old, taken after the newest maintenance run)
and say when it was taken, and count live when there is none. What is an index seek stays
live: the oldest waiting upload, the unreadable ones, stuck jobs.
"""
from r2w_db.backends import open_database
from r2w_db.engine import timeutil
from r2w_db.figures import uploads, watched_checks, windowed
from r2w_db.figures.periods import Window, read


def _kept(db, metric, history, log):
    """(the snapshot's value of `metric`, its taken_at), or (None, None) without one usable
    now. Judged on the clock, not on a window's `now` (rounded down to its minute, it would
    refuse a snapshot of this minute)."""
    kept = watched_checks.recent_snapshot(db, None, history, log)
    if kept is None or kept[1].get(metric) is None:
        return None, None
    return kept[1][metric], kept[0]


def awaiting_extraction(db, now=None, history=None, log=None):
    """(uploads.awaiting_extraction's figures, the snapshot's taken_at or None when counted
    now): the count as of the snapshot, the oldest and the unreadable read now."""
    db = open_database(db)
    now = now or timeutil.utcnow()
    count, taken_at = _kept(db, "stats.uploads.uploaded", history, log)
    if count is None:
        return uploads.awaiting_extraction(db, now), None
    with read(db) as conn:
        oldest_at, age, unreadable = db.backend.uploads.awaiting_oldest(conn, now)
    return {"count": int(count), "oldest_at": oldest_at, "oldest_age_minutes": age,
            "unreadable": unreadable}, taken_at


def headline(db, window: Window, store=None, history=None, log=None):
    """(windowed.headline's figures, the snapshot's taken_at or None): now["active_sessions"]
    as of the snapshot when there is a usable one, counted now otherwise."""
    db = open_database(db)
    active, taken_at = _kept(db, "stats.sessions.active", history, log)
    figures = windowed.headline(db, window, store,
                                active_sessions=None if active is None else int(active))
    return figures, taken_at
