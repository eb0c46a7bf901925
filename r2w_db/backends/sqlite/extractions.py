"""CV uploads and the extraction cache on SQLite: the statements of app/uploads.py and
app/cache.py (which validate and shape). Newest first is by instant (julianday), then by the
stored text and rowid, so an odd timestamp still sorts somewhere stable."""
from r2w_db import config
from r2w_db.backends.sqlite.accounts import user_exists
from r2w_db.backends.sqlite.ops import instant
from r2w_db.backends.sqlite.predicates import valid_access_count
from r2w_db.engine import schema

NEWEST_FIRST = "julianday(upload_date) DESC, upload_date DESC, rowid DESC"
CHUNK = 500  # ids per IN (...) query, well under SQLite's variable limit
CV_COLUMNS = schema.COLUMNS["cv_uploads"]


# ----------------------------------------------------------------------- uploads

def job_exists(conn, job_id) -> bool:
    return conn.execute("SELECT 1 FROM cv_uploads WHERE job_id = ?", (job_id,)).fetchone() is not None


def insert_upload(conn, upload_id, user_id, job_id, filename, file_type, file_hash, now):
    """A new upload in status 'processing'."""
    conn.execute(
        "INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
        " upload_date, status, file_hash) VALUES (?, ?, ?, ?, ?, ?, 'processing', ?)",
        (upload_id, user_id, job_id, filename, file_type, instant(now), file_hash),
    )


def uploads_of_user(conn, user_id) -> list:
    """The user's uploads as stored (dicts), newest first."""
    return [dict(row) for row in conn.execute(
        f"SELECT * FROM cv_uploads WHERE user_id = ? ORDER BY {NEWEST_FIRST}", (user_id,))]


def uploads_of_users(conn, user_ids) -> list:
    """The uploads of every id (dicts, by user_id, each user's newest first), one IN query per
    CHUNK ids."""
    found = []
    for start in range(0, len(user_ids), CHUNK):
        chunk = list(user_ids[start:start + CHUNK])
        marks = ", ".join("?" * len(chunk))
        found.extend(dict(row) for row in conn.execute(
            f"SELECT * FROM cv_uploads WHERE user_id IN ({marks})"
            f" ORDER BY user_id, {NEWEST_FIRST}", chunk))
    return found


def user_with_uploads(conn, user_id):
    """(the users row as a dict, its uploads newest first) in one LEFT JOIN; (None, [])
    without such a user."""
    cv_cols = ", ".join(f"c.{col} AS cv__{col}" for col in CV_COLUMNS)
    rows = conn.execute(
        f"SELECT u.*, c.rowid AS cv__rowid, {cv_cols} FROM users u"
        " LEFT JOIN cv_uploads c ON u.user_id = c.user_id WHERE u.user_id = ?"
        " ORDER BY julianday(c.upload_date) DESC, c.upload_date DESC, c.rowid DESC",
        (user_id,)).fetchall()
    if not rows:
        return None, []
    user = {k: rows[0][k] for k in rows[0].keys() if not k.startswith("cv__")}
    return user, [{col: row[f"cv__{col}"] for col in CV_COLUMNS}
                  for row in rows if row["cv__rowid"] is not None]


def set_status(conn, job_id, status, cv_data) -> bool:
    """Set the status (and cv_data, a JSON text, unless None); True when the job exists."""
    if cv_data is None:
        sql, params = "UPDATE cv_uploads SET status = ? WHERE job_id = ?", (status, job_id)
    else:
        sql = "UPDATE cv_uploads SET status = ?, cv_data = ? WHERE job_id = ?"
        params = (status, cv_data, job_id)
    return conn.execute(sql, params).rowcount > 0


def upload_owner(conn, job_id):
    """(user_id,) of the upload, or None without one (the write lock holds it)."""
    row = conn.execute("SELECT user_id FROM cv_uploads WHERE job_id = ?", (job_id,)).fetchone()
    return tuple(row) if row is not None else None


def lock_user(conn, user_id) -> bool:
    """The user exists (the write lock holds it for the transaction)."""
    return user_exists(conn, user_id)


def transfer(conn, job_id, owner, new_user_id):
    conn.execute("UPDATE cv_uploads SET user_id = ? WHERE job_id = ? AND user_id = ?",
                 (new_user_id, job_id, owner))


# ------------------------------------------------------------------------- cache

def _counted():
    """The access_count after a hit. One more for a count (never past MAX_ACCESS_COUNT), 1
    for NULL, anything else left as it is: an odd value never makes the read overflow."""
    return (f"CASE WHEN access_count IS NULL THEN 1 WHEN {valid_access_count()}"
            f" AND access_count < {config.MAX_ACCESS_COUNT} THEN access_count + 1"
            " ELSE access_count END")


def count_cache_hit(conn, file_hash, now) -> list:
    """Count an access of the entry and read it, in one statement: its cv_data ([] without
    the entry)."""
    return [row[0] for row in conn.execute(
        f"UPDATE cv_extraction_cache SET access_count = {_counted()},"
        " last_accessed = ? WHERE file_hash = ? RETURNING cv_data",
        (instant(now), file_hash),
    ).fetchall()]


def upsert_cache_entry(conn, file_hash, cv_data, model, temperature, confidence, now):
    """Write the entry; a re-cache keeps its created_at and access_count."""
    conn.execute(
        "INSERT INTO cv_extraction_cache (file_hash, cv_data, extraction_model,"
        " temperature, created_at, confidence_score, access_count, last_accessed)"
        " VALUES (?, ?, ?, ?, ?, ?, 1, ?)"
        " ON CONFLICT (file_hash) DO UPDATE SET cv_data = excluded.cv_data,"
        " extraction_model = excluded.extraction_model,"
        " temperature = excluded.temperature,"
        " confidence_score = excluded.confidence_score,"
        " last_accessed = excluded.last_accessed",
        (file_hash, cv_data, model, temperature, instant(now), confidence, instant(now)),
    )
