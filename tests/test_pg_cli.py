"""The command line on a PostgreSQL URL: the same commands, output, JSON and exit codes as on SQLite.

Every command runs as a subprocess (`python -m r2w_db --db URL ...`) against a scratch database
of the throwaway cluster (tests/pg_cluster.py). The URLs carry a password (the test cluster
trusts local connections, so it is never checked) to prove it never reaches an output line.
"""
import json
import os
import re
from pathlib import Path

import pytest
from psycopg import errors as pg_errors, sql

from r2w_db.demo.builder import build_demo
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db.maintenance import move

from .doc_blocks import grant_statements
from .pg_cluster import free_port
from .test_pg_stats import EXCLUDED, flat
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent
SECRET = "topsecret-pw"
ROLE_PASSWORD = "change-me"  # the documented GRANT block's
NOT_COMPARED = EXCLUDED | {("as_of",)}  # two processes, two moments: as_of differs by nature


@pytest.fixture(autouse=True)
def own_monitor_db(tmp_path, monkeypatch):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))


def with_password(url, password=SECRET):
    """The cluster's URL with a password put in (user:password@); passwords here are URL-safe."""
    return re.sub(r"^postgresql://([^:@/]+)@", rf"postgresql://\1:{password}@", url)


def run(*args, env=None):
    full = {k: v for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "R2W_DATABASES", "R2W_READ_ONLY")} | (env or {})
    done = run_cli([*map(str, args)], cwd=ROOT, env=full, timeout=180)
    for secret in (SECRET, ROLE_PASSWORD):
        assert secret not in done.stdout + done.stderr, f"a password reached the output: {done}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def drop_index(url, name):
    with PgDatabase(url).write() as conn:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))


def one_line_error(done, fragment):
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], done.stderr
    return lines[0]


def tables_of(url):
    with PgDatabase(url).read() as conn:
        return pg_schema.existing_tables(conn)


