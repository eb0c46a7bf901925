"""The query benchmark on PostgreSQL: the same named queries in PostgreSQL's SQL, timed the same way.

benchmark.run_benchmark dispatches here (backends.per_backend) for a PgDatabase. The queries
carry the names, titles and kinds of benchmark.default_queries; where the application, a
cleanup or a page runs a statement of its own on PostgreSQL, that very statement is timed
(pg_operations, pg_retention, pg_stats, pg_overview, pg_periods). Everything runs in ONE read-only
REPEATABLE READ transaction; each statement is timed with benchmark.time_statement
(`conn.execute(sql, params).fetchall()` and nothing else inside the clock; psycopg prepares it
server-side after a few executions, as SQLite's statement cache does).

Plans come from plain `EXPLAIN (FORMAT JSON)`: the statement is planned, never executed (no
ANALYZE). Each plan node becomes one line ("Index Scan using sessions_pkey on sessions (Index
Cond: (session_id = ?))"): every literal the planner inlined is shown as `?`, so a sampled
session id or e-mail never reaches a stored run, and two runs with other samples have the same
lines. A full table scan is a Seq Scan of a LARGE table: more than LARGE_TABLE_ROWS rows by
pg_class.reltuples (an exact count for a table never analysed). A Seq Scan of a smaller table
is cheap, and often the planner's best choice, so it is noted, not flagged. An Index Only Scan
without an index condition reads every entry of a covering index: the covering-index scan.
"""
import json
import random
import re
import time

from r2w_db import config, errors
from r2w_db.app.cache import MAX_ACCESS_COUNT
from r2w_db.backends.postgresql.operations import ACTIVE_SESSION_USER
from r2w_db.backends.postgresql.retention import ANON, COUNT_STALE, OLD_SESSION, OLD_UNUSED_ENTRY
from r2w_db.bench import benchmark
from r2w_db.bench.benchmark import MISSING, Query, shown, summarise, time_statement
from r2w_db.engine import schema, timeutil
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.database import as_pg
from r2w_db.backends.postgresql import stats as pg_stats
from r2w_db.backends.postgresql.overview import HITS_BY_PERIOD
from r2w_db.backends.postgresql.periods import PG_PERIOD_FORMAT, UPLOAD_IN_WINDOW, per_period, utc

LARGE_TABLE_ROWS = 10_000
PLAN_METHOD = "EXPLAIN (FORMAT JSON)"
SAMPLE_ROWS = 64        # rows drawn per sampled parameter (TABLESAMPLE SYSTEM), one picked
CONDITIONS = ("Index Cond", "Recheck Cond", "Hash Cond", "Merge Cond", "Join Filter", "Filter")
PG_TYPES = (r"timestamp with time zone|double precision|text\[\]|text|integer|bigint|numeric"
            r"|boolean|interval|date|float8\[\]|int4\[\]")
_LITERAL = re.compile(r"'(?:[^']|'')*'(?:::(?:" + PG_TYPES + "))?")
TABLE_ROWS = ("SELECT t, (SELECT reltuples FROM pg_class WHERE oid = to_regclass(t))"
              " FROM unnest(%(tables)s::text[]) AS t")
INDEX_LEADS = """
SELECT ic.relname, a.attname FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = i.indkey[0]
WHERE tc.relnamespace = current_schema()::regnamespace AND tc.relname = ANY(%(tables)s)"""


def full_scan_rule(large_rows=LARGE_TABLE_ROWS):
    return (f"a Seq Scan of a table of more than {large_rows:,} rows (pg_class.reltuples): "
            "every row of a large table is read")


# ----------------------------------------------------------------- the queries

