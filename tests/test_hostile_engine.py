"""Hostile input at the engine: odd locations, URIs, a FIFO, a hot journal, damage, a newer
schema. Each ends in one clear error line and changes nothing."""
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from r2w_db import errors
from r2w_db.app import sessions
from r2w_db.engine import locations, schema
from r2w_db.backends import migrations
from r2w_db.backends import open_database
from r2w_db.backends.sqlite import journal
from r2w_db.figures import check, stats
from r2w_db.maintenance import runner
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, env=None, timeout=30):
    full = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | (env or {})
    return run_cli([*map(str, args)], cwd=ROOT, env=full, timeout=timeout)


def one_line_error(result, *fragments):
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0, result.stdout
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------ locations

@pytest.mark.parametrize("value, fragment", [
    ("", "empty"), ("   ", "empty"),
    (":memory:", "in-memory"), ("file::memory:?cache=shared", "in-memory"),
    ("file:/tmp/x.db?mode=rwc", "SQLite URI"), ("FILE:x.db", "SQLite URI"),
    ("~nosuchuser_r2w/x.db", "does not exist"),
    ("postgresql://app:s3cret@db.internal/r2w?bogus=1", "not a valid PostgreSQL URL"),
    ("postgresql://app:s3cret@[::1/r2w", "not a valid PostgreSQL URL"),
    ("mysql://root:hunter2@localhost/x", "not supported"),
    ("a" * 300 + ".db", "longer than the file system allows"),
    ("/tmp/" + "d/" * 2100 + "x.db", "longer than the file system allows"),
    ("x\x00y.db", "NUL"),
])
def test_bad_db_values_are_one_clear_error(value, fragment):
    with pytest.raises(errors.BadLocation, match=fragment) as caught:
        locations.resolve_db(value, {})
    assert "s3cret" not in str(caught.value) and "hunter2" not in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("url, fragment", [
    ("", "empty"), ("sqlite:///", "names no file"), ("sqlite://", "names no file"),
    ("sqlite:///   ", "names no file"), ("mysql://u:pw@h/db", "not supported"),
    ("postgres://u:pw@h/db?bogus=1", "not a valid PostgreSQL URL"),
    ("file:x.db", "SQLite URI"),
])
def test_bad_database_urls_never_fall_back_to_the_default(url, fragment):
    with pytest.raises(errors.BadLocation, match=fragment) as caught:
        locations.resolve_db(None, {"DATABASE_URL": url})
    assert "pw@" not in str(caught.value)


def test_good_locations_still_resolve(tmp_path):
    assert locations.resolve_db(str(tmp_path / "a?b#c.db"), {}).path.name == "a?b#c.db"
    assert locations.resolve_db(None, {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}).path == tmp_path / "x.db"
    assert locations.resolve_db("~/x.db", {}).path == Path.home() / "x.db"


@pytest.mark.parametrize("text, shown", [
    ("postgresql://app:s3cret@db.internal:5432/r2w", "postgresql://app:***@db.internal:5432/r2w"),
    ("postgresql://app@db/r2w", "postgresql://app@db/r2w"),
    ("/plain/path.db", "/plain/path.db"),
    ("redis://:pw@h/0", "redis://:***@h/0"),
])
def test_redact(text, shown):
    assert locations.redact(text) == shown


def test_a_name_with_uri_characters_is_only_a_name(tmp_path):
    odd = tmp_path / "x.db?mode=memory&cache=shared"
    migrations.init(odd)
    assert odd.is_file() and not (tmp_path / "x.db").exists()
    assert stats.collect_stats(odd)["uploads"]["total"] == 0


def test_cli_empty_db_is_an_error_not_the_default():
    one_line_error(cli("--db", "", "maintain", "sessions", "--yes"), "--db", "empty")
    one_line_error(cli("stats", env={"DATABASE_URL": ""}), "DATABASE_URL", "empty")


def test_cli_refuses_uris_and_memory(tmp_path):
    one_line_error(cli("--db", f"file:{tmp_path}/x.db?mode=rwc", "init"), "SQLite URI")
    one_line_error(cli("--db", ":memory:", "init"), "in-memory")
    assert list(tmp_path.iterdir()) == []


def test_cli_redacts_passwords_of_unsupported_schemes():
    line = one_line_error(cli("stats", env={"DATABASE_URL": "mysql://u:topsecret@h/db"}),
                          "not supported")
    assert "topsecret" not in line and "u:***@h" in line


def test_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "r2w.db"
    os.mkfifo(fifo)
    started = time.monotonic()
    for args in (("stats",), ("check",), ("maintain", "sessions", "--yes"), ("migrate",), ("init",)):
        one_line_error(cli("--db", fifo, *args, timeout=20), "not a regular file")
    with pytest.raises(errors.BadLocation):
        stats.collect_stats(fifo)
    assert time.monotonic() - started < 60


# ------------------------------------------------------------------ a hot journal

def crash_mid_transaction(path):
    """A writer that dies (SIGKILL) with a rollback journal on disk: the journal is hot."""
    script = (f"import sqlite3, os\nc = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
              "c.execute('PRAGMA cache_size = 2')\nc.execute('BEGIN')\n"
              "c.execute(\"UPDATE sessions SET user_id = user_id || 'x'\")\n"
              "os.kill(os.getpid(), 9)\n")
    subprocess.run([sys.executable, "-c", script], timeout=30)
    assert Path(str(path) + "-journal").stat().st_size > 0


@pytest.fixture
def hot(tmp_path):
    return hot_journal_db(tmp_path)


def hot_journal_db(folder):
    """A database with 2,000 sessions whose last writer died mid-transaction."""
    path = folder / "hot.db"
    migrations.init(path)
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO sessions VALUES (?, ?, '2026-01-01T00:00:00.000000')",
                     [(f"s{i}", "u" * 400) for i in range(2000)])
    conn.commit()
    conn.close()
    crash_mid_transaction(path)
    return path


