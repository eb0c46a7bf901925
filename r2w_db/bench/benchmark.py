"""Timing the database's key queries: the schema document's and this project's own.

`run_benchmark(db)` samples parameters from real rows (read-only), then times each
query on one read-only connection: a few untimed warm-up executions, then
`iterations` timed ones, each `time.perf_counter_ns()` around
`conn.execute(sql, params).fetchall()` and nothing else. The statement is
compiled once and reused from the connection's statement cache.

Each result carries its `EXPLAIN QUERY PLAN` and whether it reads a whole table
(a `SCAN <table>` line without `USING ... INDEX`). A scan of a covering index
reads every entry of that index but not the table: it is reported as a
covering-index scan, not a full table scan.

`compare(current, previous)` calls out queries that became slower and plans that
changed. Runs are plain dicts (JSON-ready) and are stored by monitor.MonitorStore.
On PostgreSQL, run_benchmark dispatches to pg_benchmark (the same names, PostgreSQL's
SQL, plans from EXPLAIN (FORMAT JSON)); a run names its engine, plan method and
full-scan rule ("engine", "plan_method", "full_scan_rule").
"""
import hashlib
import math
import random
import re
import sqlite3
import statistics
import time
from dataclasses import dataclass, field

from r2w_db import config, errors
from r2w_db.engine import schema, timeutil
from r2w_db.backends.sqlite import predicates as P
from r2w_db.backends.dispatch import per_backend
from r2w_db.backends.sqlite.database import as_database
from r2w_db.figures import stats

DEFAULT_ITERATIONS = 100
DEFAULT_BUDGET_S = 3.0       # a slow query stops early (never below MIN_ITERATIONS) past this
MIN_ITERATIONS = 5
SLOWER_RATIO = 1.25          # compare(): slower when the median grew by more than this factor
SLOWER_MIN_MS = 0.05         # ... and by more than this many milliseconds
MISSING = "(none)"           # the parameter used when a table has no row to sample
PLAN_METHOD = "EXPLAIN QUERY PLAN"
FULL_SCAN_RULE = "a SCAN <table> plan step that uses no index: every row of the table is read"


@dataclass(frozen=True)
class Query:
    """One timed statement. `params` names the sampled values and cutoffs it takes, in order."""

    name: str
    title: str
    sql: str
    params: tuple = ()
    kind: str = "point"       # point (one key), listing, scan (cleanup), aggregate (dashboard)
    source: str = "project"   # "schema document" or "project"
    note: str = ""
    param_values: tuple = field(default=(), compare=False)  # fixed values (instead of `params`)


# ----------------------------------------------------------------- the queries

def _cleanup_sessions():
    where, _ = P.older_than("created_at", timeutil.utcnow())
    return f"SELECT count(*) FROM sessions WHERE {where}"


def _cleanup_cache():
    where, _ = P.older_than("created_at", timeutil.utcnow())
    return f"SELECT count(*) FROM cv_extraction_cache WHERE {where} AND access_count = 1"


def _stale_anonymous():
    # every upload of the id is older than the retention: no upload at or after the cutoff
    newer, _ = P.at_or_after("n.upload_date", timeutil.utcnow())
    return (f"SELECT count(DISTINCT u.user_id) FROM cv_uploads u WHERE {P.is_anonymous('u.user_id')}"
            f" AND NOT EXISTS (SELECT 1 FROM cv_uploads n WHERE n.user_id = u.user_id AND {newer})")


def _per_day():
    day = P.day_of("upload_date")
    return f"SELECT {day} AS day, count(*) AS uploads FROM cv_uploads GROUP BY day ORDER BY day"


