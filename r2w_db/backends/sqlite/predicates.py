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


def older_than(column, moment):
    """(sql, params): column is an instant strictly before moment."""
    low, exact, high = timeutil.bounds(moment)
    return f"({column} < ? AND julianday({column}) < julianday(?))", (high, exact)


def at_or_after(column, moment):
    """(sql, params): column is an instant at or after moment."""
    low, exact, high = timeutil.bounds(moment)
    return f"({column} >= ? AND julianday({column}) >= julianday(?))", (low, exact)


def between(column, start, end):
    """(sql, params): start <= column < end, as instants."""
    s_low, s_exact, _ = timeutil.bounds(start)
    _, e_exact, e_high = timeutil.bounds(end)
    return (f"({column} >= ? AND {column} < ? AND julianday({column}) >= julianday(?)"
            f" AND julianday({column}) < julianday(?))", (s_low, e_high, s_exact, e_exact))


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
