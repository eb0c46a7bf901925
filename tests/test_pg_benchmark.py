"""The query benchmark and the load test on PostgreSQL (a real throwaway cluster): every query
timed with a plan from EXPLAIN (FORMAT JSON), the full-scan flag (a Seq Scan of a large table),
the load test on a scratch database that is always dropped and never touches the source, the
`bench` command with the same JSON keys as on SQLite, and the Query benchmarks page."""
import json

import pytest
from psycopg import sql

from r2w_db.bench import benchmark, loadtest
from r2w_db.backends.postgresql import loadtest as pg_loadtest
from r2w_db.backends.postgresql import benchmark as pg_benchmark
from r2w_db.backends.postgresql import query_plans as pg_plans
from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db.maintenance import move
from r2w_db.monitor.store import MonitorStore

from .test_pg_pages import PASSWORD, with_password
from tests import cli_process

SCRATCH_LIKE = "%\\_loadtest\\_%"


@pytest.fixture
def demo(tmp_path, pg_templates):
    """(SQLite demo file, the same data moved into PostgreSQL: a clone of the session's
    template)."""
    return pg_templates.moved_demo(tmp_path, seed=3)


def checksums(url):
    return move.target_checksums(PgDatabase(url))


def scratch_databases(cluster):
    return cluster.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (SCRATCH_LIKE,))


def test_every_query_runs_with_a_plan_and_the_keys_of_sqlite(demo):
    path, url = demo
    before = checksums(url)
    run = benchmark.run_benchmark(url, iterations=5)  # dispatched to pg_benchmark
    lite = benchmark.run_benchmark(path, iterations=2)
    assert set(run) == set(lite) and run["engine"].startswith("PostgreSQL 1")
    assert [q["name"] for q in run["queries"]] == benchmark.QUERY_NAMES
    for q, l in zip(run["queries"], lite["queries"]):
        assert set(q) == set(l), q["name"]
        assert q["iterations"] == 5 and q["plan"] and q["plan_text"], q["name"]
        assert 0 < q["min_ms"] <= q["median_ms"] <= q["p95_ms"] <= q["max_ms"], q["name"]
        assert isinstance(q["full_scan"], bool) and not q["full_scan"], q["name"]  # small tables
        if q["kind"] in ("point", "listing") and q["name"] != "session_validation_active":
            assert q["rows"] >= 1, q["name"]  # sampled from real rows
        if q["kind"] == "aggregate" and q["name"] != "hit_rate_per_upload":  # per day on PG
            assert q["rows"] == l["rows"], q["name"]  # the same data: the same number of rows
    by_name = {q["name"]: q for q in run["queries"]}
    assert by_name["session_validation"]["plan"][0].startswith("Index Scan using sessions_pkey")
    assert run["approx_rows"] == {t: f[0] for t, f in before.items()}
    assert checksums(url) == before  # read-only


def test_no_sampled_secret_reaches_the_run(demo):
    _, url = demo
    run = benchmark.run_benchmark(url, iterations=1, seed=4)
    with PgDatabase(url).read() as conn:
        values = pg_benchmark.sample_parameters(conn, seed=4)
    text = json.dumps(run, default=str)
    for name in benchmark.SENSITIVE:
        assert values[name] not in text and benchmark.shown(name, values[name]) in text
    # plans are planned with the values inlined; every literal is shown as ?
    assert "(session_id = ?)" in " ".join(next(q for q in run["queries"]
                                               if q["name"] == "session_validation")["plan"])


