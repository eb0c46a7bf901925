"""The embedded default: with nothing configured, a missing data/resume2website.db gets demo data."""
import os

from r2w_db.engine.locations import DbLocation


def ensure_default(location: DbLocation) -> bool:
    """Create the default database with small demo data if it is missing; True when created.

    Only for the embedded default: a configured path that is missing is an error, never a new file.
    Built under a temporary name and renamed, so a concurrent start never sees half a database.
    """
    if not location.is_default or location.path.exists():
        return False
    from r2w_db.demo.builder import build_demo

    location.path.parent.mkdir(parents=True, exist_ok=True)
    temporary = location.path.with_name(f".{location.path.name}.{os.getpid()}.tmp")
    try:
        build_demo(temporary, scale="small")
        if location.path.exists():  # another process won the race
            return False
        os.replace(temporary, location.path)
    finally:
        for leftover in (temporary, *(temporary.with_name(temporary.name + s) for s in ("-wal", "-shm"))):
            if leftover.exists():
                leftover.unlink()
    return True
