"""Settings every layer shares: the documented thresholds, the secrets files and the read-only switch."""
import os
import re
from pathlib import Path

from r2w_db import errors

PROJECT_ROOT = Path(__file__).resolve().parent.parent

SESSION_DAYS = 7            # a session is active for 7 days
CACHE_RETENTION_DAYS = 30   # unused cache entries are cleaned after 30 days
ANONYMOUS_RETENTION_DAYS = 30
STUCK_MINUTES = 60          # 'processing' for longer than this is stuck
LOW_CONFIDENCE = 0.7        # the seed's low_confidence_extractions
CACHE_THRESHOLD = 0.75      # extractions at or above this are cached (the application: >= 0.75)
PORTFOLIO_DAYS = 30
STATUSES = ("processing", "completed", "failed", "uploaded")  # what the application writes
ANONYMOUS_PREFIX = "anonymous_"
# No file is re-uploaded two billion times: a larger access_count is damage, not a count. The
# bound also keeps sum() far from overflow (2^63 / 2^31 = 2^32 rows, more than any cache holds).
MAX_ACCESS_COUNT = 2**31 - 1
CONFIDENCE_BINS = 20        # the confidence histogram: 20 bins of 0.05 over [0, 1]

# The largest values a numeric setting may take: beyond them a duration no longer fits in a
# date (year 1 to 9999) or a timer, and a count no longer fits in an SQL integer.
MAX_SETTING_DAYS = 36_500            # 100 years
MAX_SETTING_COUNT = 10**15


