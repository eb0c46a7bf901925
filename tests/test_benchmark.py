"""The query benchmark: every key query timed with consistent figures and its plan, the
full-scan flag, the comparison of runs, their storage, and the `bench` command."""
import argparse
import hashlib
import json
import sqlite3

import pytest

from r2w_db import errors
from r2w_db.bench import benchmark
from r2w_db.bench.benchmark import Query
from r2w_db.cli import bench_commands
from r2w_db.demo.builder import build_demo
from r2w_db.engine import schema
from r2w_db.backends import migrations
from r2w_db.backends.sqlite import query_plans
from r2w_db.backends.sqlite import stats as sqlite_stats
from r2w_db.backends.sqlite.database import Database
from r2w_db.figures import stats
from r2w_db.monitor.store import MonitorStore


@pytest.fixture
def demo_db(tmp_path):
    path = tmp_path / "demo.db"
    build_demo(path, scale="small", seed=3)
    return path


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_key_query_is_timed_with_consistent_figures_and_a_plan(demo_db):
    before = digest(demo_db)
    run = benchmark.run_benchmark(demo_db, iterations=7)
    assert [q["name"] for q in run["queries"]] == benchmark.QUERY_NAMES
    assert {"cv_listing_by_user", "cache_lookup_by_hash", "session_validation", "user_by_email",
            "cleanup_sessions_scan", "cleanup_cache_scan", "stale_anonymous_scan", "hit_rate",
            "status_counts", "uploads_per_day"} <= set(benchmark.QUERY_NAMES)
    for q in run["queries"]:
        assert q["iterations"] == 7, q["name"]
        assert 0 < q["min_ms"] <= q["median_ms"] <= q["p95_ms"] <= q["max_ms"], q["name"]
        assert q["min_ms"] <= q["mean_ms"] <= q["max_ms"] and q["stdev_ms"] >= 0
        assert q["plan"] and all(isinstance(line, str) for line in q["plan"]), q["name"]
        assert isinstance(q["full_scan"], bool)
        assert q["sql"].count("?") == len(q["params"]), q["name"]
    # the documented indexes and this project's keep every key query off full table scans
    assert not [q["name"] for q in run["queries"] if q["full_scan"]]
    assert digest(demo_db) == before  # read-only


def test_parameters_are_real_rows(demo_db):
    run = benchmark.run_benchmark(demo_db, iterations=2)
    by_name = {q["name"]: q for q in run["queries"]}
    conn = sqlite3.connect(demo_db)
    checks = {"cv_listing_by_user": "SELECT 1 FROM cv_uploads WHERE user_id = ?",
              "cache_lookup_by_hash": "SELECT 1 FROM cv_extraction_cache WHERE file_hash = ?",
              "upload_dedup_by_hash": "SELECT 1 FROM cv_uploads WHERE file_hash = ?",
              "user_by_id": "SELECT 1 FROM users WHERE user_id = ?"}
    for name, sql in checks.items():
        assert conn.execute(sql, by_name[name]["params"]).fetchone(), name
        assert by_name[name]["rows"] >= 1
    for name in ("session_validation", "user_by_email"):  # secrets: timed, never recorded
        assert by_name[name]["rows"] == 1 and "redacted" in by_name[name]["params"][0]
    conn.close()
    again = {q["name"]: q for q in benchmark.run_benchmark(demo_db, iterations=2)["queries"]}
    assert all(again[name]["params"] == by_name[name]["params"] for name in checks)  # same seed


def test_full_scan_flag(demo_db):
    queries = [
        Query("by_name", "users by name (no index)", "SELECT * FROM users WHERE name = ?",
              param_values=("Jane Doe",)),
        Query("by_pk", "user by id", "SELECT * FROM users WHERE user_id = ?", param_values=("x",)),
        Query("by_alias", "uploads by filename, aliased",
              "SELECT u.job_id FROM cv_uploads AS u WHERE u.filename = ?", param_values=("a.pdf",)),
        Query("count", "count uploads", "SELECT count(*) FROM cv_uploads"),
        Query("constant", "no table", "SELECT 1"),
    ]
    run = benchmark.run_benchmark(demo_db, iterations=3, queries=queries)
    got = {q["name"]: q for q in run["queries"]}
    assert got["by_name"]["full_scan"] and got["by_name"]["scanned_tables"] == ["users"]
    assert got["by_alias"]["full_scan"] and got["by_alias"]["scanned_tables"] == ["cv_uploads"]
    assert not got["by_pk"]["full_scan"] and got["by_pk"]["plan"][0].startswith("SEARCH users")
    assert not got["count"]["full_scan"] and got["count"]["covering_scan"]
    assert any("covering index" in note for note in got["count"]["plan_notes"])
    assert not got["constant"]["full_scan"]


