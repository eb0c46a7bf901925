"""The health checks' keys, per engine: what a silence may name (figures/health.py runs the
checks; tests/test_silences.py holds the two lists equal)."""

APPLICATION = ("stuck", "sessions", "cache_cleanup", "below_threshold", "anonymous",
               "unparseable", "foreign_values", "schema", "integrity", "backup")
FILE = ("wal", "free_pages", "analyze")   # where the engine keeps the database in one file
STATEMENTS = ("statement_slowdown",)      # where the engine keeps statement statistics


def keys_for(backend):
    """Every check key a database of this engine reports, in the checks' order."""
    keys = APPLICATION + (FILE if backend.features.file else ())
    if backend.features.server_stats:
        keys += tuple(backend.server_checks.KEYS)
    if backend.supports("statements"):
        keys += STATEMENTS
    return keys
