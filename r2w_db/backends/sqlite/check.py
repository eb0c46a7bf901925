"""`check` on SQLite: PRAGMA integrity_check / quick_check, the schema's drift, orphans."""
import sqlite3

from r2w_db import errors
from r2w_db.engine import schema
from r2w_db.backends.sqlite import predicates as P
from r2w_db.backends.sqlite import schema as sqlite_schema

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


def _integrity_messages(conn, quick=False, limit=100):
    """The messages of PRAGMA integrity_check / quick_check: ['ok'] when sound. Damage that
    stops the check itself is a finding too, never an exception."""
    pragma = "quick_check" if quick else "integrity_check"
    try:
        return [row[0] for row in conn.execute(f"PRAGMA {pragma}({int(limit)})")]
    except sqlite3.DatabaseError as exc:
        return [f"{pragma} stopped: {exc}"]


def examine(db, quick=False):
    """{database, labels, drift, schema_notes, wrong_types, steps, integrity, orphans}:
    what figures/check.py shapes into the report."""
    try:
        with db.read() as conn:
            return _examine(db, conn, quick)
    except errors.DatabaseDamaged as exc:  # even the schema cannot be read
        return _examine(db, None, quick, damage=str(exc))


def _examine(db, conn, quick, damage=None):
    messages = [damage] if conn is None else _integrity_messages(conn, quick=quick)
    drift, steps, orphan_counts = None, [], {}
    if conn is not None:
        try:
            drift = sqlite_schema.drift(conn)
            if len(drift.missing_tables) == len(schema.TABLES):
                raise errors.EmptyDatabase(db.path)
            steps = [s.description for s in sqlite_schema.plan(conn, where=db.path)]
            orphan_counts = {} if drift.missing_tables else orphans(conn)
        except sqlite3.DatabaseError as exc:  # damage met while reading the schema or the rows
            messages = [m for m in messages if m != "ok"] + [f"reading the database: {exc}"]
    return {"database": str(db.path), "labels": {}, "drift": drift, "schema_notes": {},
            "wrong_types": [], "steps": steps, "orphans": orphan_counts,
            "integrity": {"mode": "quick" if quick else "full", "ok": messages == ["ok"],
                          "messages": messages}}
