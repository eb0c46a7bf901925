"""Backups and restores on PostgreSQL: pg_dump -Fc verified by a restore, rotation, tampering,
restore into a new database swapped in only when asked, the command line. Real PostgreSQL."""
import json
import os
import time
from datetime import datetime
from pathlib import Path

import pytest

from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db.maintenance import backups, registry, runner
from r2w_db.backends.postgresql import tools as pg_tools
from r2w_db.maintenance import restore as pg_restore   # restore_file(..., swap=False) on PostgreSQL
from r2w_db.backends.postgresql import backups as pg_backups
from r2w_db.maintenance.backups import RestoreRefused
from r2w_db.monitor.store import MonitorStore
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.setenv("R2W_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.delenv("DATABASE_URL", raising=False)


@pytest.fixture
def url(tmp_path, pg_templates):
    """tmp_path/demo.db moved into PostgreSQL (a clone of the session's template)."""
    return pg_templates.moved_demo(tmp_path, seed=3, now=NOW)[1]


def counts(url):
    return pg_tools.table_counts(PgDatabase(url))


def databases(cluster):
    return {row[0] for row in cluster.execute("SELECT datname FROM pg_database")}


def name_of(url):
    return url.split("/")[3].split("?")[0]


def cli(*args, url):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return run_cli(["--db", url, *args], cwd=ROOT, env=env, timeout=300)


# --------------------------------------------------------------------------- backup

def test_a_backup_is_a_verified_dump_and_rotation_keeps_n(url, pg_cluster):
    db = PgDatabase(url)
    dest = backups.default_dest(db=db)
    assert dest.name.startswith(name_of(url) + "-") and dest == backups.resolve_dest(None, db)
    taken = [runner.run(url, "backup", keep=2, user="t") for _ in range(3)]
    assert all(r.outcome == "ok" and r.backup.endswith(".dump") for r in taken)
    assert taken[0].details["rows"] == counts(url) and taken[0].details["verified"]
    assert "verified" in taken[0].message
    files = sorted(p.name for p in dest.iterdir())
    assert files == sorted(Path(r.backup).name for r in taken[1:])   # the oldest rotated away
    assert taken[2].details["rotated"] == [taken[0].backup]
    listed = backups.list_backups(dest, monitor=MonitorStore())
    assert [b.verified for b in listed] == [True, True]
    assert "row counts equal" in listed[0].message
    checked = backups.list_backups(dest, verify=True, monitor=MonitorStore())
    assert all(b.verified for b in checked) and "cv_uploads" in checked[0].message
    assert not [d for d in databases(pg_cluster) if "_verify_" in d]   # scratch dropped
    entries = [e for e in MonitorStore().recent_log() if e["task"] == "backup"]
    assert [e["outcome"] for e in entries] == ["ok"] * 3 and entries[0]["backup"] == taken[2].backup
    assert MonitorStore().last_success("backup", database=db) is not None


def test_a_dump_that_does_not_restore_the_snapshot_is_refused(url, pg_cluster, monkeypatch):
    """The verification compares the restored rows with the snapshot's: a dump of other data
    (here: of a smaller database) fails it, and nothing is left in the backup folder."""
    other = pg_cluster.create_database()
    from r2w_db.backends.postgresql import schema as pg_schema
    pg_schema.init(other)
    real = pg_backups.dump

    def dump_of_other(db, path):
        rows = real(db, path)
        real(PgDatabase(other), path)
        return rows
    monkeypatch.setattr(pg_backups, "dump", dump_of_other)
    with pytest.raises(registry.Failed, match="failed verification: users 0 restored"):
        runner.run(url, "backup", user="t")
    dest = backups.default_dest(db=PgDatabase(url))
    assert list(dest.iterdir()) == []
    assert MonitorStore().recent_log()[0]["outcome"] == "failed"
    assert not [d for d in databases(pg_cluster) if "_verify_" in d]


def test_a_tampered_dump_fails_verification(url, tmp_path):
    taken = runner.run(url, "backup", user="t")
    path = Path(taken.backup)
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0xFF
    tampered = path.with_name(path.name.replace(".dump", "-1.dump"))
    tampered.write_bytes(bytes(data))
    truncated = path.with_name(path.name.replace(".dump", "-2.dump"))
    truncated.write_bytes(path.read_bytes()[: len(data) * 2 // 3])
    assert backups.verify_backup(path)[0] is True
    for bad in (tampered, truncated):
        ok, message = backups.verify_backup(bad)
        assert ok is False and "could not read the whole archive" in message, message
    listed = {b.name: b.verified for b in backups.list_backups(path.parent, verify=True)}
    assert listed == {path.name: True, tampered.name: False, truncated.name: False}
    before = counts(url)
    with pytest.raises(registry.Refused, match="not a sound pg_dump archive"):
        runner.restore(url, tampered, user="t", force=True)
    assert counts(url) == before


def test_no_tool_no_backup_one_line(url, monkeypatch):
    monkeypatch.setattr(pg_tools.glob, "glob", lambda pattern: [])
    monkeypatch.setenv("PATH", "/nonexistent")
    pv = registry.preview(url, "backup")
    assert pv.refusal.startswith("pg_dump not found: install PostgreSQL's client tools")
    with pytest.raises(registry.Refused, match="pg_dump not found"):
        runner.run(url, "backup", user="t")


def test_the_password_never_reaches_a_command_line(url, monkeypatch):
    secret = "s3cr3t-pw"
    with_password = url.replace("postgres@", f"postgres:{secret}@")   # trust auth ignores it
    info, env = pg_tools.connection_args(PgDatabase(with_password))
    assert secret not in info and env["PGPASSWORD"] == secret
    commands = []
    real = pg_tools.subprocess.run

    def spy(command, **kwargs):
        commands.append(command)
        return real(command, **kwargs)
    monkeypatch.setattr(pg_tools.subprocess, "run", spy)
    taken = runner.run(with_password, "backup", user="t")
    assert taken.outcome == "ok" and commands
    assert not [c for c in commands if secret in " ".join(map(str, c))]
    assert secret not in json.dumps(MonitorStore().recent_log(), default=str)
    assert secret not in taken.message and secret not in str(taken.parameters)


# -------------------------------------------------------------------------- restore

def grants(cluster, name):
    return set(cluster.execute("SELECT coalesce(r.rolname, 'PUBLIC'), a.privilege_type"
                               " FROM pg_database d, aclexplode(d.datacl) a"
                               " LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE d.datname = %s",
                               (name,)))


def test_restore_into_a_new_database_swapped_only_when_asked(url, pg_cluster):
    name = name_of(url)
    watcher = f"watcher_{name}"   # a read-only monitoring role, as docs/postgresql.md grants it
    pg_cluster.execute(f"CREATE ROLE {watcher} LOGIN")   # test-only names
    pg_cluster.execute(f"REVOKE CONNECT ON DATABASE {name} FROM PUBLIC")
    pg_cluster.execute(f"GRANT CONNECT ON DATABASE {name} TO {watcher}")
    pg_cluster.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {watcher}", dbname=name)
    acl = grants(pg_cluster, name)
    assert (watcher, "CONNECT") in acl and ("PUBLIC", "CONNECT") not in acl
    taken = runner.run(url, "backup", user="t")
    original = counts(url)
    with PgDatabase(url).write() as conn:   # the live database moves on after the backup
        conn.execute("DELETE FROM sessions")
        conn.execute("UPDATE users SET name = 'changed'")
    changed = counts(url)
    assert changed["sessions"] == 0 != original["sessions"]
    # without swap: a new database with the backup's rows, the target untouched
    aside = pg_restore.restore_file(url, taken.backup, swap=False)
    assert aside["swapped"] is False and counts(url) == changed
    assert aside["restored_database"] in databases(pg_cluster)
    assert counts(pg_tools.with_dbname(url, aside["restored_database"])) == original
    assert aside["rows"] == original
    pg_tools.drop_database(PgDatabase(url), aside["restored_database"])
    # the command line without --yes refuses and changes nothing
    refused = cli("restore", taken.backup, url=url)
    assert refused.returncode == 1 and "rerun with --yes" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and counts(url) == changed
    # with --yes: swapped in, the previous database kept aside under a new name
    done = cli("restore", taken.backup, "--yes", "--json", url=url)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["outcome"] == "ok" and result["details"]["swapped"] is True
    assert counts(url) == original
    with PgDatabase(url).read() as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE name = 'changed'").fetchone()[0] == 0
    previous = result["details"]["previous_database"]
    assert previous in databases(pg_cluster) and "_before_restore_" in previous
    assert counts(pg_tools.with_dbname(url, previous)) == changed
    assert "renamed to " + previous in result["message"]
    assert grants(pg_cluster, name) == acl   # the database's own grants came along
    assert counts(pg_cluster.url(name, user=watcher)) == original   # and the tables' grants
    assert [d for d in databases(pg_cluster) if d.startswith(name_of(url) + "_")] == [previous]
    assert MonitorStore().recent_log()[0]["task"] == "restore"


def test_restore_is_refused_while_others_are_connected(url, pg_cluster):
    taken = runner.run(url, "backup", user="t")
    before = counts(url)
    import psycopg

    with psycopg.connect(url) as application:   # the application is still connected
        application.execute("SELECT 1")
        with pytest.raises(registry.Refused, match="other sessions are connected to"):
            runner.restore(url, taken.backup, user="t")
    assert counts(url) == before
    assert not [d for d in databases(pg_cluster) if d.startswith(name_of(url) + "_")]
    assert MonitorStore().recent_log()[0]["outcome"] == "refused"


def test_restore_of_a_file_the_log_does_not_know_needs_force(url, tmp_path):
    taken = runner.run(url, "backup", user="t")
    copy = tmp_path / "elsewhere.dump"
    copy.write_bytes(Path(taken.backup).read_bytes())
    with pytest.raises(RestoreRefused, match="is not in the backup log"):
        pg_restore.restore_file(url, copy, swap=False)
    forced = pg_restore.restore_file(url, copy, swap=False, force=True)
    assert forced["warnings"] and forced["warnings"][0].startswith("restored with --force")
    pg_tools.drop_database(PgDatabase(url), forced["restored_database"])
    with pytest.raises(RestoreRefused, match="backup not found"):
        pg_restore.restore_file(url, tmp_path / "missing.dump")


# ------------------------------------------------------------------------ the CLI

def test_the_command_line_on_postgresql(url):
    taken = cli("backup", "--json", "--keep", "3", url=url)
    assert taken.returncode == 0, taken.stderr
    path = json.loads(taken.stdout)["backup"]
    listed = cli("backups", "--json", url=url)
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assert [b["path"] for b in found["backups"]] == [path] and found["backups"][0]["verified"]
    assert cli("backups", "--verify", url=url).returncode == 0
    dry = cli("maintain", "sessions", "--dry-run", "--json", url=url)
    assert dry.returncode == 0 and json.loads(dry.stdout)["outcome"] == "dry-run"
    assert json.loads(dry.stdout)["previewed"] == registry.preview(url, "sessions").count
    vacuum = cli("maintain", "vacuum", "--yes", url=url)
    assert vacuum.returncode == 0 and vacuum.stdout.startswith("vacuum: VACUUM (ANALYZE)")
    checkpoint = cli("maintain", "checkpoint", url=url)
    assert checkpoint.returncode == 1 and "not applicable on PostgreSQL" in checkpoint.stderr
    assert len(checkpoint.stderr.strip().splitlines()) == 1
    wrong = cli("backup", "--method", "vacuum-into", url=url)
    assert wrong.returncode == 1 and "pg_dump -Fc" in wrong.stderr


def test_backup_first_and_sqlite_backups_beside_postgresql_ones(url, tmp_path):
    result = runner.run(url, "sessions", backup_first=True, user="t")
    assert result.outcome == "ok" and result.backup.endswith(".dump")
    assert Path(result.backup).parent == backups.default_dest(db=PgDatabase(url))
    tasks = [(e["task"], e["outcome"]) for e in MonitorStore().recent_log()][:2]
    assert sorted(tasks) == [("backup", "ok"), ("sessions", "ok")]
    lite = runner.run(tmp_path / "demo.db", "backup", user="t")   # SQLite keeps its own format
    assert lite.outcome == "ok" and lite.backup.endswith(".db")
    assert Path(lite.backup).parent != Path(result.backup).parent
    assert [b.verified for b in backups.list_backups(Path(lite.backup).parent, verify=True)] == [True]


def test_a_maintenance_role_backs_up_with_createdb_only(url, pg_cluster):
    name = name_of(url)
    role = f"backer_{name}"   # test-only names
    pg_cluster.execute(f"CREATE ROLE {role} LOGIN")
    pg_cluster.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}", dbname=name)
    as_role = pg_cluster.url(name, user=role)
    pv = registry.preview(as_role, "backup")
    assert "needs CREATEDB" in pv.refusal
    with pytest.raises(registry.Refused, match="needs CREATEDB"):
        runner.run(as_role, "backup", user="t")
    pg_cluster.execute(f"ALTER ROLE {role} CREATEDB")
    taken = runner.run(as_role, "backup", user="t")
    assert taken.outcome == "ok" and taken.details["rows"] == counts(url)
    assert not [d for d in databases(pg_cluster) if d.startswith(name + "_verify_")]


def test_a_backup_while_the_application_writes_is_one_snapshot(url):
    """Sessions are inserted throughout the backup: the dump and the counts it is verified
    against come from one exported snapshot, so the verification holds."""
    import threading

    import psycopg

    stop, written = threading.Event(), []

    def application():
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("INSERT INTO sessions VALUES (%s, 'u1', now())", (f"live{len(written)}",))
                written.append(1)
    thread = threading.Thread(target=application)
    thread.start()
    try:
        while len(written) < 20:
            time.sleep(0.01)
        before = len(written)
        taken = runner.run(url, "backup", user="t")
        during = len(written) - before
    finally:
        stop.set()
        thread.join()
    assert taken.outcome == "ok" and during > 20   # the application wrote throughout
    assert taken.details["rows"]["sessions"] < counts(url)["sessions"]   # rows came after it
    assert backups.verify_backup(taken.backup)[0]
