"""Where the databases are: named databases, --db, DATABASE_URL, the embedded default, and the
monitor's own file.

Named databases come from `[databases.NAME]` tables in the secrets (`url`, optional `label` and
`[databases.NAME.health]` thresholds) and from R2W_DATABASES="NAME=URL NAME=URL" (the variable
wins per name). `--db` takes a configured name, a path (never an SQLite URI, never `:memory:`,
never empty) or a PostgreSQL URL; DATABASE_URL takes a path or `sqlite:///path`, as the
application reads it, or a PostgreSQL URL. A PostgreSQL URL (`postgresql://` or `postgres://`,
libpq's syntax; libpq's PG* environment variables fill in what it leaves out) is kept as it
is in `url`, is never the embedded default and is never created. A URL of another scheme is
refused. Every location shown or logged goes through `redact` (the password becomes ***).
`backends.open_database(location)` gives the database object of a location.
"""
import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path

from r2w_db import config, errors
from r2w_db.config import PROJECT_ROOT

DEFAULT_DB_PATH = PROJECT_ROOT / "data" / "resume2website.db"
DEFAULT_MONITOR_DB_PATH = PROJECT_ROOT / "data" / "r2w_monitor.db"
SQLITE_PREFIXES = ("sqlite:///", "sqlite://")
PG_SCHEMES = ("postgresql://", "postgres://")
SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
MAX_NAME_BYTES = 255    # one path component (NAME_MAX on Linux)
MAX_PATH_BYTES = 4096   # a whole path (PATH_MAX)
DATABASES_ENV = "R2W_DATABASES"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
QUERY_PASSWORD = re.compile(r"((?:^|(?<=&))password=)[^&]*", re.IGNORECASE)


@dataclass(frozen=True)
class DbLocation:
    """A resolved database: its path, where it came from, and its name when configured. A
    PostgreSQL database has its libpq URL in `url` (never in a repr) and, as its `path`, that
    URL with the password redacted, so code that shows `path` shows no secret."""

    path: Path | str
    is_default: bool
    source: str  # "--db", "DATABASE_URL", "default", "R2W_DATABASES" or "secrets"
    name: str | None = None
    label: str | None = None
    health: dict = field(default_factory=dict, compare=False, hash=False)
    url: str | None = field(default=None, repr=False)  # a postgresql:// URL, password included

    @property
    def display(self):
        return redact(self.url or str(self.path))

    @property
    def title(self):
        """How a person sees it: 'Production (prod)', 'staging', or the file's path (a database
        given by --db or DATABASE_URL, which has no name of its own)."""
        if self.label == self.display or not self.name:
            return self.display
        return f"{self.label} ({self.name})" if self.label and self.label != self.name else self.name


def split_url(text):
    """(scheme and '://', user or None, password or None, the rest) of a URL, read the way libpq
    reads one: the user part runs to the first '@' that comes before any '/', so a password may
    hold '#', '?' or ':'. Fail closed: where a ':' that is not a port comes before the first '/'
    and an '@' follows later, everything up to the last '@' is taken for user and password (a
    password holding '/' that libpq would misread must still never be shown)."""
    match = SCHEME.match(text)
    head, rest = text[:match.end()], text[match.end():]
    cut = next((i for i, ch in enumerate(rest) if ch in "@/"), len(rest))
    if cut < len(rest) and rest[cut] == "@":
        userinfo, rest = rest[:cut], rest[cut + 1:]
    elif ":" in rest[:cut] and not rest[:cut].partition(":")[2].isdigit() and "@" in rest[cut:]:
        at = rest.rindex("@")
        userinfo, rest = rest[:at], rest[at + 1:]
    else:
        return head, None, None, rest
    user, sep, password = userinfo.partition(":")
    return head, user, (password if sep else None), rest


def _query_password(rest, replacement):
    """`rest` with the value of every password= parameter of its query replaced (libpq takes
    ?password= too); `replacement` None drops the parameter."""
    address, sep, query = rest.partition("?")
    if not sep:
        return rest
    if replacement is None:
        query = "&".join(p for p in query.split("&") if p and not QUERY_PASSWORD.match(p))
        return f"{address}?{query}" if query else address
    return f"{address}?{QUERY_PASSWORD.sub(lambda m: m.group(1) + replacement, query)}"


def redact(location) -> str:
    """A location fit to show or log: the password of a URL, in its user part or its query,
    replaced by ***."""
    text = str(location)
    if not SCHEME.match(text):
        return text
    head, user, password, rest = split_url(text)
    userinfo = "" if user is None else f"{user}:***@" if password is not None else f"{user}@"
    return head + userinfo + _query_password(rest, "***")


def identity(location) -> str:
    """A location as the monitor database keys it: without its password, so the same whether
    the URL carries it or libpq finds it elsewhere (PGPASSWORD, ~/.pgpass)."""
    text = str(location)
    if not SCHEME.match(text):
        return text
    head, user, _, rest = split_url(text)
    return head + ("" if user is None else f"{user}@") + _query_password(rest, None)


