"""PostgreSQL's SQL for a time window and its periods: a window's bounds as statement
parameters, UTC periods, and the anonymous ids' first sightings. Re-exported by ops.py.

Conventions (stats.py's): every statement is a constant with named parameters; timestamps are
`timestamptz`, compared as instants; days and hours are UTC (`x AT TIME ZONE 'UTC'`,
`date_trunc`); a count that is summed is cast to bigint (sum(bigint) is numeric in PostgreSQL,
a Decimal in Python, where SQLite gives an int); text is ordered `COLLATE "C"` (byte order, as
SQLite's BINARY) and NULL first, as SQLite orders it.

A window is duck-typed (start, end, now, grain: periods.Window's): start <= t < end as
instants; an unbounded side is a NULL parameter, so the all-time window takes every row, as
SQLite's does.
"""
from contextlib import contextmanager
from datetime import timezone

from r2w_db import config

ANON = config.ANONYMOUS_PREFIX
PG_PERIOD_FORMAT = {"day": "YYYY-MM-DD", "hour": "YYYY-MM-DD HH24:00",   # periods.PERIOD_FORMAT's
                    "minute": "YYYY-MM-DD HH24:MI"}
ISO_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US'   # timeutil.iso's stored form

# `start <= column < end` for each timestamp a window is applied to (NULL: unbounded)
UPLOAD_IN_WINDOW = ("(%(start)s::timestamptz IS NULL OR upload_date >= %(start)s::timestamptz)"
                    " AND (%(end)s::timestamptz IS NULL OR upload_date < %(end)s::timestamptz)")
U_UPLOAD_IN_WINDOW = ("(%(start)s::timestamptz IS NULL OR u.upload_date >= %(start)s::timestamptz)"
                      " AND (%(end)s::timestamptz IS NULL OR u.upload_date < %(end)s::timestamptz)")
CREATED_IN_WINDOW = ("(%(start)s::timestamptz IS NULL OR created_at >= %(start)s::timestamptz)"
                     " AND (%(end)s::timestamptz IS NULL OR created_at < %(end)s::timestamptz)")
FIRST_IN_WINDOW = ("(%(start)s::timestamptz IS NULL OR first >= %(start)s::timestamptz)"
                   " AND (%(end)s::timestamptz IS NULL OR first < %(end)s::timestamptz)")

# Each anonymous id and the instant it was first seen, over its uploads and, should one exist,
# its users row (SQLite's first_seen_anonymous_sql). With %(since)s only the ids with an upload
# at or after it (any id first seen then has one): a window's new ids without all of history.
FIRST_SEEN_ANONYMOUS = """
SELECT user_id, min(first) AS first FROM (
    SELECT user_id, min(upload_date) AS first FROM cv_uploads
    WHERE starts_with(user_id, %(anon)s)
      AND (%(since)s::timestamptz IS NULL OR user_id IN (
          SELECT user_id FROM cv_uploads
          WHERE starts_with(user_id, %(anon)s) AND upload_date >= %(since)s::timestamptz))
    GROUP BY user_id
    UNION ALL
    SELECT user_id, created_at FROM users WHERE starts_with(user_id, %(anon)s)) AS seen
GROUP BY user_id"""


def utc(moment):
    """A naive UTC datetime (the project's time base) as an aware one; None stays None."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def window_params(window, **extra):
    """The parameters of a window's statements: start, end, now, grain, fmt, anon (+ extra)."""
    return {"start": utc(window.start), "end": utc(window.end), "now": utc(window.now),
            "grain": window.grain, "fmt": PG_PERIOD_FORMAT[window.grain], "anon": ANON, **extra}


def per_period(column, where, table="cv_uploads", values="count(*) AS n", by=None):
    """SELECT period (text), t, [by,] value columns: `values` aggregated per UTC period of
    `column` (and per `by`, a column) over the rows of `table` matching `where` (constants of
    the calling module; column, table and by go in as identifiers). Read it with period_rows."""
    from psycopg import sql

    extra = sql.SQL("") if by is None else sql.SQL(", {}").format(sql.Identifier(by))
    return sql.SQL(
        "SELECT to_char(t, %(fmt)s) AS period, p.* FROM ("
        "SELECT date_trunc(%(grain)s, {column} AT TIME ZONE 'UTC') AS t{extra}, {values}"
        " FROM {table} WHERE {where} GROUP BY 1{extra}) AS p").format(
            column=sql.Identifier(*column.split(".")), table=sql.Identifier(table), extra=extra,
            values=sql.SQL(values), where=sql.SQL(where))


def rows(conn, query, params):
    """[tuple] of a statement's rows."""
    return [tuple(r) for r in conn.execute(query, params)]


def period_rows(conn, query, params):
    """Rows of a per_period statement as (period, values...), without its timestamp t. The
    timestamp is read as text: PostgreSQL holds years Python cannot (10000 and later, BC), and
    one such row must not stop a figure (issue 19)."""
    from psycopg.types.string import TextLoader

    cursor = conn.cursor()
    for name in ("timestamp", "timestamptz"):
        cursor.adapters.register_loader(name, TextLoader)
    return [(r[0], *r[2:]) for r in cursor.execute(query, params)]


def status_class(status):
    """The status, or 'other' for anything the application never writes (None included)."""
    return status if status in config.STATUSES else "other"


@contextmanager
def read(db):
    """A read-only, one-snapshot connection to a PostgreSQL database at the documented schema
    (else a clear error), for engine work."""
    from r2w_db.backends.postgresql.database import as_pg
    from r2w_db.backends.postgresql.schema import require_schema

    db = as_pg(db)
    with db.read() as conn:
        require_schema(conn, db)
        yield conn
