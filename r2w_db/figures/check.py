"""`check`: schema drift, integrity and orphans, read-only."""
from r2w_db import errors
from r2w_db.engine import predicates as P, schema
from r2w_db.engine.connection import as_database
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
    """The messages of PRAGMA integrity_check / quick_check: ['ok'] when sound."""
    pragma = "quick_check" if quick else "integrity_check"
    return [row[0] for row in conn.execute(f"PRAGMA {pragma}({int(limit)})")]


def run_check(db, quick=False):
    """Everything `check` reports, as a dict; `ok` is False on missing schema or damage."""
    db = as_database(db)
    with db.read() as conn:
        drift = schema.drift(conn)
        if len(drift.missing_tables) == len(schema.TABLES):
            raise errors.EmptyDatabase(db.path)
        steps = [s.description for s in plan(conn)]
        messages = integrity(conn, quick=quick)
        orphan_counts = {} if drift.missing_tables else orphans(conn)
    integrity_ok = messages == ["ok"]
    missing = drift.missing_tables or drift.missing_columns or drift.missing_indexes
    return {
        "database": str(db.path),
        "schema": drift.as_dict(),
        "pending_migrations": steps,
        "integrity": {"mode": "quick" if quick else "full", "ok": integrity_ok,
                      "messages": messages},
        "orphans": orphan_counts,
        "ok": integrity_ok and not missing,
        "warnings": bool(drift.extra_columns or drift.extra_indexes or drift.extra_tables
                         or any(orphan_counts.values())),
    }
