"""A database written the way the production application writes it, with known figures.

Old schema first (users without the later columns, cv_uploads without file_hash,
no cache table, no user_version, rollback journal), rows written then, then the
application's own try/except ALTER migrations, then newer rows: anonymous owners
without users rows, naive UTC timestamps plus a few written with 'Z', '+02:00'
or a space, a 'queued' status, a NULL confidence, an entry below today's threshold.

As the real application writes them: file_type is the file's extension ('.pdf', with the
dot, lower case), and an anonymous upload waiting for extraction has the status 'uploaded'
(the application's fourth status; up2, 40 days old: stale, and never stuck).
"""
import sqlite3
from datetime import timedelta

from r2w_db.engine import timeutil

OLD_SCHEMA = """
CREATE TABLE users (user_id TEXT PRIMARY KEY, email TEXT UNIQUE NOT NULL,
                    password_hash TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE sessions (session_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at TEXT NOT NULL,
                       FOREIGN KEY (user_id) REFERENCES users (user_id));
CREATE TABLE cv_uploads (upload_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, job_id TEXT UNIQUE NOT NULL,
                         filename TEXT NOT NULL, file_type TEXT NOT NULL, upload_date TEXT NOT NULL,
                         cv_data TEXT, status TEXT DEFAULT 'processing',
                         FOREIGN KEY (user_id) REFERENCES users (user_id));
CREATE INDEX idx_cv_uploads_user_id ON cv_uploads(user_id);
"""

APP_ALTERS = [
    "ALTER TABLE users ADD COLUMN name TEXT",
    "ALTER TABLE users ADD COLUMN phone TEXT",
    "ALTER TABLE users ADD COLUMN date_of_birth TEXT",
    "ALTER TABLE users ADD COLUMN location TEXT",
    "ALTER TABLE users ADD COLUMN active_portfolio_id TEXT",
    "ALTER TABLE users ADD COLUMN active_portfolio_url TEXT",
    "ALTER TABLE users ADD COLUMN portfolio_created_at TEXT",
    "ALTER TABLE users ADD COLUMN portfolio_expires_at TEXT",
    "ALTER TABLE cv_uploads ADD COLUMN file_hash TEXT",
]

CACHE_TABLE = """
CREATE TABLE IF NOT EXISTS cv_extraction_cache (
    file_hash TEXT PRIMARY KEY, cv_data TEXT NOT NULL, extraction_model TEXT NOT NULL,
    temperature REAL NOT NULL, created_at TEXT NOT NULL, confidence_score REAL,
    access_count INTEGER DEFAULT 1, last_accessed TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_cv_uploads_file_hash ON cv_uploads(file_hash);
CREATE INDEX IF NOT EXISTS idx_extraction_cache_created ON cv_extraction_cache(created_at);
"""

SECRETS = {
    "password_hash": "$2b$12$KnownHashForPrivacyTestsXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "session_id": "sess-secret-0f6c2f4e-bearer-token",
    "email": "jane.secret@example.org",
    "cv_data": '{"name": "Jane Secret", "summary": "CONFIDENTIAL-CV-TEXT"}',
}


def iso(t):
    return timeutil.iso(t)


def space(t):
    return t.strftime("%Y-%m-%d %H:%M:%S")


