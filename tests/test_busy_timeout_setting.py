"""The busy timeout is a setting (R2W_BUSY_TIMEOUT_MS): the real defaults when it is unset
(a writer waits 5 s for a lock, a reader 3 s, a PostgreSQL writer's statement and lock
timeouts are 5 s), the value given when set (the tests run with 0.3 s, tests/conftest.py), and
a bad value refused in one line that names the variable."""
import json
import os
import subprocess
import sys

import pytest

from r2w_db.backends.sqlite import connection
from tests.cli_process import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# In a process of its own with the variable unset: what a writer and a reader are given.
SQLITE_PROBE = """
import json, sys
from r2w_db import Database
from r2w_db.backends import migrations
from r2w_db.backends.sqlite import connection
migrations.init(sys.argv[1])
with Database(sys.argv[1]).write() as conn:
    writer = conn.execute("PRAGMA busy_timeout").fetchone()[0]
with Database(sys.argv[1]).read() as conn:
    reader = conn.execute("PRAGMA busy_timeout").fetchone()[0]
print(json.dumps({"writer": writer, "reader": reader, "constants": [
    connection.BUSY_TIMEOUT_MS, connection.READ_BUSY_TIMEOUT_MS]}))
"""

PG_PROBE = """
import json, sys
from r2w_db.backends.postgresql.database import PgDatabase
with PgDatabase(sys.argv[1]).write() as conn:
    print(json.dumps([conn.execute("SHOW statement_timeout").fetchone()[0],
                      conn.execute("SHOW lock_timeout").fetchone()[0]]))
"""


def python(code, *args, value=None):
    """Run `code` with R2W_BUSY_TIMEOUT_MS unset (value None) or set to `value`."""
    env = {k: v for k, v in os.environ.items() if k != connection.TIMEOUT_ENV}
    if value is not None:
        env[connection.TIMEOUT_ENV] = value
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_tests_run_with_a_short_timeout():
    assert os.environ[connection.TIMEOUT_ENV] == str(connection.BUSY_TIMEOUT_MS)
    assert connection.BUSY_TIMEOUT_MS < connection.DEFAULT_BUSY_TIMEOUT_MS


def test_unset_a_writer_waits_5_s_and_a_reader_3_s(tmp_path):
    done = python(SQLITE_PROBE, tmp_path / "r2w.db")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"writer": 5000, "reader": 3000, "constants": [5000, 3000]}


def test_set_the_writer_and_the_reader_follow_it(tmp_path):
    done = python(SQLITE_PROBE, tmp_path / "r2w.db", value="1000")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"writer": 1000, "reader": 600, "constants": [1000, 600]}


def test_unset_a_postgresql_writer_has_5_s_statement_and_lock_timeouts(pg_url):
    done = python(PG_PROBE, pg_url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["5s", "5s"]
    done = python(PG_PROBE, pg_url, value="1500")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["1500ms", "1500ms"]


@pytest.mark.parametrize("value", ["5s", "abc", "0", "-300", "9", "600001", "1e3", "300.5"])
def test_a_bad_value_is_refused_in_one_line_naming_the_variable(tmp_path, value):
    db = tmp_path / "r2w.db"
    done = run_cli(["--db", str(db), "init"], cwd=ROOT,
                   env=os.environ | {connection.TIMEOUT_ENV: value}, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert connection.TIMEOUT_ENV in lines[0] and repr(value) in lines[0]
    assert not db.exists()   # refused before anything was opened


@pytest.mark.parametrize("value,expected", [("", 5000), ("  ", 5000), ("10", 10),
                                            (" 300 ", 300), ("600000", 600000)])
def test_the_accepted_values(value, expected):
    assert connection.busy_timeout_setting({connection.TIMEOUT_ENV: value}) == (expected, None)
    assert connection.busy_timeout_setting({}) == (5000, None)


def test_a_bad_value_refuses_every_connection(monkeypatch, db_path):
    from r2w_db import Database

    _, error = connection.busy_timeout_setting({connection.TIMEOUT_ENV: "soon"})
    monkeypatch.setattr(connection, "TIMEOUT_SETTING_ERROR", error)
    for opening in (Database(db_path).read, Database(db_path).write):
        with pytest.raises(connection.BadTimeoutSetting, match="R2W_BUSY_TIMEOUT_MS='soon'"):
            with opening():
                pass