def test_a_dropped_index_turns_a_lookup_into_a_flagged_seq_scan(demo):
    _, url = demo
    only = [q for q in benchmark.default_queries(url) if q.name == "upload_dedup_by_hash"]

    def dedup(**options):
        return benchmark.run_benchmark(url, iterations=2, queries=only, **options)["queries"][0]

    indexed = dedup(large_rows=1000)  # cv_uploads holds 1,500 rows: "large" here
    assert not indexed["full_scan"] and "Seq Scan" not in " ".join(indexed["plan"])
    assert not indexed["plan_notes"]  # a B-tree search of an index led by file_hash

    def drop(pattern):
        with PgDatabase(url).write() as conn:
            names = [r[0] for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'cv_uploads'"
                " AND indexdef LIKE %s", (pattern,))]
            for name in names:
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        return names

    assert drop("%(file_hash%")  # the indexes led by file_hash
    behind = dedup(large_rows=1000)  # the covering date index holds file_hash, not first
    assert not behind["full_scan"]
    assert any("its first column, upload_date, is not in the condition" in n
               for n in behind["plan_notes"]), behind["plan"]
    assert drop("%file_hash%")  # no index holds file_hash any more
    scanned = dedup(large_rows=1000)
    assert scanned["full_scan"] and scanned["scanned_tables"] == ["cv_uploads"]
    assert any(line.startswith("Seq Scan on cv_uploads") for line in scanned["plan"])
    assert any("full table scan of cv_uploads" in n for n in scanned["plan_notes"])
    assert benchmark.compare({"queries": [scanned]}, {"queries": [indexed]})["plan_changed"] == [
        "upload_dedup_by_hash"]
    small = dedup()  # the default threshold: 1,500 rows is a small table, noted and not flagged
    assert not small["full_scan"] and any("small table" in n for n in small["plan_notes"])


def test_plan_lines_hide_every_literal():
    node = {"Node Type": "Index Scan", "Index Name": "users_email_key", "Relation Name": "users",
            "Alias": "u", "Index Cond": "(email = 'o''brien@example.org'::text)",
            "Filter": "(created_at >= '2026-11-17 08:15:02+00'::timestamp with time zone)"}
    assert pg_plans.plan_line(node) == ("Index Scan using users_email_key on users u"
                                            " (Index Cond: (email = ?)) (Filter: (created_at >= ?))")
    rows = {"users": 20_000, "sessions": 50}
    assert pg_plans.classify({"Node Type": "Seq Scan", "Relation Name": "users"}, rows) == (
        "full_scan", "users")
    assert pg_plans.classify({"Node Type": "Seq Scan", "Relation Name": "sessions"}, rows)[0] == \
        "small_scan"
    assert pg_plans.classify({"Node Type": "Index Only Scan", "Relation Name": "users"},
                                 rows)[0] == "covering_scan"


def test_the_load_test_writes_only_to_a_scratch_database_and_drops_it(demo, pg_cluster,
                                                                       monkeypatch):
    path, url = demo
    before = checksums(url)
    seen = {}
    real = loadtest.run_load_test

    def spy(db, **options):
        seen["copied"] = checksums(db.url)
        result = real(db, **options)
        seen["after"] = {t: f[0] for t, f in checksums(db.url).items()}
        return result

    with monkeypatch.context() as patched:  # the PostgreSQL run only
        patched.setattr(loadtest, "run_load_test", spy)
        result = loadtest.load_test_on_copy(url, threads=2, seconds=1.0)
    assert seen["copied"] == before  # every row, in one snapshot
    writes = {k["kind"]: k["count"] for k in result["by_kind"]}
    assert seen["after"]["sessions"] == before["sessions"][0] + writes["create_session"]
    assert seen["after"]["cv_uploads"] == before["cv_uploads"][0] + writes["upload_and_status"]
    assert result["ops"] > 0 and result["reads"] > 0 and result["writes"] > 0
    assert result["errors"] == 0, result["error_messages"]
    assert result["source"] == PgDatabase(url).display and "scratch database" in result["ran_on"]
    assert checksums(url) == before and not scratch_databases(pg_cluster)
    lite = loadtest.load_test_on_copy(path, threads=1, seconds=0.2)
    assert set(result) == set(lite)
    assert {k["kind"] for k in result["by_kind"]} == {k["kind"] for k in lite["by_kind"]}
    assert all(set(a) == set(b) for a, b in zip(result["by_kind"], lite["by_kind"]))


