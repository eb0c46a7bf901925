"""The backends: one package per engine, the only place that knows engines apart.

`open_database(location)` turns a resolved location (a DbLocation, a path, a postgresql:// URL,
or a database object, returned as it is) into that engine's database object; everything below
the edge takes that object and asks `db.backend` for what differs (docs/architecture.md).
"""
from r2w_db.backends.dispatch import open_database  # noqa: F401
