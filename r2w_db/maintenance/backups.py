"""Verified online backups: take, list, verify, rotate (restore: restore.py).

Written once for every engine: the folder of each database, the names, the temporary copy that
is verified and only then renamed into place (os.replace), so a failure (disk full, permissions,
a kill) never leaves a half-written file that looks like a backup; the listing and the rotation.
What the copy is and how it is verified is the engine's (`db.backend.backups`): SQLite's online
backup in one step checked by integrity_check, PostgreSQL's pg_dump -Fc checked by a restore.
"""
import hashlib
import os
import re
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from r2w_db import errors
from r2w_db.backends import open_database
from r2w_db.engine import files, locations, timeutil
from r2w_db.engine.files import PARTIAL, SIDE_FILES, disk_free  # noqa: F401  (used by callers)

BACKUP_DIR_ENV = "R2W_BACKUP_DIR"
DEFAULT_KEEP = 7
METHODS = ("backup", "vacuum-into")   # SQLite's (the command line's --method)
STAMP = "%Y%m%dT%H%M%SZ"
NAME = re.compile(r"^(?P<stem>.+?)-(?P<kind>pre-restore-)?(?P<stamp>\d{8}T\d{6}Z)"
                  r"(?:-(?P<seq>\d+))?\.(?:db|dump)$")  # .dump: pg_dump -Fc (PostgreSQL)
BackupFailed = errors.BackupFailed
BackupLocked = errors.BackupLocked
RestoreRefused = errors.RestoreRefused


# ----------------------------------------------------------------------- names

def default_dest(environ=None, db=None) -> Path:
    """R2W_BACKUP_DIR, else data/backups/ beside the monitor database; with `db`, that
    database's own folder in it (`<file stem>-<8 hex of its absolute path>`), so that two
    databases never share a folder, a rotation or a listing, even with the same file name."""
    environ = os.environ if environ is None else environ
    if environ.get(BACKUP_DIR_ENV):
        base = Path(environ[BACKUP_DIR_ENV]).expanduser()
    else:
        base = locations.monitor_db_path(environ).parent / "backups"
    return base if db is None else base / folder_of(db)


def folder_of(db) -> str:
    """`<stem>-<8 hex of the database's identity on its engine>`: one folder per database."""
    db = open_database(db)
    identity = db.backend.backups.identity(db)
    return f"{stem_of(db)}-{hashlib.sha256(identity.encode()).hexdigest()[:8]}"


def resolve_dest(dest=None, db=None) -> Path:
    """An explicit --dest as given, else the database's own default folder."""
    return Path(dest).expanduser() if dest else default_dest(db=db)


def stem_of(db) -> str:
    """Backups of data/resume2website.db are named resume2website-YYYYmmddTHHMMSSZ.db."""
    db = open_database(db)
    return db.backend.backups.stem(db)


def backup_name(stem, moment=None, kind="", seq=0, suffix=".db") -> str:
    moment = moment or datetime.now(timezone.utc)
    return f"{stem}-{kind}{moment.strftime(STAMP)}{'-' + str(seq) if seq else ''}{suffix}"


def _free_name(dest, stem, kind="", suffix=".db"):
    """A new name that sorts after every backup taken in the same second (-1, -2, ...)."""
    moment = datetime.now(timezone.utc)
    first = backup_name(stem, moment, kind, suffix=suffix)
    taken = [_seq(p.name) for p in Path(dest).glob(first[:-len(suffix)] + "*" + suffix)
             if NAME.match(p.name) and NAME.match(p.name)["stem"] == stem]
    seq = max(taken) + 1 if taken else 0
    return Path(dest) / backup_name(stem, moment, kind, seq, suffix)


# -------------------------------------------------------------------- helpers

_remove = files.remove          # the names restore.py and older callers use
_fsync_file = files.fsync_file
_fsync_dir = files.fsync_dir
_pid_alive = files.pid_alive


