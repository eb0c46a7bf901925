"""PostgreSQL's restore: a pg_dump archive into a NEW database, verified, then swapped in.

maintenance/restore.py checks the backup log first (the archive must be one it knows as a
backup of this database, else force) and calls `restore` and `message` here:
1. pg_restore must read the archive whole: its rows per table are counted on the way.
2. It is restored (pg_restore --single-transaction --exit-on-error, owners and grants as
   dumped) into a new database `<name>_restore_<stamp>` created from template0 with the
   target's owner, encoding and locale; the target's own database-level grants (CONNECT ...)
   and settings (ALTER DATABASE ... SET, ALTER ROLE ... IN DATABASE ... SET: pg_db_role_setting,
   which pg_dump leaves out) are copied onto it. Its row counts must equal the archive's, and it must hold the
   documented schema (an older state needs force, then migrate). Any failure drops it; the
   target is untouched.
3. Swapped in only when asked (`swap`, the command line's --yes): refused while any other
   session is connected to the target (stop the application and the dashboard first); the
   target is renamed aside to `<name>_before_restore_<stamp>` (kept: drop it when sure) and
   the restored database renamed to the target's name, from connections to neither.
"""
import tempfile
import time

from r2w_db import errors
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql import tools as pg_tools
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.database import PgDatabase

NOTHING = "nothing was changed"
OTHERS_SQL = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
ACL_SQL = """
SELECT coalesce(r.rolname, 'PUBLIC'), a.privilege_type
FROM pg_database d, aclexplode(d.datacl) AS a LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE d.datname = %s"""


PRIVILEGES = ("CONNECT", "CREATE", "TEMPORARY")   # of a database
# the database's settings, for all roles ('' here) and per role: 'name=value' each
SETTINGS_SQL = """
SELECT coalesce(r.rolname, ''), s.setconfig
FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
LEFT JOIN pg_roles r ON r.oid = s.setrole
WHERE d.datname = %s ORDER BY 1"""
# the settings whose stored value is a list of quoted names, given back one literal per name
# (pg_dump's variable_is_guc_list_quote)
LIST_SETTINGS = ("local_preload_libraries", "search_path", "session_preload_libraries",
                 "shared_preload_libraries", "temp_tablespaces", "unix_socket_directories")


def _sql_name(name):
    """A database name as a quoted SQL identifier, for a command printed for a person to paste
    (unquoted, PostgreSQL folds Resume2Website_before_restore_... to lower case)."""
    return '"' + str(name).replace('"', '""') + '"'


class RestoreFailed(errors.R2WError):
    """The swap failed half-way; the message says where each database is."""


def check_source(db, source):
    """RestoreRefused when `source` is no file to restore."""
    if not source.is_file():
        raise errors.RestoreRefused(f"backup not found: {source}; {NOTHING}")


def restore(db, source, *, folder, aside, monitor, force, warnings, progress, swap):
    """Restore a pg_dump archive into a new database and (with swap) put it in the target's
    place (`folder` and `aside` are SQLite's: the previous database is renamed, not copied).
    Returns {database, restored_from, restored_database, restored_url, swapped,
    previous_database, rows, warnings, seconds, pre_restore_backup, pre_restore_sound};
    raises RestoreRefused (one line) when the target was not changed."""
    report = progress
    started = time.perf_counter()
    warnings = list(warnings)
    report(0.05, f"reading {source.name} whole (pg_restore)")
    expected = _archive_counts(source, monitor)
    facts = pg_tools.database_facts(db)
    new = pg_tools.derived_name(facts["name"], "restore")
    report(0.2, f"restoring into the new database {new}")
    restored = _restore_into(db, source, new, facts)
    previous = None
    try:
        rows = pg_tools.table_counts(restored)
        warnings += _verify(restored, source, rows, expected, force)
        _copy_grants(restored, facts["name"], new)
        _copy_settings(restored, facts["name"], new)
        if swap:
            report(0.9, f"swapping {new} in for {facts['name']}")
            previous = _swap(db, restored, facts["name"], new)
    except RestoreFailed:   # half swapped: both databases stay, as the message says
        raise
    except BaseException:
        pg_tools.drop_database(db, new)
        raise
    report(1.0, f"restored {facts['name']} from {source.name}")
    return {"database": db.display, "restored_from": str(source),
            "restored_database": facts["name"] if swap else new,
            "restored_url": db.display if swap else restored.display, "swapped": bool(swap),
            "previous_database": previous, "rows": rows, "warnings": warnings,
            "seconds": time.perf_counter() - started, "pre_restore_backup": None,
            "pre_restore_sound": None}


