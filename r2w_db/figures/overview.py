"""The overview's headline figures for a window and the one before it, and the cache-hit count
that the overview and the Cache hits page share."""
from r2w_db import config
from r2w_db.engine import schema, timeutil
from r2w_db.backends.sqlite import predicates as P
from r2w_db.backends.sqlite.database import as_database
from r2w_db.backends.dispatch import per_backend
from r2w_db.figures import stats
from r2w_db.figures.periods import Window, ratio, read, window_where

# Cache hit (DESIGN.md): an upload whose file_hash has an entry created strictly before it.
# Two ways to count hits among the uploads of a window (alias u), same result (file_hash is the
# cache's primary key, so an upload matches at most one entry):
# - per upload: look its hash up in the cache (cost ~ uploads of the window);
# - per cache entry: walk the cache on its (file_hash, created_at) index and find each file's
#   uploads of the window on the (file_hash, upload_date) index of migration 9 (cost ~ cache
#   entries; as stats.HITS_SQL does for all time). No table row is read either way.
HIT = """(u.file_hash <> '' AND EXISTS (
    SELECT 1 FROM cv_extraction_cache c {indexed_by} WHERE c.file_hash = u.file_hash
       AND julianday(c.created_at) < julianday(u.upload_date)))"""
HITS_PER_UPLOAD = "SELECT {period} AS period, count(*) FROM cv_uploads u WHERE {where} AND {hit} GROUP BY 1"
HITS_PER_ENTRY = """
SELECT {period} AS period, count(*) FROM cv_extraction_cache c CROSS JOIN cv_uploads u
    ON u.file_hash = c.file_hash
WHERE c.file_hash <> '' AND julianday(c.created_at) < julianday(u.upload_date) AND {where}
GROUP BY 1"""
HIT_INDEX = "idx_extraction_cache_hash_created"      # migration 8
UPLOAD_HASH_INDEX = "idx_cv_uploads_hash_date"        # migration 9
# Walk the cache when the window's hashed uploads outnumber this share of its entries
# (measured on 600k uploads / 240k entries: ~2 µs per upload looked up, ~0.8 µs per entry walked).
WALK_SHARE = 0.4

# ------------------------------------------------------------------ cache hits

def hit_sql(conn, indexes=None):
    """The per-upload hit expression. SQLite prefers the cache's unique primary key for the
    lookup, which then reads the cache row (created_at sits after the multi-kilobyte cv_data);
    where migration 8's (file_hash, created_at) index exists, it is named so that the lookup
    never leaves the index. Without it the figure is the same, only slower."""
    indexes = schema.existing_indexes(conn) if indexes is None else indexes
    return HIT.format(indexed_by=f"INDEXED BY {HIT_INDEX}" if HIT_INDEX in indexes else "")


def hits(conn, window: Window, hashed, group=("NULL", ())):
    """[(group, hits)] among the uploads of the window, grouped by `group` ((sql, params) of an
    expression on u.upload_date: a period, a side; one row by default).

    `hashed` (the window's uploads with a file_hash) picks the cheaper way to count.
    """
    where, params = window.where("u.upload_date")
    indexes = schema.existing_indexes(conn)
    walk = HIT_INDEX in indexes and UPLOAD_HASH_INDEX in indexes and hashed > WALK_SHARE * (
        conn.execute("SELECT max(rowid) FROM cv_extraction_cache").fetchone()[0] or 0)
    sql = HITS_PER_ENTRY if walk else HITS_PER_UPLOAD
    return conn.execute(sql.format(period=group[0], where=where, hit=hit_sql(conn, indexes)),
                        (*group[1], *params)).fetchall()


# ------------------------------------------------------------------ the overview headline
# A window and the previous one. Plain counts run once per window on the covering indexes
# (a GROUP BY on the side costs more than a second range scan); the two costly passes, the
# hit walk and the anonymous ids' first sightings, run once over `span` and split by `side`.

def sides(window: Window):
    """[("current", window), ("previous", window.previous)] (no previous for all time)."""
    return [("current", window)] + ([("previous", window.previous)] if window.previous else [])


def span(window: Window):
    """The window together with the previous one (they are adjacent)."""
    if window.previous is None:
        return window
    return Window.between(window.previous.start, window.end, now=window.now, grain=window.grain)


def side(expr, window: Window, julian=False):
    """(sql, params): 'current' or 'previous' for a timestamp (or julianday value) in span."""
    if window.previous is None:
        return "'current'", ()
    value = expr if julian else f"julianday({expr})"
    return (f"(CASE WHEN {value} >= julianday(?) THEN 'current' ELSE 'previous' END)",
            (timeutil.iso(window.start),))


def upload_counts(conn, window: Window):
    """Uploads of a window, one count per status the application writes (config.STATUSES),
    stuck jobs and uploads with a file_hash."""
    where, params = window.where("u.upload_date")
    stuck, stuck_params = P.older_than("u.upload_date",
                                       timeutil.ago(window.now, minutes=config.STUCK_MINUTES))
    statuses = "".join(f"coalesce(sum(u.status = '{s}'), 0) AS {s}, " for s in config.STATUSES)
    return dict(conn.execute(f"""
        SELECT count(*) AS uploads, {statuses}
               coalesce(sum(u.status = 'processing' AND {stuck}), 0) AS stuck,
               coalesce(sum(u.file_hash IS NOT NULL AND u.file_hash <> ''), 0) AS hashed
        FROM cv_uploads u WHERE {where}""", (*stuck_params, *params)).fetchone())


