"""Timing the database's key queries: the application's and this project's own.

`run_benchmark(db)` samples parameters from real rows (read-only), then times each
query on one read-only connection: a few untimed warm-up executions, then
`iterations` timed ones, each `time.perf_counter_ns()` around
`conn.execute(sql, params).fetchall()` and nothing else. The statement is
compiled once and reused (SQLite's statement cache, psycopg's prepared statements).

The queries are one table (QUERIES: names, titles, kinds, sources); their SQL and the
parameters it takes are the engine's (`db.backend.benchmark.statements()`): the very
statements the application, a cleanup or a page runs on that engine. The engine also samples
the parameters and reads each plan (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN (FORMAT
JSON)) into steps; what a plan means is summed up here once: a full table scan is a step the
engine classed "full_scan" (its rule is the run's "full_scan_rule"), a covering-index scan
reads every entry of an index but no table row.

`compare(current, previous)` calls out queries that became slower and plans that
changed. Runs are plain dicts (JSON-ready) and are stored by monitor.MonitorStore; a run names
its engine, plan method and full-scan rule ("engine", "plan_method", "full_scan_rule").
"""
import hashlib
import math
import statistics
import time
from dataclasses import dataclass, field

from r2w_db import errors
from r2w_db.backends import open_database
from r2w_db.engine import timeutil

DEFAULT_ITERATIONS = 100
MAX_ITERATIONS = 1_000_000     # timed executions per query (the samples are kept in memory)
DEFAULT_BUDGET_S = 3.0       # a slow query stops early (never below MIN_ITERATIONS) past this
MIN_ITERATIONS = 5
SLOWER_RATIO = 1.25          # compare(): slower when the median grew by more than this factor
SLOWER_MIN_MS = 0.05         # ... and by more than this many milliseconds
MISSING = "(none)"           # the parameter used when a table has no row to sample
# the keys sampled from real rows (the engine's sample_parameters gives None for an empty table)
SAMPLED = ("user_id", "user_id_registered", "file_hash", "upload_file_hash", "session_id", "email")
# a run stored before runs named their engine was SQLite's, planned and flagged so
LEGACY_PLAN_METHOD = "EXPLAIN QUERY PLAN"
LEGACY_FULL_SCAN_RULE = "a SCAN <table> plan step that uses no index: every row of the table is read"


@dataclass(frozen=True)
class Query:
    """One timed statement. `params` names the sampled values and cutoffs it takes, in order: a
    name, or a pair (placeholder, name) for a statement with named placeholders of its own."""

    name: str
    title: str
    sql: str
    params: tuple = ()
    kind: str = "point"       # point (one key), listing, scan (cleanup), aggregate (dashboard)
    source: str = "project"   # "application" or "project"
    note: str = ""
    param_values: tuple = field(default=(), compare=False)  # fixed values (instead of `params`)

    def names(self):
        """The names of the values it takes, in order."""
        return [p if isinstance(p, str) else p[1] for p in self.params]


# ----------------------------------------------------------------- the queries

APPLICATION = "application"
# name, title (None: the engine's, naming its statement), kind, source; the application's first
QUERIES = (
    ("cv_listing_by_user", "CV listing by user", "listing", APPLICATION),
    ("cache_lookup_by_hash", "Cache hit detection (by file_hash)", "point", APPLICATION),
    ("session_validation", "Session validation", "point", APPLICATION),
    ("user_by_email", "User by email (sign-in)", "point", APPLICATION),
    ("user_by_id", "User by id", "point", APPLICATION),
    ("upload_dedup_by_hash", "Deduplication check (uploads by file_hash)", "point", APPLICATION),
    ("user_with_cvs", "User with CVs (one LEFT JOIN, the N+1 fix)", "listing", APPLICATION),
    ("session_validation_active", "Session validation, active only (the app's)", "point", "project"),
    ("cleanup_sessions_scan", "Cleanup scan: sessions older than 7 days", "scan", "project"),
    ("cleanup_cache_scan", "Cleanup scan: cache older than 30 days, used once", "scan", "project"),
    ("stale_anonymous_scan", "Cleanup scan: anonymous ids with every upload > 30 days old", "scan",
     "project"),
    ("hit_rate", "Cache hits over the whole history (stats)", "aggregate", "project"),
    ("hit_rate_per_upload", None, "aggregate", "project"),
    ("status_counts", "Upload status counts", "aggregate", "project"),
    ("uploads_per_day", "Uploads per day", "aggregate", "project"),
    ("cache_figures", None, "aggregate", "project"),
    ("active_sessions", "Active sessions (last 7 days)", "aggregate", "project"),
    ("anonymous_ids", "Anonymous ids (distinct owners)", "aggregate", "project"),
)
QUERY_NAMES = [name for name, *_ in QUERIES]


def default_queries(db):
    """The benchmarked statements of `db`'s engine, in QUERIES' order."""
    engine = open_database(db).backend.benchmark
    statements = engine.statements()
    return [Query(name, title or engine.TITLES[name], *statements[name], kind=kind, source=source)
            for name, title, kind, source in QUERIES]


# ----------------------------------------------------------------- parameters

def parameters(db, conn, seed=None, now=None):
    """{name: value}: the engine's sample of existing keys (read-only) with the cutoffs and
    constants its statements take. A table with no row gives MISSING (the query then measures a
    miss); the names of such parameters are listed under "_missing"."""
    values = dict(db.backend.benchmark.sample_parameters(conn, seed=seed, now=now))
    missing = sorted(name for name in SAMPLED if values.get(name) is None)
    values.update({name: MISSING for name in missing}, _missing=missing)
    return values


