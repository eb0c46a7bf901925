"""Where the databases are, and the documented thresholds."""
import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_PATH = PROJECT_ROOT / "data" / "resume2website.db"
DEFAULT_MONITOR_DB_PATH = PROJECT_ROOT / "data" / "r2w_monitor.db"

SESSION_DAYS = 7            # a session is active for 7 days
CACHE_RETENTION_DAYS = 30   # unused cache entries are cleaned after 30 days
ANONYMOUS_RETENTION_DAYS = 30
STUCK_MINUTES = 60          # 'processing' for longer than this is stuck
LOW_CONFIDENCE = 0.7        # the seed's low_confidence_extractions
CACHE_THRESHOLD = 0.75      # only extractions above this are cached
PORTFOLIO_DAYS = 30
STATUSES = ("processing", "completed", "failed")
ANONYMOUS_PREFIX = "anonymous_"


@dataclass(frozen=True)
class DbLocation:
    """A resolved database path and whether it is the embedded default."""

    path: Path
    is_default: bool
    source: str  # "--db", "DATABASE_URL" or "default"


def path_from_url(url: str) -> Path:
    """Accept a plain path or an sqlite:/// URL, as the application reads DATABASE_URL."""
    url = url.strip()
    for prefix in ("sqlite:///", "sqlite://"):
        if url.startswith(prefix):
            url = url[len(prefix):]
            break
    if not url:
        raise ValueError("DATABASE_URL is set but names no file")
    return Path(url).expanduser()


def resolve_db(cli_path=None, environ=None) -> DbLocation:
    """--db PATH, else DATABASE_URL, else data/resume2website.db."""
    environ = os.environ if environ is None else environ
    if cli_path:
        return DbLocation(Path(cli_path).expanduser(), False, "--db")
    if environ.get("DATABASE_URL"):
        return DbLocation(path_from_url(environ["DATABASE_URL"]), False, "DATABASE_URL")
    return DbLocation(DEFAULT_DB_PATH, True, "default")


def monitor_db_path(environ=None) -> Path:
    """The monitor's own state file (R2W_MONITOR_DB to move it)."""
    environ = os.environ if environ is None else environ
    value = environ.get("R2W_MONITOR_DB")
    return Path(value).expanduser() if value else DEFAULT_MONITOR_DB_PATH


# ------------------------------------------------------------------ the read-only switch

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


def _secrets_read_only(files):
    """`read_only` of the first secrets file with a [monitor] table that sets it (None if none).
    A file that does not parse is skipped: the dashboard reports it; the switch stays off."""
    import tomllib

    for path in files:
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError):
            continue
        monitor = data.get("monitor")
        if isinstance(monitor, dict) and "read_only" in monitor:
            return _truthy(monitor["read_only"])
    return None


def _truthy(value):
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUE_WORDS


def read_only(environ=None, secrets=None, files=None) -> bool:
    """Whether maintenance is switched off for everyone.

    `R2W_READ_ONLY` decides when set (1/true/yes/on, or 0/false/no/off to override the
    secrets file); else `read_only` in the `[monitor]` table of the secrets (`secrets`, a
    mapping such as st.secrets, when given; else .streamlit/secrets.toml read here, so the
    command line obeys the same switch as the dashboard)."""
    environ = os.environ if environ is None else environ
    value = str(environ.get(READ_ONLY_ENV, "")).strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    if value:  # set to something unexpected: err on the safe side
        return True
    if secrets is not None:
        monitor = secrets.get("monitor") if hasattr(secrets, "get") else None
        if monitor is not None and hasattr(monitor, "get") and monitor.get("read_only") is not None:
            return _truthy(monitor.get("read_only"))
    return bool(_secrets_read_only(secrets_files() if files is None else files))


READ_ONLY_REASON = ("the monitor is read-only (R2W_READ_ONLY or [monitor] read_only in "
                    "secrets.toml): no maintenance runs")
