"""PostgreSQL's own tools for backups and restores, and the databases they restore into.

- pg_dump / pg_restore are looked up in R2W_PG_BIN, then the newest /usr/lib/postgresql/*/bin
  (Debian's layout: a newer pg_dump reads every older server), then PATH; a missing tool is
  one clear line. Every run is bounded (TOOL_TIMEOUT_S, R2W_PG_TOOL_TIMEOUT_S to change it)
  and killed past it.
- The password never reaches a command line: the tools get a libpq conninfo without it, and
  the password in PGPASSWORD (libpq's environment variables and ~/.pgpass work as usual).
- Scratch and restored databases are created from template0 with the source's encoding and
  locale, named after the source (`<name>_verify_<stamp>`, at most 63 bytes).
- `dump_row_counts` reads a whole archive (every compressed block, so damage shows) and counts
  the rows of each table's data: what `backups --verify` and `restore` check a dump with.
"""
import glob
import os
import re
import shutil
import subprocess
import threading
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from r2w_db import config, errors
from r2w_db.engine import schema
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.database import PgDatabase

BIN_ENV = "R2W_PG_BIN"
TIMEOUT_ENV = "R2W_PG_TOOL_TIMEOUT_S"
TOOL_TIMEOUT_S = 3600
MAX_NAME_BYTES = 63                    # PostgreSQL's NAMEDATALEN - 1
OWN_EXTENSIONS = ("amcheck",)          # created by `check`, not part of the data: not restored
COPY_START = re.compile(rb'^COPY (?:"?[^". ]+"?\.)?"?([^" (]+)"? .*FROM stdin;$')


class ToolMissing(errors.R2WError):
    """pg_dump or pg_restore is not installed where r2w_db looks."""


class ToolFailed(errors.R2WError):
    """A PostgreSQL tool failed or ran past its time bound."""


# ------------------------------------------------------------------------ the tools

def find_tool(name) -> Path:
    folders = []
    if os.environ.get(BIN_ENV):
        folders.append(Path(os.environ[BIN_ENV]))
    folders += sorted((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                      reverse=True)
    for folder in folders:
        if (folder / name).is_file() and os.access(folder / name, os.X_OK):
            return folder / name
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ToolMissing(f"{name} not found: install PostgreSQL's client tools (Debian: apt-get "
                      f"install postgresql-client) or set {BIN_ENV} to the folder holding {name}")


MAX_TOOL_TIMEOUT_S = 30 * 86400


def timeout_s():
    """R2W_PG_TOOL_TIMEOUT_S (default TOOL_TIMEOUT_S): InvalidValue, one line naming it, for a
    value that is not a number of seconds from 1 to MAX_TOOL_TIMEOUT_S (infinity included)."""
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None or not raw.strip():
        return TOOL_TIMEOUT_S
    value = config.bounded_number(raw, 1, MAX_TOOL_TIMEOUT_S)
    if value is None:
        raise errors.InvalidValue(f"{TIMEOUT_ENV}={raw.strip()[:40]!r} is not a number of seconds "
                                  f"from 1 to {MAX_TOOL_TIMEOUT_S} (unset it for the default, "
                                  f"{TOOL_TIMEOUT_S})")
    return value


def connection_args(db, dbname=None):
    """(libpq conninfo without the password, environment with PGPASSWORD) for a tool."""
    from psycopg import conninfo

    params = conninfo.conninfo_to_dict(db.url)
    password = params.pop("password", None)
    if dbname is not None:
        params["dbname"] = dbname
    params.setdefault("application_name", "r2w_db")
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    return conninfo.make_conninfo("", **params), env


def run_tool(name, args, *, db, what, dbname=None):
    """Run pg_dump / pg_restore against `db` (or its database `dbname`), bounded; its output.
    ToolFailed (one line, the tool's own message) when it fails or runs too long."""
    info, env = connection_args(db, dbname)
    command = [str(find_tool(name)), *map(str, args), f"--dbname={info}"]
    limit = timeout_s()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=limit,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"{what}: {name} did not finish within {limit:.0f} s and was stopped "
                         f"({TIMEOUT_ENV} sets the bound)") from None
    except OSError as exc:
        raise ToolFailed(f"{what}: cannot run {name}: {exc.strerror or exc}") from None
    if done.returncode:
        raise ToolFailed(f"{what}: {name} failed: {_tool_message(done.stderr, db)}")
    return done.stdout


def _tool_message(stderr, db):
    lines = [line for line in (stderr or "").splitlines() if line.strip()]
    text = "; ".join(lines[-3:]) or "no message"
    return errors.one_line(text.replace(db.url, db.display), 400)


def archive_entries(path):
    """The archive's table of contents (`pg_restore --list`): lines, or ToolFailed."""
    return _read_archive(path, ["--list"], "reading the archive's table of contents").splitlines()


