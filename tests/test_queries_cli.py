"""Issue 22, Queries, without a server: the captures' deltas (a reset never gives a negative
one), their retention, the health check "Statement slower than its baseline" on injected
captures, the catalogue of the application's operations, and SQLite's explanation on the
command line and on the page. tests/test_pg_queries.py runs the same on a live cluster."""
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from r2w_db.backends import open_database
from r2w_db.backends.postgresql import accounts, extractions, statements as pg_statements
from r2w_db.figures import health, queries
from r2w_db.monitor.statement_store import StatementStore
from r2w_db.watch import cycle, settings as settings_mod
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 7, 12, 0, 0)
PG = open_database("postgresql://watcher@db.example/r2w")   # never connected to here
EMAIL = accounts.USER_BY_EMAIL.replace("%(email)s", "$1")
OTHER = "SELECT count(*) FROM pg_class WHERE relkind = $1"


def reading(query, calls, total_ms, rows=None, hit=0, read=0, max_ms=None):
    return {"query": query, "calls": calls, "total_ms": total_ms,
            "rows": calls if rows is None else rows, "hit": hit, "read": read,
            "max_ms": total_ms / max(calls, 1) if max_ms is None else max_ms}


# ------------------------------------------------------------------ deltas and retention

def test_first_capture_is_a_baseline_then_deltas():
    store = StatementStore()
    first = store.record(PG, {1: reading(EMAIL, 10, 20.0)}, now=NOW)
    assert first["baseline"] and first["statements"] == 0
    second = store.record(PG, {1: reading(EMAIL, 15, 35.0, hit=9, read=1),
                               2: reading(OTHER, 2, 1.0)}, now=NOW + timedelta(minutes=5))
    assert (second["baseline"], second["reset"], second["statements"]) == (False, False, 2)
    got = {r["queryid"]: r for r in store.totals(PG)}
    assert (got[1]["calls"], got[1]["total_ms"], got[1]["hit"], got[1]["read"]) == (5, 15.0, 9, 1)
    assert got[2]["calls"] == 2   # new since the previous capture: counted from zero


def test_counters_that_go_down_count_from_zero_never_negative():
    store = StatementStore()
    store.record(PG, {1: reading(EMAIL, 100, 200.0), 2: reading(OTHER, 50, 50.0)}, now=NOW)
    got = store.record(PG, {1: reading(EMAIL, 4, 8.0), 2: reading(OTHER, 60, 70.0)},
                       now=NOW + timedelta(minutes=5))
    assert got["reset"]
    totals = {r["queryid"]: (r["calls"], r["total_ms"]) for r in store.totals(PG)}
    assert totals == {1: (4, 8.0), 2: (10, 20.0)}


def test_a_changed_stats_reset_restarts_every_statement():
    store = StatementStore()
    store.record(PG, {1: reading(EMAIL, 10, 10.0)}, stats_reset=NOW - timedelta(days=1), now=NOW)
    # reset, then more calls than before: only stats_reset tells
    got = store.record(PG, {1: reading(EMAIL, 12, 30.0)}, stats_reset=NOW + timedelta(minutes=1),
                       now=NOW + timedelta(minutes=5))
    assert got["reset"] and [r["calls"] for r in store.totals(PG)] == [12]
    assert [c["reset"] for c in store.captures(PG)] == [0, 1]


def test_captures_are_kept_fourteen_days_and_texts_once():
    store = StatementStore()
    for day in range(20):
        store.record(PG, {1: reading(EMAIL, 10 * (day + 1), 10.0 * (day + 1))},
                     now=NOW + timedelta(days=day))
    captures = store.captures(PG)
    assert len(captures) == 15 and captures[0]["captured_at"] == "2026-12-12T12:00:00.000000"
    assert store.monitor.count_rows("statement_texts") == 1
    assert store.monitor.count_rows("statement_deltas") == 15
    assert store.monitor.count_rows("statement_counters") == 1


# ------------------------------------------------------------------ the health check

def captured(store, per_day_means, calls=50, start=None):
    """One capture a day (after a baseline) whose single statement ran `calls` times at each
    day's mean (ms)."""
    start = start or NOW - timedelta(days=len(per_day_means))
    total_calls, total_ms = 0, 0.0
    store.record(PG, {1: reading(EMAIL, 0, 0.0)}, now=start - timedelta(hours=1))
    for i, mean in enumerate(per_day_means):
        total_calls, total_ms = total_calls + calls, total_ms + calls * mean
        store.record(PG, {1: reading(EMAIL, total_calls, total_ms)},
                     now=start + timedelta(days=i, hours=1))


def slowdown(t=None):
    return {c.key: c for c in health.statement_checks(PG, t or health.Thresholds(), NOW)}[
        "statement_slowdown"]


def test_no_captures_is_green_and_says_so():
    check = slowdown()
    assert (check.status, check.value) == (health.OK, "not enough captures yet")


@pytest.mark.parametrize("last_day,status", [(2.2, health.OK), (5.0, health.WARN),
                                             (12.0, health.ERROR)])
