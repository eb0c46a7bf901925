"""The Query benchmarks page in AppTest: a sentence before the first run, then the run's table,
its chart data, plans, the comparison and history, and the load test on a copy."""
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from r2w_db import benchmark
from r2w_db.demo import build_demo
from r2w_db.monitor import MonitorStore

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


def test_load_test_runs_on_a_copy(page_env):
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
