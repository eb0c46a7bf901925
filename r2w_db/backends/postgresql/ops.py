"""PostgreSQL's SQL fragments: timestamps are timestamptz, compared as instants; anonymous ids by
starts_with; a conditional count is count(*) FILTER (WHERE ...)."""

PARAM = "%s"   # the parameter style of a positional statement (psycopg)
