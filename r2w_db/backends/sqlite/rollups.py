"""Roll-ups on SQLite: the figures of each period of a window, with the pages' own statements
(figures/rollups.py shapes them into its periods). Plain SQL on one read, no pandas: the watcher
rolls up an hour at a time."""
from r2w_db import config
from r2w_db.backends.sqlite import predicates as P
from r2w_db.engine import schema, timeutil
from r2w_db.backends.sqlite.ops import (BINNED, BINNED_PARAMS, VALID_CONFIDENCE, VALID_IN_WINDOW,
                                        first_seen_anonymous_sql, in_window, julian_where,
                                        period_of, status_class)
from r2w_db.backends.sqlite.overview import hits_by_period

# the sections of a period's figures counted by the one pass over the uploads (_uploads)
UPLOAD_SECTIONS = ("uploads", "file_types", "cache", "anonymous")


def fill(conn, window, periods, sections=None):
    """Count the window's rows into `periods` (rollups.Periods: slot(key) gives a period's
    figures, None outside; put(key, section, name, value) sets one figure): only the figures of
    `sections` (a set of their names; None: all), the others left as they are."""
    asked = (lambda name: sections is None or name in sections)
    slot, put, grain = periods.slot, periods.put, window.grain
    if any(asked(name) for name in UPLOAD_SECTIONS):
        where, params = in_window("u.upload_date", window, "cv_uploads")
        _uploads(conn, period_of("u.upload_date", grain), where, params, slot, asked)
    if asked("cache"):
        hashed = sum(p["cache"]["hashed"] for p in periods.found.values())
        for key, n in hits_by_period(conn, window, hashed):
            put(key, "cache", "hits", n)
    if asked("anonymous"):
        _new_ids(conn, window, periods)
    if asked("confidence"):
        _confidence(conn, window, slot)
    if asked("confidence_models"):
        _confidence_models(conn, window, slot)
    for name, table, extra in (("signups", "users", f" AND {P.not_anonymous()}"),
                               ("sessions_created", "sessions", "")):
        if not asked(name):
            continue
        where, params = in_window("created_at", window, table)
        for key, n in conn.execute(
                f"SELECT {period_of('created_at', grain)}, count(*) FROM {table}"
                f" WHERE {where}{extra} GROUP BY 1", params):
            if slot(key) is not None:
                slot(key)[name] = n


def _new_ids(conn, window, periods):
    """anonymous.ids_by_period's new ids, without its running total of owners: the same SQL.
    A live edge (timeutil.is_short) finds its ids on the upload_date index
    (window_sql.first_seen_anonymous_sql)."""
    first_sql, first_params = first_seen_anonymous_sql(
        window.start, window.end, timeutil.is_short(periods.start, periods.end))
    jwhere, jparams = julian_where("first", window)
    for key, n in conn.execute(f"SELECT {period_of('first', window.grain)}, count(*)"
                               f" FROM ({first_sql}) WHERE {jwhere} GROUP BY 1",
                               (*first_params, *jparams)):
        periods.put(key, "anonymous", "new_ids", n)


FIRST_INSTANT, LAST_INSTANT = "0001-01-01T00:00:00", "9999-12-31T23:59:59.999"


def first_day(conn, time_columns, since=None, until=None):
    """The earliest UTC day ('YYYY-MM-DD') in [since, until) (naive UTC datetimes, None:
    unbounded) any of [(table, column)] has a readable timestamp on, or None. Always a day
    of years 1 to 9999: SQLite reads year 0 and julian day numbers too."""
    low = timeutil.iso(since) if since is not None else FIRST_INSTANT
    high = timeutil.iso(until) if until is not None else LAST_INSTANT
    found = [conn.execute(f"SELECT min(julianday({column})) FROM {table}"
                          f" WHERE julianday({column}) >= julianday(?)"
                          f" AND julianday({column}) < julianday(?)", (low, high)).fetchone()[0]
             for table, column in time_columns]
    found = [j for j in found if j is not None]
    if not found:
        return None
    return conn.execute("SELECT date(?)", (min(found),)).fetchone()[0]


def data_clock(conn, time_columns, until):
    """The data's own clock: the newest readable timestamp of [(table, column)] not after
    `until` (a naive UTC datetime), as naive UTC ISO text, or None. Canonical timestamps are
    read off the column's index by text, the odd ones (migration 9's partial index) by
    julianday."""
    bound, newest = timeutil.iso(until), []
    for table, column in time_columns:
        odd = schema.time_is_odd(column)
        row = conn.execute(f"SELECT julianday({column}) FROM {table} WHERE {column} <= ?"
                           f" AND NOT {odd} ORDER BY {column} DESC LIMIT 1", (bound,)).fetchone()
        newest.append(row and row[0])
        newest.append(conn.execute(f"SELECT max(julianday({column})) FROM {table} WHERE {odd}"
                                   f" AND julianday({column}) <= julianday(?)",
                                   (bound,)).fetchone()[0])
    newest = [j for j in newest if j is not None]
    if not newest:
        return None
    return conn.execute("SELECT strftime('%Y-%m-%dT%H:%M:%f', ?)", (max(newest),)).fetchone()[0]


