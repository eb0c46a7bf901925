"""The Anonymous users page's named queries on SQLite: ids first seen per period, the ids that
still own uploads (one pass, by the period of their first upload and the age of their newest),
and the anonymous share of uploads.

Stale: every upload of the id is provably older than the cutoff: its newest upload is, and none
has an unreadable date (the anonymous cleanup's own rule).
"""
from r2w_db.engine import timeutil
from r2w_db.backends.sqlite.predicates import is_anonymous
from r2w_db.backends.sqlite.window_sql import (first_seen_anonymous_sql, in_window, julian_where,
                                               period_of)

OWNERS_SQL = f"""
    SELECT user_id, count(*) AS uploads, min(julianday(upload_date)) AS first,
           max(julianday(upload_date)) AS newest, count(*) - count(julianday(upload_date)) AS unreadable
    FROM cv_uploads WHERE {is_anonymous()} GROUP BY user_id"""
STALE = "(newest < julianday(?) AND unreadable = 0)"


def new_ids_by_period(conn, window):
    """[(period, ids)]: anonymous ids first seen in each period of the window (over their
    uploads and any users row)."""
    jwhere, jparams = julian_where("first", window)
    first_sql, first_params = first_seen_anonymous_sql(window.start)
    return conn.execute(
        f"SELECT {period_of('first', window.grain)} AS period, count(*)"
        f" FROM ({first_sql}) WHERE {jwhere} GROUP BY 1", (*first_params, *jparams)).fetchall()


def owner_groups(conn, window, now, cutoff, buckets, unknown):
    """[(period, bucket, ids, uploads, stale ids, stale uploads)] of the anonymous ids that own
    uploads: period of the id's first upload ('before' / 'after' the window, None when
    unreadable or without a window), bucket (`buckets`: (label, upper bound in days or None))
    of its newest as of now, `unknown` when unreadable; stale: newest before `cutoff`."""
    period, period_params = "NULL", []
    if window is not None:
        parts = ["WHEN first IS NULL THEN NULL"]
        if window.start is not None:
            parts.append("WHEN first < julianday(?) THEN 'before'")
            period_params.append(timeutil.iso(window.start))
        if window.end is not None:
            parts.append("WHEN first >= julianday(?) THEN 'after'")
            period_params.append(timeutil.iso(window.end))
        period = f"CASE {' '.join(parts)} ELSE {period_of('first', window.grain)} END"
    cases = " ".join(f"WHEN julianday(?) - newest < {days} THEN '{label}'"
                     for label, days in buckets if days is not None)
    return [tuple(r) for r in conn.execute(
        f"SELECT {period}, CASE WHEN newest IS NULL THEN '{unknown}' {cases}"
        f" ELSE '{buckets[-1][0]}' END, count(*), sum(uploads),"
        f" coalesce(sum({STALE}), 0), coalesce(sum(CASE WHEN {STALE} THEN uploads END), 0)"
        f" FROM ({OWNERS_SQL}) GROUP BY 1, 2",
        (*period_params, *[timeutil.iso(now)] * (len(buckets) - 1),
         *[timeutil.iso(cutoff)] * 2))]


def share_by_period(conn, window):
    """([(period, uploads)], [(period, anonymous uploads)]) of the window. All uploads are
    counted on the (upload_date, ...) index and anonymous ones on the (user_id, upload_date)
    index, so neither query reads a table row."""
    where, params = in_window("upload_date", window, "cv_uploads")
    period = period_of("upload_date", window.grain)
    uploads = conn.execute(f"SELECT {period}, count(*) FROM cv_uploads WHERE {where} GROUP BY 1",
                           params).fetchall()
    anonymous = conn.execute(
        f"SELECT {period}, count(*) FROM cv_uploads WHERE {is_anonymous()} AND {where}"
        " GROUP BY 1", params).fetchall()
    return uploads, anonymous
