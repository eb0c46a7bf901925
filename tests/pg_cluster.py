"""A real, throwaway PostgreSQL cluster for the tests (and bench/postgres.py).

Debian's `postgresql` package: `initdb` into a temporary folder as the `postgres` user (when we
are root; as ourselves otherwise), `pg_ctl start` on a free port with the Unix socket in that
folder and no TCP listener (listen_addresses=''), and `pg_ctl stop -m fast` at the end, even
when a test fails. When `initdb` is missing and we are root on a Debian machine, the package is
installed first (apt-get, bounded time), as tests/e2e/conftest.py does for Chromium. Without
PostgreSQL the tests that need it are skipped locally and FAIL on CI (CI=true).

    pg_cluster        session-scoped: the running Cluster
    pg_url            a fresh, empty scratch database per test: its postgresql:// URL
    pg_cluster_with_statements
                      session-scoped: a second Cluster started with pg_stat_statements
                      preloaded (STATEMENTS); the default cluster stays without it
    pg_templates      session-scoped: data moved into PostgreSQL once (a template database),
                      each test gets its own clone (CREATE DATABASE x TEMPLATE t) and its own
                      copy of the SQLite files: `pg_templates.moved_demo(tmp_path, seed=...)`

With pytest-xdist every worker has its own cluster (its own folder, its own socket: there is no
TCP listener, so no port is shared), and its own templates.
"""
import atexit
import fcntl
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
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


APT_LOCK = Path(tempfile.gettempdir()) / "r2w-tests-apt.lock"   # one apt-get at a time
APT_UPDATE_FRESH_S = 3600   # an `apt-get update` this recent (by the tests) is not run again


