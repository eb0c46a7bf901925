"""The stuck-jobs task (issue 20): `maintain stuck` previews exactly the uploads 'processing' for
more than N minutes (ages; the oldest listed with file types and owners, never a name), marks
them 'failed' in batches, and never touches a job that finished meanwhile (between the preview and the run, or mid-batch);
the same on SQLite and PostgreSQL; a preview that finds nothing says so and the run writes
nothing; the Stuck jobs check offers the task as its remedy."""
import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from r2w_db import errors
from r2w_db.app import uploads, users
from r2w_db.backends import migrations, open_database
from r2w_db.engine import timeutil
from r2w_db.figures import health, health_report
from r2w_db.maintenance import registry, runner, stuck_jobs
from r2w_db.monitor.store import MonitorStore
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)
ANON = "anonymous_00000000000a"
# job, owner, file type, minutes since upload, status
JOBS = [("stuck-1", "jane", ".pdf", 61, "processing"),
        ("stuck-2", "jane", ".docx", 180, "processing"),
        ("stuck-3", ANON, ".pdf", 3000, "processing"),
        ("stuck-4", ANON, ".png", 90, "processing"),
        ("young", "jane", ".pdf", 59, "processing"),       # not stuck yet
        ("done", "jane", ".pdf", 500, "completed"),
        ("gave-up", "jane", ".pdf", 500, "failed"),
        ("waiting", ANON, ".pdf", 500, "uploaded")]
STUCK = {"stuck-1", "stuck-2", "stuck-3", "stuck-4"}


@pytest.fixture
def clock(monkeypatch):
    moment = {"now": NOW}
    monkeypatch.setattr(timeutil, "utcnow", lambda: moment["now"])
    return moment


def fill(db, clock, now=NOW):
    """The JOBS, written through the application's own functions at their upload times."""
    jane = users.create_user(db, "jane@example.com", "h")
    owners = {"jane": jane, ANON: ANON}
    for job, owner, file_type, minutes, status in JOBS:
        clock["now"] = now - timedelta(minutes=minutes)
        uploads.create_cv_upload(db, owners[owner], job, f"{job}{file_type}", file_type)
        if status != "processing":
            uploads.update_cv_upload_status(db, job, status)
    clock["now"] = now
    return jane


