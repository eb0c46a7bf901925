"""The real query workload from pg_stat_statements, for the application's database only (its
`dbid`), and which statements are the application's own known operations.

- `availability(conn)`: whether the extension is preloaded (shared_preload_libraries),
  installed in this database (CREATE EXTENSION), whether the role may read other roles'
  statements (pg_read_all_stats, which pg_monitor includes), and when the statistics were last
  reset (pg_stat_statements_info, PostgreSQL 14+);
- `workload(conn, available)`: one row per statement (queryid) with its counters since the
  reset, summed over the roles that ran it (max: the largest); statements of other roles that
  the monitoring role may not read (their text reads `<insufficient privilege>`, their queryid
  NULL) are counted in `hidden`, never shown.

Known operations: KNOWN holds the statements the application's operations execute (app/users,
sessions, uploads, cache, portfolio), taken from the constants of accounts.py and
extractions.py, never retyped. They are matched on normalised text (lowercase, whitespace
collapsed), each written as pg_stat_statements shows it (as_executed): psycopg sends $1, $2 ...
for its parameters and the view numbers the constants after them, so the numbers tell apart
two statements that differ only in constants (setting the portfolio, clearing it to NULL).
"""
import itertools
import re

from r2w_db.backends.postgresql import accounts, extractions

ENABLE = ("to enable it: shared_preload_libraries = 'pg_stat_statements' in postgresql.conf and a "
          "restart, CREATE EXTENSION pg_stat_statements; in the database, and GRANT "
          "pg_read_all_stats TO <monitor role>;")
HIDDEN = ("statement(s) of other roles read as <insufficient privilege>: "
          "GRANT pg_read_all_stats TO {role}; (or pg_monitor) to see them")

# (operation, statement): the application's own, as executed by the app-level named queries
KNOWN = (
    ("create a user", accounts.NEW_USER),
    ("user exists", accounts.USER_EXISTS),
    ("user by id", accounts.USER_ROW),
    ("user by email", accounts.USER_BY_EMAIL),
    ("update a user's profile", accounts.PROFILE_UPDATE),
    ("create a session", accounts.NEW_SESSION),
    ("active session's user", accounts.ACTIVE_SESSION_USER),
    ("delete a session", accounts.DELETE_SESSION),
    ("set the portfolio", accounts.SET_PORTFOLIO),
    ("read the portfolio", accounts.PORTFOLIO),
    ("clear the portfolio", accounts.CLEAR_PORTFOLIO),
    ("job exists", extractions.JOB_EXISTS),
    ("create an upload", extractions.NEW_UPLOAD),
    ("a user's uploads", extractions.USER_UPLOADS),
    ("uploads of several users", extractions.UPLOADS_OF_USERS),
    ("lock an upload's owner", extractions.UPLOAD_OWNER),
    ("lock a user", extractions.USER_LOCKED),
    ("transfer an upload", extractions.TRANSFER),
    ("set an upload's status", extractions.SET_STATUS),
    ("set an upload's status and data", extractions.SET_STATUS_AND_DATA),
    ("cache hit", extractions.CACHE_HIT),
    ("cache an extraction", extractions.CACHE_WRITE),
)
_PARAMETER = re.compile(r"%\((\w+)\)s|%s")
# a number, a string or a NULL value is a constant ("IS [NOT] NULL" is not); never $1's 1
_CONSTANT = re.compile(r"'(?:[^']|'')*'|(?<![\w.$])\d+(?:\.\d+)?\b|(?<!\bis )(?<!\bnot )\bnull\b",
                       re.IGNORECASE)
_COMPOSED = "{}"   # a part composed at run time: the profile's `"column" = $n` list
_COLUMNS = r'"\w+"=\$\d+(?:,"\w+"=\$\d+)*'


def as_executed(statement):
    """A statement as pg_stat_statements shows it: psycopg's $n for its parameters (numbered
    by a name's first appearance), then its constants numbered after them, in order."""
    names = {}

    def parameter(match):
        key = match.group(1) or object()   # each %s is a parameter of its own
        names.setdefault(key, len(names) + 1)
        return f"${names[key]}"

    text = _PARAMETER.sub(parameter, statement)
    after = itertools.count(len(names) + 1)
    return _CONSTANT.sub(lambda match: f"${next(after)}", text)


