"""The documented schema, this project's additions, and how a database differs from them.

The facts only (tables, columns, versions, indexes as data) and what follows from them; each
engine reads its structure and runs the migrations in backends/<engine>/schema.py.
"""
from dataclasses import dataclass, field

from r2w_db import errors

# The four tables exactly as the application creates them (docs/schema.md).
TABLES = {
    "users": """CREATE TABLE users (
    user_id TEXT PRIMARY KEY,
    email TEXT UNIQUE NOT NULL,
    password_hash TEXT NOT NULL,
    name TEXT,
    phone TEXT,
    date_of_birth TEXT,
    location TEXT,
    created_at TEXT NOT NULL,
    active_portfolio_id TEXT,
    active_portfolio_url TEXT,
    portfolio_created_at TEXT,
    portfolio_expires_at TEXT
)""",
    "sessions": """CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    FOREIGN KEY (user_id) REFERENCES users (user_id)
)""",
    "cv_uploads": """CREATE TABLE cv_uploads (
    upload_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    job_id TEXT UNIQUE NOT NULL,
    filename TEXT NOT NULL,
    file_type TEXT NOT NULL,
    upload_date TEXT NOT NULL,
    cv_data TEXT,
    status TEXT DEFAULT 'processing',
    file_hash TEXT,
    FOREIGN KEY (user_id) REFERENCES users (user_id)
)""",
    "cv_extraction_cache": """CREATE TABLE cv_extraction_cache (
    file_hash TEXT PRIMARY KEY,
    cv_data TEXT NOT NULL,
    extraction_model TEXT NOT NULL,
    temperature REAL NOT NULL,
    created_at TEXT NOT NULL,
    confidence_score REAL,
    access_count INTEGER DEFAULT 1,
    last_accessed TEXT NOT NULL
)""",
}

COLUMNS = {
    "users": ["user_id", "email", "password_hash", "name", "phone", "date_of_birth", "location",
              "created_at", "active_portfolio_id", "active_portfolio_url",
              "portfolio_created_at", "portfolio_expires_at"],
    "sessions": ["session_id", "user_id", "created_at"],
    "cv_uploads": ["upload_id", "user_id", "job_id", "filename", "file_type", "upload_date",
                   "cv_data", "status", "file_hash"],
    "cv_extraction_cache": ["file_hash", "cv_data", "extraction_model", "temperature",
                            "created_at", "confidence_score", "access_count", "last_accessed"],
}


@dataclass(frozen=True)
class AddColumn:
    table: str
    column: str
    decl: str = "TEXT"

    def describe(self):
        return f"add column {self.table}.{self.column}"

    def sql(self):
        return f"ALTER TABLE {self.table} ADD COLUMN {self.column} {self.decl}"


@dataclass(frozen=True)
class CreateIndex:
    name: str
    table: str
    columns: tuple
    where: str = ""  # a partial index: only the rows matching this (SQL of this module)

    def describe(self):
        partial = " (partial)" if self.where else ""
        return f"create index {self.name} on {self.table}({', '.join(self.columns)}){partial}"

    def sql(self):
        partial = f" WHERE {self.where}" if self.where else ""
        return (f"CREATE INDEX IF NOT EXISTS {self.name} ON {self.table}({', '.join(self.columns)})"
                + partial)


# The stored form of a timestamp, 'YYYY-MM-DDTHH:MM:SS.ffffff', with every field in a range
# SQLite's date functions accept (years 1000-2999, months 01-12, days 01-31, hours 00-23).
CANONICAL_TIME_SHAPE = ("[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]"
                        ".[0-9][0-9][0-9][0-9][0-9][0-9]")


def time_is_odd(column):
    """SQL: the timestamp is not in the canonical stored form (NULL included).

    A canonical timestamp always parses, so every timestamp that does not (the data-quality
    count) is odd: a partial index of the odd rows holds them all, and is empty when the
    application writes only what it should. Deterministic (GLOB, substr), unlike julianday(),
    which SQLite refuses in an index whenever a row holds 'now'.
    """
    return (f"NOT coalesce(({column} GLOB '{CANONICAL_TIME_SHAPE}'"
            f" AND substr({column}, 6, 2) BETWEEN '01' AND '12'"
            f" AND substr({column}, 9, 2) BETWEEN '01' AND '31'"
            f" AND substr({column}, 12, 2) <= '23'), 0)")


