"""PostgreSQL's maintenance: what each task does here, its previews, ANALYZE and VACUUM (ANALYZE).

maintenance/registry.py declares the tasks and builds their previews from these; runner.py logs,
reports progress and refuses exactly as on SQLite.
- analyze: ANALYZE of each table (a sample; it takes a lock that blocks only schema changes
  and other VACUUM/ANALYZE runs).
- vacuum: VACUUM (ANALYZE) of each table, outside any transaction: dead row versions become
  reusable and the statistics are refreshed; the application reads and writes throughout.
  VACUUM FULL, which would lock the tables, is never run.
- checkpoint: not applicable (declared unsupported in this backend's features, with the reason):
  the server checkpoints its WAL itself; the preview says so and a run is refused.
- integrity: amcheck (backends/postgresql/check.py, through figures' check.run_check); the
  preview refuses when the extension cannot be had, so a run never passes for a check that did
  not happen.
Both VACUUM and ANALYZE need the table owner on PostgreSQL 15 (or the database owner, or a
superuser); otherwise PostgreSQL would skip the table with a mere warning, so the preview
refuses instead.
"""
import time
from contextlib import contextmanager

from r2w_db import errors
from r2w_db.engine import schema
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.formatting import human_bytes, plural

NO_CHECKPOINT = ("not applicable on PostgreSQL: the server checkpoints its write-ahead log "
                 "itself (checkpoint_timeout, max_wal_size), and no WAL file belongs to one "
                 "database")
TABLES_SQL = """
SELECT c.relname, pg_total_relation_size(c.oid), coalesce(s.n_live_tup, 0),
       coalesce(s.n_dead_tup, 0), greatest(s.last_analyze, s.last_autoanalyze) IS NOT NULL,
       pg_has_role(current_user, c.relowner, 'USAGE')
         OR pg_has_role(current_user, (SELECT datdba FROM pg_database
                                       WHERE datname = current_database()), 'USAGE')
FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
  AND c.relname = ANY(%s)
ORDER BY c.relname"""
AMCHECK_SQL = """
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'amcheck'),
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'),
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
       (SELECT count(*) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
          JOIN pg_class tc ON tc.oid = i.indrelid JOIN pg_am am ON am.oid = ic.relam
        WHERE tc.relnamespace = current_schema()::regnamespace AND tc.relname = ANY(%s)
          AND am.amname = 'btree' AND i.indisvalid)"""


def _table_facts(db):
    """[{table, bytes, live, dead, analyzed, owned}] of the four tables present."""
    with db.read() as conn:
        rows = conn.execute(TABLES_SQL, (list(schema.COLUMNS),)).fetchall()
    if not rows:
        raise errors.EmptyDatabase(db.display)
    keys = ("table", "bytes", "live", "dead", "analyzed", "owned")
    return [dict(zip(keys, row)) for row in rows]


def _ownership_refusal(facts, what):
    foreign = [f["table"] for f in facts if not f["owned"]]
    if not foreign:
        return None
    return (f"{what} needs the owner of {', '.join(foreign)} (or the database owner, or a "
            f"superuser) on PostgreSQL 15: run it as that role")


# ------------------------------------------------------------------ descriptions

DESCRIPTIONS = {
    "analyze": ("Runs ANALYZE on each table (a sample; it blocks only schema changes), so the "
                "query planner keeps choosing the right indexes. Needs the table owner.",
                "After a large cleanup; autovacuum also analyzes, this makes it happen now."),
    "checkpoint": ("Not applicable on PostgreSQL: the server checkpoints its write-ahead log "
                   "itself (checkpoint_timeout, max_wal_size). Listed so the two backends show "
                   "the same tasks; a run is refused.", "Never."),
    "vacuum": ("Runs VACUUM (ANALYZE) on each table: dead row versions left by updates and "
               "deletes become reusable and the statistics are refreshed. The application keeps "
               "reading and writing; VACUUM FULL, which would lock the tables, is never run. "
               "Needs the table owner.",
               "After a large cleanup, or when the dead-tuple check is amber (autovacuum lags)."),
    "integrity": ("Checks every B-tree index (amcheck bt_index_check) and, unless quick, every "
                  "heap page (verify_heapam); compares the schema with the documented one and "
                  "counts orphan rows. Reads only (it may CREATE EXTENSION amcheck first).",
                  "Weekly, and before relying on a backup or after a crash or disk problem."),
    "backup": ("Dumps the live database with pg_dump -Fc from one snapshot, verifies the dump by "
               "restoring it into a scratch database and comparing row counts, then renames it "
               "into place; keeps the newest copies.",
               "Daily, and before any destructive task (\"back up first\")."),
}


TITLES = {"vacuum": "VACUUM (reclaim dead tuples)"}


def title(name):
    """A task's title where PostgreSQL names it by what it does there (its VACUUM compacts no
    file: dead row versions become reusable space); None: the registry's."""
    return TITLES.get(name)


def description(name):
    """(what it does, when to run it) of a task as it runs on PostgreSQL; None: the registry's."""
    return DESCRIPTIONS.get(name)


def error_line(db, exc):
    """None: the runner names a PostgreSQL error that reaches it by its class."""
    return None