def default_queries():
    """The benchmarked statements, the schema document's first."""
    doc = "schema document"
    return [
        Query("cv_listing_by_user", "CV listing by user",
              "SELECT * FROM cv_uploads WHERE user_id = ? ORDER BY upload_date DESC",
              ("user_id",), "listing", doc),
        Query("cache_lookup_by_hash", "Cache hit detection (by file_hash)",
              "SELECT cv_data FROM cv_extraction_cache WHERE file_hash = ?",
              ("file_hash",), "point", doc),
        Query("session_validation", "Session validation",
              "SELECT user_id FROM sessions WHERE session_id = ?",
              ("session_id",), "point", doc),
        Query("user_by_email", "User by email (sign-in)",
              "SELECT * FROM users WHERE email = ?", ("email",), "point", doc),
        Query("user_by_id", "User by id", "SELECT * FROM users WHERE user_id = ?",
              ("user_id_registered",), "point", doc),
        Query("upload_dedup_by_hash", "Deduplication check (uploads by file_hash)",
              "SELECT upload_id, user_id, status FROM cv_uploads WHERE file_hash = ?",
              ("upload_file_hash",), "point", doc),
        Query("user_with_cvs", "User with CVs (one LEFT JOIN, the N+1 fix)",
              "SELECT u.*, c.job_id, c.filename, c.status, c.cv_data FROM users u"
              " LEFT JOIN cv_uploads c ON u.user_id = c.user_id WHERE u.user_id = ?",
              ("user_id_registered",), "listing", doc),
        Query("session_validation_active", "Session validation, active only (the app's)",
              "SELECT user_id FROM sessions WHERE session_id = ?"
              " AND julianday(created_at) >= julianday(?)",
              ("session_id", "session_cutoff"), "point"),
        Query("cleanup_sessions_scan", "Cleanup scan: sessions older than 7 days",
              _cleanup_sessions(), ("session_old_high", "session_old_exact"), "scan"),
        Query("cleanup_cache_scan", "Cleanup scan: cache older than 30 days, used once",
              _cleanup_cache(), ("cache_old_high", "cache_old_exact"), "scan"),
        Query("stale_anonymous_scan", "Cleanup scan: anonymous ids with every upload > 30 days old",
              _stale_anonymous(), ("anon_new_low", "anon_new_exact"), "scan"),
        Query("hit_rate", "Cache hits over the whole history (stats)", stats.HITS_SQL, (),
              "aggregate"),
        Query("hit_rate_per_upload", "Cache hit test per upload (stats.HIT_SQL, for windows)",
              stats.HIT_SQL, (), "aggregate"),
        Query("status_counts", "Upload status counts",
              "SELECT status, count(*) AS n FROM cv_uploads GROUP BY status", (), "aggregate"),
        Query("uploads_per_day", "Uploads per day", _per_day(), (), "aggregate"),
        Query("cache_figures", "Cache figures (count, confidence, accesses; stats.CACHE_SQL)",
              stats.CACHE_SQL, ("low_confidence", "cache_threshold"), "aggregate"),
        Query("active_sessions", "Active sessions (last 7 days)",
              "SELECT count(*) FROM sessions WHERE "
              + P.at_or_after("created_at", timeutil.utcnow())[0],
              ("session_new_low", "session_new_exact"), "aggregate"),
        Query("anonymous_ids", "Anonymous ids (distinct owners)",
              f"SELECT count(DISTINCT user_id) FROM cv_uploads WHERE {P.is_anonymous()}",
              (), "aggregate"),
    ]


QUERY_NAMES = [q.name for q in default_queries()]


# ----------------------------------------------------------------- parameters

def _random_value(conn, rng, table, column, where="1"):
    """A value of `column` from a random existing row (rowid probe, no table scan), or None."""
    low, high = conn.execute(f"SELECT min(rowid), max(rowid) FROM {table}").fetchone()
    if low is None:
        return None
    for _ in range(8):
        probe = rng.randint(low, high)
        row = conn.execute(
            f"SELECT {column} FROM {table} WHERE rowid >= ? AND {where} ORDER BY rowid LIMIT 1",
            (probe,)).fetchone()
        if row is not None and row[0] is not None:
            return row[0]
    row = conn.execute(f"SELECT {column} FROM {table} WHERE {where} AND {column} IS NOT NULL"
                       " ORDER BY rowid LIMIT 1").fetchone()
    return row[0] if row else None


