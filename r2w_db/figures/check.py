"""`check`: schema drift, integrity and orphans, read-only."""
import sqlite3

from r2w_db import errors
from r2w_db.engine import schema
from r2w_db.backends.sqlite import predicates as P
from r2w_db.backends.dispatch import per_backend
from r2w_db.backends.sqlite.database import as_database
from r2w_db.engine.migrations import plan

# (child table, its owner column): anonymous owners never have a users row, so they are not orphans.
OWNED = (("sessions", "user_id"), ("cv_uploads", "user_id"))


def orphans(conn):
    """Rows whose user_id has no users row, anonymous owners left out: {table: count}."""
    counts = {}
    for table, column in OWNED:
        counts[table] = conn.execute(f"""
            SELECT count(*) FROM pragma_foreign_key_check('{table}') AS fk
            JOIN {table} AS t ON t.rowid = fk.rowid
            WHERE NOT {P.is_anonymous('t.' + column)}""").fetchone()[0]
    return counts


def integrity(conn, quick=False, limit=100):
    """The messages of PRAGMA integrity_check / quick_check: ['ok'] when sound. Damage that
    stops the check itself is a finding too, never an exception."""
    pragma = "quick_check" if quick else "integrity_check"
    try:
        return [row[0] for row in conn.execute(f"PRAGMA {pragma}({int(limit)})")]
    except sqlite3.DatabaseError as exc:
        return [f"{pragma} stopped: {exc}"]


@per_backend("r2w_db.backends.postgresql.check")
def run_check(db, quick=False):
    """Everything `check` reports, as a dict. `ok` is False on damage or on a missing part of the
    documented schema; this project's own indexes (migrations 7-9) missing is a warning."""
    db = as_database(db)
    try:
        with db.read() as conn:
            return _report(db, conn, quick)
    except errors.DatabaseDamaged as exc:  # even the schema cannot be read
        return _report(db, None, quick, damage=str(exc))


def _report(db, conn, quick, damage=None):
    messages = [damage] if conn is None else integrity(conn, quick=quick)
    drift, steps, orphan_counts = None, [], {}
    if conn is not None:
        try:
            drift = schema.drift(conn)
            if len(drift.missing_tables) == len(schema.TABLES):
                raise errors.EmptyDatabase(db.path)
            steps = [s.description for s in plan(conn, path=db.path)]
            orphan_counts = {} if drift.missing_tables else orphans(conn)
        except sqlite3.DatabaseError as exc:  # damage met while reading the schema or the rows
            messages = [m for m in messages if m != "ok"] + [f"reading the database: {exc}"]
    integrity_ok = messages == ["ok"]
    documented = set(schema.DOCUMENTED_INDEXES)
    missing_indexes = [] if drift is None else drift.missing_indexes
    missing_documented = [n for n in missing_indexes if n in documented]
    missing_additions = [n for n in missing_indexes if n not in documented]
    missing = drift is not None and (drift.missing_tables or drift.missing_columns
                                     or missing_documented)
    return {
        "database": str(db.path),
        "schema": (drift.as_dict() if drift else {"version": None, "ok": False})
        | {"missing_documented_indexes": missing_documented,
           "missing_additions": missing_additions},
        "pending_migrations": steps,
        "integrity": {"mode": "quick" if quick else "full", "ok": integrity_ok,
                      "messages": messages},
        "orphans": orphan_counts,
        "ok": integrity_ok and drift is not None and not missing,
        "warnings": bool(drift and (drift.extra_columns or drift.extra_indexes
                                    or drift.extra_tables or missing_additions)
                         or any(orphan_counts.values())),
    }
