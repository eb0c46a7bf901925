"""The read-only switch: no maintenance for anyone, in the dashboard, the library and the CLI."""
import pytest

from r2w_db import config
from r2w_db.cli.main import main
from r2w_db.maintenance import registry, runner
from r2w_db.monitor.store import MonitorStore

from .signin_helpers import MAINTENANCE, TEAM, app, demo_path, env, signed_in, texts  # noqa: F401


@pytest.mark.parametrize("value, expected", [
    ("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("false", False),
    ("off", False), ("maybe", True)])
def test_environment_variable(value, expected, tmp_path):
    assert config.read_only({"R2W_READ_ONLY": value}, files=[]) is expected


def test_secrets_file_and_mapping(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[monitor]\nread_only = true\n")
    assert config.read_only({}, files=[secrets])
    assert not config.read_only({"R2W_READ_ONLY": "0"}, files=[secrets]), "the variable wins"
    assert not config.read_only({}, files=[tmp_path / "missing.toml"])
    (tmp_path / "bad.toml").write_text("not [ toml")
    assert not config.read_only({}, files=[tmp_path / "bad.toml"])
    assert config.read_only({}, secrets={"monitor": {"read_only": True}}, files=[])
    assert not config.read_only({}, secrets={"monitor": {"read_only": False}}, files=[secrets])


@pytest.fixture
def read_only(env, monkeypatch):
    monkeypatch.setenv("R2W_READ_ONLY", "1")
    return env


def test_dashboard_disables_every_task_even_for_admins(read_only):
    at = signed_in(MAINTENANCE, "ada")
    runs = [b for b in at.button if (b.key or "").startswith("maint_run_")]
    assert len(runs) == 8 and all(b.disabled and "read-only" in b.help for b in runs)
    assert "read-only" in texts(at).lower()
    at = app(MAINTENANCE).run()                 # no accounts: the local admin, still read-only
    assert at.button(key="maint_run_integrity").disabled
    assert any("read-only" in w.value for w in list(at.sidebar.warning) + list(at.sidebar.info))


def test_secrets_monitor_table_switches_the_dashboard(env, monkeypatch):
    monkeypatch.delenv("R2W_READ_ONLY")     # the variable, when set, overrides the secrets
    at = signed_in(MAINTENANCE, "ada", monitor={"read_only": True})
    assert at.button(key="maint_run_backup").disabled


def test_library_refuses_writing_tasks_and_logs_nothing(read_only, tmp_path, demo_path):
    import shutil
    db = tmp_path / "copy.db"
    shutil.copy(demo_path, db)
    for task in ("sessions", "cache", "anonymous", "analyze", "checkpoint", "vacuum"):
        with pytest.raises(registry.Refused, match="read-only"):
            runner.run(db, task, user="ada")
    assert MonitorStore().recent_log() == []
    assert runner.run(db, "sessions", dry_run=True).outcome == "dry-run"
    assert runner.run(db, "integrity", quick=True).outcome == "ok"
    assert runner.run(db, "backup").outcome == "ok"
    with pytest.raises(registry.Refused, match="read-only"):
        runner.restore(db, tmp_path / "whatever.db")


def test_command_line(read_only, tmp_path, demo_path, capsys):
    import shutil
    db = tmp_path / "copy.db"
    shutil.copy(demo_path, db)
    assert main(["--db", str(db), "maintain", "sessions", "--yes"]) != 0
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "read-only" in err and not out
    assert main(["--db", str(db), "maintain", "sessions", "--dry-run"]) == 0
    assert main(["--db", str(db), "maintain", "integrity", "--quick"]) == 0
    capsys.readouterr()
    backup = tmp_path / "b.db"
    shutil.copy(demo_path, backup)
    assert main(["--db", str(db), "restore", str(backup), "--yes"]) != 0
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "read-only" in err
