"""`move`: SQLite -> PostgreSQL with COPY, from one snapshot, verified, re-runnable, logged."""
import json
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from r2w_db.demo.builder import build_demo
from r2w_db.backends import migrations
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db.maintenance import move
from r2w_db.backends.postgresql.move_convert import Converter
from r2w_db.monitor.store import MonitorStore
from tests import cli_process

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)
COUNT_SQL = {t: f"SELECT count(*) FROM {t}" for t in move.TABLES}  # test-only, fixed names


def sqlite_counts(path):
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(sql).fetchone()[0] for t, sql in COUNT_SQL.items()}


def pg_counts(url):
    with PgDatabase(url).read() as conn:
        have = pg_schema.existing_tables(conn)
        return {t: conn.execute(sql).fetchone()[0] if t in have else None
                for t, sql in COUNT_SQL.items()}


@pytest.fixture
def demo(tmp_path):
    path = tmp_path / "demo.db"
    build_demo(path, scale="small", seed=5, now=NOW)
    return path


def test_a_demo_moves_verified_and_logged(demo, pg_url):
    report = move.move(demo, pg_url)
    assert report["outcome"] == "moved" and report["application_url"] == PgDatabase(pg_url).display
    assert pg_counts(pg_url) == sqlite_counts(demo)
    for table, figures in report["tables"].items():
        assert figures["verified"] and figures["rows_skipped"] == 0, table
        assert figures["target_checksum"] == figures["checksum"]
    assert report["unconvertible"] == [] and report["indexes_built"] == len(pg_schema.INDEXES)
    with PgDatabase(pg_url).read() as conn:
        assert pg_schema.drift(conn).ok
    # the checksums are the same function on both sides: recomputed from PostgreSQL
    assert move.target_checksums(PgDatabase(pg_url)) == {
        t: (f["rows_moved"], f["checksum"]) for t, f in report["tables"].items()}
    entry = MonitorStore().recent_log()[0]
    assert (entry["task"], entry["outcome"], entry["rows"]) == ("move", "ok", sum(sqlite_counts(demo).values()))
    assert json.loads(entry["parameters"])["to"] == PgDatabase(pg_url).display


def test_a_rerun_compares_and_never_overwrites(demo, pg_url):
    move.move(demo, pg_url)
    again = move.move(demo, pg_url)
    assert again["outcome"].startswith("already moved")
    assert all(t["verified"] for t in again["tables"].values())
    with PgDatabase(pg_url).write() as conn:  # one value changes on the target
        conn.execute("UPDATE users SET name = 'changed' WHERE user_id = "
                     "(SELECT min(user_id) FROM users)")
    with pytest.raises(move.MoveRefused, match="differs from the source: users"):
        move.move(demo, pg_url)
    with PgDatabase(pg_url).read() as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE name = 'changed'").fetchone()[0] == 1
    assert MonitorStore().recent_log()[0]["outcome"] == "refused"


@pytest.fixture
def odd(tmp_path):
    """A database with values PostgreSQL cannot hold as they are, and every accepted spelling
    of a timestamp."""
    path = tmp_path / "odd.db"
    migrations.init(path)
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO users (user_id, email, password_hash, created_at,"
                         " portfolio_created_at) VALUES (?, ?, 'h', ?, ?)", [
                             ("u1", "a@x", "2026-11-24T08:15:02.123456", None),
                             ("u2", "b@x", "2026-11-24 08:15:02", "soon"),         # nullable
                             ("u3", "c@x", "2026-11-24T08:15:02Z", None),
                             ("u4", "d@x", "2026-11-24T10:15:02+02:00", None)])
        conn.executemany("INSERT INTO sessions VALUES (?, ?, ?)", [
            ("s1", "u1", "2026-11-24T08:15:02.5"), ("s6", "u1", "yesterday")])  # NOT NULL
        conn.executemany(
            "INSERT INTO cv_extraction_cache VALUES (?, '{}', 'm', 0, '2026-11-01T00:00:00', ?, ?,"
            " '2026-11-02T00:00:00')", [("h1", 0.9, "abc"), ("h2", "high", 2), ("h3", 0.5, 2**40)])
        conn.execute("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                     " upload_date, cv_data) VALUES ('up1', 'u1', 'j1', ?, '.pdf',"
                     " '2026-11-24T08:00:00', ?)", ("a\x00b.pdf", b"\x89PNG"))
    return path


ODD = {("users", "u2", "portfolio_created_at"), ("sessions", "s6", "created_at"),
       ("cv_extraction_cache", "h1", "access_count"), ("cv_extraction_cache", "h2", "confidence_score"),
       ("cv_extraction_cache", "h3", "access_count"), ("cv_uploads", "up1", "filename"),
       ("cv_uploads", "up1", "cv_data")}


def problems(report):
    return {(p["table"], p["key"], p["column"]): p for p in report["unconvertible"]}