def default_queries():
    """benchmark.default_queries' statements in PostgreSQL's SQL (same names, same order).

    `params` names the values each takes: a name is both the placeholder and the sampled value;
    a pair (placeholder, value) binds a statement reused from another module by its own name."""
    doc = "schema document"
    registered = (("user_id", "user_id_registered"),)
    whole_history = ("start", "end", "grain", "fmt")
    return [
        Query("cv_listing_by_user", "CV listing by user",
              "SELECT * FROM cv_uploads WHERE user_id = %(user_id)s ORDER BY upload_date DESC",
              ("user_id",), "listing", doc),
        Query("cache_lookup_by_hash", "Cache hit detection (by file_hash)",
              "SELECT cv_data FROM cv_extraction_cache WHERE file_hash = %(file_hash)s",
              ("file_hash",), "point", doc),
        Query("session_validation", "Session validation",
              "SELECT user_id FROM sessions WHERE session_id = %(session_id)s",
              ("session_id",), "point", doc),
        Query("user_by_email", "User by email (sign-in)",
              "SELECT * FROM users WHERE email = %(email)s", ("email",), "point", doc),
        Query("user_by_id", "User by id", "SELECT * FROM users WHERE user_id = %(user_id)s",
              registered, "point", doc),
        Query("upload_dedup_by_hash", "Deduplication check (uploads by file_hash)",
              "SELECT upload_id, user_id, status FROM cv_uploads WHERE file_hash = %(file_hash)s",
              (("file_hash", "upload_file_hash"),), "point", doc),
        Query("user_with_cvs", "User with CVs (one LEFT JOIN, the N+1 fix)",
              "SELECT u.*, c.job_id, c.filename, c.status, c.cv_data FROM users u"
              " LEFT JOIN cv_uploads c ON u.user_id = c.user_id WHERE u.user_id = %(user_id)s",
              registered, "listing", doc),
        Query("session_validation_active", "Session validation, active only (the app's)",
              ACTIVE_SESSION_USER, ("session_id", "session_cutoff"), "point"),
        Query("cleanup_sessions_scan", "Cleanup scan: sessions older than 7 days",
              "SELECT count(*) FROM sessions WHERE " + OLD_SESSION, ("session_cutoff",), "scan"),
        Query("cleanup_cache_scan", "Cleanup scan: cache older than 30 days, used once",
              "SELECT count(*) FROM cv_extraction_cache WHERE " + OLD_UNUSED_ENTRY,
              ("cache_cutoff",), "scan"),
        Query("stale_anonymous_scan", "Cleanup scan: anonymous ids with every upload > 30 days old",
              COUNT_STALE, ("anon", ("cutoff", "anon_cutoff")), "scan"),
        Query("hit_rate", "Cache hits over the whole history (stats)", pg_stats.HITS_SQL, (),
              "aggregate"),
        Query("hit_rate_per_upload", "Cache hits per day (the windows' statement, pg_overview)",
              HITS_BY_PERIOD, whole_history, "aggregate"),
        Query("status_counts", "Upload status counts", pg_stats.STATUS_SQL, (), "aggregate"),
        Query("uploads_per_day", "Uploads per day", per_period("upload_date", UPLOAD_IN_WINDOW),
              whole_history, "aggregate"),
        Query("cache_figures", "Cache figures (count, confidence, accesses; pg_stats.CACHE_SQL)",
              pg_stats.CACHE_SQL, ("low", "threshold", "max_count"), "aggregate"),
        Query("active_sessions", "Active sessions (last 7 days)",
              "SELECT count(*) FROM sessions WHERE created_at >= %(session_cutoff)s",
              ("session_cutoff",), "aggregate"),
        Query("anonymous_ids", "Anonymous ids (distinct owners)",
              "SELECT count(DISTINCT user_id) FROM cv_uploads WHERE starts_with(user_id, %(anon)s)",
              ("anon",), "aggregate"),
    ]


# ----------------------------------------------------------------- parameters

def sample_column(conn, rng, table, column, where="true", size=SAMPLE_ROWS, params=None):
    """Up to `size` values of table.column from pages picked by TABLESAMPLE SYSTEM (REPEATABLE
    with a seed drawn from `rng`: the same rng on unchanged data, the same rows), no full scan."""
    from psycopg import sql

    rows = table_rows(conn, (table,))[table]
    share = min(100.0, 100.0 * size * 4 / rows) if rows else 100.0
    query = sql.SQL("SELECT {c} FROM {t} TABLESAMPLE SYSTEM (%(share)s) REPEATABLE (%(seed)s)"
                    " WHERE {c} IS NOT NULL AND {w} LIMIT %(size)s").format(
        c=identifier(column), t=identifier(table), w=sql.SQL(where))
    found = [r[0] for r in conn.execute(query, {**(params or {}), "share": share, "size": size,
                                                "seed": rng.randrange(2**31)})]
    if not found:  # a sample of empty pages: the first rows instead
        found = [r[0] for r in conn.execute(
            sql.SQL("SELECT {c} FROM {t} WHERE {c} IS NOT NULL AND {w} LIMIT %(size)s").format(
                c=identifier(column), t=identifier(table), w=sql.SQL(where)),
            {**(params or {}), "size": size})]
    return found


