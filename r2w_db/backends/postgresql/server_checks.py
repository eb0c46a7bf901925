"""PostgreSQL's own health checks, in PgHero's spirit: each with its number, thresholds
(health.Thresholds, the `pg_*` fields) and a remedy a team can act on.

- connections: client connections in use against max_connections;
- long_queries / idle_in_transaction: queries active, sessions idle in a transaction, for
  longer than a threshold (other roles' sessions need pg_monitor to be read);
- dead_tuples / autovacuum: dead share of live + dead tuples on the four tables, and the time
  since a table that autovacuum should be cleaning was last vacuumed;
- unused_indexes / duplicate_indexes: indexes never scanned since the statistics were reset,
  and indexes whose columns are a prefix of another index's on the same table. Indexes the
  schema owns (documented, or this project's additions) are named but not counted: `migrate`
  would rebuild them, and the documented single-column indexes are prefixes of this
  project's covering ones by design;
- cache_hit_ratio: heap blocks hit / (hit + read) over the database's tables;
- wraparound: the oldest age(datfrozenxid) of the cluster against autovacuum_freeze_max_age
  (amber) and the 2^31 transaction-ID limit (red).

Every check runs in a savepoint of the health reader's transaction: a figure the role may not
read (permission denied) is an amber "cannot read: grant pg_monitor", never an error.

Engine-only work: each check returns a plain dict (key, title, status, value, detail, remedy,
measured = (number, unit, warn, crit), vacuum: whether VACUUM acts on it); figures/health.py
makes them health checks. `t` is health.Thresholds (its `pg_*` fields), passed in.
"""
from r2w_db import errors
from r2w_db.engine import schema
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.formatting import human_age, human_bytes

OK, WARN, ERROR = "ok", "warn", "error"   # health's statuses
XID_LIMIT = 2 ** 31
GRANT = "grant pg_monitor"
TITLES = {"connections": "Connections", "long_queries": "Long-running queries",
          "idle_in_transaction": "Sessions idle in a transaction", "dead_tuples": "Dead tuples",
          "autovacuum": "Autovacuum lag", "unused_indexes": "Unused indexes",
          "duplicate_indexes": "Duplicate indexes", "cache_hit_ratio": "Buffer cache hit ratio",
          "wraparound": "Transaction-ID wraparound"}  # key: the check function's name


def run(conn, t):
    """PostgreSQL's own checks, in a fixed order, on the health reader `conn`: plain dicts."""
    return [_guarded(conn, build, t) for build in CHECKS]


def _guarded(conn, build, t):
    import psycopg

    try:
        with conn.transaction():  # a savepoint: a refused statement leaves the reader usable
            return build(conn, t)
    except psycopg.errors.InsufficientPrivilege as exc:
        key = build.__name__
        return _check(key, WARN, "cannot read",
                      f"cannot read: {GRANT} ({errors.one_line(exc, 200)})",
                      "Grant the monitoring role pg_monitor (GRANT pg_monitor TO <role>), or run "
                      "the checks as the tables' owner.", (None, "", None, None))


def _check(key, status, value, detail, remedy, measured, vacuum=False):
    """A check titled from TITLES; the remedy only when it is not green."""
    return {"key": key, "title": TITLES[key], "status": status, "value": value, "detail": detail,
            "remedy": "" if status == OK else remedy, "measured": measured, "vacuum": vacuum}


def _level(value, warn, error):
    return ERROR if value >= error else WARN if value >= warn else OK


def _rows(conn, query, params=None):
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


# ------------------------------------------------------------------ sessions

ACTIVITY_SQL = """
SELECT pid, usename, coalesce(application_name, '') AS application, state,
       extract(epoch FROM now() - query_start)::float AS query_seconds,
       extract(epoch FROM now() - state_change)::float AS state_seconds,
       backend_type IS NULL AS hidden
FROM pg_stat_activity
WHERE pid <> pg_backend_pid()
  AND (backend_type = 'client backend'
       OR (backend_type IS NULL AND datid IS NOT NULL AND usesysid IS NOT NULL))"""
SETTINGS_SQL = """
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS reserved"""


def connections(conn, t):
    sessions = _rows(conn, ACTIVITY_SQL)
    limits = _rows(conn, SETTINGS_SQL)[0]
    used, limit = len(sessions) + 1, limits["max_connections"]  # + this reader
    share = used / limit
    status = _level(share, t.pg_connections_warn_share, t.pg_connections_error_share)
    return _check(
        "connections", status, f"{used:,} of {limit:,}",
        f"client connections in use: {share:.1%} of max_connections ({limits['reserved']} of them "
        "reserved for superusers); at the limit new connections are refused",
        "Pool the application's connections (PgBouncer in transaction "
        "mode, or a smaller pool per server); raise max_connections only with memory to spare. "
        "Who holds them: SELECT usename, application_name, state, count(*) FROM pg_stat_activity "
        "GROUP BY 1, 2, 3.",
        (round(share, 6), "", t.pg_connections_warn_share, t.pg_connections_error_share))