def sample_parameters(conn, seed=None, now=None):
    """{name: value}: random existing keys (read-only) and the cutoffs the scans use.

    A table with no row gives MISSING (the query then measures a miss); the names
    of such parameters are listed under "_missing".
    """
    rng = random.Random(seed)
    now = now or timeutil.utcnow()
    values = {
        "user_id": _random_value(conn, rng, "cv_uploads", "user_id"),
        "user_id_registered": _random_value(conn, rng, "users", "user_id", P.not_anonymous()),
        "file_hash": _random_value(conn, rng, "cv_extraction_cache", "file_hash"),
        "upload_file_hash": _random_value(conn, rng, "cv_uploads", "file_hash",
                                          "file_hash IS NOT NULL"),
        "session_id": _random_value(conn, rng, "sessions", "session_id"),
        "email": _random_value(conn, rng, "users", "email"),
    }
    missing = sorted(k for k, v in values.items() if v is None)
    values = {k: (MISSING if v is None else v) for k, v in values.items()}
    session_cut = timeutil.ago(now, days=config.SESSION_DAYS)
    cache_cut = timeutil.ago(now, days=config.CACHE_RETENTION_DAYS)
    anon_cut = timeutil.ago(now, days=config.ANONYMOUS_RETENTION_DAYS)
    values["session_cutoff"] = timeutil.iso(session_cut)
    values["session_old_high"], values["session_old_exact"] = P.older_than("c", session_cut)[1]
    values["session_new_low"], values["session_new_exact"] = P.at_or_after("c", session_cut)[1]
    values["cache_old_high"], values["cache_old_exact"] = P.older_than("c", cache_cut)[1]
    values["anon_new_low"], values["anon_new_exact"] = P.at_or_after("c", anon_cut)[1]
    values["low_confidence"] = config.LOW_CONFIDENCE
    values["cache_threshold"] = config.CACHE_THRESHOLD
    values["_missing"] = missing
    return values


# ----------------------------------------------------------------- plans

_SOURCE = re.compile(
    r"\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*)(?:\s+(?:AS\s+)?([A-Za-z_][A-Za-z0-9_]*))?",
    re.IGNORECASE)
_NOT_ALIAS = {"where", "join", "left", "inner", "cross", "natural", "on", "group", "order",
              "limit", "union", "using", "outer", "as", "window", "having", "except", "intersect"}


def table_aliases(sql, tables):
    """{name shown in a plan: table} for the tables (and their aliases) a statement reads."""
    names = {t: t for t in tables}
    for table, alias in _SOURCE.findall(sql):
        if table in tables and alias and alias.lower() not in _NOT_ALIAS:
            names[alias] = table
    return names


def query_plan(conn, sql, params=()):
    """[(depth, detail)] of EXPLAIN QUERY PLAN, in order."""
    rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    depth = {0: -1}
    plan = []
    for row in rows:
        node, parent, detail = row[0], row[1], row[3]
        depth[node] = depth.get(parent, -1) + 1
        plan.append((depth[node], detail))
    return plan


def classify(detail, aliases):
    """What one plan line does: full_scan, covering_scan, index_scan, search, temp_btree or other.

    Returns (kind, table or None).
    """
    match = re.match(r"(SCAN|SEARCH) (\S+)", detail)
    if not match:
        return ("temp_btree" if detail.startswith("USE TEMP B-TREE") else "other"), None
    verb, name = match.groups()
    table = aliases.get(name)
    if table is None:  # a subquery, a CTE, a constant row
        return "other", None
    if verb == "SEARCH":
        return "search", table
    if "COVERING INDEX" in detail:
        return "covering_scan", table
    if re.search(r"USING (?:\w+ )*INDEX", detail):
        return "index_scan", table
    return "full_scan", table


