"""AppTest of the Maintenance page: cards, previews, Run -> dialog -> Confirm, the log, backups."""
import hashlib
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import ui
from r2w_db.backends import migrations
from r2w_db.backends.sqlite import tasks as sqlite_tasks
from r2w_db.maintenance import runner
from r2w_db.monitor.store import MonitorStore

from .lockhelpers import held
from .prodlike import SECRETS

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "6_Maintenance.py")
TASKS = ("sessions", "cache", "anonymous", "backup", "checkpoint", "analyze", "vacuum", "integrity")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    from .prodlike import build_prodlike

    path = tmp_path_factory.mktemp("tpl") / "prod.db"
    build_prodlike(path)
    migrations.migrate(path)
    return path


@pytest.fixture
def db(template, tmp_path, monkeypatch):
    path = tmp_path / "prod.db"
    shutil.copy(template, path)
    monkeypatch.setenv("DATABASE_URL", str(path))
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.setenv("R2W_BACKUP_DIR", str(tmp_path / "backups"))
    st.cache_data.clear()
    yield path
    st.cache_data.clear()


def open_page():
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception, at.exception
    return at


def texts(at):
    found = [str(e.value) for kind in ("markdown", "caption", "success", "info", "warning", "error",
                                       "subheader", "title") for e in getattr(at, kind)]
    found += [e.label for e in at.button]
    for frame in at.dataframe:
        found.append(frame.value.to_string())
    return "\n".join(found)


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def count(path, table):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def run_and_confirm(at, task, backup_first=True):
    at.button(key=f"maint_run_{task}").click().run()
    assert not at.exception, at.exception
    assert at.button(key="maint_dialog_confirm")          # the dialog is open
    if not backup_first:
        at.checkbox(key="maint_backup_first").uncheck()
    at.button(key="maint_dialog_confirm").click().run()
    assert not at.exception, at.exception
    return at


def test_cards_show_previews_and_nothing_secret(db):
    before = digest(db)
    at = open_page()
    assert [f"maint_run_{t}" in {b.key for b in at.button} for t in TASKS] == [True] * len(TASKS)
    page = texts(at)
    for expected in ("2 sessions older than 7 days would be deleted",
                     "1 cache entry older than 30 days and never reused would be deleted",
                     "1 anonymous id (1 upload)", "Daily", "Weekly", "Monthly",
                     "LOCKS THE DATABASE", "Last run: never"):
        assert expected in page, expected
    for secret in SECRETS.values():
        assert secret not in page
    assert digest(db) == before and not Path(str(db) + "-journal").exists()


def test_run_confirm_deletes_logs_and_shows_the_result(db, tmp_path):
    at = open_page()
    run_and_confirm(at, "sessions")
    assert count(db, "sessions") == 5
    log = MonitorStore().recent_log()
    by_task = {e["task"]: e for e in log}
    assert by_task["sessions"]["outcome"] == "ok" and by_task["sessions"]["rows"] == 2
    backup = Path(by_task["sessions"]["backup"])
    assert backup.parent.parent == tmp_path / "backups" and backup.exists()
    assert by_task["backup"]["outcome"] == "ok"
    page = texts(at)
    assert "deleted 2 sessions older than 7 days" in page and str(backup) in page
    assert "0 sessions older than 7 days would be deleted" in page
    assert "Last run: **ok**" in page
    assert "maint_dialog_confirm" not in {b.key for b in at.button}   # the dialog closed
    # the result survives the next rerun
    at.run()
    assert "deleted 2 sessions older than 7 days" in texts(at)
    frame = at.dataframe[0].value
    assert {"sessions", "backup"} <= set(frame["task"]) and "password_hash" not in frame.columns
    rows = frame.set_index("task")["rows"]
    assert rows["sessions"] == "2" and rows["backup"] == ""      # blank, never "None"
    for secret in SECRETS.values():
        assert secret not in texts(at)


def test_cancel_changes_nothing(db):
    before = digest(db)
    at = open_page()
    at.button(key="maint_run_cache").click().run()
    assert "What will happen:** 1 cache entry" in texts(at)
    at.button(key="maint_dialog_cancel").click().run()
    assert not at.exception
    assert "maint_dialog_confirm" not in {b.key for b in at.button}
    assert digest(db) == before and MonitorStore().recent_log() == []