def _sessions_check(conn, t, key, states, seconds_of, warn_s, error_s, meaning, remedy):
    sessions = _rows(conn, ACTIVITY_SQL)
    hidden = sum(1 for s in sessions if s["hidden"])
    found = sorted((s for s in sessions if s["state"] in states and s[seconds_of] is not None
                    and s[seconds_of] > warn_s), key=lambda s: -s[seconds_of])
    status = OK if not found else _level(found[0][seconds_of], warn_s, error_s)
    detail = f"{meaning} for more than {human_age(warn_s)}"
    if found:
        detail += ": " + ", ".join(
            f"pid {s['pid']} ({s['usename']}{', ' + s['application'] if s['application'] else ''})"
            f" {human_age(s[seconds_of])}" for s in found[:5])
    value = f"{len(found):,}"
    if hidden:
        status = ERROR if status == ERROR else WARN
        detail += (f"; cannot read: {GRANT} ({hidden} session(s) of other roles are hidden "
                   "from this role)")
        value = value if found else "cannot read"
    if hidden:
        remedy += " To see every session, GRANT pg_monitor TO the monitoring role."
    return _check(key, status, value, detail, remedy,
                  (None if hidden and not found else len(found), "", 1, None))


def long_queries(conn, t):
    return _sessions_check(
        conn, t, "long_queries", ("active",), "query_seconds",
        t.pg_long_query_warn_seconds, t.pg_long_query_error_seconds, "queries running",
        "Find them: SELECT pid, now() - query_start, query FROM pg_stat_activity WHERE state = "
        "'active' ORDER BY 2 DESC; cancel one with SELECT pg_cancel_backend(pid) "
        "(pg_terminate_backend when that is not enough), then look at its plan (`bench`).")


def idle_in_transaction(conn, t):
    return _sessions_check(
        conn, t, "idle_in_transaction", ("idle in transaction", "idle in transaction (aborted)"),
        "state_seconds",
        t.pg_idle_tx_warn_seconds, t.pg_idle_tx_error_seconds,
        "sessions idle inside an open transaction (they hold locks and stop VACUUM)",
        "Fix the client that leaves transactions open (commit or roll back; close cursors); end "
        "one with SELECT pg_terminate_backend(pid); set idle_in_transaction_session_timeout.")


# ------------------------------------------------------------------ tables

TABLES_SQL = """
SELECT s.relname AS name, s.n_live_tup AS live, s.n_dead_tup AS dead,
       greatest(s.last_vacuum, s.last_autovacuum) AS vacuumed,
       extract(epoch FROM now() - greatest(s.last_vacuum, s.last_autovacuum))::float AS lag,
       coalesce(o.threshold, current_setting('autovacuum_vacuum_threshold')::float)
         + coalesce(o.scale, current_setting('autovacuum_vacuum_scale_factor')::float)
           * greatest(c.reltuples, 0) AS trigger,
       current_setting('autovacuum') = 'on' AND coalesce(o.enabled, true) AS autovacuum
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
LEFT JOIN LATERAL (
    SELECT max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_threshold')::float
             AS threshold,
           max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_scale_factor')::float
             AS scale,
           bool_and(option_value::bool) FILTER (WHERE option_name = 'autovacuum_enabled')
             AS enabled
    FROM pg_options_to_table(c.reloptions)) AS o ON true
WHERE s.schemaname = current_schema() AND s.relname = ANY(%(tables)s)
ORDER BY s.relname"""


def _tables(conn):
    return _rows(conn, TABLES_SQL, {"tables": list(schema.COLUMNS)})


def dead_tuples(conn, t):
    judged = [dict(r, share=r["dead"] / (r["live"] + r["dead"])) for r in _tables(conn)
              if r["dead"] >= max(t.pg_dead_min_rows, 1)]
    judged.sort(key=lambda r: -r["share"])
    share = judged[0]["share"] if judged else 0.0
    status = _level(share, t.pg_dead_warn_share, t.pg_dead_error_share) if judged else OK
    detail = (f"dead tuples as a share of live + dead, on tables with at least "
              f"{t.pg_dead_min_rows:,} dead")
    if judged:
        detail += ": " + ", ".join(f"{r['name']} {r['share']:.1%} ({r['dead']:,} dead)"
                                   for r in judged)
    return _check(
        "dead_tuples", status, f"{share:.1%}" + (f" ({judged[0]['name']})" if judged else ""),
        detail, "VACUUM the table (it marks the space reusable without blocking "
        "the application); if it keeps coming back, find what stops autovacuum (a long "
        "transaction) or make it run more often on that table (autovacuum_vacuum_scale_factor).",
        (round(share, 6), "", t.pg_dead_warn_share, t.pg_dead_error_share), vacuum=True)