def explain(conn, sql, params=(), tables=None):
    """The plan and what it means: lines, full_scan (bool), the tables scanned, notes."""
    tables = tables if tables is not None else schema.existing_tables(conn)
    aliases = table_aliases(sql, tables)
    plan = query_plan(conn, sql, params)
    scanned, covering, notes = [], [], []
    for _, detail in plan:
        kind, table = classify(detail, aliases)
        if kind == "full_scan":
            scanned.append(table)
            notes.append(f"full table scan of {table}")
        elif kind == "covering_scan":
            covering.append(table)
            index = detail.rsplit("INDEX ", 1)[-1].split(" ")[0]
            notes.append(f"reads every entry of the covering index {index}: "
                         f"not a table scan, no {table} row is read")
        elif kind == "index_scan":
            index = detail.rsplit("INDEX ", 1)[-1].split(" ")[0]
            notes.append(f"visits every {table} row in the order of {index} (not covering)")
        elif kind == "temp_btree":
            notes.append(detail.lower().replace("use ", "uses a ", 1))
    return {
        "plan": [detail for _, detail in plan],
        "plan_text": "\n".join("  " * depth + detail for depth, detail in plan),
        "full_scan": bool(scanned),
        "scanned_tables": sorted(set(scanned)),
        "covering_scan": bool(covering),
        "plan_notes": notes,
    }


# ----------------------------------------------------------------- timing

def summarise(samples_ns):
    """mean, median, p95, min, max, stdev in milliseconds from nanosecond samples."""
    ordered = sorted(samples_ns)
    n = len(ordered)
    ms = [t / 1e6 for t in ordered]

    def quantile(q):
        pos = (n - 1) * q
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        return ms[lo] + (ms[hi] - ms[lo]) * (pos - lo)

    return {
        "iterations": n,
        "mean_ms": statistics.fmean(ms),
        "median_ms": quantile(0.5),
        "p95_ms": quantile(0.95),
        "min_ms": ms[0],
        "max_ms": ms[-1],
        "stdev_ms": statistics.stdev(ms) if n > 1 else 0.0,
    }


def time_statement(conn, sql, params, iterations, warmup=3, budget_s=None):
    """Nanosecond samples of conn.execute(sql, params).fetchall(), nothing else inside the clock."""
    execute = conn.execute
    clock = time.perf_counter_ns
    warm_until = None if budget_s is None else clock() + int(budget_s * 0.25e9)
    for _ in range(warmup):
        execute(sql, params).fetchall()
        if warm_until is not None and clock() > warm_until:
            break  # a slow statement: its first executions warmed the cache enough
    samples = [0] * iterations
    deadline = None if budget_s is None else clock() + int(budget_s * 1e9)
    done = 0
    for i in range(iterations):
        start = clock()
        execute(sql, params).fetchall()
        samples[i] = clock() - start
        done = i + 1
        if deadline is not None and done >= MIN_ITERATIONS and start > deadline:
            break
    return samples[:done]


# Sampled values that are secrets or personal data: timed as they are, but every run that
# is printed, stored or shown carries only a mark and a short digest (the same value gives
# the same digest, so two runs still show whether they used the same row).
SENSITIVE = {"session_id": "a sign-in token", "email": "personal data"}


def shown(name, value):
    """The value of parameter `name` as a run records it: redacted when it is sensitive."""
    if name not in SENSITIVE or value == MISSING or not isinstance(value, str):
        return value
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:10]
    return f"<{name} redacted: {SENSITIVE[name]}; sha256 {digest}>"


def _bind(query, values):
    if query.param_values:
        return tuple(query.param_values)
    return tuple(values[name] for name in query.params)


