"""The Anonymous users page's named queries on PostgreSQL: ids first seen per period, the ids
that still own uploads (one pass, by the period of their first upload and the age of their
newest), and the anonymous share of uploads.

Anonymous: `starts_with(user_id, 'anonymous_')`, the literal, case-sensitive prefix. Stale: the
id's newest upload is older than the cutoff (a timestamptz always reads, so no upload of an id
is ever "unreadable" here, the second half of SQLite's rule).
"""
from r2w_db.backends.postgresql.window_sql import (ANON, FIRST_IN_WINDOW, FIRST_SEEN_ANONYMOUS,
                                                   PG_PERIOD_FORMAT, UPLOAD_IN_WINDOW, per_period,
                                                   period_rows, rows, utc, window_params)

NEW_IDS = ("SELECT to_char(t, %(fmt)s), n FROM (SELECT date_trunc(%(grain)s, first AT TIME ZONE"
           " 'UTC') AS t, count(*) AS n FROM (" + FIRST_SEEN_ANONYMOUS + ") AS f WHERE "
           + FIRST_IN_WINDOW + " GROUP BY 1) AS p")
OWNERS = """
SELECT user_id, count(*) AS uploads, min(upload_date) AS first, max(upload_date) AS newest
FROM cv_uploads WHERE starts_with(user_id, %(anon)s) GROUP BY user_id"""
# period: of the first upload, 'before' / 'after' the window (NULL without a window); bucket:
# width_bucket of the newest upload's age (seconds) over the buckets' upper bounds (-1: none);
# the age as a difference of epochs, which ±infinity has (a timestamp difference has none: an
# error before PostgreSQL 17): 'infinity' is in the first bucket and '-infinity' in the last,
# as SQLite places a date far ahead or far back
OWNER_GROUPS = """
SELECT CASE WHEN %(windowed)s IS NOT TRUE OR first IS NULL THEN NULL
            WHEN %(start)s::timestamptz IS NOT NULL AND first < %(start)s::timestamptz
                THEN 'before'
            WHEN %(end)s::timestamptz IS NOT NULL AND first >= %(end)s::timestamptz THEN 'after'
            ELSE to_char(date_trunc(%(grain)s, first AT TIME ZONE 'UTC'), %(fmt)s) END AS period,
       CASE WHEN newest IS NULL THEN -1
            ELSE width_bucket(date_part('epoch', %(now)s::timestamptz)
                              - date_part('epoch', newest), %(bounds)s::float8[])
       END AS bucket, count(*), sum(uploads)::bigint,
       count(*) FILTER (WHERE newest < %(cutoff)s),
       coalesce(sum(uploads) FILTER (WHERE newest < %(cutoff)s), 0)::bigint
FROM (""" + OWNERS + ") AS o GROUP BY 1, 2"
UPLOADS_BY_PERIOD = per_period("upload_date", UPLOAD_IN_WINDOW)
ANONYMOUS_BY_PERIOD = per_period("upload_date",
                                 "starts_with(user_id, %(anon)s) AND " + UPLOAD_IN_WINDOW)


def new_ids_by_period(conn, window):
    """[(period, ids)]: anonymous ids first seen in each period of the window (over their
    uploads and any users row)."""
    params = window_params(window)
    return rows(conn, NEW_IDS, {**params, "since": params["start"]})


def owner_groups(conn, window, now, cutoff, buckets, unknown):
    """[(period, bucket, ids, uploads, stale ids, stale uploads)] of the anonymous ids that own
    uploads: period of the id's first upload ('before' / 'after' the window, None without a
    window), bucket (`buckets`: (label, upper bound in days or None)) of its newest as of now,
    `unknown` without one; stale: newest before `cutoff`."""
    labels = [label for label, _ in buckets]
    params = (window_params(window) if window is not None else
              {"start": None, "end": None, "grain": "day", "fmt": PG_PERIOD_FORMAT["day"],
               "anon": ANON})
    params.update(windowed=window is not None, now=utc(now), cutoff=utc(cutoff),
                  bounds=[days * 86400.0 for _, days in buckets if days is not None])
    return [(period, unknown if bucket < 0 else labels[bucket], *counts)
            for period, bucket, *counts in conn.execute(OWNER_GROUPS, params)]


def share_by_period(conn, window):
    """([(period, uploads)], [(period, anonymous uploads)]) of the window."""
    params = window_params(window)
    return (period_rows(conn, UPLOADS_BY_PERIOD, params),
            period_rows(conn, ANONYMOUS_BY_PERIOD, params))
