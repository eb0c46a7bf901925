"""A real, throwaway PostgreSQL cluster for the tests (and bench/postgres.py).

Debian's `postgresql` package: `initdb` into a temporary folder as the `postgres` user (when we
are root; as ourselves otherwise), `pg_ctl start` on a free port with the Unix socket in that
folder and no TCP listener (listen_addresses=''), and `pg_ctl stop -m fast` at the end, even
when a test fails. When `initdb` is missing and we are root on a Debian machine, the package is
installed first (apt-get, bounded time), as tests/e2e/conftest.py does for Chromium. Without
PostgreSQL the tests that need it are skipped locally and FAIL on CI (CI=true).

    pg_cluster        session-scoped: the running Cluster
    pg_url            a fresh, empty scratch database per test: its postgresql:// URL
"""
import atexit
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest

ON_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
INSTALL_TIMEOUT_S = 900
START_TIMEOUT_S = 60
SETTINGS = {  # a test cluster: fast and private
    "listen_addresses": "''", "fsync": "off", "synchronous_commit": "off",
    "full_page_writes": "off", "shared_buffers": "64MB", "max_connections": "40",
}


def pg_bin_dir():
    """The newest /usr/lib/postgresql/*/bin holding initdb (R2W_PG_BIN wins), or None."""
    if os.environ.get("R2W_PG_BIN"):
        return Path(os.environ["R2W_PG_BIN"]) if Path(os.environ["R2W_PG_BIN"], "initdb").exists() else None
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    return Path(found[-1]).parent if found else None


def install_postgresql():
    """As root on a Debian machine without it, install Debian's postgresql; returns the bin
    folder or None."""
    if pg_bin_dir():
        return pg_bin_dir()
    if os.environ.get("R2W_PG_BIN") or os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    print("\ninstalling Debian's postgresql for the PostgreSQL tests (apt-get) ...", file=sys.stderr)
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"]):
        try:
            if subprocess.run(command, env=env, stdout=subprocess.DEVNULL,
                              timeout=INSTALL_TIMEOUT_S).returncode:
                return None
        except subprocess.TimeoutExpired:
            return None
    return pg_bin_dir()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """initdb + pg_ctl in a temporary folder; `start()`, `url(dbname)`, `create_database()`,
    `stop()` (idempotent, also registered with atexit)."""

    def __init__(self, bin_dir):
        self.bin = Path(bin_dir)
        self.root = Path(tempfile.mkdtemp(prefix="r2w-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        self.superuser = "postgres"
        self._names = itertools.count(1)
        self.running = False

    def _run(self, *args, timeout=START_TIMEOUT_S):
        command = [str(self.bin / args[0]), *map(str, args[1:])]
        if self.as_postgres:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}\n{log}")
        return done

    def start(self):
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        os.chmod(self.root, 0o700)
        self._run("initdb", "-D", self.data, "-U", self.superuser, "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        options = " ".join(f"-c {k}={v}" for k, v in SETTINGS.items())
        options += f" -c port={self.port} -c unix_socket_directories='{self.root}'"
        atexit.register(self.stop)
        self.running = True
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w",
                  "-t", START_TIMEOUT_S, "start", timeout=START_TIMEOUT_S + 10)
        return self

    def stop(self):
        if self.running:
            self.running = False
            try:
                self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", 30, "stop", timeout=45)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"warning: the test cluster did not stop cleanly: {exc}", file=sys.stderr)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname="postgres", user=None, password=None):
        """A libpq URL to a database of this cluster over its Unix socket."""
        auth = quote(user or self.superuser) + (f":{quote(password)}" if password else "")
        return f"postgresql://{auth}@/{dbname}?host={quote(str(self.root))}&port={self.port}"

    def execute(self, statement, params=None, dbname="postgres"):
        """One statement in autocommit as the superuser (CREATE DATABASE, CREATE ROLE ...)."""
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else None

    def create_database(self, prefix="scratch"):
        """A fresh, empty database; returns its URL."""
        from psycopg import sql

        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)


def _unavailable(reason):
    if ON_CI:
        pytest.fail(f"PostgreSQL tests cannot run on CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_cluster():
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        _unavailable(f"psycopg is not installed ({exc}): pip install -r requirements.txt")
    bin_dir = install_postgresql()
    if bin_dir is None:
        _unavailable("no PostgreSQL server binaries (apt-get install postgresql, or set "
                     "R2W_PG_BIN to the folder holding initdb)")
    cluster = Cluster(bin_dir)
    try:
        cluster.start()
    except (RuntimeError, OSError, KeyError, subprocess.TimeoutExpired) as exc:
        cluster.stop()
        pytest.fail(f"the test PostgreSQL cluster did not start: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster):
    """A fresh, empty database of the test cluster, as a postgresql:// URL."""
    return pg_cluster.create_database()
