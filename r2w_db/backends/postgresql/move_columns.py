"""The move's conversion of a batch of rows, column by column (backends/postgresql/move_convert.py).

Converter.convert turns one value after another in Python; here each column of a batch goes
through one C-level `map` of its type's usual case, and the rows' tuples are joined at the end.
A column gives its parts (lists of bytes, one item per row; the tuple is the column count, then
every column's parts, row by row) or None when any of its values is not the usual case: then
the column is converted value by value with the general functions, and when one of those finds
a problem the whole batch goes row by row through Converter.convert, which reports it. The
bytes are the same either way (tests/test_move_columns.py):
- text: every value a str that encodes to UTF-8 without a NUL; NULL where the column allows it.
- timestamptz: every value exactly a naive timestamp as datetime.isoformat writes it with
  microseconds ('2026-09-08T19:34:50.444996', or with a space): what the application stores.
  Such a text is one timeutil.parse reads to the same instant (no spaces around, no offset, a
  '-' after a four-digit year), so its field is the one _timestamp gives. Any other form (Z,
  +HH:MM, fewer fraction digits ...) takes the general parser.
- integer: every value an int within int4; double precision: every value an int or a float.
"""
import struct
from datetime import datetime, timedelta
from itertools import repeat
from operator import floordiv, sub

INT4 = (-2**31, 2**31 - 1)
NULL_FIELD = b"\xff\xff\xff\xff"              # length -1
PG_EPOCH = datetime(2000, 1, 1)               # timestamptz's binary form counts from it
ONE_US = timedelta(microseconds=1)
LENGTH = struct.Struct(">i").pack
INT4_FIELD = struct.Struct(">ii").pack        # length 4, the value
INT8_FIELD = struct.Struct(">iq").pack        # length 8, the value
FLOAT8_FIELD = struct.Struct(">id").pack      # length 8, the value


def text_parts(values):
    """[lengths, data] of a text column, or None."""
    try:
        data = list(map(str.encode, values))
    except (TypeError, UnicodeEncodeError):   # not a str, or lone surrogates (not UTF-8)
        return None
    if b"\x00" in b"".join(data):
        return None
    return [list(map(LENGTH, map(len, data))), data]


def timestamp_parts(values):
    """[fields] of a timestamptz column, or None."""
    try:
        moments = list(map(datetime.fromisoformat, values))
        if not _written_as(moments, values, "T") and not _written_as(moments, values, " "):
            return None
        micros = map(floordiv, map(sub, moments, repeat(PG_EPOCH)), repeat(ONE_US))
        return [list(map(INT8_FIELD, repeat(8), micros))]
    except (TypeError, ValueError):   # not a str, not ISO-8601, or with an offset (aware)
        return None


def _written_as(moments, values, separator):
    return list(map(datetime.isoformat, moments, repeat(separator),
                    repeat("microseconds"))) == list(values)


def integer_parts(values):
    """[fields] of an integer column, or None."""
    if set(map(type, values)) != {int} or not INT4[0] <= min(values) <= max(values) <= INT4[1]:
        return None
    return [list(map(INT4_FIELD, repeat(4), values))]


def double_parts(values):
    """[fields] of a double precision column, or None."""
    if not set(map(type, values)) <= {int, float}:
        return None
    return [list(map(FLOAT8_FIELD, repeat(8), values))]


FAST = {"text": text_parts, "timestamptz": timestamp_parts, "integer": integer_parts,
        "double precision": double_parts}


def column_parts(pg_type, values, not_null):
    """The parts of one column of a batch by its usual case (NULLs set aside where the column
    allows them), or None."""
    fast = FAST[pg_type]
    if None not in values:
        return fast(values) if values else [[]]
    if not_null:
        return None
    present = [v for v in values if v is not None]
    parts = fast(present) if present else [[] for _ in _FILLERS[pg_type]]
    if parts is None:
        return None
    merged = []
    for part, filler in zip(parts, _FILLERS[pg_type]):
        given = iter(part)
        merged.append([filler if v is None else next(given) for v in values])
    return merged


_FILLERS = {"text": (NULL_FIELD, b""), "timestamptz": (NULL_FIELD,), "integer": (NULL_FIELD,),
            "double precision": (NULL_FIELD,)}   # a NULL's bytes in each part


def general_parts(func, not_null, values):
    """[fields] of a column converted value by value (the general functions), or None when a
    value does not convert."""
    fields = []
    for value in values:
        if value is None:
            if not_null:
                return None
            fields.append(NULL_FIELD)
            continue
        field, why = func(value)
        if why:
            return None
        fields.append(field)
    return [fields]
