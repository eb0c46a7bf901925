"""PostgreSQL's SQL fragments: timestamps are timestamptz, compared as instants; anonymous ids by
starts_with; a conditional count is count(*) FILTER (WHERE ...)."""

from r2w_db.backends.postgresql.window_sql import (  # noqa: F401  (windows, periods)
    ANON, CREATED_IN_WINDOW, FIRST_IN_WINDOW, FIRST_SEEN_ANONYMOUS, ISO_FORMAT, PG_PERIOD_FORMAT,
    U_UPLOAD_IN_WINDOW, UPLOAD_IN_WINDOW, per_period, period_rows, rows, status_class, utc,
    window_params)

PARAM = "%s"   # the parameter style of a positional statement (psycopg)
