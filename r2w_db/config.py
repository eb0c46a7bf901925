"""Settings every layer shares: the documented thresholds, the secrets files and the read-only switch."""
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

SESSION_DAYS = 7            # a session is active for 7 days
CACHE_RETENTION_DAYS = 30   # unused cache entries are cleaned after 30 days
ANONYMOUS_RETENTION_DAYS = 30
STUCK_MINUTES = 60          # 'processing' for longer than this is stuck
LOW_CONFIDENCE = 0.7        # the seed's low_confidence_extractions
CACHE_THRESHOLD = 0.75      # only extractions above this are cached
PORTFOLIO_DAYS = 30
STATUSES = ("processing", "completed", "failed")
ANONYMOUS_PREFIX = "anonymous_"


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