def bind(query, values):
    """The statement's parameters: the query's fixed `param_values`, else the values it names, a
    dict when it names placeholders (pairs), else a tuple in order."""
    if query.param_values:
        return tuple(query.param_values)
    if any(not isinstance(p, str) for p in query.params):
        return {(p if isinstance(p, str) else p[0]): values[name]
                for p, name in zip(query.params, query.names())}
    return tuple(values[name] for name in query.names())


# ----------------------------------------------------------------- plans

# what a plan step of each kind means (`detail`: the engine's precision, appended)
STEP_NOTES = {
    "full_scan": "full table scan of {table}{detail}",
    "covering_scan": ("reads every entry of the covering index {index}: not a table scan, "
                      "no {table} row is read{detail}"),
    "index_scan": "visits every {table} row in the order of {index} (not covering)",
}


def plan_summary(steps):
    """A plan's steps (the engine's plan_steps: depth, line, kind, table, index, detail, notes)
    and what they mean: lines, full_scan (bool), the tables scanned, covering_scan, notes."""
    scanned = [s["table"] for s in steps if s["kind"] == "full_scan"]
    notes = []
    for step in steps:
        if step["kind"] in STEP_NOTES:
            notes.append(STEP_NOTES[step["kind"]].format(**{"detail": "", **step}))
        notes += step.get("notes", [])
    return {
        "plan": [s["line"] for s in steps],
        "plan_text": "\n".join("  " * s["depth"] + s["line"] for s in steps),
        "full_scan": bool(scanned),
        "scanned_tables": sorted(set(scanned)),
        "covering_scan": any(s["kind"] == "covering_scan" for s in steps),
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


def _recorded(name, value):
    return shown(name, timeutil.iso(value) if hasattr(value, "isoformat") else value)


def _entry(conn, query, values, timing, plan):
    """One query's result: its rows, timings (`timing(statement, params)`) and plan summary."""
    params = bind(query, values)
    rows = len(conn.execute(query.sql, params).fetchall())
    samples = timing(query.sql, params)
    entry = {"name": query.name, "title": query.title, "kind": query.kind,
             "source": query.source, "sql": query.sql,
             "params": list(query.param_values) or
             [_recorded(name, values[name]) for name in query.names()],
             "rows": rows, **summarise(samples), **plan_summary(plan(query.sql, params))}
    missing = [name for name in query.names() if name in values["_missing"]]
    if missing:
        entry["note"] = f"no row to sample for {', '.join(missing)}: times a miss"
    elif query.note:
        entry["note"] = query.note
    return entry


def run_benchmark(db, iterations=DEFAULT_ITERATIONS, queries=None, seed=0, now=None,
                  progress=None, budget_s=DEFAULT_BUDGET_S, warmup=None, large_rows=None):
    """Time each query; a JSON-ready dict with one entry per query under "queries".

    Parameters are sampled from existing rows with `seed`: the same seed on unchanged
    data picks the same rows, so that runs compare like with like (None: a fresh
    sample). `progress(fraction, message)` is called before each query. `budget_s` caps
    the time spent on one query (at least MIN_ITERATIONS run); None never stops early.
    `large_rows`: where the engine's rule weighs a table's size (PostgreSQL's Seq Scan), a
    table scan is a full one above it (None: the engine's default).
    """
    db = open_database(db)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise errors.InvalidValue(f"iterations must be a whole number >= 1, not {iterations!r}")
    if iterations > MAX_ITERATIONS:
        raise errors.InvalidValue(f"iterations must be at most {MAX_ITERATIONS:,}, not {iterations}")
    engine = db.backend.benchmark
    queries = default_queries(db) if queries is None else list(queries)
    warmup = max(2, min(10, iterations // 10)) if warmup is None else warmup
    started_at = timeutil.now_iso()
    wall = time.perf_counter()
    results = []
    with db.read() as conn:
        facts = engine.prepare(db, conn, large_rows)
        values = parameters(db, conn, seed=seed, now=now)

        def timing(sql, params):
            return time_statement(conn, sql, params, iterations, warmup, budget_s)

        def plan(sql, params):
            return engine.plan_steps(conn, sql, params, facts["context"])

        for i, query in enumerate(queries):
            if progress:
                progress(i / len(queries), query.title)
            results.append(_entry(conn, query, values, timing, plan))
    if progress:
        progress(1.0, "done")
    return {
        "database": db.display,
        "started_at": started_at,
        "seconds": round(time.perf_counter() - wall, 3),
        "iterations": iterations,
        "sqlite_version": facts["sqlite_version"],
        "engine": facts["engine"],
        "plan_method": engine.PLAN_METHOD,
        "full_scan_rule": facts["full_scan_rule"],
        "schema_version": facts["schema_version"],
        "approx_rows": facts["approx_rows"],
        "queries": results,
    }


def run_facts(run):
    """(engine, plan method, full-scan rule) of a run; a run stored before PostgreSQL: SQLite's."""
    return (run.get("engine") or f"SQLite {run.get('sqlite_version')}",
            run.get("plan_method") or LEGACY_PLAN_METHOD,
            run.get("full_scan_rule") or LEGACY_FULL_SCAN_RULE)


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
