"""The demo history: counts as reported, deterministic, and every documented situation present."""
import json
import re
import uuid
from datetime import datetime, timedelta

import bcrypt
import pytest

from r2w_db import config, errors
from r2w_db.demo import builder
from r2w_db.engine import schema, timeutil
from r2w_db.backends import migrations
from r2w_db.backends.sqlite import schema as sqlite_schema
from r2w_db.backends.sqlite.database import Database

NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
TABLES = {"users": "user_id", "sessions": "session_id", "cv_uploads": "upload_id",
          "cv_extraction_cache": "file_hash"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    calls = []
    summary = builder.build_demo(path, scale="small", seed=0, now=NOW,
                              progress=lambda f, m: calls.append((f, m)))
    return path, summary, calls


@pytest.fixture
def conn(built):
    with Database(built[0]).read() as c:
        yield c


def one(conn, sql, *params):
    return conn.execute(sql, params).fetchone()[0]


def dump(path):
    with Database(path).read() as c:
        tables = {t: [tuple(r) for r in c.execute(f"SELECT * FROM {t} ORDER BY {key}")]
                  for t, key in TABLES.items()}
        tables["application_id"] = one(c, "PRAGMA application_id")
        return tables


def ago(**delta):
    return timeutil.iso(NOW - timedelta(**delta))


# ------------------------------------------------------------------ counts and determinism

def test_counts_are_as_reported(built, conn):
    _, s, _ = built
    assert s["users"] == one(conn, "SELECT count(*) FROM users") == 300
    assert s["sessions"] == one(conn, "SELECT count(*) FROM sessions") == 1000
    assert s["uploads"] == one(conn, "SELECT count(*) FROM cv_uploads") == 1500
    assert s["cache_entries"] == one(conn, "SELECT count(*) FROM cv_extraction_cache")
    assert s["anonymous_ids"] == one(
        conn, "SELECT count(DISTINCT user_id) FROM cv_uploads WHERE substr(user_id, 1, 10) = ?",
        config.ANONYMOUS_PREFIX)
    assert s["anonymous_uploads"] == s["anonymous_ids"]  # one id per anonymous upload
    for status in config.STATUSES:
        assert s["uploads_" + status] == one(
            conn, "SELECT count(*) FROM cv_uploads WHERE status = ?", status)
    assert s["sessions_active"] == one(
        conn, "SELECT count(*) FROM sessions WHERE created_at >= ?", ago(days=7))
    assert s["sessions_expired"] == s["sessions"] - s["sessions_active"]
    assert s["uploads_without_hash"] == one(
        conn, "SELECT count(*) FROM cv_uploads WHERE file_hash IS NULL")
    assert s["portfolios"] == one(
        conn, "SELECT count(*) FROM users WHERE active_portfolio_id IS NOT NULL")
    assert s["cache_below_threshold"] == one(
        conn, "SELECT count(*) FROM cv_extraction_cache WHERE confidence_score < 0.75")
    assert s["cache_low_confidence"] == one(
        conn, "SELECT count(*) FROM cv_extraction_cache WHERE confidence_score < 0.7")
    assert s["cache_null_confidence"] == one(
        conn, "SELECT count(*) FROM cv_extraction_cache WHERE confidence_score IS NULL")
    assert s["scale"] == "small" and s["now"] == timeutil.iso(NOW)


def test_same_seed_and_now_give_identical_rows(built, tmp_path):
    again = tmp_path / "again.db"
    builder.build_demo(again, scale="small", seed=0, now=NOW)
    assert dump(again) == dump(built[0])


def test_another_seed_or_now_differs(built, tmp_path):
    first = dump(built[0])
    other = tmp_path / "other.db"
    builder.build_demo(other, scale="small", seed=1, now=NOW)
    second = dump(other)
    for table in TABLES:
        assert first[table] != second[table]
    later = tmp_path / "later.db"
    builder.build_demo(later, scale="small", seed=0, now=NOW + timedelta(days=1))
    assert dump(later)["cv_uploads"] != first["cv_uploads"]


def test_default_now_is_utcnow(tmp_path):
    before = timeutil.utcnow()
    s = builder.build_demo(tmp_path / "d.db")
    assert before <= timeutil.parse(s["now"]) <= timeutil.utcnow()


def test_progress_is_reported_and_ends_at_one(built):
    fractions = [f for f, _ in built[2]]
    assert len(fractions) >= 3
    assert fractions == sorted(fractions)
    assert all(0 <= f <= 1 for f in fractions) and fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in built[2])