def test_the_un_migrated_schema_shows_its_scans(prod_db):
    path, _, _ = prod_db  # as production wrote it: the documented indexes only
    run = benchmark.run_benchmark(path, iterations=2)
    scans = {q["name"] for q in run["queries"] if q["full_scan"]}
    assert "cleanup_sessions_scan" in scans  # no index on sessions.created_at before migration 7
    assert "session_validation" not in scans


def test_no_secret_is_recorded(prod_db):
    from .prodlike import SECRETS

    path, _, _ = prod_db
    migrations.migrate(path)
    texts = [json.dumps(benchmark.run_benchmark(path, iterations=1, seed=seed))
             for seed in range(40)]
    # the secret rows were sampled (their redacted marks are there), and nothing else of them
    assert any(benchmark.shown("session_id", SECRETS["session_id"]) in t for t in texts)
    assert any(benchmark.shown("email", SECRETS["email"]) in t for t in texts)
    for what, secret in SECRETS.items():
        assert not any(secret in t for t in texts), what


@pytest.mark.parametrize("line, kind", [
    ("SCAN users", "full_scan"),
    ("SCAN u", "full_scan"),
    ("SCAN cv_uploads USING COVERING INDEX idx_cv_uploads_status_date", "covering_scan"),
    ("SCAN cv_uploads USING INDEX idx_cv_uploads_user_id", "index_scan"),
    ("SEARCH users USING INDEX sqlite_autoindex_users_2 (email=?)", "search"),
    ("SEARCH sessions USING INTEGER PRIMARY KEY (rowid=?)", "search"),
    ("SCAN (subquery-1)", "other"),
    ("SCAN CONSTANT ROW", "other"),
    ("USE TEMP B-TREE FOR ORDER BY", "temp_btree"),
])
def test_classify_plan_lines(line, kind):
    aliases = {"users": "users", "cv_uploads": "cv_uploads", "sessions": "sessions", "u": "cv_uploads"}
    assert query_plans.classify(line, aliases)[0] == kind


def test_empty_database_times_misses(db_path):
    run = benchmark.run_benchmark(db_path, iterations=2)
    lookup = next(q for q in run["queries"] if q["name"] == "session_validation")
    assert lookup["rows"] == 0 and "no row to sample" in lookup["note"]


def test_iterations_must_be_positive(db_path):
    with pytest.raises(errors.InvalidValue):
        benchmark.run_benchmark(db_path, iterations=0)


def test_harness_times_exactly_the_statement(demo_db):
    conn = sqlite3.connect(demo_db)
    samples = benchmark.time_statement(conn, "SELECT count(*) FROM users", (), 25, warmup=2)
    conn.close()
    assert len(samples) == 25 and all(isinstance(s, int) and s > 0 for s in samples)
    figures = benchmark.summarise([3_000, 1_000, 2_000, 10_000])
    assert figures["median_ms"] == pytest.approx(0.0025) and figures["min_ms"] == 0.001
    assert figures["max_ms"] == 0.01 and figures["mean_ms"] == pytest.approx(0.004)


# ------------------------------------------------------------------ comparison

def synthetic(medians, plans=None):
    plans = plans or {}
    return {"id": 1, "started_at": "2026-01-01T00:00:00", "iterations": 10, "queries": [
        {"name": n, "title": n, "median_ms": m, "plan": plans.get(n, [f"SEARCH {n}"])}
        for n, m in medians.items()]}