def test_without_backup_first_and_with_other_days(db, tmp_path):
    at = open_page()
    at.number_input(key="maint_days_anonymous").set_value(50).run()
    assert "0 anonymous ids (0 uploads) with every upload older than 50 days" in texts(at)
    at.number_input(key="maint_days_anonymous").set_value(35).run()
    run_and_confirm(at, "anonymous", backup_first=False)
    [entry] = MonitorStore().recent_log()
    assert (entry["task"], entry["rows"], entry["backup"]) == ("anonymous", 1, None)
    assert '"days": 35' in entry["parameters"]
    assert not (tmp_path / "backups").exists() or not list((tmp_path / "backups").iterdir())
    assert count(db, "cv_uploads") == 9


def test_non_admin_cannot_change_data(db, monkeypatch):
    monkeypatch.setattr(ui, "current_user", lambda: ("val", "viewer"))
    at = open_page()
    buttons = {b.key: b for b in at.button}
    for task in TASKS:      # a viewer sees every card and preview but starts no task
        assert buttons[f"maint_run_{task}"].disabled
        assert "admin role" in buttons[f"maint_run_{task}"].help
    assert "needs the admin role" in texts(at)
    assert "admin only" in texts(at) or not at.get("download_button")   # no backup download


def test_backups_are_listed_verified_and_downloadable(db):
    at = open_page()
    run_and_confirm(at, "backup")
    assert "backup written and verified" in texts(at)
    assert len(at.get("download_button")) == 1
    assert "verified" in texts(at)
    at.button(key="maint_verify_all").click().run()
    assert not at.exception and ":green[verified]" in texts(at)


def test_integrity_and_analyze_from_the_page(db):
    at = open_page()
    at.checkbox(key="maint_quick_integrity").check().run()
    run_and_confirm(at, "integrity")
    run_and_confirm(at, "analyze")
    outcomes = {e["task"]: e for e in MonitorStore().recent_log()}
    assert outcomes["integrity"]["outcome"] == "ok" and '"quick": true' in outcomes["integrity"]["parameters"]
    assert outcomes["analyze"]["outcome"] == "ok"
    assert "quick integrity check ok" in texts(at)


def test_vacuum_refused_when_the_disk_is_small(db, monkeypatch):
    monkeypatch.setattr(sqlite_tasks.shutil, "disk_usage",
                        lambda folder: type("U", (), {"free": 10, "total": 10, "used": 0})())
    before = digest(db)
    at = open_page()
    assert "not enough free disk for VACUUM" in texts(at)
    run_and_confirm(at, "vacuum", backup_first=False)
    assert "Refused" in texts(at)
    assert MonitorStore().recent_log()[0]["outcome"] == "refused" and digest(db) == before


def test_a_missing_database_is_a_message(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", str(tmp_path / "missing.db"))
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    st.cache_data.clear()
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception and "database not found" in texts(at)


def test_the_sessions_dialog_says_how_many_users_are_signed_out(db):
    at = open_page()
    # the card leaves the users out (counting them reads every old session row) ...
    assert "Run counts the users this signs out" in texts(at)
    assert "distinct users out" not in texts(at)
    # ... and the confirmation counts them
    at.button(key="maint_run_sessions").click().run()
    assert not at.exception
    warnings = " ".join(str(w.value) for w in at.warning)
    assert "This signs **2 distinct users** out" in warnings
    assert "never expires sessions" in warnings


def test_the_vacuum_dialog_warns_that_writers_wait(db):
    at = open_page()
    at.button(key="maint_run_vacuum").click().run()
    assert not at.exception and at.button(key="maint_dialog_confirm")
    assert "VACUUM locks the database for writers" in " ".join(str(w.value) for w in at.warning)


@pytest.mark.timeout(90)
def test_back_up_first_on_a_locked_database_ends_in_the_locked_message(db, monkeypatch):
    real = runner._backup_first

    def while_locked(*args, **kwargs):   # the application takes a lock just as the backup starts
        with held(db, "exclusive"):
            return real(*args, **kwargs)
    monkeypatch.setattr(runner, "_backup_first", while_locked)
    at = open_page()
    started = time.monotonic()
    run_and_confirm(at, "sessions", backup_first=True)
    assert time.monotonic() - started < 20
    page = texts(at)
    assert "Failed" in page and "backup first failed, nothing was changed" in page
    assert "locked by another process" in page
    assert count(db, "sessions") == 7
    entries = {e["task"]: e for e in MonitorStore().recent_log()}
    assert entries["backup"]["outcome"] == "failed" and entries["sessions"]["outcome"] == "failed"
