"""Durable file steps shared by backups and restores on every engine: a temporary name, fsync,
an atomic rename, removal with the side files a database file may leave, free disk."""
import os
import shutil
from pathlib import Path

PARTIAL = ".partial-"                    # a temporary copy: `.<final name>.partial-<pid>`
SIDE_FILES = ("-journal", "-wal", "-shm")


def remove(path):
    """Remove a file and its side files; True if anything was there."""
    found = False
    for candidate in (Path(path), *(Path(str(path) + s) for s in SIDE_FILES)):
        try:
            candidate.unlink()
            found = True
        except FileNotFoundError:
            pass
    return found


def fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def disk_free(folder) -> int:
    """Free bytes on the filesystem holding `folder` (or its nearest existing parent)."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def file_token(path):
    """(mtime_ns, size) of a file and of its WAL (None for one that does not exist): changes
    whenever the file is written (the dashboard's cache keys hold it)."""
    parts = []
    for candidate in (Path(path), Path(str(path) + "-wal")):
        try:
            stat = candidate.stat()
            parts.append((stat.st_mtime_ns, stat.st_size))
        except OSError:
            parts.append(None)
    return tuple(parts)