def apt_install(packages, what, timeout=INSTALL_TIMEOUT_S, *, recommends=False):
    """As root on a Debian machine: `apt-get install packages` (after an `apt-get update`
    unless the tests ran one within the hour), holding a file lock so that the pytest-xdist
    workers (one installing PostgreSQL, one Chromium) never run apt-get at the same time.
    Returns whether it succeeded; `is_there()` is for the caller to check afterwards."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    wait = ["-o", f"DPkg::Lock::Timeout={int(timeout)}"]   # another apt user of the machine
    install = ["apt-get", "install", "-y", "-qq", *wait, *packages]
    if not recommends:
        install.insert(4, "--no-install-recommends")
    with open(APT_LOCK, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.seek(0)
        last = lock.read().strip()
        fresh = last.replace(".", "", 1).isdigit() and time.time() - float(last) < APT_UPDATE_FRESH_S
        print(f"\ninstalling Debian's {' '.join(packages)} for {what} (apt-get) ...",
              file=sys.stderr)
        try:
            if not fresh:
                if subprocess.run(["apt-get", "update", "-qq", *wait], env=env,
                                  stdout=subprocess.DEVNULL, timeout=timeout).returncode:
                    return False
                lock.seek(0)
                lock.truncate()
                lock.write(f"{time.time():.0f}")
                lock.flush()
            return subprocess.run(install, env=env, stdout=subprocess.DEVNULL,
                                  timeout=timeout).returncode == 0
        except subprocess.TimeoutExpired:
            return False


def install_postgresql():
    """As root on a Debian machine without it, install Debian's postgresql; returns the bin
    folder or None."""
    if pg_bin_dir():
        return pg_bin_dir()
    if os.environ.get("R2W_PG_BIN"):
        return None
    with open(APT_LOCK, "a+") as lock:   # another worker may be installing it right now
        fcntl.flock(lock, fcntl.LOCK_EX)
        if pg_bin_dir():
            return pg_bin_dir()
    apt_install(["postgresql"], "the PostgreSQL tests")
    return pg_bin_dir()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """initdb + pg_ctl in a temporary folder; `start()`, `url(dbname)`, `create_database()`,
    `stop()` (idempotent, also registered with atexit)."""

    def __init__(self, bin_dir, settings=None):
        self.bin = Path(bin_dir)
        self.settings = SETTINGS | dict(settings or {})   # extra server options win
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
        options = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
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

    def create_database(self, prefix="scratch", template=None):
        """A fresh database, empty or a clone of the database `template`; returns its URL."""
        from psycopg import sql

        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        self.execute(statement)
        return self.url(name)


class Templates:
    """Data built once per session into a template database of the cluster; every test gets a
    clone of it (CREATE DATABASE ... TEMPLATE, a file copy: milliseconds) and a copy of the
    SQLite files the build left in its folder, instead of building and moving per test."""

    def __init__(self, cluster, folder):
        self.cluster, self.folder, self._made = cluster, Path(folder), {}

    def template(self, key, build):
        """(folder, template database name) for `key`: the first call runs `build(folder, url)`,
        which writes its SQLite files into `folder` and fills the database at `url` (the move's
        log entry goes to a monitor database of that folder, never to a test's)."""
        if key not in self._made:
            from psycopg import sql

            folder = self.folder / key
            folder.mkdir(parents=True)
            name = f"template_{key}"
            self.cluster.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("R2W_MONITOR_DB", str(folder / "monitor.db"))
                build(folder, self.cluster.url(name))
            # a template: nothing connects to it again (a clone needs it without sessions)
            self.cluster.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true "
                                         "ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
            self._made[key] = (folder, name)
        return self._made[key]

    def clone(self, key, build, tmp_path, prefix="scratch"):
        """(tmp_path, URL): the template's SQLite files copied into `tmp_path` (a test's own
        folder) and a fresh clone of its database."""
        folder, name = self.template(key, build)
        for source in folder.iterdir():
            if source.is_file() and not source.name.startswith("monitor.db"):
                shutil.copyfile(source, Path(tmp_path) / source.name)
        return Path(tmp_path), self.cluster.create_database(prefix, template=name)

    def moved_demo(self, tmp_path, *, seed, now=None, scale="small", prefix="scratch"):
        """(SQLite demo at tmp_path/demo.db, URL of the same data moved into PostgreSQL): what
        `build_demo(path, scale, seed, now)` then `move.move(path, url)` give, built once per
        session (a demo without `now` is then as of the session's first use)."""
        stamp = "now" if now is None else now.strftime("%Y%m%dT%H%M%S%f")
        key = f"demo_{scale}_{seed}_{stamp}"

        def build(folder, url):
            from r2w_db.demo.builder import build_demo
            from r2w_db.maintenance import move

            build_demo(folder / "demo.db", scale=scale, seed=seed, now=now)
            move.move(folder / "demo.db", url)

        folder, url = self.clone(key, build, tmp_path, prefix)
        return folder / "demo.db", url


STATEMENTS = {"shared_preload_libraries": "pg_stat_statements"}   # the real query workload


def _unavailable(reason):
    if ON_CI:
        pytest.fail(f"PostgreSQL tests cannot run on CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _started(settings=None):
    """A running Cluster with `settings` over SETTINGS, its folder removed at the end."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        _unavailable(f"psycopg is not installed ({exc}): pip install -r requirements.txt")
    bin_dir = install_postgresql()
    if bin_dir is None:
        _unavailable("no PostgreSQL server binaries (apt-get install postgresql, or set "
                     "R2W_PG_BIN to the folder holding initdb)")
    cluster = Cluster(bin_dir, settings)
    try:
        cluster.start()
    except (RuntimeError, OSError, KeyError, subprocess.TimeoutExpired) as exc:
        cluster.stop()
        pytest.fail(f"the test PostgreSQL cluster did not start: {exc}", pytrace=False)
    return cluster


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = _started()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_cluster_with_statements():
    """A cluster of its own with pg_stat_statements preloaded (CREATE EXTENSION is the test's)."""
    cluster = _started(STATEMENTS)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_templates(pg_cluster, tmp_path_factory):
    """Data moved into PostgreSQL once per session, cloned per test (Templates)."""
    return Templates(pg_cluster, tmp_path_factory.mktemp("pg-templates"))


@pytest.fixture
def pg_url(pg_cluster):
    """A fresh, empty database of the test cluster, as a postgresql:// URL."""
    return pg_cluster.create_database()