def test_init_migrate_check_on_a_url(pg_url):
    url = with_password(pg_url)
    dry = run("--db", url, "migrate", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would run" in dry.stdout and "blocks no reader or writer" in dry.stdout
    assert tables_of(pg_url) == set()  # a dry run changes nothing
    first = run("--db", url, "migrate")
    assert first.returncode == 0, first.stderr
    assert "done: create index" in first.stdout and "blocking no writer" in first.stdout
    assert tables_of(pg_url) == {"users", "sessions", "cv_uploads", "cv_extraction_cache"}
    again = run("--db", url, "migrate")
    assert again.returncode == 0 and "is up to date" in again.stdout, again.stdout + again.stderr
    assert run("--db", url, "migrate", "--dry-run").stdout == again.stdout
    init = run("--db", url, "init")
    assert init.returncode == 0 and "0 step(s) run" in init.stdout, init.stdout + init.stderr
    # an index lost (an interrupted build, a hand-made change): migrate builds just that one
    name = sorted(pg_schema.INDEXES)[0]
    drop_index(pg_url, name)
    plan = run("--db", url, "migrate", "--dry-run").stdout
    assert "would run 1 step(s)" in plan and name in plan
    assert run("--db", url, "migrate").returncode == 0
    check = run("--db", url, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "integrity (full): ok" in check.stdout and check.stdout.strip().endswith("check: ok")
    report = json.loads(run("--db", url, "check", "--json", "--quick").stdout)
    assert report["ok"] is True and report["backend"] == "postgresql"
    assert report["integrity"]["mode"] == "quick" and report["integrity"]["indexes_checked"] > 4
    assert "***" in report["database"] and report["pending_migrations"] == []


def stats_json(*args, env=None):
    done = run(*args, "stats", "--json", env=env)
    assert done.returncode == 0, done.stderr
    return flat(json.loads(done.stdout))


def assert_same_as_sqlite(path, *pg_args, env=None):
    """stats --json on PostgreSQL equals the SQLite original key by key. Both cannot run at the
    same instant: a PostgreSQL run between two equal SQLite runs must equal them (the
    time-dependent counts only move one way, so nothing crossed a boundary in between)."""
    for _ in range(3):
        before = stats_json("--db", path)
        pg = stats_json(*pg_args, env=env)
        after = stats_json("--db", path)
        if before == after:
            break
    assert set(pg) == set(before)
    different = {".".join(k): (before[k], pg[k]) for k in before
                 if k not in NOT_COMPARED and before[k] != pg[k]}
    assert not different, different
    return pg


def test_stats_json_equals_the_sqlite_original_in_every_form(tmp_path, pg_url):
    path = tmp_path / "demo.db"
    build_demo(path, scale="small", seed=5)
    move.move(path, pg_url)
    url = with_password(pg_url)
    pg = assert_same_as_sqlite(path, "--db", url)
    assert pg[("uploads", "total")] > 1000 and pg[("sessions", "active")] > 0
    assert pg[("database", "path")] == with_password(pg_url, "***")
    assert pg[("database", "wal_bytes")] is None and pg[("database", "size_bytes")] > 0
    assert_same_as_sqlite(path, env={"DATABASE_URL": url})
    assert_same_as_sqlite(path, "--db", "prod", env={"R2W_DATABASES": f"lite={path} prod={url}"})
    human = run("--db", url, "stats")
    assert human.returncode == 0 and "database" in human.stdout and "***" in human.stdout
    assert f"{pg[('uploads', 'total')]:,}" in human.stdout


def test_read_only_refuses_init_and_migrate_but_not_a_dry_run(pg_url):
    url, env = with_password(pg_url), {"R2W_READ_ONLY": "1"}
    one_line_error(run("--db", url, "init", env=env), "read-only")
    one_line_error(run("--db", url, "migrate", env=env), "read-only")
    assert run("--db", url, "migrate", "--dry-run", env=env).returncode == 0
    assert tables_of(pg_url) == set()


def test_an_unreachable_server_is_one_line_like_a_missing_file(tmp_path):
    url = f"postgresql://app:{SECRET}@127.0.0.1:{free_port()}/r2w?connect_timeout=5"
    missing = one_line_error(run("--db", tmp_path / "missing.db", "stats"), "database not found")
    for command in (("stats", "--json"), ("check",), ("migrate",), ("init",)):
        line = one_line_error(run("--db", url, *command), "app:***@127.0.0.1")  # exit 1, as missing
        assert "Connection refused" in line and line != missing


@pytest.mark.parametrize("command", [("demo",), ("recover",)])
def test_a_command_not_there_yet_is_refused_in_one_line(pg_url, command):
    pg_schema.init(pg_url)
    line = one_line_error(run("--db", with_password(pg_url), *command),
                          f"{command[0]} is not available on PostgreSQL yet")
    assert line == f"error: {command[0]} is not available on PostgreSQL yet"


def test_migrate_wal_is_refused_on_postgresql(pg_url):
    pg_schema.init(pg_url)
    one_line_error(run("--db", with_password(pg_url), "migrate", "--wal"), "--wal")


def test_the_documented_roles_read_and_delete_and_nothing_more(tmp_path, pg_cluster):
    owner_url = pg_cluster.create_database()
    dbname = owner_url.split("/")[3].split("?")[0]
    build_demo(tmp_path / "demo.db", scale="small", seed=3)
    move.move(tmp_path / "demo.db", owner_url)
    # what PostgreSQL grants PUBLIC by default is taken away: the documented grants alone suffice
    pg_cluster.execute(f'REVOKE ALL ON DATABASE "{dbname}" FROM PUBLIC')
    pg_cluster.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC", dbname=dbname)
    statements = grant_statements(dbname)
    assert len(statements) >= 9 and any("GRANT pg_monitor" in s for s in statements)
    for statement in statements:
        pg_cluster.execute(statement, dbname=dbname)
    monitor = with_password(pg_cluster.url(dbname, user="r2w_monitor"), ROLE_PASSWORD)
    maintenance = with_password(pg_cluster.url(dbname, user="r2w_maintenance"), ROLE_PASSWORD)
    # the monitoring role reads every figure and checks everything, amcheck included
    assert_same_as_sqlite(tmp_path / "demo.db", "--db", monitor)
    check = json.loads(run("--db", monitor, "check", "--json").stdout)
    assert check["ok"] is True and check["integrity"]["ok"] is True
    # ... but writes nothing, at the privilege level too
    name = sorted(pg_schema.INDEXES)[0]
    drop_index(owner_url, name)
    for command in ("init", "migrate"):
        line = one_line_error(run("--db", monitor, command), "PostgreSQL")
        assert "r2w_monitor:***@" in line and "read-only transaction" in line
    assert name in run("--db", monitor, "migrate", "--dry-run").stdout
    privileges = {}
    for role, url in (("monitor", monitor), ("maintenance", maintenance)):
        for verb, statement in (("delete", "DELETE FROM sessions WHERE false"),
                                ("update", "UPDATE sessions SET user_id = user_id WHERE false"),
                                ("insert", "INSERT INTO users (user_id) SELECT 'x' WHERE false")):
            with PgDatabase(url).connect(read_only=False) as conn:
                conn.execute("SET default_transaction_read_only = off")  # past the role's default
                conn.commit()
                try:
                    conn.execute(statement)
                    privileges[role, verb] = True
                except pg_errors.InsufficientPrivilege:
                    privileges[role, verb] = False
                conn.rollback()
    assert privileges == {("monitor", "delete"): False, ("monitor", "update"): False,
                          ("monitor", "insert"): False, ("maintenance", "delete"): True,
                          ("maintenance", "update"): False, ("maintenance", "insert"): False}
    # without EXECUTE on amcheck's functions integrity is "not available", a warning, not damage
    pg_cluster.execute("REVOKE EXECUTE ON FUNCTION bt_index_check(regclass, boolean),"
                       " verify_heapam(regclass, boolean, boolean, text, bigint, bigint)"
                       " FROM r2w_monitor", dbname=dbname)
    pg_schema.migrate(owner_url)
    plain = run("--db", monitor, "check")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "integrity (full): not available" in plain.stdout
    assert plain.stdout.strip().endswith("check: ok with warnings")
    assert run("--db", monitor, "check", "--strict").returncode == 1
