"""What every group of commands shares: the database of --db, JSON output, warning lines."""
import getpass
import json
import sys

from r2w_db import errors
from r2w_db.engine import locations
from r2w_db.backends import open_database


def database(args):
    """The database --db names (a configured name, a path or a postgresql:// URL), else
    DATABASE_URL, else the one configured database, else the embedded default: its engine's
    database object (backends.open_database). Refused when R2W_MONITOR_DB names the same file."""
    location = locations.resolve_db(getattr(args, "db", None))
    locations.refuse_monitor_in(location)
    return open_database(location)


def print_json(data):
    print(json.dumps(data, indent=2, default=str))


def warn(message):
    print(f"warning: {errors.one_line(message)}", file=sys.stderr)


def os_user():
    """Who runs the command: the OS login name ("cli" where there is none, as in containers)."""
    try:
        return getpass.getuser() or "cli"
    except Exception:  # no login name (some containers)
        return "cli"