# ----------------------------------------------------------------------- preview

def _facts_details(db):
    facts = _table_facts(db)
    return facts, {"tables": [f["table"] for f in facts], "table_facts": facts}


def analyze_preview(db):
    facts, details = _facts_details(db)
    unanalyzed = not all(f["analyzed"] for f in facts)
    return {"message": f"ANALYZE would refresh the statistics of {plural(len(facts), 'table')}"
                       + (" (some never gathered yet)" if unanalyzed else ""),
            "refusal": _ownership_refusal(facts, "ANALYZE"),
            "details": details | {"has_statistics": not unanalyzed}}


def vacuum_preview(db):
    facts, details = _facts_details(db)
    dead = sum(f["dead"] for f in facts)
    size = sum(f["bytes"] for f in facts)
    return {"message": f"VACUUM (ANALYZE) of {plural(len(facts), 'table')} ({human_bytes(size)}) "
                       f"would make ~{dead:,} dead row versions reusable and refresh the "
                       f"statistics; the application keeps reading and writing (VACUUM FULL, "
                       f"which locks the tables, is never run)",
            "refusal": _ownership_refusal(facts, "VACUUM"),
            "details": details | {"dead_rows": dead, "bytes": size}}


def _amcheck_state(db):
    """{installed, available, superuser, indexes}: whether `check` can use amcheck here."""
    with db.read() as conn:
        row = conn.execute(AMCHECK_SQL, (list(schema.COLUMNS),)).fetchone()
    return dict(zip(("installed", "available", "superuser", "indexes"), row))


def integrity_preview(db, quick):
    state = _amcheck_state(db)
    facts = _table_facts(db)
    refusal = None
    if not state["available"]:
        refusal = ("amcheck is not installed on the server (it ships with PostgreSQL: Debian's "
                   "postgresql package, elsewhere postgresql-contrib)")
    elif not state["installed"] and not state["superuser"]:
        refusal = ("amcheck is not installed in this database and only a superuser may create "
                   "it: CREATE EXTENSION amcheck")
    heap = "" if quick else " and every heap page (verify_heapam)"
    first = "" if state["installed"] else "CREATE EXTENSION amcheck first, then "
    size = sum(f["bytes"] for f in facts)
    return {"message": f"{first}amcheck would check "
                       f"{plural(state['indexes'], 'B-tree index', 'B-tree indexes')}"
                       f"{heap} of the tables ({human_bytes(size)}), compare the schema and "
                       f"count orphan rows; the data is not written",
            "refusal": refusal, "details": state | {"quick": quick, "bytes": size}}


# -------------------------------------------------------------------------- runs

@contextmanager
def _maintenance_connection(db):
    """An autocommit writer for VACUUM / ANALYZE: no statement time limit (neither blocks the
    application), the 5 s lock timeout kept (never queued behind a schema change for long)."""
    with db.write(autocommit=True) as conn:
        conn.execute("SET statement_timeout = 0")
        yield conn


def analyze(db, progress=None):
    """ANALYZE each of the four tables; {"tables": [...]}."""
    report = progress or (lambda fraction, message: None)
    facts = _table_facts(db)
    refusal = _ownership_refusal(facts, "ANALYZE")
    if refusal:
        raise errors.R2WError(refusal)
    done = []
    with _maintenance_connection(db) as conn:
        for i, fact in enumerate(facts):
            report(i / len(facts), f"ANALYZE {fact['table']}")
            conn.execute(_statement("ANALYZE {}", fact["table"]))
            done.append(fact["table"])
    report(1.0, f"statistics refreshed for {len(done)} tables")
    return {"tables": done}


def vacuum(db, progress=None):
    """VACUUM (ANALYZE) of each table. Returns {bytes_reclaimed, before, after, vacuum_seconds,
    dead_rows_before, tables} (bytes: what the tables shrank by, returned to the disk)."""
    report = progress or (lambda fraction, message: None)
    before = _table_facts(db)
    refusal = _ownership_refusal(before, "VACUUM")
    if refusal:
        raise errors.R2WError(refusal)
    started = time.perf_counter()
    with _maintenance_connection(db) as conn:
        for i, fact in enumerate(before):
            report(0.05 + 0.9 * i / len(before), f"VACUUM (ANALYZE) {fact['table']}")
            conn.execute(_statement("VACUUM (ANALYZE) {}", fact["table"]))
    seconds = time.perf_counter() - started
    after = _table_facts(db)
    size_before, size_after = sum(f["bytes"] for f in before), sum(f["bytes"] for f in after)
    reclaimed = max(0, size_before - size_after)
    dead = sum(f["dead"] for f in before)
    message = (f"VACUUM (ANALYZE) of {plural(len(before), 'table')} in {seconds:.1f} s: "
               f"~{dead:,} dead row versions made reusable, statistics refreshed, "
               f"{human_bytes(reclaimed)} returned to the disk")
    report(1.0, message)
    return {"message": message, "bytes_reclaimed": reclaimed, "before": before, "after": after,
            "vacuum_seconds": seconds, "dead_rows_before": dead,
            "tables": [f["table"] for f in before]}


def _statement(template, table):
    from psycopg import sql

    return sql.SQL(template).format(identifier(table))
