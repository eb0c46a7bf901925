"""r2w_db: the Resume2Website database: schema, migrations, data operations, figures and maintenance.

Imports no Streamlit. Every function takes the database (a Database or a path) first.
"""
from .connection import Database, as_database
from .errors import (R2WError, DatabaseMissing, NotADatabase, EmptyDatabase, SchemaTooOld,
                     SchemaTooNew, DatabaseLocked, DatabaseReadOnly, DiskFull, Unreadable,
                     DuplicateEmail, InvalidValue)
from .migrations import init, migrate