def bounded_number(raw, low, high, kind=float):
    """`raw` (text, or a number from the secrets) as a finite `kind` (float or int) from `low`
    to `high`, or None (NaN, infinity, a huge number, a bool or anything else)."""
    if isinstance(raw, bool):
        return None
    try:
        value = kind(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if low <= value <= high else None


# ------------------------------------------------------------------ the read-only switch

# How long a writer waits on the application's locks, on every engine (SQLite's busy timeout,
# PostgreSQL's statement and lock timeouts): R2W_BUSY_TIMEOUT_MS, 5 s when unset.
TIMEOUT_ENV = "R2W_BUSY_TIMEOUT_MS"   # the setting: how long a writer waits on a lock
TIMEOUT_RANGE_MS = (10, 600_000)      # what the setting accepts
DEFAULT_BUSY_TIMEOUT_MS = 5000        # when it is unset


class BadTimeoutSetting(errors.R2WError, ValueError):
    """R2W_BUSY_TIMEOUT_MS is set to something that is not a sane number of milliseconds."""


def busy_timeout_setting(environ=None):
    """(milliseconds, error): R2W_BUSY_TIMEOUT_MS, or the default when it is unset or empty.
    A bad value gives the default and the error, raised when a connection is opened (so a
    command says it in one line instead of failing on import)."""
    environ = os.environ if environ is None else environ
    text = str(environ.get(TIMEOUT_ENV, "")).strip()
    if not text:
        return DEFAULT_BUSY_TIMEOUT_MS, None
    low, high = TIMEOUT_RANGE_MS
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        return DEFAULT_BUSY_TIMEOUT_MS, BadTimeoutSetting(
            f"{TIMEOUT_ENV}={text!r} is not a whole number of milliseconds from {low} to {high} "
            f"(unset it for the default, {DEFAULT_BUSY_TIMEOUT_MS})")
    return value, None


READ_ONLY_ENV = "R2W_READ_ONLY"
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def secrets_files(cwd=None):
    """Where Streamlit looks for secrets.toml, highest priority first (the project's own
    `.streamlit/` from the working directory and beside app.py, then the user's)."""
    cwd = Path.cwd() if cwd is None else Path(cwd)
    found = []
    for folder in (cwd / ".streamlit", PROJECT_ROOT / ".streamlit", Path.home() / ".streamlit"):
        path = folder / "secrets.toml"
        if path not in found:
            found.append(path)
    return found


class SecretsUnreadable(errors.R2WError):
    """A secrets file exists but cannot be read or parsed: the monitor fails closed."""

    def __init__(self, problem):
        super().__init__(f"{problem}: fix or remove the file (until then the dashboard shows "
                         f"nothing and no maintenance runs)")
        self.problem = problem


def _toml_detail(exc):
    """tomllib's 'Invalid value (at line 3, column 8)' as 'line 3, column 8: Invalid value'."""
    text = " ".join(str(exc).split())
    match = re.fullmatch(r"(.*) \(at (line \d+, column \d+|end of document)\)", text)
    return f"{match.group(2)}: {match.group(1)}" if match else text


def load_secrets_file(path):
    """The parsed secrets file (a dict), or None when there is no file there.
    Raises SecretsUnreadable (naming the file and the problem) for anything else."""
    import stat
    import tomllib

    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):  # a directory, or a pipe that would block the reader
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise SecretsUnreadable(f"cannot read {path}: it is {kind}, not a TOML file")
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretsUnreadable(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SecretsUnreadable(f"cannot read {path}: it is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise SecretsUnreadable(f"cannot read {path}: {_toml_detail(exc)}") from None


def secrets_problem(files=None):
    """Why the secrets cannot be trusted (one line naming the file), or None: a file that
    cannot be read or parsed, or whose [monitor] is not a table."""
    for path in secrets_files() if files is None else files:
        try:
            data = load_secrets_file(path)
        except SecretsUnreadable as exc:
            return exc.problem
        if data is not None and "monitor" in data and not isinstance(data["monitor"], dict):
            return f"{path}: [monitor] must be a table, not {type(data['monitor']).__name__}"
    return None


def secrets_table(name, files=None):
    """The `[name]` table of the highest-priority secrets file that has one ({} if none).
    Fails closed: a file that cannot be read or parsed, or a `name` that is not a table,
    raises SecretsUnreadable (one line naming the file)."""
    for path in secrets_files() if files is None else files:
        data = load_secrets_file(path)
        if data is None or name not in data:
            continue
        if not isinstance(data[name], dict):
            raise SecretsUnreadable(f"{path}: [{name}] must be a table, not "
                                    f"{type(data[name]).__name__}")
        return dict(data[name])
    return {}


def _secrets_read_only(files):
    """`read_only` of the first secrets file with a [monitor] table that sets it (None if none).
    Fails closed: a file that cannot be read or parsed raises SecretsUnreadable."""
    problem = secrets_problem(files)
    if problem:
        raise SecretsUnreadable(problem)
    for path in files:
        monitor = (load_secrets_file(path) or {}).get("monitor")
        if isinstance(monitor, dict) and "read_only" in monitor:
            return _truthy(monitor["read_only"])
    return None


def _truthy(value):
    """A read_only value: a bool, a number or a word; an unexpected word is true (safe side)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    return str(value).strip().lower() not in FALSE_WORDS


def read_only(environ=None, secrets=None, files=None) -> bool:
    """Whether maintenance is switched off for everyone.

    `R2W_READ_ONLY` decides when set (1/true/yes/on, or 0/false/no/off to override the
    secrets file); else `read_only` in the `[monitor]` table of the secrets (`secrets`, a
    mapping such as st.secrets, when given; else .streamlit/secrets.toml read here, so the
    command line obeys the same switch as the dashboard).

    Fails closed: unless R2W_READ_ONLY switches it on anyway, a secrets file that cannot be
    read or parsed raises SecretsUnreadable (naming the file), even with R2W_READ_ONLY=0."""
    environ = os.environ if environ is None else environ
    value = str(environ.get(READ_ONLY_ENV, "")).strip().lower()
    if value in TRUE_WORDS:
        return True
    files = secrets_files() if files is None else files
    problem = secrets_problem(files)
    if problem:
        raise SecretsUnreadable(problem)
    if value in FALSE_WORDS:
        return False
    if value:  # set to something unexpected: err on the safe side
        return True
    if secrets is not None:
        monitor = secrets.get("monitor") if hasattr(secrets, "get") else None
        if monitor is not None and hasattr(monitor, "get") and monitor.get("read_only") is not None:
            return _truthy(monitor.get("read_only"))
    return bool(_secrets_read_only(files))


READ_ONLY_REASON = ("the monitor is read-only (R2W_READ_ONLY or [monitor] read_only in "
                    "secrets.toml): no maintenance runs")