def test_a_hot_journal_gets_its_own_message(hot):
    with pytest.raises(errors.HotJournal, match="hot rollback journal") as caught:
        stats.collect_stats(hot)
    assert "recover" in str(caught.value)
    one_line_error(cli("--db", hot, "stats"), "hot rollback journal")
    assert Path(str(hot) + "-journal").exists()  # the reader left it alone


def test_recover_rolls_the_journal_back(hot):
    result = cli("--db", hot, "recover")
    assert result.returncode == 0, result.stderr
    figures = stats.collect_stats(hot)
    assert figures["sessions"]["expired"] == 2000  # the crashed update never happened
    conn = sqlite3.connect(hot)
    assert conn.execute("SELECT count(*) FROM sessions WHERE user_id LIKE '%x'").fetchone()[0] == 0
    conn.close()


# ------------------------------------------------------------------ damage

def damaged_copy(tmp_path, ranges):
    """A database with thousands of rows whose pages in `ranges` (fractions of the file) are
    overwritten with garbage, the header and schema page left intact."""
    path = tmp_path / f"damaged-{len(ranges)}.db"
    migrations.init(path)
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                     " upload_date, cv_data, status) VALUES (?, 'u', ?, 'cv.pdf', '.pdf',"
                     " '2026-11-01T00:00:00.000000', ?, 'completed')",
                     [(f"u{i}", f"j{i}", "x" * 600) for i in range(3000)])
    conn.commit()
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    with open(path, "r+b") as handle:
        for start, end in ranges:
            for number in range(max(3, int(pages * start)), int(pages * end)):
                handle.seek(number * page)
                handle.write(os.urandom(page))
    return path


@pytest.mark.parametrize("ranges", [[(0.3, 0.32)], [(0.2, 0.25), (0.6, 0.62)], [(0.5, 0.9)]])
def test_check_reports_the_damage_itself(tmp_path, ranges):
    path = damaged_copy(tmp_path, ranges)
    report = check.run_check(path)
    assert not report["ok"] and not report["integrity"]["ok"]
    assert report["integrity"]["messages"] and report["integrity"]["messages"] != ["ok"]
    result = cli("--db", path, "check")
    assert result.returncode == 1 and "integrity (full): FAILED" in result.stdout
    assert "not an SQLite database" not in result.stdout + result.stderr
    maintained = cli("--db", path, "maintain", "integrity")
    assert maintained.returncode != 0 and "integrity check FAILED" in maintained.stdout + maintained.stderr
    assert "not an SQLite database" not in maintained.stdout + maintained.stderr


def test_check_logs_damage_for_the_overview(tmp_path):
    from r2w_db.figures import health
    from r2w_db.monitor.store import MonitorStore

    path = damaged_copy(tmp_path, [(0.4, 0.45)])
    assert cli("--db", path, "check").returncode == 1
    runs = health.last_maintenance(path, MonitorStore())
    assert "integrity check FAILED" in (runs["integrity"] or {}).get("error", "")


# ------------------------------------------------------------------ a newer schema

@pytest.fixture
def newer(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO sessions VALUES ('old', 'u', '2020-01-01T00:00:00.000000')")
    conn.execute(f"PRAGMA user_version = {schema.CURRENT_VERSION + 90}")
    conn.commit()
    conn.close()
    return db_path


def test_writers_refuse_a_newer_schema(newer):
    for write in (lambda: sessions.cleanup_old_sessions(newer),
                  lambda: sessions.create_session(newer, "u"),
                  lambda: migrations.migrate(newer),
                  lambda: journal.switch_to_wal(open_database(newer))):
        with pytest.raises(errors.SchemaTooNew, match=str(newer)):
            write()
    with pytest.raises((errors.SchemaTooNew, runner.MaintenanceError), match="newer"):
        runner.run(newer, "sessions", user="t")
    one_line_error(cli("--db", newer, "maintain", "sessions", "--yes"), "newer", str(newer))
    conn = sqlite3.connect(newer)
    assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    conn.close()


def test_readers_warn_about_a_newer_schema(newer):
    result = cli("--db", newer, "stats", "--json")
    assert result.returncode == 0
    assert result.stderr.startswith("warning: ") and str(newer) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ journal mode

def test_nothing_switches_the_journal_mode_unless_asked(prod_db):
    path, _, _ = prod_db
    assert journal.mode(open_database(path)) == "delete"
    assert cli("--db", path, "migrate").returncode == 0
    assert cli("--db", path, "maintain", "sessions", "--yes").returncode == 0
    assert cli("--db", path, "maintain", "analyze", "--yes").returncode == 0
    assert journal.mode(open_database(path)) == "delete"
    dry = cli("--db", path, "migrate", "--wal", "--dry-run")
    assert "switch the journal mode delete -> wal" in dry.stdout and "network" in dry.stdout
    assert journal.mode(open_database(path)) == "delete"
    assert cli("--db", path, "migrate", "--wal").returncode == 0
    assert journal.mode(open_database(path)) == "wal"


def test_errors_are_one_line():
    exc = errors.R2WError("integrity_check failed:\n  row 1 missing\n  row 2 missing\n")
    assert str(exc) == "integrity_check failed: row 1 missing row 2 missing"


def test_a_long_message_keeps_its_end_where_the_command_is():
    remedy = "run `python -m r2w_db --db '/srv/a b/app.db' recover`"
    text = errors.one_line("backup failed: " + "x" * 1000 + " " + remedy)
    assert len(text) == 600 and text.startswith("backup failed: xxx") and text.endswith(remedy)
    assert " ... " in text