# ------------------------------------------------------------------ the marker and the schema

def test_is_demo(built, tmp_path):
    assert builder.is_demo(built[0]) is True
    assert builder.is_demo(Database(built[0])) is True
    plain = tmp_path / "plain.db"
    migrations.init(plain)
    assert builder.is_demo(plain) is False


def test_schema_is_exactly_the_documented_one(conn):
    assert sqlite_schema.drift(conn).ok
    assert sqlite_schema.user_version(conn) == schema.CURRENT_VERSION
    assert one(conn, "PRAGMA application_id") == builder.DEMO_APPLICATION_ID == 0x52325744


# ------------------------------------------------------------------ refusing

def _target(tmp_path, sql, params):
    path = tmp_path / "target.db"
    migrations.init(path)
    with Database(path).write() as c:
        c.execute(sql, params)
    return path


@pytest.mark.parametrize("sql, params", [
    ("INSERT INTO users (user_id, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
     ("u1", "real@example.com", "$2b$12$x", "2026-01-01T00:00:00")),
    ("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, upload_date) "
     "VALUES (?, ?, ?, ?, ?, ?)",
     ("up1", "anonymous_1", "job1", "a.pdf", ".pdf", "2026-01-01T00:00:00")),
])
def test_refuses_a_database_with_data(tmp_path, sql, params):
    path = _target(tmp_path, sql, params)
    before = dump(path)
    with pytest.raises(errors.R2WError) as info:
        builder.build_demo(path, now=NOW)
    message = str(info.value)
    assert "\n" not in message and "already holds data" in message and str(path) in message
    assert dump(path) == before
    assert not builder.is_demo(path)


def test_writes_into_an_empty_initialised_database(tmp_path):
    path = tmp_path / "empty.db"
    migrations.init(path)
    assert builder.build_demo(path, now=NOW)["users"] == 300
    assert builder.is_demo(path)


def test_refuses_a_second_build(built):
    with pytest.raises(builder.DemoTargetNotEmpty):
        builder.build_demo(built[0], now=NOW)


def test_unknown_scale(tmp_path):
    with pytest.raises(errors.InvalidValue):
        builder.build_demo(tmp_path / "x.db", scale="huge")
    assert not (tmp_path / "x.db").exists()


def test_a_failed_build_leaves_no_new_file(tmp_path):
    path = tmp_path / "broken.db"

    def boom(fraction, message):
        if fraction > 0.3:
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        builder.build_demo(path, now=NOW, progress=boom)
    assert not any(tmp_path.iterdir())


# ------------------------------------------------------------------ what the history contains

def test_every_timestamp_is_naive_utc_iso_within_the_history(conn):
    start = NOW - timedelta(days=builder.HISTORY_DAYS)
    columns = [("users", "created_at"), ("users", "portfolio_created_at"),
               ("users", "portfolio_expires_at"), ("sessions", "created_at"),
               ("cv_uploads", "upload_date"), ("cv_extraction_cache", "created_at"),
               ("cv_extraction_cache", "last_accessed")]
    for table, column in columns:
        values = [r[0] for r in conn.execute(f"SELECT {column} FROM {table} "
                                             f"WHERE {column} IS NOT NULL")]
        assert values, (table, column)
        for value in values:
            assert ISO.match(value), (table, column, value)
            moment = timeutil.parse(value)
            assert moment is not None and moment >= start
            if column != "portfolio_expires_at":
                assert moment <= NOW, (table, column, value)


