"""The command-line contract: exit codes, one line on stderr, JSON keys."""
import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent

STATS_KEYS = {
    "users": {"registered", "anonymous"},
    "sessions": {"active", "expired"},
    "uploads": {"total", "processing", "completed", "failed", "other", "stuck"},
    "cache": {"cached_extractions", "average_confidence_score", "total_cache_accesses",
              "low_confidence_extractions", "cache_hit_rate"},
    "database": {"size_bytes", "wal_bytes"},
}


def run(*args, env=None, stdin=None):
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | (env or {})
    return run_cli([*map(str, args)], cwd=ROOT, env=full_env, input=stdin, timeout=120)


def assert_one_line_error(result, fragment):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_stats_json_matches_and_leaves_the_file_alone(prod_db):
    path, _, expected = prod_db
    assert run("--db", path, "migrate").returncode == 0
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    result = run("--db", path, "stats", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    for group, keys in STATS_KEYS.items():
        assert keys <= set(figures[group]), group
    for group, values in expected.items():
        for key, value in values.items():
            assert figures[group][key] == pytest.approx(value), (group, key)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_database_url_and_db_after_the_command(prod_db, tmp_path):
    path, _, expected = prod_db
    by_url = run("stats", "--json", env={"DATABASE_URL": f"sqlite:///{path}"})
    by_flag = run("stats", "--json", "--db", path)
    assert by_url.returncode == 0 == by_flag.returncode, by_url.stderr + by_flag.stderr
    assert json.loads(by_url.stdout)["uploads"] == json.loads(by_flag.stdout)["uploads"]
    assert json.loads(by_url.stdout)["uploads"]["total"] == expected["uploads"]["total"]


def test_old_schema_says_migrate(tmp_path):
    from tests.prodlike import build_prodlike

    path = tmp_path / "old.db"
    build_prodlike(path, migrated_by_app=False)
    assert_one_line_error(run("--db", path, "stats"), "migrate")


def test_stats_human_output(prod_db):
    path, _, _ = prod_db
    result = run("--db", path, "stats")
    assert result.returncode == 0 and "cache_hit_rate" in result.stdout and "28.6%" in result.stdout


@pytest.mark.parametrize("content, fragment", [
    (None, "not found"), (b"", "none of the Resume2Website tables"), (b"garbage" * 200, "not an SQLite"),
])
@pytest.mark.parametrize("command", [("stats", "--json"), ("check",), ("migrate",), ("migrate", "--dry-run")])
def test_bad_databases_are_one_clear_line(tmp_path, content, fragment, command):
    path = tmp_path / "bad.db"
    if content is not None:
        path.write_bytes(content)
    result = run("--db", path, *command)
    if content == b"" and command[0] == "migrate":
        # an empty file is a valid, empty SQLite database: migrate may build the schema in it
        assert result.returncode == 0, result.stderr
        return
    assert_one_line_error(result, fragment)
    assert not path.exists() if content is None else path.read_bytes() == content


def test_migrate_dry_run_then_migrate_then_up_to_date(prod_db):
    path, _, _ = prod_db
    dry = run("--db", path, "migrate", "--dry-run")
    assert dry.returncode == 0 and "would run" in dry.stdout and "idx_sessions_created_at" in dry.stdout
    before = run("--db", path, "check")
    assert before.returncode == 0 and "warning this project's indexes not built yet" in before.stdout
    ran = run("--db", path, "migrate").stdout
    assert "running" in ran and "done: create index idx_sessions_created_at" in ran
    assert "up to date" in run("--db", path, "migrate").stdout
    checked = run("--db", path, "check", "--json")
    assert checked.returncode == 0 and json.loads(checked.stdout)["ok"] is True


def test_locked_database_exits_with_one_line(prod_db):
    path, _, _ = prod_db
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert_one_line_error(run("--db", path, "stats"), "locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_init_creates_and_help_for_each_command(tmp_path):
    path = tmp_path / "new.db"
    assert run("--db", path, "init").returncode == 0 and path.exists()
    for command in ("init", "migrate", "check", "stats", "demo", "hash-password"):
        result = run(command, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout


def test_hash_password_reads_stdin_when_not_a_terminal():
    import bcrypt

    result = run("hash-password", stdin="correct horse battery staple\n")
    assert result.returncode == 0, result.stderr
    hashed = result.stdout.strip()
    assert hashed.startswith("$2b$") and bcrypt.checkpw(b"correct horse battery staple", hashed.encode())


def test_read_only_switch_refuses_migrate_and_init_but_not_a_dry_run(tmp_path):
    from tests.prodlike import build_prodlike

    path = tmp_path / "old.db"
    build_prodlike(path, migrated_by_app=False)
    before = path.read_bytes()
    assert_one_line_error(run("--db", path, "migrate", env={"R2W_READ_ONLY": "1"}), "read-only")
    assert run("--db", path, "migrate", "--dry-run", env={"R2W_READ_ONLY": "1"}).returncode == 0
    assert_one_line_error(run("--db", tmp_path / "new.db", "init", env={"R2W_READ_ONLY": "1"}), "read-only")
    assert path.read_bytes() == before and not (tmp_path / "new.db").exists()