def check_dest(dest) -> Path:
    """Create the backup folder if needed; a clear error when it cannot hold backups."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise BackupFailed(f"cannot write backups to {dest}: it is a file, not a folder")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupFailed(f"cannot create the backup folder {dest}: {exc.strerror or exc}") from None
    if not os.access(dest, os.W_OK | os.X_OK):
        raise BackupFailed(f"cannot write backups to {dest}: permission denied")
    return dest


# ---------------------------------------------------------------- verification

def backend_for_file(path, db=None):
    """The backend whose backups look like `path` (by its suffix): `db`'s when given."""
    if db is not None:
        return open_database(db).backend
    engines = [open_database(Path(path)).backend, open_database("postgresql://").backend]
    return next((b for b in engines if b.backups.SUFFIX == Path(path).suffix), engines[0])


def verify_backup(path, monitor=None, db=None):
    """Verify a backup file and record the result in the monitor database; (ok, message).
    The engine that wrote it reads it whole (an SQLite copy: integrity_check; a pg_dump
    archive: pg_restore, its rows counted)."""
    path = Path(path)
    ok, message = backend_for_file(path, db).backups.verify(path)
    if monitor is not None and path.exists():
        stat = path.stat()
        monitor.record_verification(path, size=stat.st_size, mtime_ns=stat.st_mtime_ns,
                                    ok=ok, message=message)
    return ok, message


# ---------------------------------------------------------------------- backup

def preview(db, dest=None, keep=DEFAULT_KEEP):
    """What a backup would do: sizes, free space, how many old backups rotation removes, and why
    it would be refused (`refusal`, None when it would run)."""
    db = open_database(db)
    dest = resolve_dest(dest, db)
    sizes = dict(db.backend.backups.sizes(db))
    size, wal = sizes.pop("database_bytes"), sizes.pop("wal_bytes")
    existing = [b for b in list_backups(dest, stem=stem_of(db)) if b.kind == "backup"]
    free = disk_free(dest)
    refusal = sizes.pop("refusal", None)
    if refusal is None and free < size + wal:
        refusal = (f"not enough free disk in {dest} for a backup: needs up to "
                   f"{size + wal:,} bytes, {free:,} free")
    return {"database_bytes": size, "wal_bytes": wal, "dest": str(dest), "free_bytes": free,
            "needed_bytes": size + wal, "existing": len(existing),
            "would_rotate": max(0, len(existing) + 1 - keep), "keep": keep,
            "refusal": refusal, **sizes}


def create_backup(db, dest=None, *, keep=DEFAULT_KEEP, method="backup", monitor=None,
                  progress=None):
    """Take a verified backup of `db` into `dest`; rotate to the newest `keep`.

    Returns {path, size, seconds, method, verified, rotated} (and what the engine adds, e.g.
    rows). Raises BackupFailed (one line; the partial copy removed, the database untouched)
    on any failure.
    """
    db = open_database(db)
    engine = db.backend.backups
    engine.check_method(method)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise errors.InvalidValue(f"keep must be a whole number >= 1, not {keep!r}")
    needed = engine.needed_bytes(db)
    dest = check_dest(resolve_dest(dest, db)).absolute()
    free = disk_free(dest)
    if free < needed:
        raise BackupFailed(
            f"not enough free disk in {dest} for a backup of {db.display}: needs up to "
            f"{needed:,} bytes, {free:,} free")
    _sweep_partials(dest)
    final = _free_name(dest, stem_of(db), suffix=engine.SUFFIX)
    temporary = dest / f".{final.name}{PARTIAL}{os.getpid()}"
    started = time.perf_counter()
    report = progress or (lambda fraction, message: None)
    try:
        copied = engine.copy(db, temporary, method, report)
        files.fsync_file(temporary)
        os.replace(temporary, final)
        files.fsync_dir(dest)
    except BaseException as exc:
        removed = files.remove(temporary)
        if isinstance(exc, BackupFailed):
            raise
        failure = engine.failure(exc, db, final, removed)
        if failure is not None:
            raise failure from None
        raise
    seconds = time.perf_counter() - started
    stat = final.stat()
    if monitor is not None:
        monitor.record_verification(final, size=stat.st_size, mtime_ns=stat.st_mtime_ns,
                                    ok=True, message=copied.pop("message"))
    report(0.9, "rotating old backups")
    rotated = rotate(dest, keep, stem_of(db))
    report(1.0, f"backup written: {final.name}")
    copied.pop("message", None)
    return {"path": str(final), "size": stat.st_size, "seconds": seconds, "method": method,
            "verified": True, **copied, "rotated": [str(p) for p in rotated]}