def test_users(conn):
    rows = conn.execute("SELECT * FROM users").fetchall()
    assert len({r["email"] for r in rows}) == len(rows)
    for r in rows:
        assert uuid.UUID(r["user_id"]).version == 4 and str(uuid.UUID(r["user_id"])) == r["user_id"]
        assert re.match(r"^[a-z'-]+\.[a-z'-]+\d+@example\.com$", r["email"]), r["email"]
        assert r["name"] and " " in r["name"]
    hashes = {r["password_hash"] for r in rows}
    assert len(hashes) == 1
    assert bcrypt.checkpw(builder.DEMO_PASSWORD, hashes.pop().encode())
    with_phone = sum(r["phone"] is not None for r in rows)
    with_location = sum(r["location"] is not None for r in rows)
    assert 0 < with_phone < len(rows) and 0 < with_location < len(rows)
    portfolios = [r for r in rows if r["active_portfolio_id"]]
    assert portfolios
    for r in portfolios:
        created, expires = (timeutil.parse(r["portfolio_created_at"]),
                            timeutil.parse(r["portfolio_expires_at"]))
        assert expires - created == timedelta(days=config.PORTFOLIO_DAYS)
        assert created > timeutil.parse(r["created_at"])
        assert r["active_portfolio_url"].startswith(("https://", "http://localhost"))
    expired = sum(timeutil.parse(r["portfolio_expires_at"]) < NOW for r in portfolios)
    assert 0 < expired < len(portfolios)


def test_sessions_active_and_expired(conn):
    assert one(conn, "SELECT count(*) FROM sessions WHERE created_at < ?", ago(days=7)) > 300
    assert one(conn, "SELECT count(*) FROM sessions WHERE created_at >= ?", ago(days=7)) > 50
    assert one(conn, "SELECT count(*) FROM sessions s LEFT JOIN users u USING (user_id) "
                     "WHERE u.user_id IS NULL OR s.created_at < u.created_at") == 0
    per_user = conn.execute("SELECT count(*) FROM sessions GROUP BY user_id").fetchall()
    assert len(per_user) == 300 and max(r[0] for r in per_user) >= 5


def test_activity_grows(conn):
    first = one(conn, "SELECT count(*) FROM cv_uploads WHERE upload_date < ?", ago(days=60))
    last = one(conn, "SELECT count(*) FROM cv_uploads WHERE upload_date >= ?", ago(days=30))
    assert last > 2 * first
    first_users = one(conn, "SELECT count(*) FROM users WHERE created_at < ?", ago(days=60))
    last_users = one(conn, "SELECT count(*) FROM users WHERE created_at >= ?", ago(days=30))
    assert last_users > 2 * first_users


def test_uploads(conn):
    rows = conn.execute("SELECT * FROM cv_uploads").fetchall()
    assert {r["status"] for r in rows} == set(config.STATUSES)
    types = {}
    for r in rows:
        types[r["file_type"]] = types.get(r["file_type"], 0) + 1
        assert str(uuid.UUID(r["upload_id"])) == r["upload_id"]
        assert uuid.UUID(r["job_id"]).version == 4
        # the extension, as the application stores it (Path(filename).suffix.lower())
        assert r["file_type"] == "." + r["filename"].rsplit(".", 1)[1].lower()
        if r["file_hash"] is not None:
            assert HEX64.match(r["file_hash"])
        if r["status"] == "completed":
            cv = json.loads(r["cv_data"])
            assert {"name", "contact", "summary", "experience", "education", "skills"} <= set(cv)
            assert cv["experience"] and all({"company", "title", "start_date", "end_date",
                                             "bullets"} <= set(job) for job in cv["experience"])
            first = cv["name"].split(" ")[0]
            assert first.lower() in r["filename"].lower()
        else:
            assert r["cv_data"] is None
    assert len({r["job_id"] for r in rows}) == len(rows)
    assert max(types, key=types.get) == ".pdf" and set(types) == {".pdf", ".docx", ".doc", ".txt",
                                                                   ".png"}
    failed = sum(r["status"] == "failed" for r in rows)
    extracted = failed + sum(r["status"] == "completed" for r in rows)
    assert 0.02 * extracted < failed < 0.09 * extracted
    sizes = [len(r["cv_data"]) for r in rows if r["cv_data"]]
    assert 2000 < sum(sizes) / len(sizes) < 4500


