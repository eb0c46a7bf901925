"""The maintenance tasks on PostgreSQL: previews, ANALYZE, VACUUM (ANALYZE); no checkpoint.

registry.preview and sqlite_tasks' analyze / checkpoint / vacuum dispatch here for a
PgDatabase; runner.run logs, reports progress and refuses exactly as on SQLite.
- sessions, cache, anonymous: registry.cleanup_preview, whose counts dispatch to
  app/pg_retention.py (short committed batches there).
- analyze: ANALYZE of each table (a sample; it takes a lock that blocks only schema changes
  and other VACUUM/ANALYZE runs).
- vacuum: VACUUM (ANALYZE) of each table, outside any transaction: dead row versions become
  reusable and the statistics are refreshed; the application reads and writes throughout.
  VACUUM FULL, which would lock the tables, is never run.
- checkpoint: not applicable: the server checkpoints its WAL itself; the preview says so and
  a run is refused, never executed.
- integrity: amcheck (figures/pg_check.py, through check.run_check); the preview refuses when
  the extension cannot be had, so a run never passes for a check that did not happen.
- backup: pg_backups.py (pg_dump -Fc, verified by a restore).
Both VACUUM and ANALYZE need the table owner on PostgreSQL 15 (or the database owner, or a
superuser); otherwise PostgreSQL would skip the table with a mere warning, so the preview
refuses instead.
"""
import time
from contextlib import contextmanager
from dataclasses import replace

from r2w_db import errors
from r2w_db.engine import schema
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.database import as_pg
from r2w_db.formatting import human_bytes, plural
from r2w_db.backends.postgresql import backups as pg_backups
from r2w_db.maintenance.backups import DEFAULT_KEEP
from r2w_db.maintenance.registry import CLEANUPS, Preview, check_days, cleanup_preview, get_task

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


class NotApplicable(errors.R2WError):
    """A task that has no meaning on PostgreSQL (the WAL checkpoint)."""


def table_facts(db):
    """[{table, bytes, live, dead, analyzed, owned}] of the four tables present."""
    with as_pg(db).read() as conn:
        rows = conn.execute(TABLES_SQL, (list(schema.COLUMNS),)).fetchall()
    if not rows:
        raise errors.EmptyDatabase(as_pg(db).display)
    keys = ("table", "bytes", "live", "dead", "analyzed", "owned")
    return [dict(zip(keys, row)) for row in rows]


def _ownership_refusal(facts, what):
    foreign = [f["table"] for f in facts if not f["owned"]]
    if not foreign:
        return None
    return (f"{what} needs the owner of {', '.join(foreign)} (or the database owner, or a "
            f"superuser) on PostgreSQL 15: run it as that role")


# ------------------------------------------------------------------ descriptions

ON_POSTGRESQL = {
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


def task_for(db, name):
    """registry.task_for on PostgreSQL: the same task, described as it runs here."""
    task = get_task(name)
    if task.name not in ON_POSTGRESQL:
        return task
    what, when = ON_POSTGRESQL[task.name]
    return replace(task, what=what, when=when)


# ----------------------------------------------------------------------- preview

def preview(db, task, *, days=None, quick=False, dest=None, keep=DEFAULT_KEEP,
            signed_out=True) -> Preview:
    """registry.preview on PostgreSQL: what a run would do now; only reads."""
    db = as_pg(db)
    spec = get_task(task)
    days = check_days(spec, days)
    name = spec.name
    if name in CLEANUPS:
        return cleanup_preview(db, name, days, signed_out)
    if name == "checkpoint":
        return Preview(name, None, None, f"WAL checkpoint: {NO_CHECKPOINT}", refusal=NO_CHECKPOINT,
                       details={"applicable": False})
    if name == "backup":
        return _backup_preview(db, dest, keep)
    if name == "integrity":
        return _integrity_preview(db, quick)
    facts = table_facts(db)
    details = {"tables": [f["table"] for f in facts], "table_facts": facts}
    if name == "analyze":
        unanalyzed = not all(f["analyzed"] for f in facts)
        return Preview(name, None, None,
                       f"ANALYZE would refresh the statistics of {plural(len(facts), 'table')}"
                       + (" (some never gathered yet)" if unanalyzed else ""),
                       refusal=_ownership_refusal(facts, "ANALYZE"),
                       details=details | {"has_statistics": not unanalyzed})
    if name == "vacuum":
        dead = sum(f["dead"] for f in facts)
        size = sum(f["bytes"] for f in facts)
        return Preview(name, None, None,
                       f"VACUUM (ANALYZE) of {plural(len(facts), 'table')} "
                       f"({human_bytes(size)}) would make ~{dead:,} dead row versions reusable "
                       f"and refresh the statistics; the application keeps reading and writing "
                       f"(VACUUM FULL, which locks the tables, is never run)",
                       refusal=_ownership_refusal(facts, "VACUUM"),
                       details=details | {"dead_rows": dead, "bytes": size})
    raise AssertionError(name)


def _backup_preview(db, dest, keep):
    info = pg_backups.preview(db, dest, keep)
    return Preview("backup", None, info["needed_bytes"],
                   f"up to {human_bytes(info['needed_bytes'])} would be dumped (pg_dump -Fc) to "
                   f"{info['dest']} and verified by restoring it into a scratch database; the "
                   f"newest {keep} backups are kept"
                   + (f" ({plural(info['would_rotate'], 'old backup')} removed)"
                      if info["would_rotate"] else ""),
                   refusal=info["refusal"], details=info)


def amcheck_state(db):
    """{installed, available, superuser, indexes}: whether `check` can use amcheck here."""
    with as_pg(db).read() as conn:
        row = conn.execute(AMCHECK_SQL, (list(schema.COLUMNS),)).fetchone()
    return dict(zip(("installed", "available", "superuser", "indexes"), row))


def _integrity_preview(db, quick):
    state = amcheck_state(db)
    facts = table_facts(db)
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
    return Preview("integrity", None, None,
                   f"{first}amcheck would check "
                   f"{plural(state['indexes'], 'B-tree index', 'B-tree indexes')}"
                   f"{heap} of the tables ({human_bytes(size)}), compare the schema and count "
                   f"orphan rows; the data is not written",
                   refusal=refusal, details=state | {"quick": quick, "bytes": size})


# -------------------------------------------------------------------------- runs

@contextmanager
def _maintenance_connection(db):
    """An autocommit writer for VACUUM / ANALYZE: no statement time limit (neither blocks the
    application), the 5 s lock timeout kept (never queued behind a schema change for long)."""
    with as_pg(db).write(autocommit=True) as conn:
        conn.execute("SET statement_timeout = 0")
        yield conn


def analyze(db, progress=None):
    """ANALYZE each of the four tables; {"tables": [...]}."""
    report = progress or (lambda fraction, message: None)
    facts = table_facts(db)
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
    before = table_facts(db)
    refusal = _ownership_refusal(before, "VACUUM")
    if refusal:
        raise errors.R2WError(refusal)
    started = time.perf_counter()
    with _maintenance_connection(db) as conn:
        for i, fact in enumerate(before):
            report(0.05 + 0.9 * i / len(before), f"VACUUM (ANALYZE) {fact['table']}")
            conn.execute(_statement("VACUUM (ANALYZE) {}", fact["table"]))
    seconds = time.perf_counter() - started
    after = table_facts(db)
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


def checkpoint(db, wait_ms=None, progress=None):
    """There is no WAL checkpoint task on PostgreSQL."""
    raise NotApplicable(f"checkpoint: {NO_CHECKPOINT}")


def _statement(template, table):
    from psycopg import sql

    return sql.SQL(template).format(identifier(table))
