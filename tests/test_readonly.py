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
    assert config.read_only({}, secrets={"monitor": {"read_only": True}}, files=[])
    assert not config.read_only({}, secrets={"monitor": {"read_only": False}}, files=[secrets])


@pytest.mark.parametrize("value, expected", [
    ("true", True), ("false", False), ('"off"', False), ('"yes"', True), ('"maybe"', True),
    ('""', True), ("0", False), ("1", True), ("2", True), ("0.0", False), ("[]", True)])
def test_secrets_values_unexpected_is_read_only(value, expected, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f"[monitor]\nread_only = {value}\n")
    assert config.read_only({}, files=[secrets]) is expected


BROKEN = {
    "syntax": (b"not [ toml", "line 1, column 5"),
    "unclosed table": (b"[monitor\nread_only = true\n", "line 1"),
    "key twice": (b"[monitor]\nread_only = false\nread_only = false\n", "line 3"),
    "not utf-8": (b"[monitor]\nread_only = \"\xff\"\n", "not UTF-8"),
    "monitor not a table": (b"monitor = false\n", "[monitor] must be a table"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_secrets_file_fails_closed(case, tmp_path):
    content, detail = BROKEN[case]
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text("[monitor]\nread_only = false\n")
    bad.write_bytes(content)
    for environ in ({}, {"R2W_READ_ONLY": "0"}, {"R2W_READ_ONLY": "no"}):
        with pytest.raises(config.SecretsUnreadable) as caught:
            config.read_only(environ, files=[good, bad])
        message = str(caught.value)
        assert str(bad) in message and detail in message and "\n" not in message
    assert config.read_only({"R2W_READ_ONLY": "1"}, files=[bad]), "read-only anyway"
    assert config.secrets_problem([good, bad]).startswith(("cannot read " + str(bad), str(bad)))
    assert config.secrets_problem([good, tmp_path / "missing.toml"]) is None
    with pytest.raises(config.SecretsUnreadable):   # a mapping that says off does not help
        config.read_only({}, secrets={"monitor": {"read_only": False}}, files=[bad])
    assert registry.read_only_refusal("integrity", environ={}) is None, "read-only tasks run"


def test_a_directory_or_a_pipe_in_place_of_the_file_fails_closed(tmp_path):
    import os

    (tmp_path / "secrets.toml").mkdir()
    with pytest.raises(config.SecretsUnreadable, match="directory"):
        config.read_only({}, files=[tmp_path / "secrets.toml"])
    os.mkfifo(tmp_path / "fifo.toml")        # opening it would block for ever
    with pytest.raises(config.SecretsUnreadable, match="not a regular file"):
        config.read_only({}, files=[tmp_path / "fifo.toml"])


@pytest.fixture
def read_only(env, monkeypatch):
    monkeypatch.setenv("R2W_READ_ONLY", "1")
    return env


def test_dashboard_disables_every_task_even_for_admins(read_only):
    at = signed_in(MAINTENANCE, "ada")
    runs = [b for b in at.button if (b.key or "").startswith("maint_run_")]
    assert len(runs) == 9 and all(b.disabled and "read-only" in b.help for b in runs)
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


@pytest.fixture
def broken_secrets(env, tmp_path, monkeypatch):
    """A working directory whose .streamlit/secrets.toml does not parse (R2W_READ_ONLY=0)."""
    cwd = tmp_path / "cwd"
    (cwd / ".streamlit").mkdir(parents=True)
    path = cwd / ".streamlit" / "secrets.toml"
    path.write_text("[monitor]\nread_only = flase\n")
    monkeypatch.chdir(cwd)
    return path


@pytest.mark.parametrize("unset", [False, True])
def test_command_line_writers_refuse_on_a_broken_secrets_file(broken_secrets, tmp_path, demo_path,
                                                              capsys, monkeypatch, unset):
    import shutil
    if unset:
        monkeypatch.delenv("R2W_READ_ONLY")
    db = tmp_path / "copy.db"
    shutil.copy(demo_path, db)
    backup = tmp_path / "b.db"
    shutil.copy(demo_path, backup)
    for argv in (["maintain", "sessions", "--yes"], ["maintain", "vacuum", "--yes"],
                 ["restore", str(backup), "--yes"], ["migrate"], ["init"]):
        assert main(["--db", str(db), *argv]) != 0, argv
        out, err = capsys.readouterr()
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(broken_secrets) in lines[0] and "line 2" in lines[0], \
            (argv, err)
        assert "Traceback" not in err
    assert MonitorStore().recent_log() == [], "nothing ran, nothing logged"
    for argv in (["maintain", "sessions", "--dry-run"], ["maintain", "integrity", "--quick"],
                 ["stats", "--json"]):
        assert main(["--db", str(db), *argv]) == 0, argv
    capsys.readouterr()
