"""The time window on PostgreSQL: its SQL (a window's bounds as parameters, UTC periods, the
reader at the documented schema) is window_sql.py's, offered by ops.py; re-exported here for the
engine modules that still read it from this module."""
from r2w_db.backends.postgresql.window_sql import (  # noqa: F401  (re-exported)
    CREATED_IN_WINDOW, FIRST_IN_WINDOW, FIRST_SEEN_ANONYMOUS, ISO_FORMAT, PG_PERIOD_FORMAT,
    U_UPLOAD_IN_WINDOW, UPLOAD_IN_WINDOW, per_period, period_rows, read, rows, utc, window_params)
