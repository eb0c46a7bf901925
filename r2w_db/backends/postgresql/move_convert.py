"""The move's value conversion: an SQLite cell -> a PostgreSQL value (maintenance/move.py moves,
maintenance/move_convert.py checksums the converted rows).

Conversion, per PostgreSQL type of the column (pg_schema.COLUMN_TYPES):
- timestamptz: text in a form docs/figures.md accepts (naive UTC ISO-8601, a space separator, a Z
  or +HH:MM suffix, missing fractions), read by timeutil.parse, with a '-' after the year as
  stats' data-quality test requires; it becomes an aware UTC datetime.
- double precision: an SQLite integer or real. integer: an SQLite integer within int4.
- text: SQLite text without a NUL character (PostgreSQL text cannot hold one).
- text that is not valid UTF-8, in any column, is a Problem shown as its bytes (b'caf\\xe9'); a
  timestamp past year 9999 or before year 1 once in UTC is one too.
- NULL stays NULL, except in a NOT NULL column (an SQLite primary key can hold NULL).
Anything else is a Problem (table, key, column, value, why), never silently changed.
"""
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from r2w_db.engine import timeutil
from r2w_db.backends.postgresql import schema as pg_schema

INT4 = (-2**31, 2**31 - 1)
SHOWN_CHARS = 200  # of an unconvertible value in the report


@dataclass(frozen=True)
class Problem:
    table: str
    key: str          # the row's primary key (repr when it is not text)
    column: str
    value: str        # repr of the stored value, cut to SHOWN_CHARS
    reason: str
    handled: str = "blocking"   # "blocking", "set to NULL" or "row skipped"

    def as_dict(self):
        return asdict(self)

    def line(self):
        return (f"{self.table} {self.key!r} {self.column} = {self.value}: {self.reason}"
                f" [{self.handled}]")


def _timestamp(value):
    if not isinstance(value, str):
        return None, f"a {type(value).__name__}, not a timestamp text"
    text = value.strip()
    try:
        moment = timeutil.parse(text)
    except (OverflowError, ValueError):  # e.g. 9999-12-31T23:00:00-05:00 is past year 9999 in UTC
        moment = None
    if moment is None and _written_out(text):
        return None, "a timestamp outside the years 1 to 9999 once in UTC"
    if moment is None or text[4:5] != "-":
        return None, "not a timestamp in an accepted form"
    return moment.replace(tzinfo=timezone.utc), None


def _written_out(text):
    """Whether `text` reads as a date and time with an offset (whatever instant it names)."""
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z"))
                                      else text).tzinfo is not None
    except ValueError:
        return False


def _double(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"a {type(value).__name__}, not a number"
    return float(value), None


def _integer(value):
    if isinstance(value, bool) or not isinstance(value, int):
        return None, f"a {type(value).__name__}, not an integer"
    if not INT4[0] <= value <= INT4[1]:
        return None, "outside PostgreSQL's integer range"
    return value, None


def _text(value):
    if not isinstance(value, str):
        return None, f"a {type(value).__name__}, not text"
    if "\x00" in value:
        return None, "text with a NUL character"
    return value, None


def valid_utf8(value):
    """Whether a text value read from SQLite was valid UTF-8 (the source decodes invalid bytes
    with surrogateescape: they come back as lone surrogates, which no valid text holds)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


CONVERTERS = {"timestamptz": _timestamp, "double precision": _double, "integer": _integer,
              "text": _text}


class Converter:
    """Converts the rows of one table; collects the Problems; applies the chosen handling."""

    def __init__(self, table, mode):
        self.table, self.mode = table, mode
        columns = pg_schema.TABLES[table]
        self.names = [c.name for c in columns]
        self.funcs = [CONVERTERS[c.type] for c in columns]
        self.not_null = [c.not_null for c in columns]
        self.key_index = self.names.index(pg_schema.PRIMARY_KEYS[table])
        self.problems = []

    def convert(self, row):
        """The converted row, or None when it is left out (skip-row, or a blocking value)."""
        out, found = [], []
        for i, value in enumerate(row):
            if value is None:
                if self.not_null[i]:
                    found.append((i, value, "NULL in a NOT NULL column"))
                out.append(None)
                continue
            if isinstance(value, str) and not valid_utf8(value):
                found.append((i, value, "text that is not valid UTF-8"))
                out.append(None)
                continue
            converted, why = self.funcs[i](value)
            if why:
                found.append((i, value, why))
            out.append(converted)
        if not found:
            return tuple(out)
        key = row[self.key_index]
        key = key if isinstance(key, str) and valid_utf8(key) else _shown(key)
        skip = self.mode == "skip-row"
        blocked = False
        for i, value, why in found:
            nullable = not self.not_null[i]
            handled = ("row skipped" if skip else "set to NULL" if self.mode == "null" and nullable
                       else "blocking")
            blocked = blocked or handled == "blocking"
            self.problems.append(Problem(self.table, key, self.names[i], _shown(value), why, handled))
            out[i] = None
        # a blocked row is not sent either: the move refuses once every value has been read
        return None if skip or blocked else tuple(out)

    @property
    def blocking(self):
        return [p for p in self.problems if p.handled == "blocking"]


def _shown(value):
    """repr of the value; text that is not valid UTF-8 as its bytes (b'caf\\xe9')."""
    if isinstance(value, str) and not valid_utf8(value):
        value = value.encode("utf-8", "surrogateescape")
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."
