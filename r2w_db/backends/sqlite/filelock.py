"""Holding a database file against every SQLite connection, whether SQLite can read it or not.

SQLite locks the bytes from PENDING_BYTE (1 GiB) on: PENDING, RESERVED and 510 SHARED bytes.
A write lock on all of them is what an EXCLUSIVE lock is: it fails while any connection reads
or writes the file (a WAL connection holds its SHARED byte for as long as it is open), and every
connection that tries to start meanwhile gets SQLITE_BUSY. Taking it needs no SQLite
connection, so a file too damaged to open can still be held while it is copied aside.

On Linux it is an open-file-description lock: it also conflicts with this process's own SQLite
connections, and closing another descriptor of the file does not drop it. Elsewhere it falls
back to a classic POSIX lock (other processes only).
"""
import fcntl
import os
import struct
import time

PENDING_BYTE = 0x40000000
LOCK_BYTES = 512            # PENDING + RESERVED + the SHARED range
SHM_LOCKS = (120, 9)        # the WAL-index locks and the DMS byte of a -shm file
_OFD = getattr(fcntl, "F_OFD_SETLK", None)
_FLOCK = "hhqqi4x"          # struct flock on 64-bit Linux: type, whence, start, len, pid


class InUse(Exception):
    """Another connection (in any process) holds a lock on the file."""


def _lock(fd, kind, start, length):
    if _OFD is not None:
        fcntl.fcntl(fd, _OFD, struct.pack(_FLOCK, kind, os.SEEK_SET, start, length, 0))
    else:
        op = {fcntl.F_WRLCK: fcntl.LOCK_EX, fcntl.F_UNLCK: fcntl.LOCK_UN}[kind]
        fcntl.lockf(fd, op | fcntl.LOCK_NB, length, start, os.SEEK_SET)


class FileHold:
    """An exclusive hold on a database file; `copy_to` copies its bytes while it is held."""

    def __init__(self, path, wait_s=0.5):
        self.path = path
        self.fd = os.open(path, os.O_RDWR)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                _lock(self.fd, fcntl.F_WRLCK, PENDING_BYTE, LOCK_BYTES)
                return
            except OSError:
                if time.monotonic() >= deadline:
                    self.release()
                    raise InUse(path) from None
                time.sleep(0.02)

    def header(self, size=100):
        """The file's first bytes, read through the held descriptor."""
        return os.pread(self.fd, size, 0)

    def copy_to(self, target, chunk=1 << 20):
        """Copy the held file byte for byte (through the held descriptor) into `target`."""
        offset = 0
        with open(target, "wb") as out:
            while True:
                data = os.pread(self.fd, chunk, offset)
                if not data:
                    break
                out.write(data)
                offset += len(data)
            out.flush()
            os.fsync(out.fileno())

    def release(self):
        if self.fd is not None:
            os.close(self.fd)   # drops the lock
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def unlocked(path, start, length):
    """Whether nobody (this process's SQLite connections included) locks the range. Linux only:
    elsewhere False, since closing a descriptor would drop this process's own SQLite locks."""
    if _OFD is None:
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        _lock(fd, fcntl.F_WRLCK, start, length)
        _lock(fd, fcntl.F_UNLCK, start, length)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