def _sweep_partials(dest, older_than_s=3600):
    """Remove temporary copies left by killed backups (older than an hour, owner gone)."""
    now = time.time()
    for path in Path(dest).glob(f".*{PARTIAL}*"):
        if path.name.endswith(SIDE_FILES):
            continue
        try:
            pid = int(path.name.rsplit(PARTIAL, 1)[1])
            old = now - path.stat().st_mtime > older_than_s
        except (ValueError, OSError):
            continue
        if old and not files.pid_alive(pid):
            files.remove(path)


# ------------------------------------------------------------- list and rotate

@dataclass
class BackupInfo:
    path: str
    name: str
    stem: str
    kind: str            # "backup" or "pre-restore"
    size: int
    created_at: str      # UTC, from the name
    age_seconds: float
    verified: object     # True / False / None (never verified, or changed since)
    verified_at: object
    message: object

    def as_dict(self):
        return asdict(self)


def _parse(path):
    match = NAME.match(path.name)
    if not match:
        return None
    moment = datetime.strptime(match["stamp"], STAMP)
    return match, moment


def list_backups(dest=None, *, verify=False, monitor=None, stem=None, db=None):
    """The backups in `dest`, newest first: size, age and verification status.

    verify=True reads each whole (and records it when a monitor is given);
    otherwise the status comes from the recorded verifications (None: never verified,
    or the file changed since).
    """
    dest = resolve_dest(dest, db)
    stem = stem_of(db) if stem is None and db is not None else stem
    if not dest.is_dir():
        return []
    recorded = monitor.verifications() if monitor is not None and not verify else {}
    now = timeutil.utcnow()
    found = []
    for path in dest.iterdir():
        parsed = _parse(path)
        if parsed is None or not path.is_file():
            continue
        match, moment = parsed
        if stem is not None and match["stem"] != stem:
            continue
        stat = path.stat()
        if verify:
            ok, message = verify_backup(path, monitor, db)
            verified, verified_at = ok, timeutil.now_iso()
        else:
            entry = recorded.get(str(path.resolve()))
            if entry and entry["size"] == stat.st_size and entry["mtime_ns"] == stat.st_mtime_ns:
                verified, verified_at, message = entry["ok"], entry["verified_at"], entry["message"]
            else:
                verified = verified_at = message = None
        found.append(BackupInfo(
            path=str(path), name=path.name, stem=match["stem"],
            kind="pre-restore" if match["kind"] else "backup", size=stat.st_size,
            created_at=timeutil.iso(moment), age_seconds=(now - moment).total_seconds(),
            verified=verified, verified_at=verified_at, message=message))
    found.sort(key=lambda b: (b.created_at, _seq(b.name)), reverse=True)
    return found


def _seq(name):
    match = NAME.match(name)
    return int(match["seq"] or 0) if match else 0


def rotate(dest, keep, stem):
    """Remove the oldest regular backups of `stem` beyond the newest `keep`; the removed paths.

    Pre-restore copies are never rotated away."""
    if keep < 1:
        raise errors.InvalidValue("keep must be >= 1")
    regular = [b for b in list_backups(dest, stem=stem) if b.kind == "backup"]
    removed = []
    for old in regular[keep:]:
        files.remove(old.path)
        removed.append(Path(old.path))
    return removed