def test_no_scratch_database_is_left_after_an_error_or_ctrl_c(demo, pg_cluster, monkeypatch):
    _, url = demo
    before = checksums(url)

    def interrupt(fraction, message):
        if " s of " in message:  # the workload is running ("1.2 s of 30 s")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        loadtest.load_test_on_copy(url, threads=2, seconds=30, progress=interrupt)
    assert not scratch_databases(pg_cluster)
    copied = []

    def failing_copy(src, dst, table):
        if copied:
            raise OSError("disk gone")
        copied.append(table)

    monkeypatch.setattr(pg_loadtest, "_copy_table", failing_copy)
    with pytest.raises(OSError):
        loadtest.load_test_on_copy(url, seconds=0.2)
    assert not scratch_databases(pg_cluster) and checksums(url) == before


def test_generated_refused_and_without_createdb(demo, pg_cluster):
    _, url = demo
    result = loadtest.load_test_on_copy(url, generated=True, threads=2, seconds=0.3)
    assert result["ops"] > 0 and result["generated"] and not scratch_databases(pg_cluster)
    assert MonitorStore().recent_log() == []  # the demo's move into the scratch is not logged
    with pytest.raises(loadtest.LoadTestRefused):
        loadtest.run_load_test(url, seconds=0.2)
    pg_cluster.execute("DROP ROLE IF EXISTS r2w_bench_reader")
    pg_cluster.execute("CREATE ROLE r2w_bench_reader LOGIN")
    reader = url.replace("postgresql://postgres@", "postgresql://r2w_bench_reader@", 1)
    with pytest.raises(pg_loadtest.ScratchRefused, match="CREATEDB"):
        loadtest.load_test_on_copy(reader, seconds=0.2)


def run_cli(*args):
    done = cli_process.run_cli([*map(str, args)], timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def test_the_bench_command_gives_sqlite_s_keys(demo, pg_cluster):
    path, url = demo
    secret = with_password(url)
    first, _ = run_cli("--db", secret, "bench", "--json", "--iterations", 2)
    second, err = run_cli("--db", secret, "bench", "--json", "--iterations", 2, "--load-test")
    lite, _ = run_cli("--db", path, "bench", "--json", "--iterations", 2, "--load-test")
    first, pg, lite = json.loads(first), json.loads(second), json.loads(lite)
    assert set(pg) == set(lite) and set(pg["comparison"]) == set(lite["comparison"])
    assert [set(q) for q in pg["queries"]] == [set(q) for q in lite["queries"]]
    assert set(pg["load_test"]) == set(lite["load_test"])
    assert first["comparison"]["previous"] is None
    assert pg["comparison"]["previous"]["id"] == first["id"]  # keyed by the redacted URL
    assert len(MonitorStore().bench_runs(secret)) == 2
    assert PASSWORD not in json.dumps(pg) + err and not scratch_databases(pg_cluster)
    text, _ = run_cli("--db", secret, "bench", "--iterations", 1, "--no-store")
    assert "PostgreSQL 1" in text and "EXPLAIN (FORMAT JSON)" in text and PASSWORD not in text


def test_the_page_renders_against_a_postgresql_url(demo, pg_cluster, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from .test_page_benchmarks import PAGE, charts

    _, url = demo
    monkeypatch.setenv("DATABASE_URL", with_password(url))
    monkeypatch.delenv("R2W_DATABASES", raising=False)
    st.cache_data.clear()
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception
    assert any("scratch database" in m.value for m in at.markdown)
    at.number_input(key="bench_iterations").set_value(3)
    at.button(key="bench_run").click().run()
    at.button(key="bench_run").click().run()
    assert not at.exception
    assert list(at.dataframe[0].value["name"]) == benchmark.QUERY_NAMES
    specs = [spec for spec, _ in charts(at)]
    assert {"bar", "tick"} <= {layer["mark"]["type"] for layer in specs[0]["layer"]}
    assert len(specs) >= 2  # the medians and the history of the two runs
    assert any("EXPLAIN (FORMAT JSON)" in c.value for c in at.caption)
    assert len(at.expander) >= len(benchmark.QUERY_NAMES)
    at.number_input(key="load_seconds").set_value(1)
    at.number_input(key="load_threads").set_value(2)
    at.button(key="load_run").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Operations"].replace(",", "")) > 0
    assert not scratch_databases(pg_cluster)
    shown = " ".join(str(e.value) for kind in ("markdown", "caption", "code", "info", "warning")
                     for e in getattr(at, kind))
    assert PASSWORD not in shown
