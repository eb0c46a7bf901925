"""One time base: naive UTC ISO-8601 strings, as the application stores them."""
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
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def bounds(moment: datetime):
    """(low, exact, high) ISO strings around a moment: exact decides, low/high narrow an index scan."""
    return iso(moment - SLACK), iso(moment), iso(moment + SLACK)


def ago(now=None, **delta) -> datetime:
    """now minus a timedelta(**delta)."""
    return (now or utcnow()) - timedelta(**delta)
