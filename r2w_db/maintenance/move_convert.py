"""The move's content checksum: the same function of the converted rows on both sides.

A converted row is one tuple of COPY's binary format (backends/postgresql/move_convert.py):
self-delimiting, every value in its type's binary form. Each row's SHA-256 is cut into two
signed 64-bit integers and each is summed over the table, modulo 2**64: independent of row
order (no collation enters), sensitive to every value of every row (a changed row goes
unnoticed with a chance of 2**-128). The server computes the same sums from the stored rows
(`db.backend.move.table_checksums`), so the verification reads no row back.
"""
import hashlib
import struct
from operator import methodcaller

MODULUS = 2**64
_HALVES = struct.Struct(">qq").unpack_from
_DIGEST = methodcaller("digest")


def checksum_hex(high, low):
    """The checksum's text: the two sums modulo 2**64, as 32 hex digits."""
    return f"{high % MODULUS:016x}{low % MODULUS:016x}"


class Checksum:
    """Rows and an order-independent content checksum of one table's converted rows."""

    def __init__(self):
        self.rows, self.high, self.low = 0, 0, 0

    def add(self, row):
        """Count one converted row (bytes)."""
        high, low = _HALVES(hashlib.sha256(row).digest())
        self.rows += 1
        self.high += high
        self.low += low

    def add_many(self, rows):
        """Count converted rows (a list of bytes): as add, row by row, in a few C-level calls."""
        if not rows:
            return
        digests = b"".join(map(_DIGEST, map(hashlib.sha256, rows)))
        quarters = struct.unpack(f">{4 * len(rows)}q", digests)   # 4 per digest; 2 are used
        self.rows += len(rows)
        self.high += sum(quarters[0::4])
        self.low += sum(quarters[1::4])

    @property
    def hex(self):
        return checksum_hex(self.high, self.low)
