"""The overview's named queries on SQLite: a window's upload counts, its cache hits (by period
or by side), new people and the mean confidence.

Cache hit (docs/figures.md): an upload whose file_hash has an entry created
strictly before it. Two ways to count hits among the uploads of a window (alias u), same result
(file_hash is the cache's primary key, so an upload matches at most one entry):
- per upload: look its hash up in the cache (cost ~ uploads of the window);
- per cache entry: walk the cache on its (file_hash, created_at) index and find each file's
  uploads of the window on the (file_hash, upload_date) index of migration 9 (cost ~ cache
  entries; as stats' HITS_SQL does for all time). No table row is read either way.
A side splits a span (a window and the one before it) at `split`: 'current' from it on,
'previous' before it (None: all 'current').
"""
from r2w_db import config
from r2w_db.engine import timeutil
from r2w_db.backends.sqlite.schema import existing_indexes
from r2w_db.backends.sqlite.predicates import not_anonymous, older_than
from r2w_db.backends.sqlite.window_sql import (HIT_INDEX, VALID_IN_WINDOW, first_seen_anonymous_sql, hit_sql,
                                               in_window, julian_where, period_of)

HITS_PER_UPLOAD = "SELECT {period} AS period, count(*) FROM cv_uploads u WHERE {where} AND {hit} GROUP BY 1"
HITS_PER_ENTRY = """
SELECT {period} AS period, count(*) FROM cv_extraction_cache c CROSS JOIN cv_uploads u
    ON u.file_hash = c.file_hash
WHERE c.file_hash <> '' AND julianday(c.created_at) < julianday(u.upload_date) AND {where}
GROUP BY 1"""
UPLOAD_HASH_INDEX = "idx_cv_uploads_hash_date"        # migration 9
# Walk the cache when the window's hashed uploads outnumber this share of its entries
# (measured on 600k uploads / 240k entries: ~2 µs per upload looked up, ~0.8 µs per entry walked).
WALK_SHARE = 0.4


def _hits(conn, window, hashed, group=("NULL", ())):
    """[(group, hits)] among the uploads of the window, grouped by `group` ((sql, params) of an
    expression on u.upload_date: a period, a side; one row by default).

    `hashed` (the window's uploads with a file_hash) picks the cheaper way to count.
    """
    where, params = in_window("u.upload_date", window, "cv_uploads")
    indexes = existing_indexes(conn)
    walk = HIT_INDEX in indexes and UPLOAD_HASH_INDEX in indexes and hashed > WALK_SHARE * (
        conn.execute("SELECT max(rowid) FROM cv_extraction_cache").fetchone()[0] or 0)
    sql = HITS_PER_ENTRY if walk else HITS_PER_UPLOAD
    return conn.execute(sql.format(period=group[0], where=where, hit=hit_sql(conn, indexes)),
                        (*group[1], *params)).fetchall()


def _side(expr, split, julian=False):
    """(sql, params): 'current' or 'previous' for a timestamp (or julianday value)."""
    if split is None:
        return "'current'", ()
    value = expr if julian else f"julianday({expr})"
    return (f"(CASE WHEN {value} >= julianday(?) THEN 'current' ELSE 'previous' END)",
            (timeutil.iso(split),))


def hits_by_period(conn, window, hashed=None):
    """[(period, hits)] among the uploads of the window (`hashed`: its uploads with a
    file_hash, which picks the cheaper way to count; None counts per upload)."""
    return _hits(conn, window, hashed or 0, (period_of("u.upload_date", window.grain), ()))


def hits_by_side(conn, window, split, hashed):
    """[(side, hits)] among the uploads of a span split at `split`."""
    return _hits(conn, window, hashed, _side("u.upload_date", split))


def _stuck(moment_now):
    return older_than("u.upload_date", timeutil.ago(moment_now, minutes=config.STUCK_MINUTES))


def upload_counts(conn, window):
    """{uploads, one count per config.STATUSES, stuck, hashed} of the window's uploads."""
    where, params = in_window("u.upload_date", window, "cv_uploads")
    stuck, stuck_params = _stuck(window.now)
    statuses = "".join(f"coalesce(sum(u.status = '{s}'), 0) AS {s}, " for s in config.STATUSES)
    return dict(conn.execute(f"""
        SELECT count(*) AS uploads, {statuses}
               coalesce(sum(u.status = 'processing' AND {stuck}), 0) AS stuck,
               coalesce(sum(u.file_hash IS NOT NULL AND u.file_hash <> ''), 0) AS hashed
        FROM cv_uploads u WHERE {where}""", (*stuck_params, *params)).fetchone())


def stuck_in(conn, window):
    """Uploads of the window still 'processing' more than 60 minutes after upload, as of
    window.now (upload_counts' `stuck`, on its own)."""
    where, params = in_window("u.upload_date", window, "cv_uploads")
    stuck, stuck_params = _stuck(window.now)
    return conn.execute(f"SELECT count(*) FROM cv_uploads u WHERE u.status = 'processing'"
                        f" AND {stuck} AND {where}", (*stuck_params, *params)).fetchone()[0]


def registered_new(conn, window):
    """Registered users created in the window."""
    where, params = in_window("created_at", window, "users")
    return conn.execute(f"SELECT count(*) FROM users WHERE {not_anonymous()} AND {where}",
                        params).fetchone()[0]


def anonymous_new_by_side(conn, window, split):
    """[(side, ids)]: anonymous ids first seen in a span split at `split` (all time: "1", so
    that an id whose every timestamp is unparseable still counts)."""
    jwhere, jparams = julian_where("first", window)
    group, gparams = _side("first", split, julian=True)
    first_sql, first_params = first_seen_anonymous_sql(window.start)
    return conn.execute(f"SELECT {group}, count(*) FROM ({first_sql}) WHERE {jwhere} GROUP BY 1",
                        (*gparams, *first_params, *jparams)).fetchall()


def confidence_average(conn, window):
    """Mean valid confidence of the cache entries created in the window (None: none)."""
    where, params = in_window("created_at", window, "cv_extraction_cache")
    return conn.execute(
        "SELECT avg(confidence_score) FROM cv_extraction_cache"
        f" WHERE {VALID_IN_WINDOW} AND {where}", params).fetchone()[0]

