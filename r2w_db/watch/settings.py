"""What the watcher reads from the environment and the secrets: alert destinations, the
heartbeat, health thresholds and history retention; and durations ("30s", "5m", "1h", "7d").

Environment variables win over the secrets' tables. A secrets file that exists but cannot be
read or parsed never silently switches alerts off: it is reported as `problem` (one line).
"""
import os
import re
from dataclasses import dataclass, field, replace
from datetime import timedelta

from r2w_db import config, errors
from r2w_db.engine import locations
from r2w_db.engine.durations import parse_duration  # noqa: F401  (the watcher's durations)
from r2w_db.figures import health
from r2w_db.monitor.history_store import Retention
from r2w_db.watch import notify

URLS_ENV = "R2W_ALERT_URLS"
HEARTBEAT_ENV = "R2W_HEARTBEAT_URL"
HEARTBEAT_FAIL_ENV = "R2W_HEARTBEAT_FAIL_URL"
REPEAT_ENV = "R2W_ALERT_REPEAT_HOURS"
TIMEOUT_ENV = "R2W_ALERT_TIMEOUT"
MAX_TIMEOUT_S = 600.0                       # R2W_ALERT_TIMEOUT: ten minutes at most
MAX_REPEAT_HOURS = config.MAX_SETTING_DAYS * 24
MAX_WATCH_INTERVAL = timedelta(days=366)  # watch --every


def secrets_table(name, files=None):
    """(config.secrets_table(name), None), or ({}, the one-line problem) when a secrets file
    cannot be read or parsed: the watcher reports it instead of stopping."""
    try:
        return config.secrets_table(name, files), None
    except config.SecretsUnreadable as exc:
        return {}, exc.problem


def for_database(settings, location, environ=None, files=None):
    """The settings for one configured database: its `[databases.NAME.health]` thresholds over
    `[health]` (then R2W_HEALTH_* as always)."""
    if not location.health:
        return settings
    table, _ = secrets_table("health", files)
    thresholds, warnings = health.load_thresholds(dict(table) | dict(location.health), environ)
    return replace(settings, thresholds=thresholds, warnings=settings.warnings + tuple(warnings))


def split_urls(text):
    """Several URLs separated by commas or whitespace."""
    return [u for u in re.split(r"[\s,]+", str(text or "")) if u]


@dataclass(frozen=True)
class AlertSettings:
    urls: tuple = ()
    heartbeat_url: str | None = None
    repeat_hours: float = 24
    timeout: float = 5.0
    problem: str | None = None       # why the settings cannot be trusted (nothing is sent)
    heartbeat_fail_url: str | None = None   # else the heartbeat URL with /fail in its path


def _number(where, raw, default, minimum, maximum, unit):
    if raw is None or raw == "":
        return default, None
    value = config.bounded_number(raw, minimum, maximum)
    if value is None:
        return default, f"{where}: {raw!r} is not a number of {unit} from {minimum:g} to {maximum:g}"
    return value, None


def _url_problem(where, url):
    """Why an alert or heartbeat URL cannot be used as it is (one line, its password
    redacted), or None. A URL with user:password@ is fine: it is sent with an Authorization
    header. Another scheme than http(s) is refused when it is sent, as always."""
    if url is None:
        return None
    if not isinstance(url, str):
        return f"{where} must be a URL, not {type(url).__name__}"
    scheme = locations.SCHEME.match(url.strip())
    if not scheme or scheme.group("scheme").lower() not in ("http", "https"):
        return None
    try:
        notify.prepared(url)
    except notify.BadDestination as exc:
        return f"{where}: {exc}"
    return None


def alert_settings(environ=None, files=None):
    """AlertSettings from R2W_ALERT_URLS / R2W_HEARTBEAT_URL / R2W_HEARTBEAT_FAIL_URL /
    R2W_ALERT_REPEAT_HOURS / R2W_ALERT_TIMEOUT and `[alerts]` (urls, heartbeat_url,
    heartbeat_fail_url, repeat_hours, timeout_seconds). A number out of range or a URL that
    cannot be read is `problem` (one line naming the setting, a password redacted)."""
    environ = os.environ if environ is None else environ
    table, problem = secrets_table("alerts", files)
    urls = split_urls(environ.get(URLS_ENV))
    listed = table.get("urls", [])
    if isinstance(listed, str):
        listed = split_urls(listed)
    if not isinstance(listed, list) or not all(isinstance(u, str) for u in listed):
        problem = problem or "[alerts] urls must be a list of URLs"
        listed = []
    urls += [u for u in listed if u not in urls]
    heartbeat = environ.get(HEARTBEAT_ENV) or table.get("heartbeat_url") or None
    fail = environ.get(HEARTBEAT_FAIL_ENV) or table.get("heartbeat_fail_url") or None
    repeat, bad_repeat = _number(REPEAT_ENV if environ.get(REPEAT_ENV) else "[alerts] repeat_hours",
                                 environ.get(REPEAT_ENV) or table.get("repeat_hours"), 24.0,
                                 0.0, MAX_REPEAT_HOURS, "hours")
    timeout, bad_timeout = _number(TIMEOUT_ENV if environ.get(TIMEOUT_ENV) else "[alerts] timeout_seconds",
                                   environ.get(TIMEOUT_ENV) or table.get("timeout_seconds"), 5.0,
                                   0.05, MAX_TIMEOUT_S, "seconds")
    from_env = split_urls(environ.get(URLS_ENV))
    checked = [(URLS_ENV if u in from_env else "[alerts] urls", u) for u in urls]
    checked += [(HEARTBEAT_ENV if environ.get(HEARTBEAT_ENV) else "[alerts] heartbeat_url",
                 heartbeat),
                (HEARTBEAT_FAIL_ENV if environ.get(HEARTBEAT_FAIL_ENV)
                 else "[alerts] heartbeat_fail_url", fail)]
    bad_url = next((bad for bad in (_url_problem(w, u) for w, u in checked) if bad), None)
    return AlertSettings(tuple(urls), heartbeat if isinstance(heartbeat, str) else None, repeat,
                         timeout, problem or bad_repeat or bad_timeout or bad_url,
                         fail if isinstance(fail, str) else None)


@dataclass(frozen=True)
class WatchSettings:
    """Everything one watch cycle (or `health`, `snapshot`) needs from the settings."""

    thresholds: health.Thresholds = field(default_factory=health.Thresholds)
    retention: Retention = field(default_factory=Retention)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    problem: str | None = None       # the secrets cannot be read: results are UNKNOWN
    warnings: tuple = ()             # a bad health threshold (the default is used)


def load(environ=None, files=None):
    """WatchSettings from the environment and the secrets (fails closed, never raises)."""
    environ = os.environ if environ is None else environ
    health_table, problem = secrets_table("health", files)
    history_table, history_problem = secrets_table("history", files)
    thresholds, warnings = health.load_thresholds(health_table, environ)
    try:
        retention = Retention.load(history_table, environ)
    except errors.InvalidValue as exc:
        retention, history_problem = Retention(), history_problem or str(exc)
    alerts = alert_settings(environ, files)
    return WatchSettings(thresholds, retention, alerts, problem or history_problem or alerts.problem,
                         tuple(warnings))
