"""Anonymous users page figures: ids first seen, ids still owning uploads, age, retention.

Anonymous: a user_id with the literal, case-sensitive prefix `anonymous_`. The
application writes no users row for them: they live in cv_uploads. Stale: every
upload of the id is provably older than the retention (30 days): its newest upload is,
and none has an unreadable date (the anonymous cleanup's own rule). The rows are the engine's
(db.backend.anonymous).
"""
import pandas as pd

from r2w_db import config
from r2w_db.engine import timeutil
from r2w_db.backends import open_database
from r2w_db.figures import database_file
from r2w_db.figures.definitions import AGE_BUCKETS, UNKNOWN_AGE
from r2w_db.figures.periods import Window, period_frame, rate_column, ratio, read



def ids_by_period(db, window: Window, owners=None):
    """DataFrame period, new_ids, owning_ids.

    new_ids: anonymous ids first seen in the period (over their uploads and any users row).
    owning_ids: running total, at the end of the period, of the anonymous ids that
    still own uploads today (by the first of those uploads).
    `owners`: as with_owning_ids'.
    """
    db = open_database(db)
    with read(db) as conn:
        new = db.backend.anonymous.new_ids_by_period(conn, window)
    return with_owning_ids(db, window, period_frame(new, window, counts=("new_ids",)), owners)


def with_owning_ids(db, window: Window, new_ids, owners=None):
    """ids_by_period's frame from its new_ids frame (period, new_ids): the owners' pass adds the
    running total (those first seen before the window are its start). `owners`: the owners
    already grouped, [(period of the first upload, 'before' or 'after' the window, or None;
    ids)] (figures.watched_anonymous), or None: one pass over them now."""
    if owners is None:
        owners = [(period, ids) for period, _, ids, *_ in
                  owner_groups(db, window.now, window=window)]
    by_period, baseline = {}, 0
    for period, ids in owners:
        if period == "before":
            baseline += ids
        elif period not in (None, "after"):
            by_period[period] = by_period.get(period, 0) + ids
    owning = period_frame(sorted(by_period.items()), window, counts=("owning_new",))
    frame = new_ids.merge(owning, on="period", how="outer").fillna(0).astype(
        {"new_ids": "int64", "owning_new": "int64"})
    frame["owning_ids"] = baseline + frame["owning_new"].cumsum()
    return frame.drop(columns="owning_new")


# One pass over the owners serves the running total of ids_by_period and ages: a page asks for
# one and then the other, with the database unchanged and the same `now`.
_LAST_PASS = {}


def owner_groups(db, now, retention_days=config.ANONYMOUS_RETENTION_DAYS, window=None):
    """[(period, bucket, ids, uploads, stale ids, stale uploads)] of the anonymous ids that own
    uploads, in one pass: period of the id's first upload ('before' / 'after' the window, None
    when unreadable or without a window), bucket (AGE_BUCKETS) of its newest. The last pass is
    kept for the next call with the same database state, moment and (or no) window."""
    db = open_database(db)
    key = (db.key, database_file.change_token(db), now, retention_days)
    kept = _LAST_PASS.get(key)
    if kept is not None and (window is None or kept[0] == window):
        return kept[1]
    cutoff = timeutil.ago(now, days=retention_days)
    with read(db) as conn:
        rows = db.backend.anonymous.owner_groups(conn, window, now, cutoff, AGE_BUCKETS,
                                                 UNKNOWN_AGE)
    _LAST_PASS.clear()
    _LAST_PASS[key] = (window, rows)
    return rows


def ages(db, now=None, retention_days=config.ANONYMOUS_RETENTION_DAYS):
    """{"ids", "uploads", "stale_ids", "stale_uploads", "stale_share", "by_age": DataFrame
    bucket, ids, uploads, stale}: every anonymous id that owns uploads, by its newest upload."""
    now = now or timeutil.utcnow()
    return ages_of([row[1:] for row in owner_groups(db, now, retention_days)], retention_days)


def ages_of(groups, retention_days=config.ANONYMOUS_RETENTION_DAYS):
    """ages' result from [(bucket, ids, uploads, stale ids, stale uploads)]."""
    got = {}
    for bucket, *counts in groups:
        got[bucket] = tuple(a + b for a, b in zip(got.get(bucket, (0, 0, 0, 0)), counts))
    labels = [label for label, _ in AGE_BUCKETS] + ([UNKNOWN_AGE] if UNKNOWN_AGE in got else [])
    by_age = pd.DataFrame([(b, *got.get(b, (0, 0, 0, 0))) for b in labels],
                          columns=["bucket", "ids", "uploads", "stale", "stale_uploads"])
    ids, stale = int(by_age["ids"].sum()), int(by_age["stale"].sum())
    return {"ids": ids, "uploads": int(by_age["uploads"].sum()), "stale_ids": stale,
            "stale_uploads": int(by_age["stale_uploads"].sum()), "stale_share": ratio(stale, ids),
            "retention_days": retention_days, "by_age": by_age.drop(columns="stale_uploads")}


def share_by_period(db, window: Window):
    """{"uploads", "anonymous", "share", "by_period": DataFrame period, uploads, anonymous, share}:
    the anonymous share of the window's uploads."""
    db = open_database(db)
    with read(db) as conn:
        uploads, anonymous = db.backend.anonymous.share_by_period(conn, window)
    return share_of(uploads, anonymous, window)


def share_of(uploads, anonymous, window: Window):
    """share_by_period's result from rows (period, uploads) and (period, anonymous uploads), from
    the database or from the roll-ups."""
    total = sum(r[1] for r in uploads)
    anonymous_total = sum(r[1] for r in anonymous)
    frame = period_frame(uploads, window, counts=("uploads",)).merge(
        period_frame(anonymous, window, counts=("anonymous",)), on="period", how="left")
    frame["anonymous"] = frame["anonymous"].fillna(0).astype("int64")
    frame["share"] = rate_column(frame, "anonymous", "uploads")
    return {"uploads": total, "anonymous": anonymous_total, "share": ratio(anonymous_total, total),
            "by_period": frame}