def zulu(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def plus_two(t):
    return (t + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")


def build_prodlike(path, now=None, *, migrated_by_app=True):
    """Write the database at `path`; return (now, expected figures of `stats`)."""
    now = now or timeutil.utcnow()
    ago = lambda **kw: now - timedelta(**kw)  # noqa: E731
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA)
    # --- rows written by the old application -----------------------------------
    conn.executemany("INSERT INTO users VALUES (?,?,?,?)", [
        ("u1", "ann@example.com", "$2b$12$hashhashhashhashhashhu1", iso(ago(days=80))),
        ("u2", SECRETS["email"], SECRETS["password_hash"], iso(ago(days=70))),
    ])
    conn.executemany("INSERT INTO cv_uploads VALUES (?,?,?,?,?,?,?,?)", [
        ("up1", "u1", "job1", "ann.pdf", ".pdf", iso(ago(days=60)), SECRETS["cv_data"], "completed"),
        ("up2", "anonymous_aaa", "job2", "cv.docx", ".docx", iso(ago(days=40)), None, "uploaded"),
    ])
    conn.commit()
    if not migrated_by_app:
        conn.close()
        return now, None
    # --- the application's own migrations, as it runs them ------------------
    for statement in APP_ALTERS:
        try:
            conn.execute(statement)
            conn.commit()
        except sqlite3.OperationalError:
            pass
    conn.executescript(CACHE_TABLE)
    # --- rows written by the current application ------------------------------
    conn.executemany(
        "INSERT INTO users (user_id, email, password_hash, name, created_at) VALUES (?,?,?,?,?)", [
            ("u3", "carl@example.com", "$2b$12$hashhashhashhashhashhu3", "Carl", iso(ago(days=30))),
            ("Anonymous_Cap", "cap@example.com", "$2b$12$hashcap", "Case trap", iso(ago(days=55))),
            ("anonymousXy", "xy@example.com", "$2b$12$hashxy", "Wildcard trap", iso(ago(days=20))),
        ])
    conn.executemany("INSERT INTO sessions VALUES (?,?,?)", [
        ("s1", "u1", iso(ago(days=1))),                       # active
        ("s2", "u1", iso(ago(days=8))),                       # expired
        ("s3", "u2", zulu(ago(days=6, hours=23))),            # active, Z suffix
        ("s4", "u2", space(ago(days=6, hours=23))),           # active, space: a string compare says expired
        ("s5", "u3", plus_two(ago(days=7, minutes=30))),      # expired, +02:00: a string compare says active
        ("s6", "u3", "yesterday"),                            # unparseable
        (SECRETS["session_id"], "u2", iso(ago(days=2))),      # active
    ])
    h = lambda n: f"{n:064x}"  # noqa: E731
    conn.executemany(
        "INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, upload_date, cv_data,"
        " status, file_hash) VALUES (?,?,?,?,?,?,?,?,?)", [
            ("up3", "u1", "job3", "ann2.pdf", ".pdf", iso(ago(days=20)), "{}", "completed", h(1)),
            ("up4", "u2", "job4", "b.pdf", ".pdf", iso(ago(days=10)), "{}", "completed", h(1)),
            ("up5", "anonymous_bbb", "job5", "c.pdf", ".pdf", space(ago(days=4)), "{}", "completed", h(2)),
            ("up6", "anonymous_bbb", "job6", "c2.pdf", ".pdf", iso(ago(hours=2)), None, "failed", h(3)),
            ("up7", "u3", "job7", "d.txt", ".txt", iso(ago(hours=3)), None, "queued", h(4)),
            ("up8", "u2", "job8", "e.pdf", ".pdf", iso(ago(minutes=30)), None, "processing", h(5)),
            ("up9", "u3", "job9", "f.pdf", ".pdf", iso(ago(hours=2)), None, "processing", None),
            ("up10", "Anonymous_Cap", "job10", "g.pdf", ".pdf", iso(ago(days=50, hours=1)), "{}",
             "completed", h(6)),
        ])
    conn.executemany("INSERT INTO cv_extraction_cache VALUES (?,?,?,?,?,?,?,?)", [
        (h(1), "{}", "claude-3-opus", 0.0, iso(ago(days=20) + timedelta(seconds=5)), 0.9, 2, iso(ago(days=10))),
        # created 1 s before up5 was uploaded; 'T' sorts after ' ' so a string compare misses the hit
        (h(2), "{}", "claude-3-opus", 0.0, zulu(ago(days=4, seconds=1)), 0.8, 2, iso(ago(days=4))),
        (h(4), "{}", "claude-3-haiku", 0.0, iso(ago(hours=1)), None, 1, iso(ago(hours=1))),
        (h(6), "{}", "claude-3-haiku", 0.0, iso(ago(days=50)), 0.65, 1, iso(ago(days=50))),
        (h(7), "{}", "claude-3-opus", 0.0, iso(ago(days=70)), 0.72, 3, iso(ago(days=33))),
    ])
    conn.commit()
    conn.close()
    expected = {
        "users": {"registered": 5, "anonymous": 2},
        "sessions": {"active": 4, "expired": 2},
        "uploads": {"total": 10, "processing": 2, "completed": 5, "failed": 1, "uploaded": 1,
                    "other": 1, "stuck": 1},
        "cache": {"cached_extractions": 5,
                  "average_confidence_score": round((0.9 + 0.8 + 0.65 + 0.72) / 4, 12),
                  "total_cache_accesses": 9, "low_confidence_extractions": 1,
                  "cache_hit_rate": 2 / 7, "uploads_with_hash": 7, "cache_hits": 2,
                  "below_caching_threshold": 2, "invalid_confidence": 1, "invalid_access_count": 0},
    }
    return now, expected
