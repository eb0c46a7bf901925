"""`check` on PostgreSQL: schema drift, amcheck, orphans (figures/check.py shapes the report).

Integrity uses the `amcheck` extension: `bt_index_check` on every B-tree index of the four
tables (with `heapallindexed` in full mode, and `verify_heapam` on each table there). When the
extension is not installed, check tries `CREATE EXTENSION IF NOT EXISTS amcheck` (the one
thing it may create; it needs a superuser or the database owner with the extension trusted)
and otherwise reports integrity as "not available", which is neither ok nor damage: the
report's `ok` then rests on the schema, and `warnings` is set.
"""
from r2w_db import errors
from r2w_db.engine import schema
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.database import as_pg

OWNED = (("sessions", "user_id"), ("cv_uploads", "user_id"))
# the amcheck functions check runs, by mode; a role needs EXECUTE on them (REVOKEd from PUBLIC)
AMCHECK_FUNCTIONS = {
    "quick": ("bt_index_check(regclass, boolean)",),
    "full": ("bt_index_check(regclass, boolean)",
             "verify_heapam(regclass, boolean, boolean, text, bigint, bigint)"),
}


def orphans(conn):
    """Rows whose user_id has no users row, anonymous owners left out: {table: count}."""
    from psycopg import sql

    counts = {}
    for table, column in OWNED:
        counts[table] = conn.execute(sql.SQL(
            "SELECT count(*) FROM {t} AS o WHERE NOT starts_with(o.{c}, %s)"
            " AND NOT EXISTS (SELECT 1 FROM users AS u WHERE u.user_id = o.{c})").format(
                t=identifier(table), c=identifier(column)), ("anonymous_",)).fetchone()[0]
    return counts


def _amcheck_available(db):
    """(True, None) when amcheck is installed in the database (installing it if we may), else
    (False, why)."""
    with db.read() as conn:
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'").fetchone():
            return True, None
        if not conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'").fetchone():
            return False, "the amcheck extension is not installed on the server (postgresql-contrib)"
    try:
        with db.write(autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
    except errors.R2WError as exc:
        return False, f"CREATE EXTENSION amcheck was refused ({errors.one_line(exc, 160)})"
    return True, None


def _integrity(db, quick=False):
    """{"mode", "ok", "messages", "available"}: ok None when amcheck is not available."""
    import psycopg

    mode = "quick" if quick else "full"
    available, why = _amcheck_available(db)
    if available:
        with db.read() as conn:
            denied = [f for f in AMCHECK_FUNCTIONS[mode] if not conn.execute(
                "SELECT has_function_privilege(%s, 'EXECUTE')", (f,)).fetchone()[0]]
        if denied:
            available, why = False, (f"this role may not run {', '.join(denied)} (GRANT EXECUTE "
                                     f"ON FUNCTION ... TO it, as docs/postgresql.md shows)")
    if not available:
        return {"mode": mode, "ok": None, "available": False,
                "messages": [f"integrity not available: {why}"]}
    messages = []
    with db.read() as conn:
        indexes = conn.execute("""
            SELECT ic.oid, ic.relname FROM pg_index i
            JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid
            JOIN pg_am am ON am.oid = ic.relam
            WHERE tc.relnamespace = current_schema()::regnamespace AND tc.relname = ANY(%s)
              AND am.amname = 'btree' AND i.indisvalid ORDER BY ic.relname""",
                               (list(schema.COLUMNS),)).fetchall()
        for oid, name in indexes:
            try:
                conn.execute("SELECT bt_index_check(%s::oid::regclass, %s)", (oid, not quick))
            except psycopg.Error as exc:  # damage is a finding, not a crash
                conn.rollback()
                messages.append(f"index {name}: {errors.one_line(exc, 300)}")
        if not quick:
            for table in schema.COLUMNS:
                if not conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0]:
                    continue
                for row in conn.execute("SELECT blkno, offnum, msg FROM verify_heapam(%s::regclass)"
                                        " LIMIT 20", (table,)):
                    messages.append(f"table {table} block {row[0]} item {row[1]}: {row[2]}")
    return {"mode": mode, "ok": not messages, "available": True,
            "messages": messages or ["ok"], "indexes_checked": len(indexes)}


def examine(db, quick=False):
    """{database, labels, drift, schema_notes, wrong_types, steps, integrity, orphans}:
    what figures/check.py shapes into the report."""
    db = as_pg(db)
    with db.read() as conn:
        drift = pg_schema.drift(conn)
        if len(drift.missing_tables) == len(schema.TABLES):
            raise errors.EmptyDatabase(db.display)
        steps = [s.description for s in pg_schema.plan(conn)]
        types = pg_schema.wrong_types(pg_schema.table_columns(conn))
        orphan_counts = {} if drift.missing_tables else orphans(conn)
    return {"database": db.display, "labels": {"backend": "postgresql"}, "drift": drift,
            "schema_notes": {"wrong_types": types, "skipped_on_postgresql": sorted(pg_schema.SKIPPED)},
            "wrong_types": types, "steps": steps, "orphans": orphan_counts,
            "integrity": _integrity(db, quick)}