def test_stuck_and_recent_processing(built, conn):
    stuck = conn.execute("SELECT upload_date FROM cv_uploads WHERE status = 'processing' "
                         "AND upload_date < ?", (ago(minutes=60),)).fetchall()
    assert len(stuck) == built[1]["stuck_jobs"] == builder.SCALES["small"].stuck == 10
    assert all(r[0] > ago(hours=48) for r in stuck)
    assert one(conn, "SELECT count(*) FROM cv_uploads WHERE status = 'processing' "
                     "AND upload_date >= ?", ago(minutes=60)) >= 4


def test_anonymous_uploads_and_claims(built, conn):
    s = built[1]
    assert one(conn, "SELECT count(*) FROM users WHERE user_id LIKE 'anonymous%'") == 0
    anonymous = conn.execute("SELECT user_id, count(*), max(upload_date) FROM cv_uploads "
                             "WHERE substr(user_id, 1, 10) = 'anonymous_' GROUP BY user_id"
                             ).fetchall()
    assert anonymous and all(r[1] == 1 for r in anonymous)
    for r in anonymous:
        assert uuid.UUID(r[0][len("anonymous_"):]).version == 4
    stale = sum(r[2] < ago(days=30) for r in anonymous)
    assert stale == s["stale_anonymous_ids"] > 0
    # claimed: owned by a user who signed up after uploading (transfer_cv_ownership)
    claimed = one(conn, "SELECT count(*) FROM cv_uploads c JOIN users u USING (user_id) "
                        "WHERE c.upload_date < u.created_at")
    assert claimed == s["claimed_uploads"]
    share = claimed / (claimed + s["anonymous_uploads"])
    assert 0.2 < share < 0.5
    # every other upload belongs to a registered user
    assert one(conn, "SELECT count(*) FROM cv_uploads c LEFT JOIN users u USING (user_id) "
                     "WHERE u.user_id IS NULL AND substr(c.user_id, 1, 10) <> 'anonymous_'") == 0


def test_anonymous_uploads_wait_for_extraction(built, conn):
    """As the application: an anonymous upload the cache cannot answer is 'uploaded', not
    extracted, until its person signs up and claims it; about a quarter of all uploads."""
    s = built[1]
    waiting = conn.execute("SELECT user_id, cv_data, file_hash, upload_date FROM cv_uploads"
                           " WHERE status = 'uploaded'").fetchall()
    assert len(waiting) == s["uploads_uploaded"]
    assert 0.18 < len(waiting) / s["uploads"] < 0.30
    assert all(r[0].startswith(config.ANONYMOUS_PREFIX) and r[1] is None for r in waiting)
    assert all(r[3] < ago(minutes=3) for r in waiting)     # the newest are still being saved
    hashed = [r[2] for r in waiting if r[2]]
    assert hashed and one(conn, "SELECT count(*) FROM cv_extraction_cache WHERE file_hash IN"
                                f" ({', '.join('?' * len(hashed))})", *hashed) == 0
    # stale ones too: what the anonymous cleanup removes
    assert any(r[3] < ago(days=config.ANONYMOUS_RETENTION_DAYS) for r in waiting)


def test_uploads_before_hashing(conn, built):
    without = conn.execute("SELECT upload_date, status FROM cv_uploads WHERE file_hash IS NULL"
                           ).fetchall()
    assert 0 < len(without) < 0.12 * built[1]["uploads"]
    assert all(r[0] < ago(days=builder.HASHING_STARTED_DAYS) for r in without)


HITS = """SELECT count(*) FROM cv_uploads c WHERE c.file_hash IS NOT NULL AND EXISTS (
    SELECT 1 FROM cv_extraction_cache e WHERE e.file_hash = c.file_hash
    AND julianday(e.created_at) < julianday(c.upload_date))"""


