"""SQL fragments shared by every query: instants, anonymous ids, statuses.

Timestamps are compared as instants (julianday) so that a space separator or a
Z/+00:00 suffix sorts correctly; a string range around the cutoff comes first
so an index on the column can narrow the scan.
"""
from r2w_db import config
from r2w_db.engine import schema, timeutil

ANON_LOW, ANON_HIGH = "anonymous_", "anonymous`"  # '`' follows '_': a literal, case-sensitive prefix


def is_anonymous(column="user_id"):
    """Literal prefix match (LIKE would treat '_' as a wildcard and ignore case)."""
    return f"({column} >= '{ANON_LOW}' AND {column} < '{ANON_HIGH}')"


def not_anonymous(column="user_id"):
    return f"NOT {is_anonymous(column)}"


def odd_near(table, column, low=None, high=None):
    """(sql, params): some odd timestamp (schema.time_is_odd) of `table`'s `column` has its text
    in [low, high) (None: unbounded). One seek on migration 9's partial index of the odd rows,
    normally empty; without that index, the range on the column's own index."""
    bare = column.rsplit(".", 1)[-1]
    parts, params = [schema.time_is_odd(bare)], []
    for op, bound in ((">=", low), ("<", high)):
        if bound is not None:
            parts.append(f"{bare} {op} ?")
            params.append(bound)
    return f"EXISTS (SELECT 1 FROM {table} WHERE {' AND '.join(parts)})", tuple(params)


def _text_bound(table, column, slack, near, low, high):
    """(sql, params): a text bound of a live edge: `slack` (a day off the cutoff, for the odd
    timestamps) when an odd one lies in [low, high), else `near` (a second off: canonical
    timestamps sort as their instants). Decided inside the statement, on its own snapshot."""
    if table is None:
        return "?", (slack,)
    odd, params = odd_near(table, column, low, high)
    return f"(CASE WHEN {odd} THEN ? ELSE ? END)", (*params, slack, near)


def older_than(column, moment, table=None):
    """(sql, params): column is an instant strictly before moment. With `table` (a live edge):
    its text range ends a second after moment unless an odd timestamp lies within the day's
    slack (_text_bound)."""
    low, exact, high = timeutil.bounds(moment)
    bound, params = _text_bound(table, column, high, timeutil.near(moment)[1], None, high)
    return f"({column} < {bound} AND julianday({column}) < julianday(?))", (*params, exact)


def at_or_after(column, moment, table=None):
    """(sql, params): column is an instant at or after moment (`table`: as older_than)."""
    low, exact, high = timeutil.bounds(moment)
    bound, params = _text_bound(table, column, low, timeutil.near(moment)[0], low, None)
    return f"({column} >= {bound} AND julianday({column}) >= julianday(?))", (*params, exact)


def between(column, start, end, table=None):
    """(sql, params): start <= column < end, as instants (`table`: as older_than, on both sides)."""
    s_low, s_exact, _ = timeutil.bounds(start)
    _, e_exact, e_high = timeutil.bounds(end)
    low, low_params = _text_bound(table, column, s_low, timeutil.near(start)[0], s_low, e_high)
    high, high_params = _text_bound(table, column, e_high, timeutil.near(end)[1], s_low, e_high)
    return (f"({column} >= {low} AND {column} < {high} AND julianday({column}) >= julianday(?)"
            f" AND julianday({column}) < julianday(?))",
            (*low_params, *high_params, s_exact, e_exact))


def unparseable(column):
    """The timestamp is not an ISO-8601 date SQLite can read (counted under data quality)."""
    return f"(julianday({column}) IS NULL OR substr({column}, 5, 1) <> '-')"


def day_of(column):
    """The UTC calendar day of a timestamp, as 'YYYY-MM-DD'."""
    return f"date(julianday({column}))"


def count_before(table, column, moment):
    """(sql, params) of a scalar: the rows of `table` whose `column` is an instant strictly
    before moment, without parsing a canonical timestamp. Canonical timestamps (see
    schema.time_is_odd) sort as their instants, so they are counted by text on the column's
    index; the odd ones (migration 9's partial index, normally empty) are taken back out and
    counted by julianday."""
    odd, exact = schema.time_is_odd(column), timeutil.iso(moment)
    return (f"((SELECT count(*) FROM {table} WHERE {column} < ?)"
            f" - (SELECT count(*) FROM {table} WHERE {odd} AND {column} < ?)"
            f" + (SELECT count(*) FROM {table} WHERE {odd}"
            f" AND julianday({column}) < julianday(?)))"), (exact, exact, exact)


def valid_access_count(column="access_count"):
    """The access_count is a count (an integer from 0 to config.MAX_ACCESS_COUNT). NULL is not
    a count, nor invalid: the schema's default is 1, and sums leave it out."""
    return f"(typeof({column}) = 'integer' AND {column} BETWEEN 0 AND {config.MAX_ACCESS_COUNT})"


def invalid_access_count(column="access_count"):
    """The access_count holds something that is not a count (NULL excluded)."""
    return f"({column} IS NOT NULL AND NOT {valid_access_count(column)})"
