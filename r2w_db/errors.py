"""The few things that go wrong, each with a message a person can act on."""
import shlex


class R2WError(Exception):
    """Base class: the message is one line, fit to print as it is (newlines folded away)."""

    def __str__(self):
        return one_line(super().__str__())


def one_line(text, limit=600):
    """Fold a message onto one line (a multi-line SQLite report included), at most `limit` chars:
    a longer one loses its middle, never its end (where the command to run is)."""
    folded = " ".join(str(text).split())
    if len(folded) <= limit:
        return folded
    head = (limit - 5) // 3             # what failed, then the remedy whole at the end
    return f"{folded[:head]} ... {folded[-(limit - 5 - head):]}"


def command(location, *words):
    """`python -m r2w_db --db LOCATION WORDS` for a person to paste: the location shell-quoted
    (a path with a space, a quote or `$`, a URL with `&` or `?`)."""
    return " ".join(["python -m r2w_db --db", shlex.quote(str(location)), *words])


class BadLocation(R2WError):
    """A database location that is not a usable file path (empty, a URI, a pipe, ...)."""


class DatabaseMissing(R2WError):
    def __init__(self, path):
        super().__init__(
            f"database not found: {path} (check --db / DATABASE_URL, "
            f"or create it with `{command(path, 'init')}`)"
        )


class NotADatabase(R2WError):
    def __init__(self, path):
        super().__init__(
            f"{path} is not an SQLite database (wrong file, or corrupt: restore it from a backup)"
        )


class Unreadable(R2WError):
    def __init__(self, path, detail="permission denied"):
        super().__init__(f"cannot open {path}: {detail} (check the file's owner and permissions)")


class EmptyDatabase(R2WError):
    def __init__(self, path):
        super().__init__(
            f"{path} holds none of the Resume2Website tables (empty or a different database): "
            f"point --db / DATABASE_URL at the right file, or run `{command(path, 'init')}`"
        )


class SchemaTooOld(R2WError):
    def __init__(self, path, missing):
        what = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
        super().__init__(
            f"{path} has an old or incomplete schema (missing {what}): "
            f"run `{command(path, 'migrate')}`"
        )
        self.missing = list(missing)
        self.path = path


class SchemaTooNew(R2WError):
    def __init__(self, path, found, known):
        super().__init__(
            f"{path} is at schema version {found}, newer than this r2w_db knows ({known}): "
            f"upgrade r2w monitor before touching it"
        )


class DatabaseDamaged(R2WError):
    def __init__(self, path, detail="database disk image is malformed"):
        super().__init__(
            f"{path} is damaged ({detail}): see `{command(path, 'check')}` for the "
            f"integrity report, then restore a backup (`{command(path, 'backups')}`)"
        )
        self.path = path


class HotJournal(R2WError):
    def __init__(self, path):
        super().__init__(
            f"{path} has a hot rollback journal (its -journal file): a writer crashed in the middle of "
            f"a transaction, and a read-only reader cannot roll it back. The application's next "
            f"write rolls it back, or run `{command(path, 'recover')}`; never delete "
            f"the -journal file (that corrupts the database)"
        )
        self.path = path


class DatabaseLocked(R2WError):
    def __init__(self, path):
        super().__init__(
            f"{path} is locked by another process and stayed locked past the timeout: try again shortly"
        )


class DatabaseReadOnly(R2WError):
    def __init__(self, path):
        super().__init__(
            f"cannot write to {path}: the file or its folder is read-only for this user"
        )


class DiskFull(R2WError):
    def __init__(self, path):
        super().__init__(
            f"disk full (or file size limit reached) while writing {path}: nothing was changed; free space and retry"
        )


class DuplicateEmail(R2WError):
    def __init__(self, email):
        super().__init__("an account with this email address already exists")
        self.email = email


class InvalidValue(R2WError, ValueError):
    """A caller passed a value the schema does not allow (status, confidence, ...)."""


class NotSupported(R2WError):
    """An operation the database's engine does not have (or not yet): "<what> is not available
    on <engine>[: why]". The command line names the command that met it."""

    def __init__(self, what=None, engine="PostgreSQL", reason=None):
        super().__init__(f"{what or 'this operation'} is not available on {engine}"
                         + (f": {reason}" if reason else " yet"))
        self.what, self.engine, self.reason = what, engine, reason


class NotEnoughDisk(R2WError):
    """A maintenance step refused before it started: it would not fit on the disk."""


class BackupFailed(R2WError):
    """A backup could not be written or verified; nothing half-written is left."""


class BackupLocked(BackupFailed, DatabaseLocked):
    """The database stayed locked by another process past the busy timeout: no backup."""

    def __init__(self, path):
        DatabaseLocked.__init__(self, path)
        self.args = (f"{self.args[0]}; no backup was written, the database is untouched",)


class RestoreRefused(R2WError):
    """A restore was not started (bad backup, database in use, ...); nothing was changed."""