def statuses(db):
    db = open_database(db)
    with db.read() as conn:
        return dict(tuple(r) for r in conn.execute("SELECT job_id, status FROM cv_uploads"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def filled(request, tmp_path, clock):
    """One database per engine holding JOBS; PostgreSQL's from a cluster of the session."""
    if request.param == "sqlite":
        location = tmp_path / "stuck.db"
    else:
        location = request.getfixturevalue("pg_url")
    migrations.init(location)
    db = open_database(location)
    fill(db, clock)
    return db


def test_the_preview_counts_exactly_the_stuck_jobs(filled):
    pv = registry.preview(filled, "stuck")
    assert pv.count == 4 and not pv.nothing_to_do
    d = pv.details
    assert d["minutes"] == 60
    # issue 21: the jobs listed oldest first (at most stuck_jobs.SHOWN), no longer counts of
    # every stuck job's file types and owners (tests/test_stuck_preview_oldest.py)
    assert [(j["job_id"], j["file_type"], j["owner"]) for j in d["oldest"]] == [
        ("stuck-3", ".pdf", "anonymous"), ("stuck-2", ".docx", "registered"),
        ("stuck-4", ".png", "anonymous"), ("stuck-1", ".pdf", "registered")]
    assert d["ages"] == {"1-2 h": 2, "2-6 h": 1, "6-24 h": 0, "over 1 day": 1}
    assert d["oldest_minutes"] == pytest.approx(3000, abs=0.1)
    assert "4 uploads processing for more than 60 min" in pv.message
    assert "jane" not in json.dumps(pv.as_dict(), default=str)     # owners as counts only
    # another threshold: 2 h
    assert registry.preview(filled, "stuck", minutes=120).count == 2


def test_a_run_fails_the_stuck_jobs_and_nothing_else(filled, tmp_path):
    before = statuses(filled)
    done = runner.run(filled, "stuck", user="ops", monitor=MonitorStore(tmp_path / "m.db"))
    assert (done.outcome, done.rows, done.previewed) == ("ok", 4, 4)
    after = statuses(filled)
    assert {j for j in after if after[j] != before[j]} == STUCK
    assert all(after[j] == "failed" for j in STUCK)
    [entry] = MonitorStore(tmp_path / "m.db").recent_log()
    assert (entry["task"], entry["outcome"], entry["rows"], entry["user"]) == ("stuck", "ok", 4, "ops")
    assert json.loads(entry["parameters"])["minutes"] == 60
    # now nothing is left: the preview says so, the run writes nothing
    pv = registry.preview(filled, "stuck")
    assert pv.nothing_to_do and pv.count == 0
    assert pv.message == "nothing to do: no job has been processing for more than 60 min"


def test_a_job_finished_between_preview_and_run_is_left_alone(filled, monkeypatch):
    """The run's own preview counts 4; the application completes one before the first batch."""
    def preview_then_finish(*args, **kwargs):
        pv = registry.preview(*args, **kwargs)
        uploads.update_cv_upload_status(filled, "stuck-2", "completed", {"name": "Jane"})
        return pv

    monkeypatch.setattr(runner, "preview", preview_then_finish)
    done = runner.run(filled, "stuck", user="ops")
    assert (done.rows, done.previewed) == (3, 4)
    after = statuses(filled)
    assert after["stuck-2"] == "completed" and after["young"] == "processing"
    assert {j for j in STUCK - {"stuck-2"} if after[j] == "failed"} == STUCK - {"stuck-2"}


def test_a_job_finished_mid_run_is_left_alone(filled):
    """One job per transaction (chunk 1, no time budget); after the first commit the
    application completes a job of a later batch: its batch's UPDATE re-checks and skips it."""
    order = sorted(STUCK)
    finished = []

    def writer(n):
        if not finished:
            uploads.update_cv_upload_status(filled, order[-1], "completed", {"name": "x"})
            finished.append(order[-1])

    n = stuck_jobs.fail_stuck(filled, 60, progress=writer, chunk=1, target_ms=0, pause_ms=0)
    assert n == 3 and finished == ["stuck-4"]
    after = statuses(filled)
    assert after["stuck-4"] == "completed"
    assert all(after[j] == "failed" for j in order[:-1])


def test_minutes_are_checked():
    for bad in (0, -1, 1.5, True, "60", stuck_jobs.MAX_MINUTES + 1):
        with pytest.raises(errors.InvalidValue):
            stuck_jobs.check_minutes(bad)
    assert stuck_jobs.check_minutes(None) == 60


def test_the_task_is_declared_admin_only_with_minutes():
    task = registry.TASKS["stuck"]
    assert task.destructive and "stuck" in registry.DESTRUCTIVE
    assert (task.default_minutes, task.default_days) == (60, None)
    assert registry.check_minutes("sessions", None) is None


def test_a_preview_says_when_there_is_nothing_to_do(db_path):
    for name in registry.CLEANUPS:
        pv = registry.preview(db_path, name)
        assert pv.nothing_to_do and pv.count == 0 and pv.message.startswith("nothing to do: ")
    assert not registry.preview(db_path, "integrity").nothing_to_do
    empty = registry.preview(db_path, "checkpoint")     # a fresh file has no WAL
    assert empty.nothing_to_do and empty.message == "nothing to do: the WAL is empty"


def test_the_stuck_check_offers_the_task(tmp_path, clock):
    db = open_database(tmp_path / "c.db")
    migrations.init(db)
    fill(db, clock)
    [row] = [r for r in health_report.evaluate(db, now=NOW)["checks"] if r["key"] == "stuck"]
    assert row["status"] == health.WARN and row["number"] == 4
    assert (row["task"], row["task_params"]) == ("stuck", {"minutes": 60})
    assert "maintain stuck --minutes 60" in row["command"]
    cleanups = {r["key"]: r for r in health_report.evaluate(db, now=NOW)["checks"]}
    assert (cleanups["sessions"]["task"], cleanups["sessions"]["task_params"]) == \
        ("sessions", {"days": 7})
    assert cleanups["unparseable"]["task"] is None


# ------------------------------------------------------------------ the command line

def cli(env, *args):
    return run_cli([*map(str, args)], cwd=ROOT, env=env, timeout=120)


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    """(path, env): JOBS uploaded relative to the real clock (the commands run in their own
    process), and the commands' environment."""
    real = timeutil.utcnow()
    moment = {"now": real}
    monkeypatch.setattr(timeutil, "utcnow", lambda: moment["now"])
    path = tmp_path / "cli.db"
    migrations.init(path)
    fill(open_database(path), moment, now=real)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return path, env


def test_cli_dry_run_json_then_yes(cli_db):
    path, env = cli_db
    got = cli(env, "--db", path, "maintain", "stuck", "--dry-run", "--json")
    assert got.returncode == 0, got.stderr
    body = json.loads(got.stdout)
    assert (body["outcome"], body["previewed"], body["dry_run"]) == ("dry-run", 4, True)
    assert [j["owner"] for j in body["details"]["oldest"]] == [
        "anonymous", "registered", "anonymous", "registered"]
    assert statuses(path) == {j: s for j, _, _, _, s in JOBS}     # nothing changed
    refused = cli(env, "--db", path, "maintain", "stuck")        # no terminal, no --yes
    assert refused.returncode == 1 and "--yes" in refused.stderr
    done = cli(env, "--db", path, "maintain", "stuck", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == 4
    assert {j for j, s in statuses(path).items() if s == "failed"} == STUCK | {"gave-up"}
    again = cli(env, "--db", path, "maintain", "stuck")        # nothing to do: no --yes needed
    assert again.returncode == 0, again.stderr
    assert "nothing to do: no job has been processing for more than 60 min" in again.stdout
    wrong = cli(env, "--db", path, "maintain", "cache", "--minutes", "5")
    assert wrong.returncode == 1 and "takes no --minutes" in wrong.stderr