def normalised(text):
    """Lowercase, whitespace collapsed (none around punctuation)."""
    text = re.sub(r"\s+", " ", str(text)).strip().lower()
    return re.sub(r"\s*([(),=])\s*", r"\1", text)


def _pattern(statement):
    text = normalised(as_executed(statement))
    if _COMPOSED not in text:
        return re.compile(re.escape(text) + r"\Z")
    # the composed columns come first, so every $n after them is numbered at run time
    parts = [re.sub(r"\\\$\d+", r"\\$\\d+", re.escape(p)) for p in text.split(_COMPOSED)]
    return re.compile(_COLUMNS.join(parts) + r"\Z")


_MATCHERS = tuple((name, _pattern(sql)) for name, sql in KNOWN)


def known_operation(query):
    """The name of the application's operation that runs `query`, or None."""
    text = normalised(query)
    return next((name for name, pattern in _MATCHERS if pattern.match(text)), None)


def availability(conn):
    """{"preloaded", "installed", "privileged", "role", "stats_reset", "schema"}: what reading
    pg_stat_statements needs. shared_preload_libraries is read from pg_settings; a role that
    may not see it (no pg_read_all_settings) learns it by reading the view in a savepoint, and
    without the extension it stays None (unknown)."""
    row = conn.execute(
        "SELECT (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'),"
        " current_user, pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')"
        " OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),"
        " (SELECT extnamespace::regnamespace::text FROM pg_extension"
        "  WHERE extname = 'pg_stat_statements')").fetchone()
    libraries, schema = row[0], row[3]
    preloaded = (None if libraries is None else
                 "pg_stat_statements" in {n.strip().strip('"') for n in libraries.split(",")})
    if preloaded is None and schema is not None:
        preloaded = _readable(conn, schema)
    found = {"preloaded": preloaded, "installed": schema is not None, "privileged": bool(row[2]),
             "role": row[1], "schema": schema, "stats_reset": None}
    if preloaded and schema is not None:
        found["stats_reset"] = _stats_reset(conn, schema)
    return found


def _readable(conn, schema):
    """Whether the view answers (it refuses unless the library was preloaded)."""
    import psycopg
    from psycopg import sql

    try:
        with conn.transaction():   # a savepoint: the refusal leaves the reader usable
            conn.execute(sql.SQL("SELECT 1 FROM {}.pg_stat_statements LIMIT 1").format(
                sql.Identifier(schema)))
        return True
    except psycopg.errors.ObjectNotInPrerequisiteState:
        return False


def _stats_reset(conn, schema):
    """pg_stat_statements_info.stats_reset (PostgreSQL 14+), or None."""
    from psycopg import sql

    info = conn.execute("SELECT to_regclass(%s)", (f"{schema}.pg_stat_statements_info",)).fetchone()
    if info[0] is None:
        return None
    return conn.execute(sql.SQL("SELECT stats_reset FROM {}.pg_stat_statements_info").format(
        sql.Identifier(schema))).fetchone()[0]


def workload(conn, available):
    """({queryid: {"queryid", "query", "operation", "calls", "total_ms", "max_ms", "rows",
    "hit", "read"}}, hidden): this database's statements since the reset (counters summed over
    the roles and levels that ran them), and how many rows the role may not read.
    `available`: availability(conn), whose preloaded and installed are both true."""
    from psycopg import sql

    times = ("total_exec_time", "max_exec_time") if conn.info.server_version >= 130000 else (
        "total_time", "max_time")
    rows = conn.execute(sql.SQL(
        "SELECT queryid, count(*), min(query), sum(calls)::bigint, sum({total})::float8,"
        " max({max})::float8, sum(rows)::bigint, sum(shared_blks_hit)::bigint,"
        " sum(shared_blks_read)::bigint"
        " FROM {schema}.pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " GROUP BY queryid").format(total=sql.Identifier(times[0]), max=sql.Identifier(times[1]),
                                    schema=sql.Identifier(available["schema"]))).fetchall()
    found, hidden = {}, 0
    for queryid, n, query, calls, total, largest, returned, hit, read in rows:
        if queryid is None:   # other roles' statements, not readable by this one
            hidden += n
            continue
        found[int(queryid)] = {"queryid": int(queryid), "query": query,
                               "operation": known_operation(query), "calls": calls,
                               "total_ms": total, "max_ms": largest, "rows": returned,
                               "hit": hit, "read": read}
    return found, hidden