def message(db, backup_path, info):
    """One line: what was restored, where the previous database went, any warning."""
    rows = pg_tools.describe_counts(info["rows"])
    if info["swapped"]:
        message = (f"restored {db.display} from {backup_path} (row counts verified: {rows}); the "
                   f"previous database was renamed to {info['previous_database']}: drop it when "
                   f"no longer needed (DROP DATABASE {_sql_name(info['previous_database'])};)")
    else:
        message = (f"restored {backup_path} into the new database {info['restored_database']} "
                   f"(row counts verified: {rows}); {db.display} is untouched")
    for warning in info.get("warnings") or ():
        message += f"; warning: {warning}"
    return message


def _archive_counts(source, monitor):
    """The archive's rows per table, reading it whole; the result recorded as a verification."""
    try:
        counts = pg_tools.dump_row_counts(source)
        ok, message = True, "pg_restore read the whole archive: " + pg_tools.describe_counts(counts)
    except pg_tools.ToolMissing:
        raise
    except errors.R2WError as exc:
        counts, ok, message = None, False, str(exc)
    stat = source.stat()
    monitor.record_verification(source, size=stat.st_size, mtime_ns=stat.st_mtime_ns, ok=ok,
                                message=message)
    if not ok:
        raise errors.RestoreRefused(f"{source} is not a sound pg_dump archive ({message}); {NOTHING}")
    return counts


def _restore_into(db, source, name, facts):
    """The new database holding the archive (dropped again when the restore fails)."""
    try:
        restored = pg_tools.create_database(db, name, facts, owner=facts["owner"])
    except errors.R2WError as exc:
        raise errors.RestoreRefused(f"cannot create the database to restore into ({exc}): the restore "
                             f"needs the database owner with CREATEDB, or a superuser; "
                             f"{NOTHING}") from None
    try:
        with tempfile.TemporaryDirectory(prefix="r2w-restore-") as folder:
            entries = pg_tools.restore_list(source, folder)
            pg_tools.run_tool("pg_restore", ["--exit-on-error", "--single-transaction",
                                             f"--use-list={entries}", str(source)],
                              db=db, dbname=name, what=f"restoring {source.name}")
    except BaseException as exc:
        pg_tools.drop_database(db, name)
        if isinstance(exc, errors.R2WError):
            raise errors.RestoreRefused(f"{exc}; {NOTHING}") from None
        raise
    return restored


def _verify(restored, source, rows, expected, force):
    """Refuse a restore whose row counts differ from the archive's or that does not hold the
    documented schema; the warnings of one accepted with force (an older schema)."""
    differ = [f"{t}: {rows.get(t)} restored, {expected.get(t)} in the archive" for t in rows
              if rows.get(t) != expected.get(t)]
    if differ:
        raise errors.RestoreRefused(f"{source} did not restore whole ({'; '.join(differ)}); {NOTHING}")
    with restored.read() as conn:
        drift = pg_schema.drift(conn)
    if len(drift.missing_tables) == len(pg_schema.TABLES):
        raise errors.RestoreRefused(f"{source} holds none of the Resume2Website tables: not a backup of "
                             f"this database; {NOTHING}")
    missing = drift.missing_tables + drift.missing_columns
    if missing and not force:
        raise errors.RestoreRefused(f"{source} holds an older schema (missing {', '.join(missing[:4])}). "
                             f"If it is an old backup of this database, rerun with --force "
                             f"(then migrate); {NOTHING}")
    return [f"restored with --force: older schema, missing {', '.join(missing[:4])}: run migrate"
            ] if missing else []