def unplaced(conn, time_columns, since):
    """{"table.column": rows} of the rows no roll-up period can hold: a timestamp SQLite
    cannot read, or one before `since` (the first day the roll-ups cover). Counted on the
    column's index (canonical timestamps by text) and migration 9's partial index (the odd)."""
    bound, found = timeutil.iso(since), {}
    for table, column in time_columns:
        odd = schema.time_is_odd(column)
        found[f"{table}.{column}"] = conn.execute(
            f"SELECT (SELECT count(*) FROM {table} WHERE {column} < ? AND NOT {odd})"
            f" + (SELECT count(*) FROM {table} WHERE {odd} AND ({P.unparseable(column)}"
            f" OR julianday({column}) < julianday(?)))", (bound, bound)).fetchone()[0]
    return found


def _uploads(conn, period, where, params, slot, asked):
    """Uploads by status, file types, hashed and anonymous uploads per period, as asked: one
    pass over the window's uploads on the (upload_date, status, file_type, file_hash) index,
    which covers it unless the anonymous uploads are asked (user_id is read from the table)."""
    anonymous = (f"coalesce(sum({P.is_anonymous('u.user_id')}), 0)" if asked("anonymous")
                 else "0")
    types = {}
    for key, status, file_type, n, hashed, anonymous_uploads in conn.execute(
            f"SELECT {period}, {status_class('u.status')}, u.file_type, count(*),"
            " coalesce(sum(u.file_hash IS NOT NULL AND u.file_hash <> ''), 0),"
            f" {anonymous} FROM cv_uploads u WHERE {where} GROUP BY 1, 2, 3", params):
        figures = slot(key)
        if figures is None:
            continue
        if asked("uploads"):
            figures["uploads"][status] += n
            figures["uploads"]["total"] += n
        if asked("cache"):
            figures["cache"]["uploads"] += n
            figures["cache"]["hashed"] += hashed
        if asked("anonymous"):
            figures["anonymous"]["uploads"] += anonymous_uploads
        if asked("file_types"):
            got = types.setdefault(key, {}).setdefault(file_type, [0, 0, 0])
            got[0] += n
            got[1] += n if status == "failed" else 0
            got[2] += n if status in ("completed", "failed") else 0
    for key, found in types.items():
        slot(key)["file_types"] = sorted(([t, *v] for t, v in found.items()),
                                         key=lambda r: (-r[1], str(r[0])))


def _confidence(conn, window, slot):
    where, params = in_window("created_at", window, "cv_extraction_cache")
    valid = VALID_CONFIDENCE
    for row in conn.execute(
            f"SELECT {period_of('created_at', window.grain)}, count(*), coalesce(sum({valid}), 0),"
            " coalesce(sum(confidence_score IS NULL), 0),"
            " coalesce(sum(confidence_score < 0 OR confidence_score > 1), 0),"
            f" coalesce(sum({valid} AND confidence_score < ?), 0),"
            f" coalesce(sum({valid} AND confidence_score >= ? AND confidence_score < ?), 0),"
            f" coalesce(sum({valid} AND confidence_score >= ?), 0),"
            f" coalesce(sum(CASE WHEN {valid} THEN confidence_score END), 0.0)"
            f" FROM cv_extraction_cache WHERE {where} GROUP BY 1",
            (config.LOW_CONFIDENCE, config.LOW_CONFIDENCE, config.CACHE_THRESHOLD,
             config.CACHE_THRESHOLD, *params)):
        if slot(row[0]) is not None:
            slot(row[0])["confidence"].update(dict(zip(
                ("entries", "valid", "null", "out_of_range", "low", "below_threshold_not_low",
                 "cacheable", "score_sum"), tuple(row)[1:])))
    for day, bin_, n in conn.execute(
            f"SELECT {period_of('created_at', window.grain)}, {BINNED}, count(*)"
            f" FROM cv_extraction_cache WHERE {VALID_IN_WINDOW} AND {where} GROUP BY 1, 2",
            (*BINNED_PARAMS, *params)):
        if slot(day) is not None and 0 <= bin_ < len(slot(day)["confidence"]["histogram"]):
            slot(day)["confidence"]["histogram"][bin_] = n


def _confidence_models(conn, window, slot):
    """confidence.by_model's figures per period and model (the score's sum and the valid count
    for the mean), on the (created_at, ..., confidence_score, extraction_model) covering index."""
    where, params = in_window("created_at", window, "cv_extraction_cache")
    valid = VALID_CONFIDENCE
    for key, *row in conn.execute(
            f"SELECT {period_of('created_at', window.grain)}, extraction_model, count(*),"
            f" coalesce(sum({valid}), 0),"
            f" coalesce(sum(CASE WHEN {valid} THEN confidence_score END), 0.0),"
            f" coalesce(sum({valid} AND confidence_score < ?), 0),"
            f" coalesce(sum({valid} AND confidence_score < ?), 0),"
            f" coalesce(sum(NOT coalesce({valid}, 0)), 0)"
            f" FROM cv_extraction_cache WHERE {where} GROUP BY 1, 2",
            (config.LOW_CONFIDENCE, config.CACHE_THRESHOLD, *params)):
        if slot(key) is not None:
            slot(key)["confidence_models"].append(row)