def sample_parameters(conn, seed=None, now=None):
    """{name: value}: random existing keys (read-only) and the cutoffs and constants the
    statements take, as benchmark.sample_parameters (a missing key is MISSING, under "_missing")."""
    rng = random.Random(seed)
    now = now or timeutil.utcnow()

    def pick(table, column, where="true"):
        found = sample_column(conn, rng, table, column, where, params={"anon": ANON})
        return rng.choice(found) if found else None

    values = {
        "user_id": pick("cv_uploads", "user_id"),
        "user_id_registered": pick("users", "user_id", "NOT starts_with(user_id, %(anon)s)"),
        "file_hash": pick("cv_extraction_cache", "file_hash"),
        "upload_file_hash": pick("cv_uploads", "file_hash"),
        "session_id": pick("sessions", "session_id"),
        "email": pick("users", "email"),
    }
    missing = sorted(k for k, v in values.items() if v is None)
    values = {k: (MISSING if v is None else v) for k, v in values.items()}
    ago = timeutil.ago
    values.update(
        session_cutoff=utc(ago(now, days=config.SESSION_DAYS)),
        cache_cutoff=utc(ago(now, days=config.CACHE_RETENTION_DAYS)),
        anon_cutoff=utc(ago(now, days=config.ANONYMOUS_RETENTION_DAYS)),
        anon=ANON, low=config.LOW_CONFIDENCE, threshold=config.CACHE_THRESHOLD,
        max_count=MAX_ACCESS_COUNT, start=None, end=None, grain="day",
        fmt=PG_PERIOD_FORMAT["day"], _missing=missing)
    return values


def table_rows(conn, tables=tuple(schema.COLUMNS)):
    """{table: rows}: pg_class.reltuples, or an exact count for a table never analysed (-1)."""
    from psycopg import sql

    found = {}
    for table, estimate in conn.execute(TABLE_ROWS, {"tables": list(tables)}):
        if estimate is None:
            continue  # no such table
        found[table] = int(estimate) if estimate >= 0 else conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(identifier(table))).fetchone()[0]
    return found


def index_leads(conn, tables=tuple(schema.COLUMNS)):
    """{index: its first column} of the tables' indexes."""
    return dict(conn.execute(INDEX_LEADS, {"tables": list(tables)}).fetchall())


def _pairs(query):
    return [(p, p) if isinstance(p, str) else tuple(p) for p in query.params]


def bind(query, values, statement):
    """The statement's parameters: the query's fixed `param_values` (a tuple), else the sampled
    values it names, a dict for %(name)s placeholders or a tuple in order."""
    if query.param_values:
        return tuple(query.param_values)
    pairs = _pairs(query)
    if "%(" in statement:
        return {placeholder: values[name] for placeholder, name in pairs}
    return tuple(values[name] for _, name in pairs)


def _recorded(value):
    return timeutil.iso(value) if hasattr(value, "isoformat") else value


# ----------------------------------------------------------------- plans

def _literal_free(text):
    return _LITERAL.sub("?", text)


def _walk(node, depth=0):
    yield depth, node
    for child in node.get("Plans", []):
        yield from _walk(child, depth + 1)


def _node_name(node):
    kind = node["Node Type"]
    if kind == "Aggregate":
        kind = {"Hashed": "HashAggregate", "Sorted": "GroupAggregate",
                "Mixed": "MixedAggregate"}.get(node.get("Strategy"), kind)
    if node.get("Join Type") not in (None, "Inner") and kind.endswith("Join"):
        kind = kind.replace(" Join", f" {node['Join Type']} Join")
    return ("Parallel " if node.get("Parallel Aware") else "") + kind


def plan_line(node):
    """One plan node as a line, every literal shown as `?`."""
    line = _node_name(node)
    relation, index, alias = node.get("Relation Name"), node.get("Index Name"), node.get("Alias")
    if index and relation:
        line += f" using {index} on {relation}"
    elif index:
        line += f" on {index}"
    elif relation:
        line += f" on {relation}"
    if relation and alias and alias != relation:
        line += f" {alias}"
    if node.get("Sort Key"):
        line += f" (Sort Key: {', '.join(node['Sort Key'])})"
    for key in CONDITIONS:
        if node.get(key):
            line += f" ({key}: {_literal_free(node[key])})"
    return line


def classify(node, rows, large_rows=LARGE_TABLE_ROWS):
    """What one plan node does: full_scan, small_scan, covering_scan, index_scan, search, sort or
    other, with its table (or None)."""
    kind, table = node["Node Type"], node.get("Relation Name")
    if kind == "Sort":
        return "sort", None
    if table not in rows:
        return "other", None
    if kind == "Seq Scan":
        return ("full_scan" if rows[table] > large_rows else "small_scan"), table
    if kind in ("Index Only Scan", "Index Scan") and not node.get("Index Cond"):
        return ("covering_scan" if kind == "Index Only Scan" else "index_scan"), table
    if kind in ("Index Only Scan", "Index Scan", "Bitmap Heap Scan", "Tid Scan"):
        return "search", table
    return "other", table