# A valid confidence score, on both engines (NULL, NaN, text and blobs are not).
VALID_SCORE = "confidence_score BETWEEN 0 AND 1"


def valid_score_filter(false="0"):
    """VALID_SCORE as a filter of a window's rows: the same rows (`false`: the engine's false),
    in a form no index of scores can serve (so migration 10's partial index is left to the
    lowest scores, and sums keep their order)."""
    return f"coalesce({VALID_SCORE}, {false})"


@dataclass(frozen=True)
class Migration:
    version: int
    title: str
    steps: tuple = field(default_factory=tuple)
    documented: bool = True  # False: an addition of this project, not in the application's schema


# The documented history (1-6), then this project's indexes (7-10).
def foreign_status_ranges(statuses, column="status"):
    """SQL conditions, one per gap between the application's statuses (below the first,
    between two, above the last), that together hold exactly the non-NULL values `NOT IN
    statuses` (given lowercase words: they sort alike under SQLite's BINARY and every
    deterministic PostgreSQL collation). Each is a range of an index on `column`, so counting
    the foreign statuses reads the foreign rows, normally none, not every row."""
    bounds = sorted(statuses)
    return [" AND ".join(([f"{column} > '{low}'"] if low else [])
                         + ([f"{column} < '{high}'"] if high else []))
            for low, high in zip([None, *bounds], [*bounds, None])]


MIGRATIONS = (
    Migration(1, "users.name", (AddColumn("users", "name"),)),
    Migration(2, "users.phone", (AddColumn("users", "phone"),)),
    Migration(3, "users.date_of_birth", (AddColumn("users", "date_of_birth"),)),
    Migration(4, "users.location", (AddColumn("users", "location"),)),
    Migration(5, "portfolio persistence columns", tuple(
        AddColumn("users", c) for c in ("active_portfolio_id", "active_portfolio_url",
                                        "portfolio_created_at", "portfolio_expires_at"))),
    Migration(6, "cv_uploads.file_hash and the documented indexes", (
        AddColumn("cv_uploads", "file_hash"),
        CreateIndex("idx_cv_uploads_file_hash", "cv_uploads", ("file_hash",)),
        CreateIndex("idx_cv_uploads_user_id", "cv_uploads", ("user_id",)),
        CreateIndex("idx_extraction_cache_created", "cv_extraction_cache", ("created_at",)),
    )),
    Migration(7, "index for session cleanup and active-session counts", (
        CreateIndex("idx_sessions_created_at", "sessions", ("created_at",)),
    ), documented=False),
    Migration(8, "covering indexes for the dashboard's aggregates", (
        CreateIndex("idx_cv_uploads_status_date", "cv_uploads", ("status", "upload_date")),
        CreateIndex("idx_cv_uploads_date_cover", "cv_uploads",
                    ("upload_date", "status", "file_type", "file_hash")),
        CreateIndex("idx_cv_uploads_user_date", "cv_uploads", ("user_id", "upload_date")),
        CreateIndex("idx_extraction_cache_hash_created", "cv_extraction_cache",
                    ("file_hash", "created_at")),
        CreateIndex("idx_extraction_cache_cover", "cv_extraction_cache",
                    ("created_at", "access_count", "confidence_score", "extraction_model")),
    ), documented=False),
    # The figures of `stats` over a production-sized file (bench/RESULTS.md): the cache hit
    # test walks the cache in file_hash order and finds each file's uploads in a covering
    # index (no upload row, no cv_data overflow page is read); the data-quality counts read
    # the partial indexes of odd timestamps (normally empty) instead of parsing every row;
    # (created_at, user_id) covers sign-ups in a window.
    Migration(9, "indexes for the cache hit rate, data quality and sign-ups", (
        CreateIndex("idx_cv_uploads_hash_date", "cv_uploads", ("file_hash", "upload_date")),
        CreateIndex("idx_users_created_user", "users", ("created_at", "user_id")),
        CreateIndex("idx_users_odd_time", "users", ("created_at",),
                    where=time_is_odd("created_at")),
        CreateIndex("idx_sessions_odd_time", "sessions", ("created_at",),
                    where=time_is_odd("created_at")),
        CreateIndex("idx_cv_uploads_odd_time", "cv_uploads", ("upload_date",),
                    where=time_is_odd("upload_date")),
        CreateIndex("idx_extraction_cache_odd_time", "cv_extraction_cache", ("created_at",),
                    where=time_is_odd("created_at")),
    ), documented=False),
    # The Confidence page's lowest scores: a walk of the valid scores in order (the window's
    # created_at checked on the index itself) that stops after the first few, not a sort of
    # every valid score of the window. Partial: only a statement whose WHERE states VALID_SCORE
    # as it is can use it (the lowest scores'); the windowed aggregates filter on
    # valid_score_filter() and keep reading their created_at range, in the same order as ever.
    Migration(10, "index for the lowest confidence scores", (
        CreateIndex("idx_extraction_cache_score", "cv_extraction_cache",
                    ("confidence_score", "created_at"), where=VALID_SCORE),
    ), documented=False),
)