def autovacuum(conn, t):
    due = [r for r in _tables(conn) if r["dead"] >= max(t.pg_dead_min_rows, 1)
           and r["dead"] > r["trigger"]]
    warn_s, error_s = t.pg_vacuum_warn_hours * 3600, t.pg_vacuum_error_hours * 3600
    lagging, worst = [], OK
    for r in due:
        status = WARN if r["lag"] is None else _level(r["lag"], warn_s, error_s)
        if status != OK:
            lagging.append((r, status))
            worst = status if worst != ERROR else worst
    detail = (f"tables that autovacuum should be cleaning (dead tuples above its trigger) and "
              f"that were not vacuumed for {human_age(warn_s)}")
    if lagging:
        detail += ": " + ", ".join(
            f"{r['name']} ({r['dead']:,} dead, "
            + ("never vacuumed" if r["lag"] is None else f"vacuumed {human_age(r['lag'])} ago")
            + ("" if r["autovacuum"] else ", autovacuum disabled") + ")" for r, _ in lagging)
    off = [r["name"] for r in due if not r["autovacuum"]]
    return _check(
        "autovacuum", worst, f"{len(lagging):,} table(s)", detail,
        "VACUUM the table now; then find why autovacuum does not: "
        + (f"it is disabled on {', '.join(off)} (ALTER TABLE ... RESET (autovacuum_enabled)); "
           if off else "")
        + "a long transaction or an idle-in-transaction session holds it back, or it is "
        "throttled (autovacuum_vacuum_cost_limit).", (len(lagging), "", 1, None), vacuum=True)


# ------------------------------------------------------------------ indexes

UNUSED_SQL = """
SELECT s.indexrelname AS name, s.relname AS table_name, pg_relation_size(s.indexrelid) AS bytes
FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.schemaname = current_schema() AND s.idx_scan = 0
  AND NOT i.indisunique AND NOT i.indisprimary AND i.indisvalid
  AND pg_relation_size(s.indexrelid) >= %(min_bytes)s
ORDER BY bytes DESC, name"""
RESET_SQL = "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()"
# pairs (a, b) on one table where a's key columns lead b's (or are the same), with the same
# access method, no expressions or predicates, a neither unique nor primary: b serves a's lookups
COVERING_SQL = """
WITH ix AS (
    SELECT i.indexrelid, i.indrelid, ic.relname AS name, tc.relname AS table_name,
           am.amname, i.indisunique OR i.indisprimary AS unique_index,
           array_to_string((i.indkey::int2[])[0:i.indnkeyatts - 1], ' ') AS keys,
           i.indnatts = i.indnkeyatts AS no_include,
           i.indexprs IS NULL AND i.indpred IS NULL AS plain
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_class tc ON tc.oid = i.indrelid JOIN pg_am am ON am.oid = ic.relam
    WHERE tc.relnamespace = current_schema()::regnamespace AND i.indisvalid)
SELECT a.name, a.table_name, b.name AS covering, a.keys = b.keys AS same_keys,
       b.unique_index AS covering_unique
FROM ix a JOIN ix b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
WHERE a.plain AND b.plain AND a.no_include AND NOT a.unique_index AND a.amname = b.amname
  AND b.keys || ' ' LIKE a.keys || ' %'
ORDER BY a.table_name, a.name, b.name"""


def _owned(name):
    return name in schema.INDEXES or name in pg_schema.INDEXES


def _split(found):
    return [f for f in found if not _owned(f["name"])], [f for f in found if _owned(f["name"])]


def unused_indexes(conn, t):
    found = _rows(conn, UNUSED_SQL, {"min_bytes": int(t.pg_unused_index_min_mb * 2**20)})
    extra, owned = _split(found)
    reset = conn.execute(RESET_SQL).fetchone()
    since = (f"since the statistics were reset ({reset[0]:%Y-%m-%d %H:%M} UTC)"
             if reset and reset[0] else "since the statistics began")
    detail = (f"indexes of at least {t.pg_unused_index_min_mb:g} MB never scanned {since}, "
              "unique ones left out")
    if extra:
        detail += ": " + ", ".join(f"{f['name']} on {f['table_name']} ({human_bytes(f['bytes'])})"
                                   for f in extra)
    if owned:
        detail += ("; the schema's own, not counted (migrate would rebuild them): "
                   + ", ".join(f["name"] for f in owned))
    status = WARN if extra else OK
    return _check(
        "unused_indexes", status, f"{len(extra):,}", detail,
        "Each one slows every write and takes space. If it stays unused "
        "over a full business cycle (and on every replica), DROP INDEX CONCURRENTLY it.",
        (len(extra), "", 1, None))


