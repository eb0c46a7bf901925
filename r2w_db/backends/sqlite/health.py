"""Health on SQLite: the words of the application's checks that name what SQLite does.
figures/health.py builds every check once (the file's own checks included)."""


def wording():
    """{name: text} that health.application_checks puts into the checks."""
    return {
        "unparseable": "timestamps SQLite cannot read",
        "integrity_remedy": "Run an integrity check (PRAGMA integrity_check); it reads the whole "
                            "file.",
        "backup_remedy": "Take a verified online backup.",
        "migrate_remedy": "Migrate (one transaction, keeps every row; building indexes holds the "
                          "write lock: pick a quiet moment).",
    }
