"""PostgreSQL's SQL fragments: timestamps are timestamptz, compared as instants; anonymous ids by
starts_with; a conditional count is count(*) FILTER (WHERE ...)."""
from datetime import timezone

from r2w_db.backends.postgresql.window_sql import (  # noqa: F401  (windows, periods)
    ANON, CREATED_IN_WINDOW, FIRST_IN_WINDOW, FIRST_SEEN_ANONYMOUS, ISO_FORMAT, PG_PERIOD_FORMAT,
    U_UPLOAD_IN_WINDOW, UPLOAD_IN_WINDOW, per_period, period_rows, rows, status_class, utc,
    window_params)

PARAM = "%s"   # the parameter style of a positional statement (psycopg)


def instant(moment):
    """A naive UTC datetime as a statement's parameter: an aware UTC instant (timestamptz)."""
    return moment.replace(tzinfo=timezone.utc)