def _read_archive(path, args, what):
    command = [str(find_tool("pg_restore")), *args, str(path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s(),
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"{what}: pg_restore ran past {timeout_s():.0f} s and was stopped") from None
    if done.returncode:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise ToolFailed(f"{what}: {errors.one_line('; '.join(lines[-2:]) or 'failed', 300)}")
    return done.stdout


def restore_list(path, folder):
    """A --use-list file: every entry of the archive but this package's own extensions."""
    keep = [line for line in archive_entries(path)
            if not any(re.search(rf"\bEXTENSION (- )?{name}\b", line) for name in OWN_EXTENSIONS)]
    target = Path(folder) / (Path(path).name + ".list")
    target.write_text("\n".join(keep) + "\n")
    return target


def dump_row_counts(path):
    """{table: rows} of the data in a custom-format archive, read whole (every block is
    decompressed, so a damaged or truncated archive fails). ToolFailed when it is not sound."""
    command = [str(find_tool("pg_restore")), "--data-only", "--file=-", str(path)]
    counts, table = {}, None
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    timer = threading.Timer(timeout_s(), proc.kill)
    timer.start()
    try:
        for line in proc.stdout:
            if table is None:
                match = COPY_START.match(line.rstrip(b"\n"))
                if match:
                    table = match.group(1).decode()
                    counts[table] = 0
            elif line == b"\\.\n":
                table = None
            else:
                counts[table] += 1
        stderr = proc.stderr.read().decode(errors="replace")
        code = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    if code:
        lines = [line for line in stderr.splitlines() if line.strip()]
        why = "; ".join(lines[-2:]) or ("stopped: it ran too long" if code < 0 else "failed")
        raise ToolFailed(f"pg_restore could not read the whole archive: {errors.one_line(why, 300)}")
    if table is not None:
        raise ToolFailed(f"the archive ends inside the data of {table}: it is truncated")
    return counts


def verify_dump(path):
    """(ok, message) for a pg_dump archive, without a server: read whole, rows counted."""
    try:
        counts = dump_row_counts(path)
    except ToolMissing:   # not a finding about the file: said as it is
        raise
    except errors.R2WError as exc:
        return False, str(exc)
    return True, "pg_restore read the whole archive: " + describe_counts(counts)


def describe_counts(counts):
    return ", ".join(f"{table} {rows:,}" for table, rows in counts.items()) or "no table data"


# ------------------------------------------------------------------ databases

def with_dbname(url, dbname):
    """The same libpq URL naming another database of the same server."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "dbname"]
    return urlunsplit(parts._replace(path="/" + quote(dbname, safe=""), query=urlencode(query)))


def derived_name(base, kind, moment=None):
    """`<base>_<kind>_<UTC stamp>_<pid>`, the base cut so the whole fits PostgreSQL's 63 bytes."""
    moment = moment or datetime.now(timezone.utc)
    tail = f"_{kind}_{moment.strftime('%Y%m%d%H%M%S')}_{os.getpid()}"
    room = MAX_NAME_BYTES - len(tail.encode())
    cut = base.encode()[:room].decode(errors="ignore")
    return cut + tail


def database_facts(db):
    """{name, owner, encoding, collate, ctype, size_bytes} of the database `db` names."""
    with db.read() as conn:
        row = conn.execute("""
            SELECT d.datname, pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding),
                   d.datcollate, d.datctype, pg_database_size(d.oid), r.rolsuper OR r.rolcreatedb
            FROM pg_database d, pg_roles r
            WHERE d.datname = current_database() AND r.rolname = current_user""").fetchone()
    keys = ("name", "owner", "encoding", "collate", "ctype", "size_bytes", "may_create")
    return dict(zip(keys, row))


def create_database(db, name, like, owner=None):
    """CREATE DATABASE name from template0, with the encoding and locale of `like` (facts).
    Copying template0 takes the server seconds on a busy machine and blocks none of the
    application's tables: the statement runs without the writers' statement timeout (the lock
    timeout still bounds any wait)."""
    from psycopg import sql

    statement = sql.SQL("CREATE DATABASE {} WITH TEMPLATE template0 ENCODING {} LC_COLLATE {}"
                        " LC_CTYPE {}").format(identifier(name), sql.Literal(like["encoding"]),
                                               sql.Literal(like["collate"]), sql.Literal(like["ctype"]))
    if owner:
        statement += sql.SQL(" OWNER {}").format(identifier(owner))
    with db.write(autocommit=True) as conn:
        conn.execute("SET statement_timeout = 0")
        conn.execute(statement)
    return PgDatabase(with_dbname(db.url, name))


def drop_database(db, name):
    """DROP DATABASE IF EXISTS name WITH (FORCE), from a connection to `db` (another one)."""
    from psycopg import sql

    with db.write(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier(name)))


def table_counts(db):
    """{table: rows} of the four tables in one snapshot (None for a missing table)."""
    with db.read() as conn:
        return counts_in(conn)


def counts_in(conn):
    from psycopg import sql

    have = pg_schema.existing_tables(conn)
    return {t: (conn.execute(sql.SQL("SELECT count(*) FROM {}").format(identifier(t))).fetchone()[0]
                if t in have else None) for t in schema.COLUMNS}
