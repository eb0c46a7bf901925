"""Maintenance on PostgreSQL: the same previews and cleanups as SQLite, committed batches, kills,
VACUUM / ANALYZE / amcheck, and no checkpoint. Real PostgreSQL (tests/pg_cluster.py)."""
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from r2w_db.engine import timeutil
from r2w_db.backends import migrations
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db import errors
from r2w_db.maintenance import move, registry, runner
from r2w_db.monitor.store import MonitorStore

from .prodlike import build_prodlike

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)
CLEANUPS = ("sessions", "cache", "anonymous")
KEYS = {"users": "user_id", "sessions": "session_id", "cv_uploads": "upload_id",
        "cv_extraction_cache": "file_hash"}
KEY_SQL = {t: f"SELECT {k} FROM {t}" for t, k in KEYS.items()}  # test-only, fixed names


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.setenv("R2W_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.delenv("DATABASE_URL", raising=False)


def frozen(monkeypatch, now):
    monkeypatch.setattr(timeutil, "utcnow", lambda: now)


def sqlite_keys(path):
    with sqlite3.connect(path) as conn:
        return {t: {r[0] for r in conn.execute(q)} for t, q in KEY_SQL.items()}


def pg_keys(url):
    with PgDatabase(url).read() as conn:
        return {t: {r[0] for r in conn.execute(q)} for t, q in KEY_SQL.items()}


@pytest.fixture
def moved(tmp_path, pg_templates, monkeypatch):
    """(SQLite demo path, the same data on PostgreSQL: a clone of the session's template), time
    frozen at the demo's now."""
    path, url = pg_templates.moved_demo(tmp_path, seed=5, now=NOW)
    frozen(monkeypatch, NOW)
    return path, url


def log(task=None):
    return [e for e in MonitorStore().recent_log() if task is None or e["task"] == task]


# -------------------------------------------------------------- previews and cleanups

def test_previews_match_on_the_production_like_fixture(tmp_path, pg_cluster, monkeypatch):
    path = tmp_path / "prod.db"
    now, _ = build_prodlike(path)
    migrations.migrate(path)
    url = pg_cluster.create_database()
    move.move(path, url, unconvertible="skip-row")   # 'yesterday' (session s6) stays behind
    same = tmp_path / "same.db"
    shutil.copyfile(path, same)
    with sqlite3.connect(same) as conn:
        conn.execute("DELETE FROM sessions WHERE session_id = 's6'")
    frozen(monkeypatch, now)
    counts = {}
    for task in CLEANUPS:
        for days in (None, 1, 35, 75):
            lite, pg = registry.preview(same, task, days=days), registry.preview(url, task, days=days)
            assert (pg.count, pg.details) == (lite.count, lite.details), (task, days)
            counts[task, days] = pg.count
    assert counts["anonymous", None] >= 1 and counts["sessions", None] >= 1
    for task in CLEANUPS:   # and running them leaves the same rows
        assert runner.run(same, task, user="t").rows == runner.run(url, task, user="t").rows
    assert sqlite_keys(same) == pg_keys(url)


def test_each_cleanup_leaves_the_rows_sqlite_leaves(moved):
    path, url = moved
    before = pg_keys(url)
    for task in CLEANUPS:
        seen = []
        lite = runner.run(path, task, user="t")
        pg = runner.run(url, task, user="t", progress=lambda f, m: seen.append((f, m)))
        assert (pg.outcome, pg.rows, pg.message, pg.details.get("ids")) == \
               (lite.outcome, lite.rows, lite.message, lite.details.get("ids"))
        assert pg.rows > 0 and seen and seen[-1][0] == 1.0, (task, seen)
        fractions = [f for f, _ in seen]
        assert fractions == sorted(fractions)
        assert sqlite_keys(path) == pg_keys(url), task
    assert pg_keys(url) != before
    entries = {e["task"]: e for e in log() if e["database"] == PgDatabase(url).display}
    assert set(entries) == set(CLEANUPS)
    for task, entry in entries.items():
        assert entry["outcome"] == "ok" and entry["rows"] > 0 and entry["previewed"] > 0
    again = [runner.run(url, task, user="t") for task in CLEANUPS]  # a second run: nothing left
    assert [r.rows for r in again] == [0, 0, 0]


def test_batches_commit_one_by_one_and_a_stop_keeps_them(moved):
    """Deletes go in several committed transactions: progress after each commit, and a stop
    request between two leaves the committed ones done and the rest untouched."""
    _, url = moved
    from r2w_db.engine import batching

    total = registry.preview(url, "sessions").count
    committed = []
    db = PgDatabase(url)

    def delete(**kwargs):
        return batching.delete_in_batches(
            db, "sessions", *db.backend.retention.old_sessions(timeutil.ago(days=7)),
            progress=committed.append, target_ms=0.001, pause_ms=0, **kwargs)
    first = delete(should_stop=lambda: len(committed) == 2)   # stopped after two commits
    assert committed == [500, first] and first == 510
    assert registry.preview(url, "sessions").count == total - first
    rest = delete()                                           # the next run finishes
    assert first + rest == total and committed[-1] == rest
    assert registry.preview(url, "sessions").count == 0
    # through the runner: a stop request after the first transaction of whole ids
    ids = registry.preview(url, "anonymous").count
    result = runner.run(url, "anonymous", user="t", should_stop=lambda: True)
    assert result.outcome == "cancelled" and 0 < result.details["ids"] < ids
    assert registry.preview(url, "anonymous").count == ids - result.details["ids"]
    assert log("anonymous")[0]["outcome"] == "cancelled"


# ----------------------------------------------------------------------- kill safety

def build_anonymous(url, ids):
    """`ids` stale anonymous ids (1-3 uploads each), fresh ids, registered users' uploads."""
    pg_schema.init(url)
    with PgDatabase(url).write() as conn:
        conn.execute("SET statement_timeout = 0")
        conn.execute("""
            INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, upload_date,
                                    cv_data, status)
            SELECT 'u' || i || '_' || k, 'anonymous_' || lpad(i::text, 6, '0'), 'j' || i || '_' || k,
                   'cv.pdf', '.pdf', now() - make_interval(days => 31 + mod(i * 7 + k, 170)),
                   repeat('x', 300), 'uploaded'
            FROM generate_series(1, %s) AS i, generate_series(1, 1 + mod(i, 3)) AS k""", (ids,))
        conn.execute("""
            INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, upload_date)
            SELECT 'f' || i, 'anonymous_fresh' || i, 'jf' || i, 'cv.pdf', '.pdf',
                   now() - interval '2 days'
            FROM generate_series(1, 200) AS i
            UNION ALL
            SELECT 'r' || i, 'user' || i, 'jr' || i, 'cv.pdf', '.pdf', now() - interval '100 days'
            FROM generate_series(1, 200) AS i""")
    return uploads_per_user(url)


def uploads_per_user(url):
    with PgDatabase(url).read() as conn:
        return dict(conn.execute(
            "SELECT user_id, count(*) FROM cv_uploads GROUP BY user_id").fetchall())


def kill_midway(url, original):
    """`maintain anonymous --yes` on the URL, SIGKILLed a random moment after its first commit."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.Popen([sys.executable, "-m", "r2w_db", "--db", url, "maintain",
                             "anonymous", "--yes"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    before = len(original)
    deadline = time.time() + 30
    while time.time() < deadline and len(uploads_per_user(url)) == before and proc.poll() is None:
        time.sleep(0.005)
    time.sleep(random.uniform(0.0, 0.1))
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if not alive:
        print(proc.stderr.read().decode())
    proc.stderr.close()
    return alive


def test_a_killed_cleanup_leaves_whole_ids_and_the_next_run_finishes(pg_url):
    original = build_anonymous(pg_url, 20000)
    stale = {u for u in original if u.startswith("anonymous_") and not u.startswith("anonymous_fresh")}
    removed_before = 0
    for _ in range(2):
        assert kill_midway(pg_url, uploads_per_user(pg_url)), "the run ended before the kill"
        now = uploads_per_user(pg_url)
        assert {u for u, n in now.items() if n != original[u]} == set()   # every id whole or gone
        assert all(u in now for u in original if u not in stale)          # nothing else touched
        removed = len(stale - set(now))
        assert removed_before < removed < len(stale)                      # killed mid-run
        removed_before = removed
    result = runner.run(pg_url, "anonymous", user="t")
    assert result.outcome == "ok" and result.details["ids"] == len(stale) - removed_before
    assert set(uploads_per_user(pg_url)) == set(original) - stale
    killed = [e for e in log("anonymous") if e["id"] != result.log_id]
    assert len(killed) == 2
    assert all(e["outcome"] == "failed" and "interrupted" in e["error"] for e in killed)


# ------------------------------------------------------- VACUUM, ANALYZE, checkpoint

def table_stats(url):
    with PgDatabase(url).read() as conn:
        return {r[0]: r[1:] for r in conn.execute(
            "SELECT relname, n_dead_tup, last_vacuum, last_analyze FROM pg_stat_user_tables")}


def test_vacuum_and_analyze_run_and_are_logged(moved):
    _, url = moved
    runner.run(url, "sessions", user="t")   # dead row versions for VACUUM to clear
    assert table_stats(url)["sessions"][1] is None   # never vacuumed by hand yet
    pv = registry.preview(url, "vacuum")
    assert pv.refusal is None and "VACUUM (ANALYZE) of 4 tables" in pv.message
    vacuumed = runner.run(url, "vacuum", user="t")
    assert vacuumed.outcome == "ok" and vacuumed.message.startswith("VACUUM (ANALYZE) of 4 tables")
    after = table_stats(url)
    assert all(after[t][1] is not None and after[t][2] is not None for t in KEYS)
    assert after["sessions"][0] == 0
    analyzed = runner.run(url, "analyze", user="t")
    assert analyzed.outcome == "ok" and analyzed.details["tables"] == sorted(KEYS)
    assert all(table_stats(url)[t][2] >= after[t][2] for t in KEYS)
    done = {e["task"]: e["outcome"] for e in log() if e["database"] == PgDatabase(url).display}
    assert done["vacuum"] == "ok" and done["analyze"] == "ok"
    assert registry.preview(url, "analyze").details["has_statistics"] is True


def test_vacuum_and_analyze_need_the_table_owner(moved, pg_cluster):
    _, url = moved
    name = url.split("/")[3].split("?")[0]
    role = f"janitor_{name}"
    pg_cluster.execute(f"CREATE ROLE {role} LOGIN")   # test-only names
    pg_cluster.execute(f"GRANT SELECT, DELETE ON ALL TABLES IN SCHEMA public TO {role}", dbname=name)
    other = pg_cluster.url(name, user=role)
    for task in ("vacuum", "analyze"):
        pv = registry.preview(other, task)
        assert "needs the owner of" in pv.refusal, task
        with pytest.raises(registry.Refused, match="needs the owner"):
            runner.run(other, task, user="t")
    assert runner.run(other, "sessions", user="t").rows > 0   # the grants suffice for cleanups


def test_there_is_no_checkpoint_on_postgresql(moved):
    path, url = moved
    pv = registry.preview(url, "checkpoint")
    assert pv.refusal and "not applicable on PostgreSQL" in pv.refusal
    assert "not applicable" in runner.run(url, "checkpoint", dry_run=True, user="t").error
    with pytest.raises(registry.Refused, match="not applicable on PostgreSQL"):
        runner.run(url, "checkpoint", user="t")
    assert log("checkpoint")[0]["outcome"] == "refused"
    with pytest.raises(errors.NotSupported, match="not applicable on PostgreSQL"):
        PgDatabase(url).backend.require("tasks.checkpoint", "checkpoint")
    assert registry.preview(path, "checkpoint").refusal is None   # SQLite still has it


# ----------------------------------------------------------------------- integrity

def test_integrity_uses_amcheck(moved):
    _, url = moved
    pv = registry.preview(url, "integrity")
    assert pv.refusal is None and "amcheck would check" in pv.message
    result = runner.run(url, "integrity", user="t")
    assert result.outcome == "ok" and result.message.startswith("full integrity check ok")
    assert result.details["integrity"]["indexes_checked"] >= 10
    quick = runner.run(url, "integrity", quick=True, user="t")
    assert quick.outcome == "ok" and quick.message.startswith("quick integrity check ok")
    assert MonitorStore().last_success("integrity", database=PgDatabase(url)) is not None


def test_without_amcheck_integrity_is_refused_never_ok(pg_cluster):
    url = pg_cluster.create_database()
    name = url.split("/")[3].split("?")[0]
    role = f"keeper_{name}"
    pg_cluster.execute(f"CREATE ROLE {role} LOGIN")
    pg_cluster.execute(f'ALTER DATABASE "{name}" OWNER TO {role}')   # test-only names
    owner = pg_cluster.url(name, user=role)
    pg_schema.init(owner)
    pv = registry.preview(owner, "integrity")
    assert "amcheck is not installed in this database" in pv.refusal
    with pytest.raises(registry.Refused, match="amcheck is not installed"):
        runner.run(owner, "integrity", user="t")
    assert log("integrity")[0]["outcome"] == "refused"
    assert MonitorStore().last_success("integrity", database=PgDatabase(owner)) is None


def test_a_dry_run_writes_nothing(moved):
    _, url = moved
    before = pg_keys(url)
    for task in registry.TASKS:
        result = runner.run(url, task, dry_run=True, user="t")
        assert result.outcome == "dry-run", task
    assert pg_keys(url) == before and log() == log("move")
    with PgDatabase(url).read() as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s",
                            ("%\\_verify\\_%",)).fetchone()[0] == 0


# each engine titles VACUUM by what it does there (issue 22; the other tasks keep the registry's)
VACUUM_TITLES = {"sqlite": "VACUUM (compact the file)", "postgresql": "VACUUM (reclaim dead tuples)"}


def test_tasks_are_described_as_they_run_on_each_backend(moved):
    path, url = moved
    for name, task in registry.TASKS.items():
        on_lite, on_pg = registry.task_for(path, name), registry.task_for(url, name)
        for on in (on_lite, on_pg):
            assert (on.name, on.destructive) == (task.name, task.destructive)
        if name == "vacuum":
            assert (on_lite.title, on_pg.title) == tuple(VACUUM_TITLES.values())
        else:
            assert on_lite == task and on_pg.title == task.title
    assert "VACUUM (ANALYZE)" in registry.task_for(url, "vacuum").what
    assert "compact" not in registry.task_for(url, "vacuum").what
    assert "pg_dump -Fc" in registry.task_for(url, "backup").what
    assert "PRAGMA" not in " ".join(registry.task_for(url, n).what for n in registry.TASKS)


def test_the_maintenance_page_previews_postgresql(moved, monkeypatch, tmp_path):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    _, url = moved
    monkeypatch.setenv("DATABASE_URL", url)
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "pages" / "6_Maintenance.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    shown = "\n".join(str(m.value) for m in at.markdown)
    for task in CLEANUPS:
        assert registry.preview(url, task, signed_out=False).message in shown, task
    assert "VACUUM (ANALYZE) on each table" in shown and "PRAGMA" not in shown
    assert f"#### {VACUUM_TITLES['postgresql']}" in shown and "compact the file" not in shown
    assert any("not applicable on PostgreSQL" in str(w.value) for w in at.warning)
    # a task PostgreSQL has no use for cannot be started; the others can
    assert at.button(key="maint_run_checkpoint").disabled
    assert not at.button(key="maint_run_sessions").disabled
    st.cache_data.clear()


def test_several_retentions_at_once_count_what_sqlite_counts(moved):
    from r2w_db.app import anonymous, sessions

    path, url = moved
    for days in ((7, 8), (1, 30, 90)):
        at = sessions.count_old_sessions_at(url, *days)
        assert at == sessions.count_old_sessions_at(path, *days)
        assert at[0] == registry.preview(url, "sessions", days=days[0]).count
    for days in ((30, 31), (1, 60)):
        at = anonymous.count_stale_at(url, *days)
        assert at == anonymous.count_stale_at(path, *days)
        assert at[0] == registry.preview(url, "anonymous", days=days[0]).count
    assert sessions.count_old_sessions_at(url, 7)[0] > 0 and anonymous.count_stale_at(url, 30)[0] > 0
