"""anonymous on PostgreSQL: ids first seen, ids still owning uploads, age, retention, share.
Same results as anonymous.py, from its buckets.

Anonymous: `starts_with(user_id, 'anonymous_')`, the literal, case-sensitive prefix. Stale: the
id's newest upload is older than the retention (a timestamptz always reads, so no upload of
an id is ever "unreadable" here, the second half of anonymous.STALE).
"""
import pandas as pd

from r2w_db import config
from r2w_db.engine import timeutil
from r2w_db.figures.anonymous import AGE_BUCKETS, UNKNOWN_AGE, share_of
from r2w_db.figures.periods import Window, period_frame, ratio
from r2w_db.backends.postgresql.stats import ANON
from r2w_db.backends.postgresql.periods import (FIRST_IN_WINDOW, FIRST_SEEN_ANONYMOUS, UPLOAD_IN_WINDOW,
                                       per_period, period_rows, read, rows, utc, window_params)

NEW_IDS = ("SELECT to_char(t, %(fmt)s), n FROM (SELECT date_trunc(%(grain)s, first AT TIME ZONE"
           " 'UTC') AS t, count(*) AS n FROM (" + FIRST_SEEN_ANONYMOUS + ") AS f WHERE "
           + FIRST_IN_WINDOW + " GROUP BY 1) AS p")
OWNERS = """
SELECT user_id, count(*) AS uploads, min(upload_date) AS first, max(upload_date) AS newest
FROM cv_uploads WHERE starts_with(user_id, %(anon)s) GROUP BY user_id"""
# the owners first seen before the window are the running total's start ('before')
OWNING = """
SELECT CASE WHEN %(start)s::timestamptz IS NOT NULL AND first < %(start)s::timestamptz
            THEN 'before' ELSE to_char(date_trunc(%(grain)s, first AT TIME ZONE 'UTC'), %(fmt)s)
       END AS period, count(*)
FROM (""" + OWNERS + """) AS o
WHERE %(end)s::timestamptz IS NULL OR first < %(end)s::timestamptz GROUP BY 1"""
# bucket: width_bucket of the newest upload's age (seconds) over AGE_BUCKETS' upper bounds
AGES = """
SELECT CASE WHEN newest IS NULL THEN -1
            ELSE width_bucket(date_part('epoch', %(now)s::timestamptz - newest),
                              %(bounds)s::float8[])
       END AS bucket, count(*), sum(uploads)::bigint,
       count(*) FILTER (WHERE newest < %(cutoff)s),
       coalesce(sum(uploads) FILTER (WHERE newest < %(cutoff)s), 0)::bigint
FROM (""" + OWNERS + ") AS o GROUP BY 1"
UPLOADS_BY_PERIOD = per_period("upload_date", UPLOAD_IN_WINDOW)
ANONYMOUS_BY_PERIOD = per_period("upload_date",
                                 "starts_with(user_id, %(anon)s) AND " + UPLOAD_IN_WINDOW)


def ids_by_period(db, window: Window):
    """anonymous.ids_by_period: DataFrame period, new_ids, owning_ids."""
    params = window_params(window)
    with read(db) as conn:
        new = rows(conn, NEW_IDS, {**params, "since": params["start"]})
        owners = rows(conn, OWNING, params)
    baseline = sum(n for p, n in owners if p == "before")
    owning = [r for r in owners if r[0] != "before"]
    frame = period_frame(new, window, counts=("new_ids",))
    owning = period_frame(owning, window, counts=("owning_new",))
    frame = frame.merge(owning, on="period", how="outer").fillna(0).astype(
        {"new_ids": "int64", "owning_new": "int64"})
    frame["owning_ids"] = baseline + frame["owning_new"].cumsum()
    return frame.drop(columns="owning_new")


def ages(db, now=None, retention_days=config.ANONYMOUS_RETENTION_DAYS):
    """anonymous.ages: {"ids", "uploads", "stale_ids", "stale_uploads", "stale_share",
    "retention_days", "by_age": DataFrame bucket, ids, uploads, stale}."""
    now = now or timeutil.utcnow()
    labels = [label for label, _ in AGE_BUCKETS]
    bounds = [days * 86400.0 for _, days in AGE_BUCKETS if days is not None]
    params = {"now": utc(now), "bounds": bounds, "anon": ANON,
              "cutoff": utc(timeutil.ago(now, days=retention_days))}
    with read(db) as conn:
        got = {(UNKNOWN_AGE if r[0] < 0 else labels[r[0]]): tuple(r[1:])
               for r in conn.execute(AGES, params)}
    labels += [UNKNOWN_AGE] if UNKNOWN_AGE in got else []
    by_age = pd.DataFrame([(b, *got.get(b, (0, 0, 0, 0))) for b in labels],
                          columns=["bucket", "ids", "uploads", "stale", "stale_uploads"])
    ids, stale = int(by_age["ids"].sum()), int(by_age["stale"].sum())
    return {"ids": ids, "uploads": int(by_age["uploads"].sum()), "stale_ids": stale,
            "stale_uploads": int(by_age["stale_uploads"].sum()), "stale_share": ratio(stale, ids),
            "retention_days": retention_days, "by_age": by_age.drop(columns="stale_uploads")}


def share_by_period(db, window: Window):
    """anonymous.share_by_period: {"uploads", "anonymous", "share", "by_period": DataFrame
    period, uploads, anonymous, share}."""
    params = window_params(window)
    with read(db) as conn:
        uploads = period_rows(conn, UPLOADS_BY_PERIOD, params)
        anonymous = period_rows(conn, ANONYMOUS_BY_PERIOD, params)
    return share_of(uploads, anonymous, window)