def explain(conn, statement, params, rows, large_rows=LARGE_TABLE_ROWS, leads=None):
    """The plan of `EXPLAIN (FORMAT JSON)` (planned, not run) of a statement (text) and what it
    means, with benchmark.explain's keys. `rows`: {table: rows} (table_rows); `leads`: {index:
    first column} (index_leads), to note an index searched without its first column: PostgreSQL
    then reads the whole index (not a table scan, but no B-tree descent either)."""
    document = conn.execute("EXPLAIN (FORMAT JSON) " + statement, params).fetchone()[0]
    document = json.loads(document) if isinstance(document, str) else document
    nodes = list(_walk(document[0]["Plan"]))
    scanned, covering, notes = [], [], []
    for _, node in nodes:
        kind, table = classify(node, rows, large_rows)
        index = node.get("Index Name")
        if kind == "full_scan":
            scanned.append(table)
            notes.append(f"full table scan of {table} (Seq Scan, about {rows[table]:,} rows: "
                         f"more than {large_rows:,})")
        elif kind == "small_scan":
            notes.append(f"Seq Scan of {table}, a small table (about {rows[table]:,} rows, "
                         f"{large_rows:,} at most): not flagged")
        elif kind == "covering_scan":
            covering.append(table)
            notes.append(f"reads every entry of the covering index {index}: not a table scan, "
                         f"no {table} row is read (but those the visibility map does not cover)")
        elif kind == "index_scan":
            notes.append(f"visits every {table} row in the order of {index} (not covering)")
        elif kind == "sort":
            notes.append("sorts the rows (" + ", ".join(node.get("Sort Key", [])) + ")")
        lead = (leads or {}).get(index)
        if lead and node.get("Index Cond") and not re.search(rf"\b{re.escape(lead)}\b",
                                                             node["Index Cond"]):
            notes.append(f"reads every entry of {index}: its first column, {lead}, is not in the "
                         "condition")
    lines = [(depth, plan_line(node)) for depth, node in nodes]
    return {
        "plan": [line for _, line in lines],
        "plan_text": "\n".join("  " * depth + line for depth, line in lines),
        "full_scan": bool(scanned),
        "scanned_tables": sorted(set(scanned)),
        "covering_scan": bool(covering),
        "plan_notes": notes,
    }


# ----------------------------------------------------------------- the run

def server_version(conn):
    number = conn.info.server_version
    return f"{number // 10000}.{number % 10000}" if number >= 100000 else str(number)


def run_benchmark(db, iterations=benchmark.DEFAULT_ITERATIONS, queries=None, seed=0, now=None,
                  progress=None, budget_s=benchmark.DEFAULT_BUDGET_S, warmup=None,
                  large_rows=LARGE_TABLE_ROWS):
    """benchmark.run_benchmark on PostgreSQL: the same run dict (same keys), one read-only
    snapshot. `large_rows`: a Seq Scan of a table above it is a full table scan."""
    db = as_pg(db)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise errors.InvalidValue(f"iterations must be a whole number >= 1, not {iterations!r}")
    queries = default_queries() if queries is None else list(queries)
    warmup = max(2, min(10, iterations // 10)) if warmup is None else warmup
    started_at = timeutil.now_iso()
    wall = time.perf_counter()
    results = []
    with db.read() as conn:
        drift = pg_stats.require_schema(conn, db)
        rows_of, leads = table_rows(conn), index_leads(conn)
        values = sample_parameters(conn, seed=seed, now=now)
        for i, query in enumerate(queries):
            if progress:
                progress(i / len(queries), query.title)
            statement = query.sql if isinstance(query.sql, str) else query.sql.as_string(conn)
            params = bind(query, values, statement)
            returned = len(conn.execute(statement, params).fetchall())
            samples = time_statement(conn, statement, params, iterations, warmup, budget_s)
            pairs = _pairs(query)
            entry = {"name": query.name, "title": query.title, "kind": query.kind,
                     "source": query.source, "sql": statement,
                     "params": list(query.param_values) or
                     [shown(name, _recorded(values[name])) for _, name in pairs],
                     "rows": returned, **summarise(samples),
                     **explain(conn, statement, params, rows_of, large_rows, leads)}
            missing = [name for _, name in pairs if name in values["_missing"]]
            if missing:
                entry["note"] = f"no row to sample for {', '.join(missing)}: times a miss"
            elif query.note:
                entry["note"] = query.note
            results.append(entry)
        engine = f"PostgreSQL {server_version(conn)}"
    if progress:
        progress(1.0, "done")
    return {
        "database": db.display,
        "started_at": started_at,
        "seconds": round(time.perf_counter() - wall, 3),
        "iterations": iterations,
        "sqlite_version": None,
        "engine": engine,
        "plan_method": PLAN_METHOD,
        "full_scan_rule": full_scan_rule(large_rows),
        "schema_version": drift.version,
        "approx_rows": rows_of,
        "queries": results,
    }