def test_values_that_do_not_convert_are_reported_and_nothing_is_written(odd, pg_url):
    with pytest.raises(move.MoveRefused, match="7 value") as refused:
        move.move(odd, pg_url)
    found = problems(refused.value.report)
    assert set(found) == ODD
    assert found[("sessions", "s6", "created_at")]["value"] == "'yesterday'"
    assert found[("cv_extraction_cache", "h3", "access_count")]["reason"] == "outside PostgreSQL's integer range"
    assert all(p["handled"] == "blocking" for p in found.values())
    assert pg_counts(pg_url) == dict.fromkeys(move.TABLES)  # rolled back: not even the tables
    assert MonitorStore().recent_log()[0]["outcome"] == "refused"


def test_null_handles_nullable_columns_only(odd, pg_url):
    with pytest.raises(move.MoveRefused, match="2 value") as refused:
        move.move(odd, pg_url, unconvertible="null")
    found = problems(refused.value.report)
    assert set(found) == ODD
    blocking = {k for k, p in found.items() if p["handled"] == "blocking"}
    assert blocking == {("sessions", "s6", "created_at"), ("cv_uploads", "up1", "filename")}
    assert {p["handled"] for k, p in found.items() if k not in blocking} == {"set to NULL"}
    assert pg_counts(pg_url) == dict.fromkeys(move.TABLES)


def test_skip_row_moves_the_rest_and_converts_every_accepted_spelling(odd, pg_url):
    report = move.move(odd, pg_url, unconvertible="skip-row")
    assert set(problems(report)) == ODD
    assert all(p["handled"] == "row skipped" for p in report["unconvertible"])
    assert {t: f["rows_skipped"] for t, f in report["tables"].items()} == {
        "users": 1, "sessions": 1, "cv_uploads": 1, "cv_extraction_cache": 3}
    assert all(f["verified"] for f in report["tables"].values())
    with PgDatabase(pg_url).read() as conn:
        created = dict(conn.execute("SELECT user_id, created_at FROM users").fetchall())
        session = conn.execute("SELECT created_at FROM sessions").fetchone()[0]
    instant = datetime(2026, 11, 24, 8, 15, 2, tzinfo=timezone.utc)
    assert created == {"u1": instant.replace(microsecond=123456), "u3": instant, "u4": instant}
    assert session == instant.replace(microsecond=500000)


def test_a_dry_run_writes_nothing_and_says_it_would_refuse(odd, pg_url):
    report = move.move(odd, pg_url, dry_run=True)
    assert report["outcome"].startswith("dry run") and report["would_refuse"]
    assert set(problems(report)) == ODD
    assert pg_counts(pg_url) == dict.fromkeys(move.TABLES)
    assert MonitorStore().recent_log() == []


def test_the_converter_refuses_null_in_a_not_null_key():
    converter = Converter("sessions", "refuse")
    assert converter.convert((None, "u", "2026-01-01T00:00:00")) is None
    assert converter.problems[0].reason == "NULL in a NOT NULL column"


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_the_snapshot_does_not_block_the_application(demo, journal):
    with sqlite3.connect(demo) as conn:
        conn.execute(f"PRAGMA journal_mode = {journal}")
    before = sqlite_counts(demo)["sessions"]
    with move.source_snapshot(demo) as (snap, how):
        assert ("WAL" in how) == (journal == "wal")
        writer = sqlite3.connect(demo, timeout=5)
        started = time.perf_counter()
        writer.execute("INSERT INTO sessions VALUES ('late', 'u', '2026-11-24T09:00:00')")
        writer.commit()
        writer.close()
        assert time.perf_counter() - started < 1.0
        assert snap.execute("SELECT count(*) FROM sessions").fetchone()[0] == before
    assert sqlite_counts(demo)["sessions"] == before + 1


def run_cli(*args):
    return cli_process.run_cli([*args], cwd=REPO, timeout=120)


def test_the_command_line(demo, odd, pg_cluster):
    url = pg_cluster.create_database()
    with_password = url.replace("postgres@", "postgres:pw-not-shown@")
    done = run_cli("--db", str(demo), "move", "--to", with_password)
    assert done.returncode == 0, done.stderr
    assert "pw-not-shown" not in done.stdout + done.stderr
    assert "DATABASE_URL=postgresql://postgres:***@" in done.stdout
    again = run_cli("--db", str(demo), "move", "--to", url, "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["outcome"].startswith("already moved")
    refused = run_cli("--db", str(odd), "move", "--to", pg_cluster.create_database())
    assert refused.returncode == 1 and "'yesterday'" in refused.stdout
    lines = refused.stderr.strip().splitlines()  # progress lines, then the one error line
    assert [line for line in lines if line.startswith("error:")] == lines[-1:]
    assert "7 value(s)" in lines[-1]
    bad = run_cli("--db", str(demo), "move", "--to", str(demo))
    assert bad.returncode == 1 and "postgresql://" in bad.stderr
    # the URL the move prints is the one to give the application and the monitor
    after = run_cli("--db", url, "stats", "--json")
    assert after.returncode == 0 and json.loads(after.stdout)["uploads"]["total"] > 0