def _bad(source, value, why):
    return errors.BadLocation(f"{source} {redact(value)!r}: {why}")


def is_pg_url(text) -> bool:
    """A postgresql:// or postgres:// URL (any case)."""
    return isinstance(text, str) and text.strip().lower().startswith(PG_SCHEMES)


def checked_pg_url(value, source="--db") -> str:
    """A libpq URL from user input, read by libpq's own parser (through psycopg), or
    BadLocation (one line, password redacted) saying what is wrong with it."""
    text = str(value).strip()
    if "\x00" in text:
        raise _bad(source, text, "contains a NUL byte")
    try:
        from psycopg import conninfo
    except ImportError:  # requirements.txt pins psycopg; connecting then says so
        return text
    try:
        conninfo.conninfo_to_dict(text)
    except Exception as exc:  # psycopg.ProgrammingError, with libpq's own message
        why = without_password(errors.one_line(exc).replace(text, redact(text)), text)
        raise _bad(source, text, f"not a valid PostgreSQL URL ({why})") from None
    return text


def without_password(message, url):
    """libpq's message with the URL's password, and any quoted piece of it (a password holding
    '/' is read as a port), replaced by ***."""
    password = split_url(url)[2]
    if not password:
        return message
    message = message.replace(password, "***")
    return re.sub(r'"([^"]+)"', lambda m: '"***"' if m.group(1) in password else m.group(0),
                  message)


def location_of(value, where, source, name=None, label=None, health=None) -> DbLocation:
    """A configured or given database: a PostgreSQL URL, else a path or sqlite:/// URL
    (`where` names the setting in error messages, `source` goes into the DbLocation)."""
    if is_pg_url(value):
        text = checked_pg_url(value, where)
        return DbLocation(redact(text), False, source, name, label, dict(health or {}), url=text)
    return DbLocation(path_from_url(value, where), False, source, name, label, dict(health or {}))


def checked_path(value, source="--db") -> Path:
    """A plain file path from user input, or BadLocation (one line) saying what is wrong."""
    text = str(value)
    if not text.strip():
        raise _bad(source, text, "empty; name the database file (an empty value never means "
                                 "the default database)")
    if "\x00" in text:
        raise _bad(source, text, "contains a NUL byte")
    if text.strip() == ":memory:" or text.startswith("file::memory:"):
        raise _bad(source, text, "an in-memory database has nothing to monitor; name a file")
    if text.lower().startswith("file:"):
        raise _bad(source, text, "an SQLite URI; give a plain file path (the options of a URI "
                                 "are never applied)")
    match = SCHEME.match(text)
    if match:
        raise _bad(source, text, f"the {match['scheme']!r} scheme is not supported by this "
                                 f"r2w_db: give a file path, sqlite:///path or postgresql://...")
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # ~nosuchuser
        raise _bad(source, text, "names the home folder of a user that does not exist") from None
    encoded = os.fsencode(str(path))
    if len(encoded) > MAX_PATH_BYTES or any(len(part) > MAX_NAME_BYTES
                                            for part in encoded.split(b"/")):
        raise _bad(source, text[:80] + ("..." if len(text) > 80 else ""),
                   "the path or one of its names is longer than the file system allows")
    return path


def path_from_url(url: str, source="DATABASE_URL") -> Path:
    """A plain path or an sqlite:/// URL, as the application reads DATABASE_URL."""
    text = str(url).strip()
    for prefix in SQLITE_PREFIXES:
        if text.startswith(prefix):
            rest = text[len(prefix):]
            if not rest.strip():
                raise _bad(source, text, "names no file")
            return checked_path(rest, source)
    return checked_path(text, source)


def configured_databases(environ=None, files=None) -> dict:
    """{name: DbLocation} of the named databases, in the order configured (secrets first, then
    names only R2W_DATABASES adds). Fails closed on a broken secrets file or a bad entry."""
    environ = os.environ if environ is None else environ
    found = {}
    for name, entry in config.secrets_table("databases", files).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise errors.BadLocation(f"[databases.{name}] in the secrets needs url = \"PATH\" "
                                     f"(or a postgresql:// URL)")
        health = entry.get("health", {})
        if not isinstance(health, dict):
            raise errors.BadLocation(f"[databases.{name}.health] must be a table")
        found[_name(name, "[databases]")] = location_of(
            entry["url"], f"[databases.{name}] url", "secrets", name,
            str(entry["label"]) if entry.get("label") else None, health)
    for pair in str(environ.get(DATABASES_ENV, "")).split():
        if SCHEME.match(pair):
            raise errors.BadLocation(f"{DATABASES_ENV}: {redact(pair)!r} is a URL without its "
                                     f"name: write NAME=URL")
        name, sep, url = pair.partition("=")
        if not sep:
            raise errors.BadLocation(f"{DATABASES_ENV}: {redact(pair)!r} is not NAME=URL")
        name = _name(name, DATABASES_ENV)
        earlier = found.get(name)
        found[name] = location_of(url, f"{DATABASES_ENV} {name}", DATABASES_ENV, name,
                                  earlier.label if earlier else None,
                                  earlier.health if earlier else {})
    return found


