"""The move's content checksum: the same function of the converted values on both sides.

Each row in a canonical byte form (row_bytes: every value tagged by kind and self-delimiting,
timestamps as naive UTC ISO-8601 with microseconds, floats by repr), hashed with SHA-256, and the
hashes summed modulo 2**256: independent of row order (no collation enters), sensitive to every
value of every row. The conversion itself is the target engine's (`db.backend.move.converter`).
"""
import hashlib
from datetime import datetime, timezone

MODULUS = 2**256


def _utc_iso(moment):
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def row_bytes(row):
    """The canonical encoding of a converted row: each value self-delimiting and tagged by kind
    (N null; s<length>:<utf-8>; i<int>; f<repr>; t<naive UTC ISO-8601 with microseconds>)."""
    parts = []
    for value in row:
        if value is None:
            parts.append(b"N")
        elif isinstance(value, str):
            data = value.encode("utf-8", "surrogatepass")
            parts.append(b"s%d:%b" % (len(data), data))
        elif isinstance(value, datetime):
            parts.append(b"t%b;" % _utc_iso(value).encode())
        elif isinstance(value, float):
            parts.append(b"f%b;" % repr(value).encode())
        elif isinstance(value, int):
            parts.append(b"i%d;" % value)
        else:
            raise TypeError(f"no canonical form for a {type(value).__name__}")
    return b"".join(parts)


def row_hash(row):
    return int.from_bytes(hashlib.sha256(row_bytes(row)).digest(), "big")


class Checksum:
    """Rows and an order-independent content checksum of one table."""

    def __init__(self):
        self.rows, self.total = 0, 0

    def add(self, row):
        self.rows += 1
        self.total = (self.total + row_hash(row)) % MODULUS

    @property
    def hex(self):
        return f"{self.total:064x}"