def test_compare_calls_out_slower_queries_and_changed_plans():
    previous = synthetic({"a": 1.0, "b": 1.0, "tiny": 0.010, "c": 2.0, "gone": 1.0})
    current = synthetic({"a": 1.5, "b": 1.2, "tiny": 0.050, "c": 0.5, "new": 1.0},
                        plans={"c": ["SCAN c"]})
    result = benchmark.compare(current, previous)
    assert result["slower"] == ["a"]            # 1.5x and 0.5 ms
    assert "b" not in result["slower"]          # 1.2x: within the noise
    assert "tiny" not in result["slower"]       # 5x but only 0.04 ms
    assert result["faster"] == ["c"]
    assert result["plan_changed"] == ["c"]
    assert result["new"] == ["new"] and result["gone"] == ["gone"]
    item = next(i for i in result["items"] if i["name"] == "a")
    assert item["ratio"] == pytest.approx(1.5) and item["delta_ms"] == pytest.approx(0.5)


def test_compare_without_previous():
    result = benchmark.compare(synthetic({"a": 1.0}), None)
    assert result["previous"] is None and result["items"] == [] and result["new"] == ["a"]


def test_runs_are_stored_per_database(tmp_path, demo_db):
    store = MonitorStore(tmp_path / "monitor.db")
    assert store.bench_runs(demo_db) == [] and store.previous_bench_run(demo_db) is None
    first = benchmark.run_benchmark(demo_db, iterations=2)
    first_id = store.save_bench_run(first, user="ann")
    second_id = store.save_bench_run(benchmark.run_benchmark(demo_db, iterations=2))
    store.save_bench_run({"database": str(tmp_path / "other.db"), "queries": []})
    runs = store.bench_runs(demo_db)
    assert [r["id"] for r in runs] == [second_id, first_id] and runs[1]["user"] == "ann"
    assert store.previous_bench_run(demo_db, before_id=second_id)["id"] == first_id
    assert runs[1]["queries"] == json.loads(json.dumps(first["queries"]))
    assert store.bench_runs(demo_db, kind="load") == []


# ------------------------------------------------------------------ the fast hit count

def test_fast_hit_count_equals_the_reference(prod_db, demo_db):
    path, _, expected = prod_db
    migrations.migrate(path)
    for db in (path, demo_db):
        conn = sqlite3.connect(db)
        conn.row_factory = sqlite3.Row
        reference = conn.execute(sqlite_stats.HIT_SQL).fetchone()
        assert sqlite_stats.hit_counts(conn) == (reference["with_hash"], reference["hits"])
        conn.close()
    assert stats.calculate_cache_hit_rate(path) == pytest.approx(expected["cache"]["cache_hit_rate"])


# ------------------------------------------------------------------ the bench command

def bench(*argv):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(parents=[common])
    bench_commands.add_parser(parser.add_subparsers(dest="command", required=True), common)
    args = parser.parse_args(["bench", *map(str, argv)])
    return args.func(args)