def _name(name, where):
    if not NAME.match(str(name)):
        raise errors.BadLocation(f"{where}: {redact(str(name))[:40]!r} is not a database name (letters, "
                                 f"digits, '-' and '_', at most 64)")
    return str(name)


def _looks_like_a_path(text):
    return "/" in text or "." in text or text.startswith("~")


def resolve_db(cli_path=None, environ=None, files=None) -> DbLocation:
    """--db NAME, PATH or postgresql:// URL, else DATABASE_URL, else the one configured
    database, else data/resume2website.db. A value that is given but empty, malformed, unknown
    or ambiguous is an error, never the default."""
    environ = os.environ if environ is None else environ
    if cli_path is not None and is_pg_url(str(cli_path)):
        return location_of(str(cli_path), "--db", "--db")
    if cli_path is not None and _looks_like_a_path(str(cli_path)):
        return DbLocation(checked_path(cli_path, "--db"), False, "--db")  # no name to look up
    if cli_path is None and "DATABASE_URL" in environ:
        return location_of(environ["DATABASE_URL"], "DATABASE_URL", "DATABASE_URL")
    named = configured_databases(environ, files)
    if cli_path is not None:
        text = str(cli_path)
        if text in named:
            if Path(text).exists():
                raise errors.BadLocation(
                    f"--db {text!r} is both a configured database and a file here: write "
                    f"./{text} for the file")
            return named[text]
        path = checked_path(text, "--db")
        if not path.exists():
            known = ", ".join(named) or "none configured"
            raise errors.BadLocation(f"--db {text!r} is neither a configured database ({known}) "
                                     f"nor an existing file")
        return DbLocation(path, False, "--db")
    if len(named) == 1:
        return next(iter(named.values()))
    if named:
        raise errors.BadLocation(f"several databases are configured ({', '.join(named)}): say "
                                 f"which with --db NAME")
    return DbLocation(DEFAULT_DB_PATH, True, "default")


def dashboard_choices(cli_path=None, environ=None, files=None) -> list:
    """The databases the dashboard offers, in order: every configured one, then the --db /
    DATABASE_URL location when it is not one of them; the embedded default only when there is
    nothing else."""
    environ = os.environ if environ is None else environ
    named = configured_databases(environ, files)
    choices = list(named.values())
    given = cli_path is not None or "DATABASE_URL" in environ
    if (given and str(cli_path) not in named) or not named:
        own = resolve_db(cli_path, {k: v for k, v in environ.items() if k != DATABASES_ENV}, [])
        if all((c.path, c.url) != (own.path, own.url) for c in choices):
            key = next(k for k in ("default", "local", "unnamed") if k not in named)
            choices.append(replace(own, name=key, label=own.display))
    return choices


def require_regular_file(path: Path):
    """Refuse what SQLite would hang on or misread: a FIFO, a device, a socket, a folder."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise errors.Unreadable(path, exc.strerror or str(exc)) from None
    if stat.S_ISDIR(mode):
        raise errors.NotADatabase(path)
    if not stat.S_ISREG(mode):
        raise errors.BadLocation(f"{path} is not a regular file (a pipe, device or socket): "
                                 f"name the database file itself")


def monitor_db_path(environ=None) -> Path:
    """The monitor's own state file (R2W_MONITOR_DB to move it)."""
    environ = os.environ if environ is None else environ
    value = environ.get("R2W_MONITOR_DB")
    return checked_path(value, "R2W_MONITOR_DB") if value is not None else DEFAULT_MONITOR_DB_PATH


def same_file(a, b) -> bool:
    """Whether two paths name one file: through links, `..` and hard links when both exist."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        try:
            return os.path.realpath(a) == os.path.realpath(b)
        except (OSError, ValueError):
            return False


def refuse_monitor_in(location, environ=None):
    """BadLocation, naming both paths, when the monitor database (R2W_MONITOR_DB) is the
    application's database `location` (a DbLocation or a path): the monitor never adds its
    tables to an application's file or switches its journal mode."""
    if isinstance(location, DbLocation):
        if location.url:
            return
        location = location.path
    if is_pg_url(str(location)):
        return
    monitor = monitor_db_path(environ)
    if same_file(monitor, location):
        raise errors.BadLocation(
            f"R2W_MONITOR_DB ({monitor}) is the application's database ({location}): the "
            "monitor keeps its own file and never writes to the application's; point "
            "R2W_MONITOR_DB at another file (default data/r2w_monitor.db)")