CURRENT_VERSION = MIGRATIONS[-1].version

INDEXES = {s.name: s for m in MIGRATIONS for s in m.steps if isinstance(s, CreateIndex)}
DOCUMENTED_INDEXES = [s.name for m in MIGRATIONS if m.documented
                      for s in m.steps if isinstance(s, CreateIndex)]


# The timestamp columns whose unreadable values `stats` counts (data_quality).
QUALITY_COLUMNS = {"users.created_at": ("users", "created_at"),
                   "sessions.created_at": ("sessions", "created_at"),
                   "cv_uploads.upload_date": ("cv_uploads", "upload_date"),
                   "cv_extraction_cache.created_at": ("cv_extraction_cache", "created_at")}


def missing_from(columns):
    """Tables and columns of the documented schema absent from {table: [column]} (the tables
    present), table by table."""
    missing = []
    for table, cols in COLUMNS.items():
        if table not in columns:
            missing.append(table)
            continue
        have = set(columns[table])
        missing += [f"{table}.{c}" for c in cols if c not in have]
    return missing


def refuse_incomplete(missing, where):
    """Raise EmptyDatabase (no documented table) or SchemaTooOld (some part missing)."""
    if not missing:
        return
    if all(t in missing for t in COLUMNS):
        raise errors.EmptyDatabase(where)
    raise errors.SchemaTooOld(where, missing)


def require_schema(conn, db):
    """EmptyDatabase or SchemaTooOld unless every documented table and column is present
    (the engine's check: db.backend.schema.require_schema)."""
    return db.backend.schema.require_schema(conn, db)


def reached_version(has_column, has_index):
    """The highest version whose every step is present (0 before the first), given
    has_column(table, column) and has_index(name)."""
    reached = 0
    for migration in MIGRATIONS:
        for step in migration.steps:
            present = (has_column(step.table, step.column) if isinstance(step, AddColumn)
                       else has_index(step.name))
            if not present:
                return reached
        reached = migration.version
    return reached


@dataclass
class Drift:
    """How a database differs from the current schema (documented + this project's indexes)."""

    missing_tables: list
    missing_columns: list
    extra_columns: list
    missing_indexes: list
    extra_indexes: list
    extra_tables: list
    version: int

    @property
    def ok(self):
        return not (self.missing_tables or self.missing_columns or self.extra_columns
                    or self.missing_indexes or self.extra_indexes or self.extra_tables)

    def as_dict(self):
        return {k: getattr(self, k) for k in (
            "missing_tables", "missing_columns", "extra_columns", "missing_indexes",
            "extra_indexes", "extra_tables", "version")} | {"ok": self.ok}


def drift_of(tables, columns, indexes, built, version, expected=None):
    """Drift from what an engine read: the tables present, {table: [column]} of the documented
    ones present, every index name, the indexes built (usable), the version; `expected`: the
    indexes this engine should have (all of INDEXES by default)."""
    expected = INDEXES if expected is None else expected
    missing_columns, extra_columns = [], []
    for table, cols in COLUMNS.items():
        if table in columns:
            missing_columns += [f"{table}.{c}" for c in cols if c not in columns[table]]
            extra_columns += [f"{table}.{c}" for c in columns[table] if c not in cols]
    return Drift(
        missing_tables=[t for t in COLUMNS if t not in tables],
        missing_columns=missing_columns, extra_columns=extra_columns,
        missing_indexes=[n for n in expected if n not in built],
        extra_indexes=sorted(n for n in indexes if n not in expected),
        extra_tables=sorted(t for t in tables if t not in COLUMNS),
        version=version)