def stuck_in(conn, window: Window):
    """Uploads of the window still 'processing' more than 60 minutes after upload, as of
    window.now (upload_counts' `stuck`, on its own)."""
    where, params = window.where("u.upload_date")
    stuck, stuck_params = P.older_than("u.upload_date",
                                       timeutil.ago(window.now, minutes=config.STUCK_MINUTES))
    return conn.execute(f"SELECT count(*) FROM cv_uploads u WHERE u.status = 'processing'"
                        f" AND {stuck} AND {where}", (*stuck_params, *params)).fetchone()[0]


def upload_figures(conn, window: Window):
    """{side: uploads, statuses, stuck jobs, cache hits and rates among the uploads of a side}."""
    figures = {name: upload_counts(conn, w) for name, w in sides(window)}
    hashed = sum(f["hashed"] for f in figures.values())
    hit_counts = dict(hits(conn, span(window), hashed, side("u.upload_date", window)))
    for name, f in figures.items():
        f["hits"] = hit_counts.get(name, 0)
        f["other"] = f["uploads"] - sum(f[s] for s in config.STATUSES)
        f["failure_rate"] = ratio(f["failed"], f["completed"] + f["failed"])
        f["cache_hit_rate"] = stats.hit_rate_from(f["hashed"], f["hits"])
    return figures


def first_seen_anonymous_sql(since=None, until=None, short=False):
    """(sql, params) of (user_id, first): each anonymous id and the instant (julianday) it was
    first seen, over its uploads and, should one exist, its users row. With `since` (and
    `until`) only ids that have an upload or a users row in [since, until), as any id first
    seen then has: each of them is looked up on the (user_id, upload_date) index, so a short
    range costs its own ids, not every anonymous upload. `short`: the range is a few hours,
    so its ids are found on the upload_date index (SQLite would walk every anonymous id on
    the user_id one)."""
    users = f"SELECT user_id, julianday(created_at) FROM users WHERE {P.is_anonymous()}"
    if since is None and until is None:
        return f"""
        SELECT user_id, min(first) AS first FROM (
            SELECT user_id, min(julianday(upload_date)) AS first FROM cv_uploads
            WHERE {P.is_anonymous()} GROUP BY user_id
            UNION ALL {users})
        GROUP BY user_id""", ()
    uploaded, uploaded_params = window_where("upload_date", since, until)
    created, created_params = window_where("created_at", since, until)
    return f"""
        SELECT user_id, min(first) AS first FROM (
            SELECT ids.user_id, (SELECT min(julianday(o.upload_date)) FROM cv_uploads o
                                 WHERE o.user_id = ids.user_id) AS first
            FROM (SELECT user_id FROM cv_uploads
                  WHERE {P.is_anonymous("+user_id" if short else "user_id")} AND {uploaded}
                  UNION SELECT user_id FROM users WHERE {P.is_anonymous()} AND {created}) ids
            UNION ALL {users})
        GROUP BY user_id""", (*uploaded_params, *created_params)


def julian_where(expr, window: Window):
    """(sql, params): a julianday-valued expression lies in the window."""
    parts, params = [], []
    if window.start is not None:
        parts.append(f"{expr} >= julianday(?)")
        params.append(timeutil.iso(window.start))
    if window.end is not None:
        parts.append(f"{expr} < julianday(?)")
        params.append(timeutil.iso(window.end))
    return (" AND ".join(parts) or "1"), tuple(params)


def people_figures(conn, window: Window):
    """{side: registered users created in it, anonymous ids first seen in it}."""
    figures = {}
    for name, w in sides(window):
        where, params = w.where("created_at")
        figures[name] = {"registered_new": conn.execute(
            f"SELECT count(*) FROM users WHERE {P.not_anonymous()} AND {where}", params).fetchone()[0]}
    # all time: "1", so that an id whose every timestamp is unparseable still counts
    jwhere, jparams = julian_where("first", span(window))
    group, gparams = side("first", window, julian=True)
    first_sql, first_params = first_seen_anonymous_sql(span(window).start)
    anonymous = dict(conn.execute(
        f"SELECT {group}, count(*) FROM ({first_sql}) WHERE {jwhere} GROUP BY 1",
        (*gparams, *first_params, *jparams)).fetchall())
    for name, f in figures.items():
        f["anonymous_new"] = anonymous.get(name, 0)
    return figures


def confidence_average(conn, window: Window):
    """Mean valid confidence of the cache entries created in the window (None: none)."""
    where, params = window.where("created_at")
    return conn.execute(
        "SELECT avg(confidence_score) FROM cv_extraction_cache"
        f" WHERE confidence_score BETWEEN 0 AND 1 AND {where}", params).fetchone()[0]


@per_backend("r2w_db.backends.postgresql.overview")
def headline(db, window: Window):
    """The overview's figures: {"current": {...}, "previous": {...} or None, "now": {...}}.

    current/previous: registered_new, anonymous_new, uploads, completed, failed,
    processing, uploaded (waiting for extraction), other (a status the application
    never writes), stuck (uploads of the window still processing after 60
    minutes), hashed, hits, cache_hit_rate (None = no data), failure_rate
    (failed / (completed + failed), None = no finished job), average_confidence
    (of cache entries created in the window). now: active_sessions,
    stuck_total, size_bytes, wal_bytes, as of window.now.
    """
    db = as_database(db)
    with read(db) as conn:
        people, uploads = people_figures(conn, window), upload_figures(conn, window)
        figures = {name: {**people[name], **uploads[name],
                          "average_confidence": confidence_average(conn, w)}
                   for name, w in sides(window)}
        point = {"active_sessions": stats._active(conn, window.now),   # exactly as `stats`
                 "stuck_total": stats._stuck(conn, window.now)}
    point.update(stats.file_sizes(db.path))
    return {"current": figures["current"], "previous": figures.get("previous"), "now": point}
