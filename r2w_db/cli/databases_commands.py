"""`databases [--json]`: every configured database, reachable or not, with its health."""
import json

from r2w_db.engine import locations
from r2w_db.formatting import human_bytes


def cmd_databases(args):
    from r2w_db.figures import databases  # with the health checks and pandas: only when used

    choices = locations.dashboard_choices(getattr(args, "db", None))
    rows = databases.summaries(choices)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    for row in rows:
        if not row["reachable"]:
            print(f"{row['name']:<16} {row['location']}  unreachable: {row['error']}")
            continue
        print(f"{row['name']:<16} {row['location']}  schema v{row['schema_version']}, "
              f"{human_bytes(row['size_bytes'])}, health {row['status']}, "
              f"last snapshot {row['last_snapshot'] or 'never'}")
    return 0


def register(add):
    p = add("databases", cmd_databases,
            "list the configured databases: location, reachable, schema, size, health, snapshot")
    p.add_argument("--json", action="store_true", help="print a JSON list")