def _redundant(pair):
    """Whether a is the one to drop: b has more columns, or is unique; of two with the same
    columns, the one the schema does not own, else the second by name."""
    if not pair["same_keys"] or pair["covering_unique"]:
        return True
    mine, theirs = _owned(pair["name"]), _owned(pair["covering"])
    return (theirs and not mine) or (mine == theirs and pair["name"] > pair["covering"])


def duplicate_indexes(conn, t):
    found = {}
    for pair in filter(_redundant, _rows(conn, COVERING_SQL)):
        found.setdefault(pair["name"], {"name": pair["name"], "covering": []})[
            "covering"].append(pair["covering"])
    extra, owned = _split(list(found.values()))
    detail = "indexes whose columns lead another index on the same table, which serves them too"
    if extra:
        detail += ": " + ", ".join(f"{f['name']} (covered by {', '.join(f['covering'])})"
                                   for f in extra)
    if owned:
        detail += ("; the schema's own, by design, not counted: "
                   + ", ".join(f"{f['name']} ({', '.join(f['covering'])})" for f in owned))
    status = WARN if extra else OK
    return _check(
        "duplicate_indexes", status, f"{len(extra):,}", detail,
        "DROP INDEX CONCURRENTLY the covered index: the covering one "
        "answers the same lookups, and every write pays for both.", (len(extra), "", 1, None))


# ------------------------------------------------------------------ the server

CACHE_SQL = """
SELECT coalesce(sum(heap_blks_hit), 0)::bigint AS hit, coalesce(sum(heap_blks_read), 0)::bigint
       AS read
FROM pg_statio_user_tables"""
WRAPAROUND_SQL = """
SELECT datname, age(datfrozenxid)::bigint AS age,
       current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age
FROM pg_database ORDER BY age(datfrozenxid) DESC LIMIT 1"""


def cache_hit_ratio(conn, t):
    row = _rows(conn, CACHE_SQL)[0]
    blocks = row["hit"] + row["read"]
    crit = t.pg_cache_hit_error_ratio or None
    if blocks < max(t.pg_cache_hit_min_blocks, 1):
        return _check(
            "cache_hit_ratio", OK, "too few reads",
            f"{blocks:,} table blocks read since the statistics were reset: fewer than "
            f"{t.pg_cache_hit_min_blocks:,}, too few to judge", "",
            (None, "", t.pg_cache_hit_warn_ratio, crit))
    ratio = row["hit"] / blocks
    status = (ERROR if ratio < t.pg_cache_hit_error_ratio
              else WARN if ratio < t.pg_cache_hit_warn_ratio else OK)
    return _check(
        "cache_hit_ratio", status, f"{ratio:.2%}",
        f"table blocks found in shared_buffers: {row['hit']:,} of {blocks:,} "
        f"(amber below {t.pg_cache_hit_warn_ratio:.0%})",
        "The working set no longer fits in memory: raise shared_buffers "
        "(about a quarter of RAM) or add memory, and find the queries that read the most "
        "(pg_stat_statements, `bench`).", (round(ratio, 6), "", t.pg_cache_hit_warn_ratio, crit))


def wraparound(conn, t):
    row = _rows(conn, WRAPAROUND_SQL)[0]
    age, freeze = row["age"], row["freeze_max_age"]
    warn, error = t.pg_wraparound_warn_share * freeze, t.pg_wraparound_error_share * XID_LIMIT
    status = _level(age, warn, error)
    return _check(
        "wraparound", status, f"{age:,} xids",
        f"the oldest unfrozen transaction ID of the cluster (database {row['datname']}): "
        f"{age / freeze:.1%} of autovacuum_freeze_max_age ({freeze:,}), {age / XID_LIMIT:.2%} of "
        "the 2^31 limit at which PostgreSQL stops accepting writes",
        "Autovacuum is not freezing old rows: end what holds it back (a "
        "long or idle-in-transaction session, a forgotten prepared transaction or replication "
        "slot), then run VACUUM (FREEZE) on the oldest tables of that database.",
        (age, "", warn, error), vacuum=True)


CHECKS = (connections, long_queries, idle_in_transaction, dead_tuples, autovacuum,
          unused_indexes, duplicate_indexes, cache_hit_ratio, wraparound)
KEYS = tuple(check.__name__ for check in CHECKS)
