"""`check`: schema drift, integrity and orphans, read-only; each engine examines its database
(backends/<engine>/check.py) and the report is shaped here."""
from r2w_db.backends import open_database
from r2w_db.engine import schema


def run_check(db, quick=False):
    """Everything `check` reports, as a dict. `ok` is False on damage or on a missing part of the
    documented schema; this project's own indexes (migrations 7-10) missing is a warning."""
    db = open_database(db)
    found = db.backend.check.examine(db, quick)
    drift, integrity, orphan_counts = found["drift"], found["integrity"], found["orphans"]
    documented = set(schema.DOCUMENTED_INDEXES)
    missing_indexes = [] if drift is None else drift.missing_indexes
    missing_documented = [n for n in missing_indexes if n in documented]
    missing_additions = [n for n in missing_indexes if n not in documented]
    missing = drift is not None and bool(drift.missing_tables or drift.missing_columns
                                         or missing_documented or found["wrong_types"])
    return {
        "database": found["database"],
        **found["labels"],
        "schema": (drift.as_dict() if drift else {"version": None, "ok": False})
        | {"missing_documented_indexes": missing_documented,
           "missing_additions": missing_additions} | found["schema_notes"],
        "pending_migrations": found["steps"],
        "integrity": integrity,
        "orphans": orphan_counts,
        "ok": integrity["ok"] is not False and drift is not None and not missing,
        "warnings": bool(drift and (drift.extra_columns or drift.extra_indexes
                                    or drift.extra_tables or missing_additions)
                         or any(orphan_counts.values()) or integrity["ok"] is None),
    }