def _copy_grants(restored, target, new):
    """The target's database-level grants (CONNECT, CREATE, TEMP) onto the new database."""
    from psycopg import sql

    with restored.write(autocommit=True) as conn:
        grants = conn.execute(ACL_SQL, (target,)).fetchall()
        if not grants:   # NULL datacl: the defaults, as the new database has them
            return
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(identifier(new)))
        for role, privilege in grants:
            if privilege not in PRIVILEGES:
                continue
            grantee = sql.SQL("PUBLIC") if role == "PUBLIC" else identifier(role)
            conn.execute(sql.SQL("GRANT {} ON DATABASE {} TO {}").format(
                sql.SQL(privilege), identifier(new), grantee))


def _copy_settings(restored, target, new):
    """The target's settings (pg_db_role_setting: for all roles and per role) onto the new
    database: they belong to the database's oid, so a swap by renaming would leave them with
    the previous database. One that cannot be set refuses the restore (the target untouched)."""
    from psycopg import sql

    with restored.write() as conn:
        for role, config in conn.execute(SETTINGS_SQL, (target,)).fetchall():
            where = (sql.SQL("DATABASE {}").format(identifier(new)) if not role else
                     sql.SQL("ROLE {} IN DATABASE {}").format(identifier(role), identifier(new)))
            for entry in config or ():
                name, _, value = entry.partition("=")
                try:
                    conn.execute(sql.SQL("ALTER {} SET {} = {}").format(
                        where, sql.Identifier(*name.split(".")), _setting_value(name, value)))
                except errors.R2WError as exc:
                    raise errors.RestoreRefused(
                        f"the setting {entry!r}{f' of role {role}' if role else ''} could not be "
                        f"copied onto the restored database ({exc}): restore as the database's "
                        f"owner (a superuser for settings per role); {NOTHING}") from None


def _setting_value(name, value):
    """A stored setting's value as ALTER ... SET takes it back: one literal, or for a list of
    quoted names (search_path ...) one literal per name."""
    from psycopg import sql

    if name.lower() not in LIST_SETTINGS:
        return sql.Literal(value)
    return sql.SQL(", ").join(sql.Literal(item) for item in _split_list(value))


def _split_list(text):
    """A stored list setting's names: comma-separated, each maybe in double quotes ("" inside
    for a quote), whitespace outside quotes ignored, as the server's SplitGUCList reads them."""
    items, current, quoted, i = [], [], False, 0
    while i < len(text):
        char = text[i]
        if quoted and char == '"' and text[i + 1:i + 2] == '"':
            current.append('"')
            i += 1
        elif char == '"':
            quoted = not quoted
        elif not quoted and char == ",":
            items.append("".join(current))
            current = []
        elif quoted or not char.isspace():
            current.append(char)
        i += 1
    items.append("".join(current))
    return items


def _others(conn, name):
    return conn.execute(OTHERS_SQL, (name,)).fetchone()[0]


def _swap(db, restored, target, new):
    """Rename the target aside and the restored database into its place; the aside name."""
    from psycopg import sql

    aside = pg_tools.derived_name(target, "before_restore")
    in_use = (f"other sessions are connected to {target}: stop the application (and the "
              f"dashboard) first, then restore; {NOTHING}")
    with restored.write(autocommit=True) as conn:
        others = _others(conn, target)
        if others:
            raise errors.RestoreRefused(f"{others} {in_use}")
        try:
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                identifier(target), identifier(aside)))
        except errors.R2WError as exc:
            raise errors.RestoreRefused(f"{target} could not be renamed aside ({exc}): {in_use}") from None
    previous = PgDatabase(pg_tools.with_dbname(db.url, aside))
    try:
        with previous.write(autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                identifier(new), identifier(target)))
    except errors.R2WError as exc:
        try:
            with restored.write(autocommit=True) as conn:
                conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    identifier(aside), identifier(target)))
        except errors.R2WError:
            raise RestoreFailed(f"the swap failed half-way ({exc}): the previous database is "
                                f"now named {aside} and the restored one {new}: rename one by "
                                f"hand, to finish the restore: ALTER DATABASE {_sql_name(new)} "
                                f"RENAME TO {_sql_name(target)}; or to put the previous one back: "
                                f"ALTER DATABASE {_sql_name(aside)} RENAME TO "
                                f"{_sql_name(target)};") from None
        raise errors.RestoreRefused(f"the restored database could not take the name {target} ({exc}); "
                             f"{NOTHING}") from None
    return aside
