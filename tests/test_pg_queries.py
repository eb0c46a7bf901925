"""Issue 22, Queries: PostgreSQL's real query workload from pg_stat_statements.

A cluster of its own started with pg_stat_statements preloaded (pg_cluster_with_statements), a
demo moved into it, the application's operations (r2w_db/app) run against it, watcher snapshots
with a reset of the statistics in between, and the command (`queries --json`) and the page
showing them: the application's statements marked as its own, the deltas right across the
reset. Without the extension (the default test cluster): the one line that says how to enable
it, never an error.
"""
import html
import json
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from r2w_db import config
from r2w_db.app import cache, portfolio, sessions, uploads, users
from r2w_db.backends import migrations, open_database
from r2w_db.backends.postgresql import statements as pg_statements
from r2w_db.engine import timeutil
from r2w_db.figures import health, queries
from r2w_db.monitor.statement_store import StatementStore
from r2w_db.watch import cycle, settings as settings_mod

from .pg_cluster import Templates
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/8_Queries.py"


@pytest.fixture(scope="module")
def statement_templates(pg_cluster_with_statements, tmp_path_factory):
    return Templates(pg_cluster_with_statements, tmp_path_factory.mktemp("statement-templates"))


@pytest.fixture
def moved(statement_templates, pg_cluster_with_statements, tmp_path):
    """The URL of a small demo moved into the cluster with pg_stat_statements, the extension
    created in it."""
    _, url = statement_templates.moved_demo(tmp_path, seed=22)
    name = url.split("/")[3].split("?")[0]
    pg_cluster_with_statements.execute("CREATE EXTENSION pg_stat_statements", dbname=name)
    return url


def run_every_operation(url):
    """Each of the application's operations once (every statement of KNOWN runs)."""
    uid = users.create_user(url, "q22@example.com", "hash", "Q")
    other = users.create_user(url, "q22b@example.com", "hash")
    users.get_user_by_email(url, "q22@example.com")
    users.get_user_by_id(url, uid)
    users.update_user_profile(url, uid, name="Q2", location="Haifa")
    users.update_user_profile(url, uid)                      # nothing to change: does it exist
    sid = sessions.create_session(url, uid)
    sessions.get_user_id_from_session(url, sid)
    sessions.delete_session(url, sid)
    portfolio.update_user_portfolio(url, uid, "p1", "https://example.com/p1")
    portfolio.get_user_portfolio(url, uid)
    portfolio.clear_user_portfolio(url, uid)
    job = "job-q22"
    uploads.create_cv_upload(url, uid, job, "cv.pdf", "pdf", file_hash="h22")
    assert uploads.update_cv_upload_status(url, job, "processing")
    assert uploads.update_cv_upload_status(url, job, "completed", cv_data={"name": "Q"})
    uploads.get_user_cv_uploads(url, uid)
    uploads.get_user_with_cvs(url, uid)
    uploads.get_multiple_users_cvs(url, [uid, other])
    anonymous = f"{config.ANONYMOUS_PREFIX}q22"
    uploads.create_cv_upload(url, anonymous, "job-anon-q22", "cv.pdf", "pdf")
    assert uploads.transfer_cv_ownership(url, "job-anon-q22", other)["success"]
    cache.cache_extraction_result(url, "h22", {"name": "Q"}, "model", 0.0, 0.9)
    cache.get_cached_extraction(url, "h22")
    return uid


def lookups(url, n):
    for _ in range(n):
        users.get_user_by_email(url, "q22@example.com")


def reset_statistics(cluster, url):
    cluster.execute("SELECT pg_stat_statements_reset()", dbname=url.split("/")[3].split("?")[0])


def command(url, *words):
    done = run_cli(["--db", url, *words], cwd=ROOT, timeout=120)
    return done.returncode, done.stdout, done.stderr


def by_operation(statements):
    found = {}
    for s in statements:
        found.setdefault(s["operation"], []).append(s)
    return found


def test_every_known_operation_is_what_the_application_runs(moved):
    run_every_operation(moved)
    state = queries.live(moved)
    assert state["available"] and state["stats_reset"] is not None and not state["hidden"]
    seen = {r["operation"] for r in state["readings"].values()}
    assert {name for name, _ in pg_statements.KNOWN} <= seen
    others = [r for r in state["readings"].values() if r["operation"] is None]
    assert any("pg_stat_statements" in r["query"] for r in others)   # this read: not the app's


