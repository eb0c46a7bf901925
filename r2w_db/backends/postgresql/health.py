"""Health on PostgreSQL: the words of the application's checks where SQLite's would mislead.
figures/health.py builds every check once; PostgreSQL's own checks are server_checks.py's, and
the SQLite file's checks (WAL size, free pages, sqlite_stat1) are left out: there is no file."""


def wording():
    """{name: text} that health.application_checks puts into the checks."""
    return {
        "unparseable": "timestamps that are not instants (NULL or infinite)",
        "integrity_remedy": "Run an integrity check (amcheck on every index and table).",
        "backup_remedy": "Take a verified backup (pg_dump -Fc, restored into a scratch database "
                         "and compared).",
        "migrate_remedy": "Migrate: tables and columns in one short transaction, then each index "
                          "with CREATE INDEX CONCURRENTLY (the application keeps reading and "
                          "writing).",
    }
