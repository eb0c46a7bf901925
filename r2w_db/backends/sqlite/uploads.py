"""The Uploads page's named queries on SQLite: statuses, failures, uploads waiting for
extraction, file types, and the oldest upload's day (its stuck jobs: stuck.stuck_oldest)."""
from r2w_db import config
from r2w_db.engine import schema, timeutil
from r2w_db.backends.sqlite.predicates import is_anonymous, unparseable
from r2w_db.backends.sqlite.window_sql import in_window, period_of, status_class


def status_counts(conn, window):
    """[(status, uploads)] of the window's uploads, per status class (config.STATUSES, other)."""
    where, params = in_window("upload_date", window, "cv_uploads")
    return [tuple(r) for r in conn.execute(
        f"SELECT {status_class()} AS status, count(*) FROM cv_uploads WHERE {where}"
        " GROUP BY 1", params)]


def other_statuses(conn, window):
    """[(stored status or 'NULL', uploads)] of the statuses the application never writes.

    Read as NULL and the ranges of the (status, upload_date) index between the documented
    statuses (schema.foreign_status_ranges), one part each: the foreign rows' cost, normally
    none, not every upload's."""
    where, params = in_window("upload_date", window, "cv_uploads")
    parts = [f"SELECT status FROM cv_uploads WHERE {r} AND {where}"
             for r in ["status IS NULL", *schema.foreign_status_ranges(config.STATUSES)]]
    return [tuple(r) for r in conn.execute(
        "SELECT coalesce(status, 'NULL') AS status, count(*) AS uploads FROM ("
        + " UNION ALL ".join(parts) + ") GROUP BY status ORDER BY uploads DESC, status",
        params * len(parts))]


def by_period(conn, window):
    """[(period, a count per config.STATUSES, uploads)] of the window."""
    where, params = in_window("upload_date", window, "cv_uploads")
    sums = ", ".join(f"coalesce(sum(status = '{s}'), 0)" for s in config.STATUSES)
    return conn.execute(
        f"SELECT {period_of('upload_date', window.grain)} AS period, {sums}, count(*)"
        f" FROM cv_uploads WHERE {where} GROUP BY 1", params).fetchall()


def awaiting_extraction(conn, now):
    """(count, oldest_at, oldest_age_minutes, unreadable) of the uploads in status 'uploaded'."""
    bad = unparseable("upload_date")
    return tuple(conn.execute(
        "SELECT n, strftime('%Y-%m-%dT%H:%M:%f', first), (julianday(?) - first) * 1440.0, bad"
        f" FROM (SELECT count(*) AS n, coalesce(sum({bad}), 0) AS bad,"
        f" min(CASE WHEN NOT {bad} THEN julianday(upload_date) END) AS first"
        " FROM cv_uploads WHERE status = 'uploaded')", (timeutil.iso(now),)).fetchone())


def awaiting_oldest(conn, now):
    """(oldest_at, oldest_age_minutes, unreadable) of the uploads in status 'uploaded', as
    awaiting_extraction gives them, without its count: index seeks. The oldest canonical
    timestamp is the first on the (status, upload_date) index (canonical text sorts as its
    instant); the odd ones (normally none) are found on migration 9's partial index."""
    bad, odd = unparseable("upload_date"), schema.time_is_odd("upload_date")
    return tuple(conn.execute(
        "SELECT strftime('%Y-%m-%dT%H:%M:%f', min(j)), (julianday(?) - min(j)) * 1440.0,"
        " coalesce(sum(bad), 0) FROM ("
        " SELECT * FROM (SELECT julianday(upload_date) AS j, 0 AS bad FROM cv_uploads"
        f" WHERE status = 'uploaded' AND upload_date >= '0' AND upload_date < ':' AND NOT {odd}"
        " ORDER BY upload_date LIMIT 1)"
        f" UNION ALL SELECT min(CASE WHEN NOT {bad} THEN julianday(upload_date) END),"
        f" coalesce(sum({bad}), 0) FROM cv_uploads WHERE +status = 'uploaded'"
        f" AND rowid IN (SELECT rowid FROM cv_uploads WHERE {odd}))",
        (timeutil.iso(now),)).fetchone())


def file_types(conn, window):
    """[(file_type, uploads, failed, finished)] of the window, most uploads first."""
    where, params = in_window("upload_date", window, "cv_uploads")
    return [tuple(r) for r in conn.execute(
        "SELECT file_type, count(*) AS uploads, coalesce(sum(status = 'failed'), 0) AS failed,"
        " coalesce(sum(status IN ('completed', 'failed')), 0) AS finished"
        f" FROM cv_uploads WHERE {where} GROUP BY file_type ORDER BY uploads DESC, file_type",
        params)]


def oldest_day(conn, anonymous_only):
    """The UTC day ('YYYY-MM-DD') of the oldest upload (only anonymous ones), or None. Canonical
    timestamps sort as their instants, so their oldest is the first one on the upload_date
    index; the odd ones (normally none) come from migration 9's partial index."""
    odd = schema.time_is_odd("upload_date")
    # `+user_id`: walk the upload_date index, not every anonymous id on the user_id one
    anonymous = f" AND {is_anonymous('+user_id')}" if anonymous_only else ""
    return conn.execute(
        "SELECT date(min(j)) FROM ("
        "SELECT julianday(min(upload_date)) AS j FROM cv_uploads"
        f" WHERE upload_date >= '0' AND upload_date < ':' AND NOT {odd}{anonymous}"
        f" UNION ALL SELECT min(julianday(upload_date)) FROM cv_uploads WHERE {odd}{anonymous})"
    ).fetchone()[0]