def test_snapshots_capture_deltas_across_a_reset(moved, pg_cluster_with_statements, monkeypatch):
    loaded = settings_mod.load()
    run_every_operation(moved)
    _, first = cycle.record_snapshot(moved, loaded)
    assert first["statements"]["baseline"] and first["statements"]["statements"] == 0
    lookups(moved, 5)                                   # lost: the reset comes before a capture
    reset_statistics(pg_cluster_with_statements, moved)
    lookups(moved, 3)
    _, second = cycle.record_snapshot(moved, loaded)
    assert second["statements"]["reset"] and not second["statements"]["baseline"]
    lookups(moved, 4)
    _, third = cycle.record_snapshot(moved, loaded)
    assert not third["statements"]["reset"]

    store = StatementStore()
    captures = store.captures(moved)
    assert [c["reset"] for c in captures] == [0, 1, 0]
    email = next(q for q, r in queries.live(moved)["readings"].items()
                 if r["operation"] == "user by email")
    per_capture = {row["captured_at"]: row["calls"] for row in store.intervals(moved, [email])}
    assert list(per_capture.values()) == [3, 4]        # never negative, never the lost 5

    code, out, err = command(moved, "queries", "--json", "--since", "1d", "--limit", "500")
    assert code == 0, err
    got = json.loads(out)
    assert got["available"] and got["source"] == "captures" and got["captures"] == 2
    assert got["stats_reset"] is not None
    mine = by_operation(got["statements"])
    assert [s["calls"] for s in mine["user by email"]] == [7]
    row = mine["user by email"][0]
    assert row["known"] and row["rows"] == 7 and row["mean_ms"] > 0 and row["max_ms"] > 0
    assert row["mean_ms"] == pytest.approx(row["total_ms"] / 7, abs=1e-3)   # both rounded to µs
    assert 0 <= row["hit_ratio"] <= 1
    assert queries.NOT_OURS in mine and all(not s["known"] for s in mine[queries.NOT_OURS])
    totals = [s["total_ms"] for s in got["statements"]]
    assert totals == sorted(totals, reverse=True)

    code, out, err = command(moved, "queries", "--since", "1d", "--limit", "3")
    assert code == 0 and err == "" and "capture(s) since" in out
    assert "user by email" in out or "more; --limit shows more" in out

    series = queries.mean_over_time(moved, [email])
    assert list(series["calls"]) == [3, 4] and (series["mean_ms"] > 0).all()

    page = open_page(moved, monkeypatch)
    assert not page.exception and not page.error
    table = page.dataframe[0].value
    assert "user by email" in set(table["operation"])
    assert queries.NOT_OURS in set(table["operation"])
    assert any("capture(s) since" in c.value for c in page.caption)
    assert page.get("vega_lite_chart"), "the mean time over time is drawn"


def test_before_any_capture_the_figures_are_live_and_say_so(moved, monkeypatch):
    run_every_operation(moved)
    got = queries.top(moved, limit=100)
    assert got["source"] == "live" and got["captures"] == 0
    assert "user by email" in {s["operation"] for s in got["statements"]}
    page = open_page(moved, monkeypatch)
    assert not page.exception and not page.error
    assert any("Live: since the statistics were last reset" in c.value for c in page.caption)


def test_other_roles_statements_need_pg_read_all_stats(moved, pg_cluster_with_statements):
    users.get_user_by_email(moved, "nobody@example.com")       # run by the superuser
    name = moved.split("/")[3].split("?")[0]
    pg_cluster_with_statements.execute("CREATE ROLE q22_watcher LOGIN")
    pg_cluster_with_statements.execute(f"GRANT CONNECT ON DATABASE {name} TO q22_watcher")
    as_watcher = pg_cluster_with_statements.url(name, user="q22_watcher")
    state = queries.live(as_watcher)
    assert state["available"] and not state["privileged"] and state["hidden"] > 0
    assert "GRANT pg_read_all_stats TO q22_watcher;" in state["hidden_line"]
    assert all(r["query"] != "<insufficient privilege>" for r in state["readings"].values())


def test_a_view_the_role_may_not_read_leaves_the_snapshot_standing(moved,
                                                                    pg_cluster_with_statements):
    name = moved.split("/")[3].split("?")[0]
    for statement in ("CREATE ROLE q22_denied LOGIN",
                      "GRANT SELECT ON ALL TABLES IN SCHEMA public TO q22_denied",
                      "REVOKE SELECT ON pg_stat_statements FROM PUBLIC, q22_denied"):
        pg_cluster_with_statements.execute(statement, dbname=name)
    as_denied = pg_cluster_with_statements.url(name, user="q22_denied")
    snap, stored = cycle.record_snapshot(as_denied, settings_mod.load())
    assert stored["id"] and stored["statements"]["available"] is False
    assert "permission denied" in stored["statements"]["problem"]
    code, out, err = command(as_denied, "queries")
    assert code == 1 and out == "" and err.count("\n") == 1 and "permission denied" in err
    assert "q22_denied@" in err   # the database named, no traceback


# ------------------------------------------------------------------ without the extension

def test_without_the_extension_one_line_says_how(pg_url, monkeypatch):
    migrations.init(pg_url)
    code, out, err = command(pg_url, "queries")
    assert code == 0 and err == ""
    assert out.count("\n") == 1 and out.startswith("pg_stat_statements is not preloaded")
    for part in ("shared_preload_libraries = 'pg_stat_statements'", "CREATE EXTENSION "
                 "pg_stat_statements;", "GRANT pg_read_all_stats TO <monitor role>;"):
        assert part in out
    code, out, _ = command(pg_url, "queries", "--json")
    got = json.loads(out)
    assert code == 0 and got["available"] is False and got["enable"] and got["statements"] == []
    _, stored = cycle.record_snapshot(pg_url, settings_mod.load())
    assert stored["statements"] == {"available": False, "enable": got["enable"]}
    page = open_page(pg_url, monkeypatch)
    assert not page.exception and not page.error
    shown = [html.unescape(w.value) for w in page.warning if "pg_stat_statements" in w.value]
    assert shown == [got["enable"]]   # markdown-safe (ui.prose), read as the same line


def test_the_health_check_is_green_before_any_capture(pg_url):
    migrations.init(pg_url)
    checks = {c.key: c for c in health.run_checks(pg_url, now=timeutil.utcnow())}
    check = checks["statement_slowdown"]
    assert (check.status, check.value) == (health.OK, "not enough captures yet")
    assert check.page == health.QUERIES_PAGE


def open_page(url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", url)
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=60)
    at.query_params["window"] = "24h"
    return at.run()

