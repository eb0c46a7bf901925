"""The figures mean exactly what docs/figures.md says, on a database written like production."""
import hashlib
import sqlite3

import pytest

from r2w_db.backends import migrations
from r2w_db.errors import SchemaTooOld
from r2w_db.figures import stats


def figures_match(got, expected):
    for group, values in expected.items():
        for key, value in values.items():
            assert got[group][key] == pytest.approx(value), (group, key)


def test_prodlike_figures_before_and_after_migrate(prod_db):
    path, now, expected = prod_db
    figures_match(stats.collect_stats(path, now=now), expected)
    migrations.migrate(path)
    figures_match(stats.collect_stats(path, now=now), expected)


def test_extraction_stats_has_the_documented_keys(prod_db):
    path, _, expected = prod_db
    got = stats.get_extraction_stats(path)
    assert set(got) == {"cached_extractions", "average_confidence_score", "total_cache_accesses",
                        "low_confidence_extractions", "cache_hit_rate"}
    assert got == pytest.approx({k: expected["cache"][k] for k in got})


def test_hit_rate_is_no_data_without_hashed_uploads(db_path):
    assert stats.calculate_cache_hit_rate(db_path) is None
    assert stats.collect_stats(db_path)["cache"]["cache_hit_rate"] is None


def test_hit_needs_an_entry_created_before_the_upload(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO cv_extraction_cache VALUES ('h', '{}', 'm', 0, '2026-01-01T10:00:00', 0.9, 1, "
                 "'2026-01-01T10:00:00')")
    rows = [("a", "u", "j1", "f", ".pdf", "2026-01-01T09:00:00", None, "completed", "h"),   # before: miss
            ("b", "u", "j2", "f", ".pdf", "2026-01-01T10:00:00", None, "completed", "h"),   # same instant: miss
            ("c", "u", "j3", "f", ".pdf", "2026-01-01 10:00:01", None, "completed", "h"),   # after: hit
            ("d", "u", "j4", "f", ".pdf", "2026-01-01T12:00:00", None, "completed", None)]  # no hash: not counted
    conn.executemany("INSERT INTO cv_uploads VALUES (?,?,?,?,?,?,?,?,?)", rows)
    conn.commit()
    conn.close()
    assert stats.calculate_cache_hit_rate(db_path) == pytest.approx(1 / 3)


def test_stats_does_not_write_a_byte(prod_db):
    path, _, _ = prod_db
    migrations.migrate(path)  # WAL mode from here on
    before = hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns
    stats.collect_stats(path)
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before


def test_old_schema_is_a_clear_error(tmp_path):
    from tests.prodlike import build_prodlike

    path = tmp_path / "old.db"
    build_prodlike(path, migrated_by_app=False)
    with pytest.raises(SchemaTooOld, match="migrate"):
        stats.collect_stats(path)


def test_the_applications_four_statuses_and_other(db_path):
    statuses = [None, "Completed", "completed", "uploaded", "uploaded", "Uploaded", "uploaded ",
                "queued", "processing", "failed"]
    conn = sqlite3.connect(db_path)
    conn.executemany("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, upload_date, status)"
                     " VALUES (?, 'anonymous_0a1b2c3d4e5f', ?, 'cv.pdf', '.pdf', '2026-01-01T00:00:00', ?)",
                     [(f"u{i}", f"j{i}", status) for i, status in enumerate(statuses)])
    conn.commit()
    conn.close()
    uploads = stats.collect_stats(db_path)["uploads"]
    assert {k: uploads[k] for k in ("processing", "completed", "failed", "uploaded", "other", "total")} == {
        "processing": 1, "completed": 1, "failed": 1, "uploaded": 2, "other": 5, "total": 10}
    assert uploads["stuck"] == 1   # 'uploaded' waits for the person to sign up: never stuck


def test_database_sizes(prod_db):
    path, _, _ = prod_db
    db = stats.collect_stats(path)["database"]
    assert db["size_bytes"] == path.stat().st_size and db["wal_bytes"] == 0
