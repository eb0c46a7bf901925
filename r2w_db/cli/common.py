"""What every group of commands shares: the database of --db, JSON output, warning lines."""
import json
import sys

from r2w_db import errors
from r2w_db.engine import locations
from r2w_db.engine.connection import Database


def database(args) -> Database:
    """The database --db names (a configured name or a path), else DATABASE_URL, else the one
    configured database, else the embedded default."""
    return Database(locations.resolve_db(getattr(args, "db", None)).path)


def print_json(data):
    print(json.dumps(data, indent=2, default=str))


def warn(message):
    print(f"warning: {errors.one_line(message)}", file=sys.stderr)
