"""SQLite's SQL fragments: timestamps are text compared as instants (julianday), with a string
range first so the column's index narrows the scan; anonymous ids by a literal prefix range."""
from r2w_db.backends.sqlite.predicates import (  # noqa: F401  (the fragments this engine offers)
    ANON_HIGH, ANON_LOW, at_or_after, between, count_before, day_of, invalid_access_count,
    is_anonymous, not_anonymous, older_than, unparseable, valid_access_count)
from r2w_db.engine import timeutil
from r2w_db.backends.sqlite.window_sql import (  # noqa: F401  (windows, periods, classes)
    BINNED, BINNED_PARAMS, VALID_CONFIDENCE, VALID_IN_WINDOW, first_seen_anonymous_sql, hit_sql, in_window,
    julian_where, period_of, status_class, window_where)

PARAM = "?"   # the parameter style of a positional statement


def instant(moment):
    """A naive UTC datetime as a statement's parameter: the stored text form."""
    return timeutil.iso(moment)