def test_bench_command_json(demo_db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    assert bench("--db", demo_db, "--json", "--iterations", 3) == 0
    first = json.loads(capsys.readouterr().out)
    assert [q["name"] for q in first["queries"]] == benchmark.QUERY_NAMES
    for q in first["queries"]:
        assert {"name", "sql", "params", "mean_ms", "median_ms", "p95_ms", "min_ms", "max_ms",
                "stdev_ms", "plan", "full_scan"} <= set(q)
        assert isinstance(q["plan"], list) and isinstance(q["full_scan"], bool)
    assert first["comparison"]["previous"] is None and first["load_test"] is None
    assert bench("--db", demo_db, "--json", "--iterations", 3) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["comparison"]["previous"]["id"] == first["id"]
    assert len(MonitorStore(tmp_path / "monitor.db").bench_runs(demo_db)) == 2


def test_bench_command_table_no_store_and_load_test(demo_db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.setattr("r2w_db.bench.loadtest.DEFAULT_SECONDS", 0.5)
    before = digest(demo_db)
    assert bench("--db", demo_db, "--iterations", 2, "--no-store", "--load-test") == 0
    out = capsys.readouterr().out
    assert "cv_listing_by_user" in out and "load test on a temporary copy" in out
    assert not (tmp_path / "monitor.db").exists()
    assert digest(demo_db) == before


def test_bench_command_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    with pytest.raises(errors.DatabaseMissing):
        bench("--db", tmp_path / "missing.db", "--no-store")
    with pytest.raises(errors.InvalidValue):
        bench("--db", tmp_path / "missing.db", "--iterations", 0)


# ------------------------------------------------------------------ data quality on the partial indexes

def test_every_canonical_timestamp_parses():
    """The partial indexes of odd timestamps (migration 9) hold every unparseable one only if
    no canonical timestamp is unparseable: every field value of the canonical shape, checked."""
    from r2w_db.engine import schema
    from r2w_db.backends.sqlite import predicates as P

    values = [f"2026-{m:02d}-{d:02d}T12:34:56.123456" for m in range(1, 13) for d in range(1, 32)]
    values += [f"2026-01-15T{h:02d}:{mi:02d}:{s:02d}.{(h * mi * s) % 1000000:06d}"
               for h in range(24) for mi in range(60) for s in range(60)]
    values += [f"{y}-{md}" for y in range(1000, 3000)
               for md in ("01-01T00:00:00.000000", "12-31T23:59:59.999999")]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [(v,) for v in values])
    assert conn.execute(f"SELECT count(*) FROM t WHERE {schema.time_is_odd('x')}").fetchone()[0] == 0
    assert conn.execute(f"SELECT count(*) FROM t WHERE {P.unparseable('x')}").fetchone()[0] == 0


ODD = [None, "", "now", "yesterday", "2026-13-01T00:00:00.000000", "2026-00-10T00:00:00.000000",
       "2026-01-32T00:00:00.000000", "2026-01-01T24:00:00.000000", "2026-01-01T00:60:00.000000",
       "9999-12-31T23:59:59.999999", "0000-01-01T00:00:00.000000", "2026-01-01 10:00:00",
       "2026-01-01T10:00:00Z", "2026-01-01T10:00:00+02:00", "2026-01-01T10:00:00", "2460000.5",
       2460000, 2460000.5, "2026-1-1", " 2026-01-01T10:00:00.000000", "2026-01-01T10:00:00.000000 "]


def test_data_quality_counts_read_the_partial_indexes_and_count_the_same(db_path):
    from r2w_db.backends.sqlite import predicates as P

    conn = sqlite3.connect(db_path)
    conn.executemany("INSERT INTO sessions VALUES (?, 'u', ?)",
                     [(f"s{i}", v) for i, v in enumerate(ODD + ["2026-01-01T10:00:00.000000"] * 3)
                      if v is not None])  # created_at is NOT NULL; 'now' is accepted
    conn.executemany("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                     " upload_date) VALUES (?, 'u', ?, 'cv.pdf', '.pdf', ?)",
                     [(f"u{i}", f"j{i}", v if v is not None else "x") for i, v in enumerate(ODD)])
    conn.commit()
    plain = {t: conn.execute(f"SELECT count(*) FROM {t} WHERE {P.unparseable(c)}").fetchone()[0]
             for t, c in (("sessions", "created_at"), ("cv_uploads", "upload_date"))}
    conn.close()
    with Database(db_path).read() as reader:
        figures = sqlite_stats.data_quality(reader)
        plan = [r[3] for r in reader.execute(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM sessions WHERE "
            f"{P.unparseable('created_at')} AND {schema.time_is_odd('created_at')}")]
    assert figures["sessions.created_at"] == plain["sessions"] > 10
    assert figures["cv_uploads.upload_date"] == plain["cv_uploads"] > 10
    assert plan == ["SCAN sessions USING COVERING INDEX idx_sessions_odd_time"]


@pytest.mark.parametrize("count", [2**63 - 1, -2**63, 1e300, float("inf"), "many"])
def test_out_of_range_access_counts_never_break_the_benchmark(db_path, count):
    """Two entries of 2^63-1 overflow SQLite's sum(); the benchmark times what `stats` runs."""
    conn = sqlite3.connect(db_path)
    conn.executemany("INSERT INTO cv_extraction_cache VALUES (?, '{}', 'm', 0, "
                     "'2026-01-01T00:00:00', 0.9, ?, '2026-01-01T00:00:00')",
                     [("h1", count), ("h2", count), ("h3", 4)])
    conn.commit()
    conn.close()
    run = benchmark.run_benchmark(db_path, iterations=1, warmup=0)
    [figures] = [q for q in run["queries"] if q["name"] == "cache_figures"]
    assert figures["sql"] == sqlite_stats.CACHE_SQL and figures["rows"] == 1
    with Database(db_path).read() as reader:
        row = sqlite_stats.cache_row(reader)
    assert (row["accesses"], row["invalid_access"]) == (4, 2)
