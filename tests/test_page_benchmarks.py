"""The Query benchmarks page in AppTest: a sentence before the first run, then the run's table,
its chart data, plans, the comparison and history, and the load test on a copy."""
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from r2w_db.backends.sqlite import benchmark as sqlite_benchmark
from r2w_db.bench import benchmark
from r2w_db.demo.builder import build_demo
from r2w_db.monitor.store import MonitorStore

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "5_Query_benchmarks.py")


@pytest.fixture
def page_env(tmp_path, monkeypatch):
    path = tmp_path / "demo.db"
    build_demo(path, scale="small", seed=7)
    monitor = tmp_path / "monitor.db"
    monkeypatch.setenv("DATABASE_URL", str(path))
    monkeypatch.setenv("R2W_MONITOR_DB", str(monitor))
    st.cache_data.clear()
    return path, monitor


def charts(at):
    """[(spec, {dataset name: DataFrame})] of the page's Altair charts."""
    found = []
    for element in at.get("vega_lite_chart"):
        proto = element.proto
        data = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in proto.datasets}
        found.append((json.loads(proto.spec), data))
    return found


def test_run_shows_table_chart_plans_comparison_and_history(page_env):
    path, monitor = page_env
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    assert any("No benchmark has run" in i.value for i in at.info)
    assert not charts(at)

    at.number_input(key="bench_iterations").set_value(5)
    at.button(key="bench_run").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["name"]) == benchmark.QUERY_NAMES
    assert (table["iterations"] == 5).all()
    assert (table["min_ms"] <= table["median_ms"]).all() and (table["median_ms"] <= table["p95_ms"]).all()
    (spec, data), = charts(at)[:1]
    frame = next(iter(data.values()))
    assert set(frame["name"]) == set(benchmark.QUERY_NAMES)
    assert (frame["median_ms"] > 0).all() and (frame["p95_ms"] >= frame["median_ms"]).all()
    assert {"bar", "tick"} <= {layer["mark"]["type"] for layer in spec["layer"]}
    assert len(at.expander) >= len(benchmark.QUERY_NAMES)  # one plan per query
    assert any("first stored run" in i.value for i in at.info)
    assert len(MonitorStore(monitor).bench_runs(path)) == 1

    at.button(key="bench_run").click().run()
    assert not at.exception
    assert len(MonitorStore(monitor).bench_runs(path)) == 2
    assert at.success or at.warning  # the comparison with the first run
    assert len(at.dataframe) >= 2    # ... and its table
    history = [data for spec, data in charts(at) if "started_at" in next(iter(data.values())).columns]
    assert history and next(iter(history[0].values()))["run_id"].nunique() == 2
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_load_test_runs_on_a_copy(page_env, real_busy_timeout):
    path, monitor = page_env
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert any("No load test" in i.value for i in at.info)
    assert any("temporary copy" in m.value for m in at.markdown)
    at.number_input(key="load_seconds").set_value(1)
    at.number_input(key="load_threads").set_value(2)
    at.button(key="load_run").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Lock errors"] == "0" and int(metrics["Operations"].replace(",", "")) > 0
    assert MonitorStore(monitor).bench_runs(path, kind="load")[0]["ops"] > 0
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_chart_builders_are_plain_functions():
    from dashboard import bench_charts

    def query(name, median, full=False, covering=False):
        return {"name": name, "title": name, "kind": "point", "source": "project",
                "median_ms": median, "p95_ms": median * 1.5, "mean_ms": median, "min_ms": median / 2,
                "max_ms": median * 2, "stdev_ms": 0.1, "iterations": 5, "rows": 1,
                "full_scan": full, "covering_scan": covering, "plan": [f"SEARCH {name}"]}

    runs = [{"id": i, "started_at": f"2026-01-0{i}T00:00:00", "queries": [
        query("a", 0.004 * i), query("b", 120.0, covering=True), query("c", 3.0, full=True)]}
        for i in (2, 1)]
    frame = bench_charts.queries_frame(runs[0])
    assert list(frame["plan_kind"]) == ["index search", "covering-index scan", "full table scan"]
    spec = bench_charts.medians_chart(frame).to_dict()
    assert spec["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"
    history = bench_charts.history_frame(runs)
    assert list(history["run_id"].unique()) == [1, 2]  # oldest first
    assert bench_charts.history_chart(history).to_dict()["encoding"]["y"]["field"] == "median_ms"
    load = {"by_kind": [{"kind": "k", "access": "read", "count": 3, "p50_ms": 1.0, "p95_ms": 2.0,
                         "p99_ms": 3.0}, {"kind": "none", "access": "write", "count": 0}]}
    long = bench_charts.load_long(bench_charts.load_frame(load))
    assert set(long["kind"]) == {"k"} and len(long) == 3
    bench_charts.load_chart(long).to_dict()
    assert bench_charts.queries_frame(None).empty and bench_charts.comparison_frame(None).empty
    assert [bench_charts.human_ms(v) for v in (0.0036, 41.83, 1263.0)] == ["3.6 µs", "41.8 ms", "1.26 s"]


def test_no_secret_on_the_page(tmp_path, monkeypatch):
    from r2w_db.backends import migrations

    from .prodlike import SECRETS, build_prodlike

    path = tmp_path / "prod.db"
    build_prodlike(path)
    migrations.migrate(path)
    monkeypatch.setenv("DATABASE_URL", str(path))
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.setattr(sqlite_benchmark, "sample_parameters", _always_the_secret_rows(SECRETS))
    st.cache_data.clear()
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    at.number_input(key="bench_iterations").set_value(2)
    at.button(key="bench_run").click().run()
    assert not at.exception
    shown = [e.value for kind in ("markdown", "caption", "code", "info", "warning", "success")
             for e in getattr(at, kind)] + [d.value.to_csv() for d in at.dataframe]
    text = "\n".join(str(v) for v in shown)
    assert "session_id redacted" in text and "email redacted" in text
    for what, secret in SECRETS.items():
        assert secret not in text, what


def _always_the_secret_rows(secrets):
    real = sqlite_benchmark.sample_parameters

    def sample(conn, seed=None, now=None):
        values = real(conn, seed=seed, now=now)
        values.update(session_id=secrets["session_id"], email=secrets["email"])
        return values
    return sample