def test_a_slowed_statement_turns_amber_then_red(last_day, status):
    captured(StatementStore(), [2.0] * 7 + [last_day])
    check = slowdown()
    assert check.status == status, check.detail
    assert check.measured[0] == pytest.approx(last_day / 2.0, rel=1e-3)
    assert "user by email" in check.detail and check.page == health.QUERIES_PAGE
    assert check.command.endswith("queries --since 1d")
    assert bool(check.remedy) == (status != health.OK)


def test_too_few_calls_or_too_fast_is_not_judged(monkeypatch):
    captured(StatementStore(), [2.0] * 7 + [12.0], calls=5)
    assert (slowdown().status, slowdown().value) == (health.OK, "none comparable")
    monkeypatch.setenv("R2W_HEALTH_PG_STATEMENT_MIN_CALLS", "1")
    monkeypatch.setenv("R2W_HEALTH_PG_STATEMENT_MIN_MEAN_MS", "20")
    t, problems = health.load_thresholds()
    assert not problems and (t.pg_statement_min_calls, t.pg_statement_min_mean_ms) == (1, 20)
    assert slowdown(t).status == health.OK
    assert slowdown(health.Thresholds(pg_statement_min_calls=1)).status == health.ERROR


def test_the_check_reads_the_captures_of_the_watchers_monitor_database(tmp_path, monkeypatch):
    """`watch --monitor FILE` keeps its captures in FILE: the check reads them there, not in
    R2W_MONITOR_DB's database (which holds none)."""
    own = tmp_path / "watcher-monitor.db"
    captured(StatementStore(own), [2.0] * 7 + [12.0])
    assert slowdown().value == "not enough captures yet"     # R2W_MONITOR_DB's: empty
    check = {c.key: c for c in health.statement_checks(PG, health.Thresholds(), NOW, own)}[
        "statement_slowdown"]
    assert check.status == health.ERROR, check.detail
    taken = {}
    monkeypatch.setattr(cycle, "take_snapshot", lambda *a, **k: taken.update(k) or 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cycle.record_snapshot(PG, settings_mod.load(), own, now=NOW)
    assert str(taken["monitor"].path) == str(own)


def test_sqlite_has_no_statement_check(db_path):
    assert health.statement_checks(db_path, health.Thresholds(), NOW) == []


# ------------------------------------------------------------------ the catalogue

def sql_constants(module):
    return {value for name, value in vars(module).items()
            if name.isupper() and isinstance(value, str)
            and value.lstrip().split(" ")[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE")}


def test_every_statement_of_the_application_is_in_the_catalogue():
    known = {sql for _, sql in pg_statements.KNOWN}
    assert sql_constants(accounts) | sql_constants(extractions) == known
    assert len({name for name, _ in pg_statements.KNOWN}) == len(pg_statements.KNOWN)


@pytest.mark.parametrize("text,operation", [
    (EMAIL, "user by email"),
    ("select *   from users\n WHERE email = $1", "user by email"),
    ('UPDATE users SET "phone" = $1, "location" = $2 WHERE user_id = $3',
     "update a user's profile"),
    ("UPDATE users SET active_portfolio_id = $2, active_portfolio_url = $3,\n"
     "    portfolio_created_at = $4, portfolio_expires_at = $5\nWHERE user_id = $1",
     "clear the portfolio"),
    ("UPDATE users SET active_portfolio_id = $1, active_portfolio_url = $2,\n"
     "    portfolio_created_at = $3, portfolio_expires_at = $4\nWHERE user_id = $5",
     "set the portfolio"),
    ("SELECT * FROM users WHERE email = $1 OR name = $2", None),
    (OTHER, None),
])
def test_known_operations_match_on_normalised_text(text, operation):
    assert pg_statements.known_operation(text) == operation


# ------------------------------------------------------------------ SQLite

def test_sqlite_command_says_to_use_the_benchmark(db_path):
    done = run_cli(["--db", str(db_path), "queries"], cwd=ROOT, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == ("error: queries is not available on SQLite: SQLite keeps no statement "
                           "statistics; see the query benchmark (python -m r2w_db bench)\n")


@pytest.mark.parametrize("words", [["--since", "soon"], ["--limit", "0"]])
def test_bad_arguments_are_one_line(db_path, words):
    done = run_cli(["--db", str(db_path), "queries", *words], cwd=ROOT, timeout=60)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: --")


def test_sqlite_snapshot_captures_nothing(db_path):
    _, stored = cycle.record_snapshot(db_path, settings_mod.load())
    assert stored["statements"] is None
    assert not StatementStore().captures(db_path)


def test_sqlite_page_explains_and_links_the_benchmark(db_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", str(db_path))
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "pages/8_Queries.py"), default_timeout=30).run()
    assert not at.exception and not at.error
    assert any("SQLite keeps no statement statistics" in i.value for i in at.info)
    assert "python -m r2w_db" in " ".join(i.value for i in at.info)
