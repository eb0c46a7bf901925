"""What every group of commands shares: the database of --db, JSON output, warning lines."""
import json
import sys

from r2w_db import errors
from r2w_db.engine import locations
from r2w_db.backends import dispatch as backends


def database(args):
    """The database --db names (a configured name, a path or a postgresql:// URL), else
    DATABASE_URL, else the one configured database, else the embedded default: a Database, or
    a PgDatabase for PostgreSQL (the r2w_db functions dispatch on it)."""
    return backends.open_database(locations.resolve_db(getattr(args, "db", None)))


def print_json(data):
    print(json.dumps(data, indent=2, default=str))


def warn(message):
    print(f"warning: {errors.one_line(message)}", file=sys.stderr)
