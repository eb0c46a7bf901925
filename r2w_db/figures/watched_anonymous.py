"""The Anonymous users page's figures "as of now" without a pass over every owner per page view.

Which anonymous ids still own uploads (the running total of the ids chart, and the ids by the
age of their newest upload) takes one pass over every anonymous upload: seconds on a large
database. The watcher's snapshot makes that pass once (`metrics`) and keeps the owners grouped
by the hour of their first upload (the day, beyond the last two days) and by age bucket; the
page reads them back with the snapshot's time (`anonymous_ids`, `ages`). The rules are
watched_checks.recent_snapshot's, judged by the clock (a page's `now` is floored to the minute,
and a snapshot of the last seconds must count): a snapshot at most an hour old and taken after
the newest maintenance run on the database, else the page counts live. The new ids per period are never
the snapshot's: they come from the roll-ups and the open hour (figures.windowed).

Metrics (offsets are signed, from the snapshot's own UTC day or hour):
anonymous.owners.day_offset.<n> (ids whose first remaining upload is on that day),
anonymous.owners.hour_offset.<n> (the same per hour, from the day before the snapshot's on),
anonymous.owners.earlier (first upload before the charts' span), anonymous.retention_days and
anonymous.age.<bucket>.ids|uploads|stale|stale_uploads.
"""
from datetime import timedelta

from r2w_db import config
from r2w_db.backends import open_database
from r2w_db.engine import timeutil
from r2w_db.figures.definitions import AGE_BUCKETS, UNKNOWN_AGE
from r2w_db.figures.periods import CHART_HISTORY, Window, floor_period, read
from r2w_db.figures.watched_checks import recent_snapshot

DAY, HOUR, EARLIER = "anonymous.owners.day_offset.", "anonymous.owners.hour_offset.", \
    "anonymous.owners.earlier"
RETENTION = "anonymous.retention_days"
AGE_KEYS = dict(zip([label for label, _ in AGE_BUCKETS] + [UNKNOWN_AGE],
                    ("under_1_day", "1_7_days", "7_30_days", "30_90_days", "over_90_days",
                     "unknown")))
AGE_COUNTS = ("ids", "uploads", "stale", "stale_uploads")
DAYS_AHEAD = 2    # a chart ends a day after now at the latest, and a snapshot is < 1 h old


def metrics(db, now):
    """The snapshot's anonymous.* metrics: one pass over the anonymous ids that own uploads,
    grouped by the hour of their first upload and the age of their newest, as of `now`."""
    db = open_database(db)
    retention = config.ANONYMOUS_RETENTION_DAYS
    today, hour = floor_period(now, "day"), floor_period(now, "hour")
    first_day = floor_period(now - CHART_HISTORY, "day")
    # hourly periods; 'before' the charts' span whatever the engine's oldest moment looks like
    hourly = Window.between(first_day, None, now=now, grain="hour")
    with read(db) as conn:
        rows = db.backend.anonymous.owner_groups(conn, hourly, now,
                                                 timeutil.ago(now, days=retention),
                                                 AGE_BUCKETS, UNKNOWN_AGE)
    hours_from, hours_to = today - timedelta(days=1), today + timedelta(days=DAYS_AHEAD + 1)
    out = {RETENTION: retention, EARLIER: 0}
    for label, key in AGE_KEYS.items():
        if label != UNKNOWN_AGE:
            out.update({f"anonymous.age.{key}.{c}": 0 for c in AGE_COUNTS})
    for period, bucket, ids, *counts in rows:
        for name, value in zip(AGE_COUNTS, (ids, *counts)):
            _add(out, f"anonymous.age.{AGE_KEYS[bucket]}.{name}", value)
        if period == "before":
            _add(out, EARLIER, ids)
            continue
        first = timeutil.period_start(period)
        if first is None:   # no readable first upload, or years ahead: in no running total
            continue
        offset = (floor_period(first, "day") - today).days
        if offset <= DAYS_AHEAD:
            _add(out, f"{DAY}{offset}", ids)
        if hours_from <= first < hours_to:
            _add(out, f"{HOUR}{int((first - hour).total_seconds() // 3600)}", ids)
    return out


def _add(out, key, n):
    out[key] = out.get(key, 0) + int(n)


def owner_periods(metrics, taken_at, window: Window):
    """[(period, ids)] of the snapshot's owners in with_owning_ids' terms for an open window
    ('before' its first period, else the period's key), or None when the snapshot cannot
    answer it (a closed window; an hourly one reaching before the snapshot's hours)."""
    if window.end is not None or EARLIER not in metrics:
        return None
    today, hour = floor_period(taken_at, "day"), floor_period(taken_at, "hour")
    start = None if window.start is None else floor_period(window.start, window.grain)
    days = _offsets(metrics, DAY, lambda n: today + timedelta(days=n))
    if window.grain == "hour":
        if start is None or floor_period(start, "day") < today - timedelta(days=1):
            return None
        hours = _offsets(metrics, HOUR, lambda n: hour + timedelta(hours=n))
        found = [("before", n) for day, n in days if day < floor_period(start, "day")]
        found += [("before" if at < start else timeutil.period_key(at, "hour"), n)
                  for at, n in hours if at >= floor_period(start, "day")]
    else:
        found = [("before" if start is not None and day < start
                  else timeutil.period_key(day, "day"), n) for day, n in days]
    if start is not None:
        found.append(("before", metrics[EARLIER]))
    return found


def _offsets(metrics, prefix, moment):
    return [(moment(int(name[len(prefix):])), int(n)) for name, n in metrics.items()
            if name.startswith(prefix)]


def age_groups(metrics):
    """[(bucket, ids, uploads, stale ids, stale uploads)] kept by the snapshot, or None."""
    if f"anonymous.age.{AGE_KEYS[AGE_BUCKETS[0][0]]}.ids" not in metrics:
        return None
    return [(label, *(int(metrics[f"anonymous.age.{key}.{c}"]) for c in AGE_COUNTS))
            for label, key in AGE_KEYS.items() if f"anonymous.age.{key}.ids" in metrics]


def anonymous_ids(db, window: Window, store=None, history=None, log=None):
    """earlier_days.anonymous_ids, its running total of owning ids from the watcher's recent
    snapshot when there is one, plus "owners_as_of": the snapshot's time, or None (counted
    now)."""
    from r2w_db.figures import earlier_days

    kept = recent_snapshot(db, None, history, log)   # by the clock: window.now is floored
    owners = None if kept is None else owner_periods(kept[1], kept[0], window)
    got = earlier_days.anonymous_ids(db, window, store, owners)
    return {**got, "owners_as_of": None if owners is None else kept[0]}


def ages(db, now=None, retention_days=config.ANONYMOUS_RETENTION_DAYS, history=None, log=None):
    """anonymous.ages, from the watcher's recent snapshot when there is one (counted with the
    same retention), plus "as_of": the snapshot's time, or None (counted now)."""
    from r2w_db.figures import anonymous

    now = now or timeutil.utcnow()
    kept = recent_snapshot(db, None, history, log)   # by the clock: the pages' now is floored
    groups = None
    if kept is not None and kept[1].get(RETENTION) == retention_days:
        groups = age_groups(kept[1])
    if groups is None:
        return {**anonymous.ages(db, now, retention_days), "as_of": None}
    return {**anonymous.ages_of(groups, retention_days), "as_of": kept[0]}
