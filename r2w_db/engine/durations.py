"""Durations and expiries as people type them: "30s", "5m", "1h", "7d", "2w", or (for an
expiry) an ISO date or datetime in UTC ("2026-12-24", "2026-12-24T18:00")."""
import re
from datetime import datetime, timedelta, timezone

from r2w_db import config, errors

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_DURATION = timedelta(days=config.MAX_SETTING_DAYS)


def _shown(text):
    shown = str(text).strip()
    return repr(shown if len(shown) <= 40 else shown[:37] + "...")


def parse_duration(text, setting=None, maximum=MAX_DURATION):
    """'30s', '5m', '1h', '7d', '2w' (or plain seconds) as a timedelta of at most `maximum`;
    InvalidValue otherwise (one line, naming `setting` when given: '--since')."""
    match = DURATION.match(str(text))
    where = f"{setting} " if setting else ""
    seconds = float(match.group(1)) * UNITS[match.group(2)] if match else 0.0
    if not match or not seconds > 0:
        raise errors.InvalidValue(f"{where}{_shown(text)} is not a duration: use e.g. 30s, 5m, "
                                  "1h or 7d")
    if not seconds <= maximum.total_seconds():
        raise errors.InvalidValue(f"{where}{_shown(text)} is too long: at most {maximum.days}d")
    return timedelta(seconds=seconds)


def naive_utc(moment):
    """A datetime as naive UTC (an aware one converted; a naive one taken as UTC)."""
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def parse_until(text, now, setting=None, maximum=MAX_DURATION):
    """The moment `text` names, as naive UTC: `now` plus a duration ('1h', '1d', '1w'), or an ISO
    date (its midnight, UTC) or datetime (UTC unless it carries an offset). InvalidValue (one
    line) for anything else, a moment not after `now`, or one more than `maximum` ahead."""
    now = naive_utc(now)
    where = f"{setting} " if setting else ""
    if DURATION.match(str(text)):
        return now + parse_duration(text, setting, maximum)
    try:
        moment = naive_utc(datetime.fromisoformat(str(text).strip()))
    except ValueError:
        raise errors.InvalidValue(
            f"{where}{_shown(text)} is neither a duration (1h, 1d, 1w) nor a date "
            "(2026-12-24 or 2026-12-24T18:00, UTC)") from None
    if moment <= now:
        raise errors.InvalidValue(f"{where}{_shown(text)} is not in the future")
    if moment - now > maximum:
        raise errors.InvalidValue(f"{where}{_shown(text)} is too far ahead: at most "
                                  f"{maximum.days}d")
    return moment
