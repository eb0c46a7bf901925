"""Tiny fixtures that build fresh databases, the session's settings, and the markers.

Settings for the whole session (set before r2w_db is imported, so its modules read them, and
inherited by every command and server the tests start):
    R2W_BUSY_TIMEOUT_MS=300   a lock is given up on after 0.3 s instead of 5 s (the tests that
                              give up on a lock wait that long); set it yourself to run with
                              another value (tests/test_busy_timeout_setting.py proves the real
                              default with the variable unset)
    TMPDIR=/dev/shm/r2w-tests temporary files in memory when the tmpfs has 4 GiB free and
                              TMPDIR is not set (no fsync waits)

Markers, applied here so nobody has to remember them (pytest.ini registers them, strictly):
    pg        the test needs PostgreSQL (it uses the pg_cluster fixture, tests/pg_cluster.py)
    browser   a browser test (tests/e2e: Chromium against `streamlit run`)
The fast inner loop leaves both out: `python -m pytest --fast` (the same as
`python -m pytest -m "not pg and not browser"`).
"""
import os
import shutil
import tempfile

TEST_BUSY_TIMEOUT_MS = "300"
os.environ.setdefault("R2W_BUSY_TIMEOUT_MS", TEST_BUSY_TIMEOUT_MS)

SHM, SHM_FREE_BYTES = "/dev/shm", 4 << 30


def _temporary_files_in_memory():
    """The tests' temporary files (tmp_path, the test clusters, the servers' copies) on the
    machine's tmpfs when it has room and TMPDIR is not set: every SQLite commit fsyncs, and on
    a disk those waits made the I/O-heavy tests ~1.8x slower. Set TMPDIR to choose yourself."""
    if "TMPDIR" in os.environ or not os.path.isdir(SHM) or not os.access(SHM, os.W_OK):
        return
    if shutil.disk_usage(SHM).free < SHM_FREE_BYTES:
        return
    folder = os.path.join(SHM, "r2w-tests")
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o1777)   # like /tmp: the test cluster runs as the postgres user
    os.environ["TMPDIR"] = folder        # the commands, servers and workers started from here
    tempfile.tempdir = folder            # this process (pytest may have asked already)


_temporary_files_in_memory()

import pytest  # noqa: E402

from r2w_db.backends import migrations  # noqa: E402

from .prodlike import build_prodlike  # noqa: E402
from .pg_cluster import pg_cluster, pg_templates, pg_url  # noqa: E402,F401  (a real PostgreSQL)
from .pg_cluster import pg_cluster_with_statements  # noqa: E402,F401  (with pg_stat_statements)

FAST = "not pg and not browser"
E2E = os.path.join("tests", "e2e", "")


def pytest_addoption(parser):
    parser.addoption("--fast", action="store_true",
                     help=f'the fast inner loop: no PostgreSQL, no browser (-m "{FAST}")')


def pytest_configure(config):
    if config.getoption("--fast", False):
        mark = config.option.markexpr
        config.option.markexpr = f"({mark}) and {FAST}" if mark else FAST


@pytest.hookimpl(tryfirst=True)   # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """`pg` on every test that uses the test cluster, `browser` on every test in tests/e2e (all
    of them in one xdist group: one worker starts the servers and Chromium once)."""
    for item in items:
        path = str(item.path)
        if E2E in path:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group("browser"))
        if {"pg_cluster", "pg_cluster_with_statements"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.pg)


@pytest.fixture
def real_busy_timeout(monkeypatch):
    """The real 5 s busy timeout, for tests whose writers contend the way production's do (a
    load test, a cleanup beside a writer): in this process and in the commands it starts."""
    from r2w_db.backends.postgresql import connection as pg_connection
    from r2w_db.backends.sqlite import connection

    real = connection.DEFAULT_BUSY_TIMEOUT_MS
    monkeypatch.setenv("R2W_BUSY_TIMEOUT_MS", str(real))
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_MS", real)
    monkeypatch.setattr(connection, "READ_BUSY_TIMEOUT_MS", real * 3 // 5)
    monkeypatch.setattr(pg_connection, "WRITE_TIMEOUT_MS", real)
    return real


@pytest.fixture(autouse=True)
def own_monitor_db(tmp_path, monkeypatch):
    """Every test keeps the monitor's state in its own folder, never in data/ (commands run
    as subprocesses inherit it)."""
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))


@pytest.fixture
def db_path(tmp_path):
    """An empty database at the current schema."""
    path = tmp_path / "r2w.db"
    migrations.init(path)
    return path


@pytest.fixture
def db(db_path):
    """The same empty database, under the name the data-operation tests use."""
    return db_path


@pytest.fixture
def prod_db(tmp_path):
    """(path, now, expected): a database written the way production writes it, not migrated."""
    path = tmp_path / "prod.db"
    now, expected = build_prodlike(path)
    return path, now, expected