@per_backend("r2w_db.backends.postgresql.benchmark")
def run_benchmark(db, iterations=DEFAULT_ITERATIONS, queries=None, seed=0, now=None,
                  progress=None, budget_s=DEFAULT_BUDGET_S, warmup=None):
    """Time each query; a JSON-ready dict with one entry per query under "queries".

    Parameters are sampled from existing rows with `seed`: the same seed on unchanged
    data picks the same rows, so that runs compare like with like (None: a fresh
    sample). `progress(fraction, message)` is called before each query. `budget_s` caps
    the time spent on one query (at least MIN_ITERATIONS run); None never stops early.
    """
    db = as_database(db)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise errors.InvalidValue(f"iterations must be a whole number >= 1, not {iterations!r}")
    queries = default_queries() if queries is None else list(queries)
    warmup = max(2, min(10, iterations // 10)) if warmup is None else warmup
    started_at = timeutil.now_iso()
    wall = time.perf_counter()
    results = []
    with db.read() as conn:
        schema.require_schema(conn, db.path)
        conn.row_factory = None  # time SQLite and the driver, not sqlite3.Row construction
        values = sample_parameters(conn, seed=seed, now=now)
        tables = schema.existing_tables(conn)
        version = schema.user_version(conn)
        counts = {t: conn.execute(f"SELECT max(rowid) FROM {t}").fetchone()[0] or 0
                  for t in schema.COLUMNS if t in tables}
        for i, query in enumerate(queries):
            if progress:
                progress(i / len(queries), query.title)
            params = _bind(query, values)
            rows = len(conn.execute(query.sql, params).fetchall())
            samples = time_statement(conn, query.sql, params, iterations, warmup, budget_s)
            entry = {"name": query.name, "title": query.title, "kind": query.kind,
                     "source": query.source, "sql": query.sql,
                     "params": list(params) if query.param_values else
                     [shown(name, value) for name, value in zip(query.params, params)],
                     "rows": rows, **summarise(samples), **explain(conn, query.sql, params, tables)}
            missing = [p for p in query.params if p in values["_missing"]]
            if missing:
                entry["note"] = f"no row to sample for {', '.join(missing)}: times a miss"
            elif query.note:
                entry["note"] = query.note
            results.append(entry)
    if progress:
        progress(1.0, "done")
    return {
        "database": str(db.path),
        "started_at": started_at,
        "seconds": round(time.perf_counter() - wall, 3),
        "iterations": iterations,
        "sqlite_version": sqlite3.sqlite_version,
        "engine": f"SQLite {sqlite3.sqlite_version}",
        "plan_method": PLAN_METHOD,
        "full_scan_rule": FULL_SCAN_RULE,
        "schema_version": version,
        "approx_rows": counts,
        "queries": results,
    }


def run_facts(run):
    """(engine, plan method, full-scan rule) of a run; a run stored before PostgreSQL: SQLite's."""
    return (run.get("engine") or f"SQLite {run.get('sqlite_version')}",
            run.get("plan_method") or PLAN_METHOD, run.get("full_scan_rule") or FULL_SCAN_RULE)


# ----------------------------------------------------------------- comparison

def compare(current, previous, ratio=SLOWER_RATIO, min_ms=SLOWER_MIN_MS):
    """Per query of `current`: its median against `previous`'s, and whether the plan changed.

    An item is "slower" when the median grew by more than `ratio` times and more than
    `min_ms` milliseconds. Returns a dict with "items" (every query present in both),
    "slower", "faster", "plan_changed", "new" and "gone" (names).
    """
    if not previous:
        return {"previous": None, "items": [], "slower": [], "faster": [], "plan_changed": [],
                "new": [q["name"] for q in current.get("queries", [])], "gone": []}
    before = {q["name"]: q for q in previous.get("queries", [])}
    now = {q["name"]: q for q in current.get("queries", [])}
    items = []
    for name, q in now.items():
        old = before.get(name)
        if old is None:
            continue
        delta = q["median_ms"] - old["median_ms"]
        factor = q["median_ms"] / old["median_ms"] if old["median_ms"] > 0 else math.inf
        slower = delta > min_ms and factor > ratio
        faster = -delta > min_ms and old["median_ms"] > ratio * q["median_ms"]
        items.append({
            "name": name, "title": q.get("title", name),
            "previous_median_ms": old["median_ms"], "median_ms": q["median_ms"],
            "ratio": factor, "delta_ms": delta, "slower": slower, "faster": faster,
            "plan_changed": list(q.get("plan", [])) != list(old.get("plan", [])),
            "previous_plan": old.get("plan", []), "plan": q.get("plan", []),
        })
    return {
        "previous": {k: previous.get(k) for k in ("id", "started_at", "iterations")},
        "items": items,
        "slower": [i["name"] for i in items if i["slower"]],
        "faster": [i["name"] for i in items if i["faster"]],
        "plan_changed": [i["name"] for i in items if i["plan_changed"]],
        "new": [n for n in now if n not in before],
        "gone": [n for n in before if n not in now],
    }