def test_cache_hits(built, conn):
    s = built[1]
    hits = one(conn, HITS)
    assert hits == s["cache_hits"]
    assert 0.25 <= hits / s["uploads"] <= 0.35
    # every cache entry: created a few seconds after the first (completed) upload of its file
    firsts = conn.execute("""
        SELECT e.file_hash, e.created_at, e.access_count, e.last_accessed,
               (SELECT min(upload_date) FROM cv_uploads c WHERE c.file_hash = e.file_hash),
               (SELECT count(*) FROM cv_uploads c WHERE c.file_hash = e.file_hash
                AND c.upload_date > e.created_at),
               (SELECT max(upload_date) FROM cv_uploads c WHERE c.file_hash = e.file_hash),
               e.cv_data = (SELECT cv_data FROM cv_uploads c WHERE c.file_hash = e.file_hash
                            ORDER BY upload_date LIMIT 1)
        FROM cv_extraction_cache e""").fetchall()
    assert len(firsts) == s["cache_entries"] > 0
    for file_hash, created, count, last, first_upload, reuses, latest, same_doc in firsts:
        delay = (timeutil.parse(created) - timeutil.parse(first_upload)).total_seconds()
        assert 0 < delay <= 60, file_hash
        assert count == 1 + reuses
        assert last == (latest if reuses else created)
        assert same_doc
    # a re-upload is answered from the cache: completed, with the cached document
    assert one(conn, """SELECT count(*) FROM cv_uploads c JOIN cv_extraction_cache e
                        USING (file_hash) WHERE c.upload_date > e.created_at
                        AND (c.status <> 'completed' OR c.cv_data <> e.cv_data)""") == 0
    assert one(conn, "SELECT count(*) FROM cv_uploads WHERE file_hash IS NOT NULL AND status = "
                     "'completed' AND file_hash NOT IN (SELECT file_hash FROM cv_extraction_cache)"
               ) > 0  # below the threshold: extracted but not cached


def test_cache_confidence_policy(conn):
    below = conn.execute("SELECT created_at, confidence_score FROM cv_extraction_cache "
                         "WHERE confidence_score < ?", (config.CACHE_THRESHOLD,)).fetchall()
    assert below and all(r[0] < ago(days=45) for r in below)
    assert any(r[1] < config.LOW_CONFIDENCE for r in below)
    nulls = conn.execute("SELECT created_at FROM cv_extraction_cache "
                         "WHERE confidence_score IS NULL").fetchall()
    assert nulls and all(r[0] < ago(days=45) for r in nulls)
    assert one(conn, "SELECT min(confidence_score) FROM cv_extraction_cache "
                     "WHERE created_at >= ?", ago(days=45)) >= config.CACHE_THRESHOLD
    assert one(conn, "SELECT max(confidence_score) FROM cv_extraction_cache") <= 1
    models = {r[0] for r in conn.execute("SELECT DISTINCT extraction_model FROM cv_extraction_cache")}
    assert models == {m for m, _, _ in builder.MODELS}
    assert {r[0] for r in conn.execute("SELECT DISTINCT temperature FROM cv_extraction_cache")} == {0.0}
    for (doc,) in conn.execute("SELECT cv_data FROM cv_extraction_cache"):
        json.loads(doc)


def test_unused_cache_entries(built, conn):
    total = built[1]["cache_entries"]
    unused = one(conn, "SELECT count(*) FROM cv_extraction_cache WHERE access_count = 1")
    assert 0.3 * total < unused < 0.8 * total
    stale = one(conn, "SELECT count(*) FROM cv_extraction_cache WHERE access_count = 1 "
                      "AND created_at < ?", ago(days=30))
    assert stale == built[1]["cache_entries_unused_stale"] > 0
    assert one(conn, "SELECT max(access_count) FROM cv_extraction_cache") >= 3


def test_uuid_helper_matches_the_uuid_module():
    import random

    demo_builder = builder._Builder(builder.SCALES["small"], 7, NOW, None)
    rng = random.Random(7)
    for _ in range(1000):
        assert demo_builder.uuid() == str(uuid.UUID(int=rng.getrandbits(128), version=4))


def test_large_scale_is_production_sized():
    large = builder.SCALES["large"]
    assert (large.uploads, large.users, large.sessions) == (600_000, 200_000, 400_000)


def test_integrity(conn):
    assert one(conn, "PRAGMA integrity_check") == "ok"
