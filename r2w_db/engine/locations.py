"""Where the databases are: --db, DATABASE_URL, the embedded default, and the monitor's own file."""
import os
from dataclasses import dataclass
from pathlib import Path

from r2w_db.config import PROJECT_ROOT

DEFAULT_DB_PATH = PROJECT_ROOT / "data" / "resume2website.db"
DEFAULT_MONITOR_DB_PATH = PROJECT_ROOT / "data" / "r2w_monitor.db"


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
