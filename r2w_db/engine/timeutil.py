"""One time base: naive UTC ISO-8601 strings, as the application stores them."""
import re
from datetime import datetime, timedelta, timezone

# A cutoff compared as a string can be off by the spelling of a timestamp
# (space separator, Z or +HH:MM suffix), never by more than a day: SQL narrows
# with the string (index-friendly) and decides with julianday() (exact).
SLACK = timedelta(days=1)


def utcnow() -> datetime:
    """Now, as a naive UTC datetime."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def iso(moment: datetime) -> str:
    """Naive UTC ISO-8601 with microseconds, the stored form."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def now_iso() -> str:
    return iso(utcnow())


def parse(value):
    """A stored timestamp as a naive UTC datetime, or None when unparseable."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:   # 0001-01-01T00:00:00+14:00 is in year 0 in UTC
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    return moment


# A UTC period's key: 'YYYY-MM-DD' (a day), 'YYYY-MM-DD HH:00' (an hour) or 'YYYY-MM-DD HH:MM'
# (a minute), the year always four digits (strftime's %Y is not zero-padded before year 1000 on
# every platform, SQLite's is).
_PERIOD_KEY = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}))?")


def period_key(moment: datetime, grain="day") -> str:
    """The key of the UTC day (grain "day"), hour ("hour") or minute ("minute") holding a
    naive UTC moment."""
    day = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    if grain == "day":
        return day
    return f"{day} {moment.hour:02d}:{moment.minute if grain == 'minute' else 0:02d}"


def period_start(key):
    """The naive UTC datetime a period key starts at, or None when it is no key or names a
    moment Python cannot hold (SQLite writes years 0000 and below, and julian day numbers
    before year 1, as periods too)."""
    match = _PERIOD_KEY.fullmatch(str(key)) if key is not None else None
    if match is None:
        return None
    try:
        return datetime(*(int(g) for g in match.groups() if g is not None))
    except ValueError:
        return None


# A canonical timestamp (schema.time_is_odd) sorts as its instant, and julianday() reads it to
# the millisecond: a second either side of a cutoff holds every canonical row julianday decides on.
NEAR = timedelta(seconds=1)


def near(moment: datetime) -> tuple:
    """(low, high) ISO strings a second around a moment: the text range for canonical timestamps."""
    return iso(moment - NEAR), iso(moment + NEAR)


def bounds(moment: datetime):
    """(low, exact, high) ISO strings around a moment: exact decides, low/high narrow an index scan."""
    return iso(moment - SLACK), iso(moment), iso(moment + SLACK)


def ago(now=None, **delta) -> datetime:
    """now minus a timedelta(**delta)."""
    return (now or utcnow()) - timedelta(**delta)


SHORT_RANGE = timedelta(days=2)   # a window's live edge: a few hours (roll-ups' fill)


def is_short(start, end) -> bool:
    """Whether [start, end) (None: unbounded) is a live edge of a window: at most SHORT_RANGE
    long, the open tail from a recent start (end None), or what comes before the first roll-up
    (start None: an all-time window's live head, normally no row, as the roll-ups back-fill
    from the first day the data holds). Its rows are found by time, never by walking ids."""
    if start is None:
        return end is not None
    return end is None or end - start <= SHORT_RANGE
