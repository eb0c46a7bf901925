"""The move's value conversion: an SQLite row -> one tuple of COPY's binary format
(maintenance/move.py moves it, maintenance/move_convert.py checksums it).

A converted row is the bytes COPY ... (FORMAT BINARY) reads for one tuple: the number of fields
(int16), then each field as its length (int32; -1 for NULL) and the value in the type's binary
send form (text: its UTF-8 bytes; integer: int4; double precision: IEEE 754 float8;
timestamptz: int8 microseconds since 2000-01-01 UTC), all big-endian. The same bytes are
what the move checksums on both sides: here from the source, and on the server with the
types' send functions (backends/postgresql/move.py, CHECKSUM_SQL), so no row is read back.

Conversion, per PostgreSQL type of the column (pg_schema.COLUMN_TYPES):
- timestamptz: text in a form docs/figures.md accepts (naive UTC ISO-8601, a space separator, a Z
  or +HH:MM suffix, missing fractions), read by timeutil.parse, with a '-' after the year as
  stats' data-quality test requires; it becomes the UTC instant's microseconds.
- double precision: an SQLite integer or real. integer: an SQLite integer within int4.
- text: SQLite text without a NUL character (PostgreSQL text cannot hold one).
- text that is not valid UTF-8, in any column, is a Problem shown as its bytes (b'caf\\xe9'); a
  timestamp past year 9999 or before year 1 once in UTC is one too.
- NULL stays NULL, except in a NOT NULL column (an SQLite primary key can hold NULL).
Anything else is a Problem (table, key, column, value, why), never silently changed.
The move converts a batch of rows at a time (Converter.convert_many): column by column where
every value is the usual case (move_columns), row by row here otherwise; the same bytes.
"""
import struct
from dataclasses import asdict, dataclass
from datetime import datetime
from itertools import repeat

from r2w_db.engine import timeutil
from r2w_db.backends.postgresql import move_columns, schema as pg_schema
from r2w_db.backends.postgresql.move_columns import (
    FLOAT8_FIELD as _FLOAT8_FIELD, INT4, INT4_FIELD as _INT4_FIELD, INT8_FIELD as _INT8_FIELD,
    LENGTH as _LENGTH, NULL_FIELD, ONE_US, PG_EPOCH)

_COUNT = struct.Struct(">h").pack
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
    return _INT8_FIELD(8, (moment - PG_EPOCH) // ONE_US), None


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
    return _FLOAT8_FIELD(8, value), None


def _integer(value):
    if isinstance(value, bool) or not isinstance(value, int):
        return None, f"a {type(value).__name__}, not an integer"
    if not INT4[0] <= value <= INT4[1]:
        return None, "outside PostgreSQL's integer range"
    return _INT4_FIELD(4, value), None


def _text(value):
    if not isinstance(value, str):
        return None, f"a {type(value).__name__}, not text"
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:   # lone surrogates: bytes that were not UTF-8 (valid_utf8)
        return None, "text that is not valid UTF-8"
    if b"\x00" in data:
        return None, "text with a NUL character"
    return _LENGTH(len(data)) + data, None


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
    """Converts the rows of one table into COPY's binary tuples; collects the Problems;
    applies the chosen handling."""

    def __init__(self, table, mode):
        self.table, self.mode = table, mode
        columns = pg_schema.TABLES[table]
        self.names = [c.name for c in columns]
        self.funcs = [CONVERTERS[c.type] for c in columns]
        self.not_null = [c.not_null for c in columns]
        self.key_index = self.names.index(pg_schema.PRIMARY_KEYS[table])
        self.columns = list(zip(self.funcs, self.not_null))
        self.types = [c.type for c in columns]
        self.head = _COUNT(len(columns))
        self.problems = []

    def convert_many(self, rows):
        """The converted rows of a batch (a list of bytes, the rows left out omitted): the same
        bytes and Problems as convert, row by row, gives; most batches column by column, each
        column in a few C-level calls (move_columns)."""
        parts = []
        for values, pg_type, (func, not_null) in zip(zip(*rows), self.types, self.columns):
            found = (move_columns.column_parts(pg_type, values, not_null)
                     or move_columns.general_parts(func, not_null, values))
            if found is None:   # a value that does not convert: row by row, which reports it
                return [row for row in map(self.convert, rows) if row is not None]
            parts += found
        return list(map(b"".join, zip(repeat(self.head, len(rows)), *parts)))

    def convert(self, row):
        """The row as one tuple of COPY's binary format (bytes), or None when it is left out
        (skip-row, or a blocking value)."""
        out, found = [self.head], []
        for (func, not_null), value in zip(self.columns, row):
            if func is _text and type(value) is str:   # most values: _text's usual case inlined
                try:
                    data = value.encode("utf-8")
                except UnicodeEncodeError:
                    data = b"\x00"   # _text says why
                if b"\x00" not in data:
                    out.append(_LENGTH(len(data)) + data)
                    continue
            if value is None:
                if not_null:
                    found.append((len(out) - 1, value, "NULL in a NOT NULL column"))
                out.append(NULL_FIELD)
                continue
            field, why = func(value)
            if why:
                if isinstance(value, str) and not valid_utf8(value):
                    why = "text that is not valid UTF-8"
                found.append((len(out) - 1, value, why))
                field = NULL_FIELD
            out.append(field)
        if not found:
            return b"".join(out)
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
        # a blocked row is not sent either: the move refuses once every value has been read
        return None if skip or blocked else b"".join(out)

    @property
    def blocking(self):
        return [p for p in self.problems if p.handled == "blocking"]


def _shown(value):
    """repr of the value; text that is not valid UTF-8 as its bytes (b'caf\\xe9')."""
    if isinstance(value, str) and not valid_utf8(value):
        value = value.encode("utf-8", "surrogateescape")
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."
