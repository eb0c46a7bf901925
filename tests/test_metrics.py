"""The dashboard's windowed figures against hand-computed values on a tiny database.

The fixture is full of traps: timestamps with a space separator, a Z or a +02:00
suffix (a string comparison gets them wrong), ids that look anonymous but are not
(`ANONYMOUS_B`, `anonymousX`, `Anonymous_Cap`), the application's fourth status
('uploaded') beside statuses it never writes (NULL, 'queued', 'Uploaded'), file types as
the application writes them (the extension), invalid confidences, a cache entry created at
the very instant of an upload (not a hit), and unparseable dates.
"""
import hashlib
import math
import re
import sqlite3
from datetime import datetime, timedelta

import pandas as pd
import pytest

from r2w_db.engine import schema, timeutil
from r2w_db.backends import migrations
from r2w_db.figures import (
    anonymous,
    cache_hits,
    confidence,
    database_file,
    overview,
    periods,
    stats,
    uploads,
)
from r2w_db.figures.periods import Window
from r2w_db.backends.sqlite import ops as sqlite_ops, overview as sqlite_overview

NOW = datetime(2026, 11, 24, 12, 0, 0)


def H(name):
    return hashlib.sha256(name.encode()).hexdigest()


USERS = [  # user_id, created_at
    ("r1", "2026-11-18T00:00:00Z"),             # current window
    ("r2", "2026-11-16 23:00:00"),               # previous
    ("r3", "2026-11-17T13:00:00+02:00"),         # 11:00 UTC: previous (a string compare says current)
    ("Anonymous_Cap", "2026-11-20T00:00:00"),    # registered: the prefix is case-sensitive
    ("anonymous_u", "2026-11-23T00:00:00"),      # an anonymous id with a users row: not registered
]
UPLOADS = [  # upload_id, user_id, job_id, file_type, upload_date, status, file_hash
    ("u1", "r1", "j1", ".pdf", "2026-11-17T12:00:00Z", "completed", H("h1")),  # at start
    ("u2", "anonymous_a", "j2", ".pdf", "2026-11-17 12:00:01", "failed", H("h2")),
    ("u3", "ANONYMOUS_B", "j3", ".pdf", "2026-11-17T13:30:00+02:00", "completed", None),
    ("u4", "anonymousX", "j4", ".txt", "2026-11-20T10:00:00", "queued", H("h3")),
    ("u5", "r1", "j5", ".pdf", "2026-11-24T10:00:00", "processing", None),   # stuck
    ("u6", "anonymous_a", "j6", ".doc", "2026-11-24T11:30:00", "uploaded", None),  # waits
    ("u7", "r2", "j7", ".pdf", "2026-11-12T08:00:00", "processing", None),   # stuck
    ("u8", "anonymous_c", "j8", ".pdf", "2026-11-12T09:00:00.5", "completed", H("h1")),
    ("u9", "r2", "j9", ".pdf", "2026-11-21T00:30:00+02:00", "completed", H("h1")),
    ("u10", "r3", "j10", ".pdf", "2026-11-22T08:00:00", None, ""),
    ("u11", "r3", "j11", ".pdf", "not a date", "completed", H("h2")),
    ("u12", "anonymous_d", "j12", ".pdf", "2026-10-01T00:00:00Z", "completed", None),
    ("u13", "anonymous_e", "j13", ".pdf", "garbage", "completed", None),
    ("u14", "r1", "j14", ".pdf", "2026-10-15T00:00:00", "Uploaded", None),  # case: other
]
CACHE = [  # file_hash, cv_data, model, created_at, confidence, access_count
    (H("h1"), '{"é": 1}', "m-a", "2026-11-15T00:00:00", 0.9, 3),
    (H("h2"), "{}", "m-a", "2026-11-17T12:00:01", 0.72, 1),   # the instant of u2: not a hit
    (H("h3"), "{}", "m-b", "2026-11-20 09:59:59", None, 1),   # before u4: a hit
    (H("h4"), "{}", "m-a", "2026-11-21T00:00:00", 1.2, None),
    (H("h5"), "{}", "m-b", "2026-11-22T00:00:00", 0.7, 0),
    (H("h6"), "{}", "m-a", "2026-11-23T00:00:00", 0.75, 1),
    (H("h7"), "{}", "m-b", "2026-11-23T06:00:00", 1.0, 2),
    (H("h8"), "{}", "m-a", "2026-11-23T07:00:00", 0.0, 1),
    (H("h9"), "{}", "m-b", "2026-11-23T08:00:00", -0.1, 60),
]
SESSIONS = [
    ("s1", "r1", "2026-11-17 12:30:00"),          # active (a string compare says expired)
    ("s2", "r1", "2026-11-17T13:00:00+02:00"),    # 11:00 UTC: expired (a string compare says active)
    ("s3", "r2", "2026-11-24T11:00:00Z"),         # active
]


def fill(path):
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO users (user_id, email, password_hash, created_at) VALUES (?,?,?,?)",
                     [(u, f"{u}@example.com", "$2b$12$x", c) for u, c in USERS])
    conn.executemany(
        "INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, upload_date, status,"
        " file_hash) VALUES (?,?,?,'cv',?,?,?,?)", UPLOADS)
    conn.executemany(
        "INSERT INTO cv_extraction_cache VALUES (?,?,?,0.0,?,?,?,?)",
        [(h, d, m, c, s, a, c) for h, d, m, c, s, a in CACHE])
    conn.executemany("INSERT INTO sessions VALUES (?,?,?)", SESSIONS)
    conn.commit()
    conn.close()


@pytest.fixture
def tiny(db_path):
    fill(db_path)
    return db_path


@pytest.fixture
def week():
    return Window.of("7d", now=NOW)


# ------------------------------------------------------------------ the window

def test_windows_and_their_previous():
    week = Window.of("7d", now=NOW)
    assert (week.start, week.end, week.grain) == (NOW - timedelta(days=7), None, "day")
    assert (week.previous.start, week.previous.end) == (NOW - timedelta(days=14), NOW - timedelta(days=7))
    day = Window.of("24h", now=NOW)
    assert day.grain == "hour" and day.previous.end == day.start
    everything = Window.of("all", now=NOW)
    assert (everything.start, everything.end, everything.previous) == (None, None, None)
    assert set(periods.WINDOWS) == {"24h", "7d", "30d", "90d", "all"}
    with pytest.raises(ValueError, match="unknown window"):
        Window.of("1y", now=NOW)


def test_default_now_is_the_current_minute():
    window = Window.of("7d")
    assert window.now.second == 0 and window.now.microsecond == 0
    assert abs((timeutil.utcnow() - window.now).total_seconds()) < 61


# ------------------------------------------------------------------ the overview headline

def test_headline_current_and_previous_window(tiny, week):
    figures = overview.headline(tiny, week)
    current, previous, now = figures["current"], figures["previous"], figures["now"]
    assert current == pytest.approx({
        "registered_new": 2, "anonymous_new": 2, "uploads": 7, "completed": 2, "failed": 1,
        "processing": 1, "uploaded": 1, "other": 2, "stuck": 1, "hashed": 4, "hits": 3,
        "failure_rate": 1 / 3, "cache_hit_rate": 3 / 4,
        "average_confidence": (0.72 + 0.7 + 0.75 + 1.0 + 0.0) / 5})
    assert previous == pytest.approx({
        "registered_new": 2, "anonymous_new": 1, "uploads": 3, "completed": 2, "failed": 0,
        "processing": 1, "uploaded": 0, "other": 0, "stuck": 1, "hashed": 1, "hits": 0,
        "failure_rate": 0.0, "cache_hit_rate": 0.0, "average_confidence": 0.9})
    assert (now["active_sessions"], now["stuck_total"]) == (2, 2)
    assert now["size_bytes"] == tiny.stat().st_size


def test_headline_all_time_counts_unparseable_rows(tiny):
    figures = overview.headline(tiny, Window.of("all", now=NOW))
    current = figures["current"]
    assert figures["previous"] is None
    assert (current["uploads"], current["hashed"], current["hits"]) == (14, 6, 3)
    # NULL, 'queued' and 'Uploaded'; the rows with unreadable dates keep their status
    assert (current["uploaded"], current["other"], current["completed"]) == (1, 3, 7)
    assert current["anonymous_new"] == 5    # a, c, d, e (unparseable date) and the users row
    assert current["registered_new"] == 4


def test_no_hashed_upload_is_no_data_not_zero(db_path, week):
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, upload_date,"
                 " status) VALUES ('a', 'u', 'j', 'f', 't', '2026-11-23T00:00:00', 'failed')")
    conn.commit()
    conn.close()
    current = overview.headline(db_path, week)["current"]
    assert current["cache_hit_rate"] is None and current["failure_rate"] == 1.0
    assert cache_hits.hit_rate(db_path, week)["hit_rate"] is None
    assert overview.headline(db_path, week)["previous"]["failure_rate"] is None


def test_all_time_headline_agrees_with_stats(prod_db):
    path, now, expected = prod_db
    for _ in range(2):  # as production wrote it (documented indexes only), then migrated
        figures = overview.headline(path, Window.of("all", now=now))
        current = figures["current"]
        assert current["uploads"] == expected["uploads"]["total"]
        assert current["cache_hit_rate"] == pytest.approx(expected["cache"]["cache_hit_rate"])
        assert current["anonymous_new"] == expected["users"]["anonymous"]
        assert current["registered_new"] == expected["users"]["registered"]
        assert current["other"] == expected["uploads"]["other"]
        assert figures["now"]["stuck_total"] == expected["uploads"]["stuck"]
        assert figures["now"]["active_sessions"] == expected["sessions"]["active"]
        migrations.migrate(path)


# ------------------------------------------------------------------ uploads

def test_status_counts_and_other_statuses(tiny, week):
    counts = uploads.status_counts(tiny, week)
    assert dict(zip(counts["status"], counts["uploads"])) == {
        "processing": 1, "completed": 2, "failed": 1, "uploaded": 1, "other": 2}
    assert list(counts["status"]) == ["processing", "completed", "failed", "uploaded", "other"]
    assert uploads.summarise(counts) == {
        "uploads": 7, "failed": 1, "finished": 3, "failure_rate": pytest.approx(1 / 3),
        "uploaded": 1, "other": 2}
    others = uploads.other_statuses(tiny, week)
    assert sorted(zip(others["status"], others["uploads"])) == [("NULL", 1), ("queued", 1)]
    others = uploads.other_statuses(tiny, Window.of("all", now=NOW))
    assert sorted(zip(others["status"], others["uploads"])) == [("NULL", 1), ("Uploaded", 1),
                                                                 ("queued", 1)]


def test_uploads_waiting_for_extraction_and_the_oldest(db_path):
    rows = [("2026-11-20 09:00:00", "uploaded"),          # space: as a string the oldest
            ("2026-11-20T10:00:00+02:00", "uploaded"),    # 08:00 UTC: the oldest instant
            ("2026-11-23T12:00:00Z", "uploaded"),
            ("last week", "uploaded"),                    # unreadable: counted, never the oldest
            ("2026-11-01T00:00:00", "Uploaded"),          # not the application's: other
            ("2026-11-02T00:00:00", "processing")]
    conn = sqlite3.connect(db_path)
    conn.executemany("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                     " upload_date, status) VALUES (?, ?, ?, 'cv.pdf', '.pdf', ?, ?)",
                     [(f"u{i}", f"anonymous_{i:012x}", f"j{i}", when, status)
                      for i, (when, status) in enumerate(rows)])
    conn.commit()
    conn.close()
    waiting = uploads.awaiting_extraction(db_path, NOW)
    assert (waiting["count"], waiting["unreadable"]) == (4, 1)
    assert waiting["oldest_at"] == "2026-11-20T08:00:00.000"
    assert waiting["oldest_age_minutes"] == pytest.approx((4 * 24 + 4) * 60)
    assert uploads.stuck_jobs(db_path, NOW)["count"] == 1   # 'uploaded' is never stuck
    assert uploads.awaiting_extraction(db_path, NOW.replace(day=30))["count"] == 4  # not windowed
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM cv_uploads WHERE status = 'uploaded'")
    conn.commit()
    conn.close()
    assert uploads.awaiting_extraction(db_path, NOW) == {
        "count": 0, "oldest_at": None, "oldest_age_minutes": None, "unreadable": 0}


def test_uploads_by_day_in_utc(tiny, week):
    frame = uploads.by_period(tiny, week)
    assert list(frame["period"]) == list(pd.date_range("2026-11-17", "2026-11-24", freq="D"))
    by_day = frame.set_index(frame["period"].dt.strftime("%m-%d"))
    assert by_day.loc["11-17", ["completed", "failed", "uploads"]].tolist() == [1, 1, 2]
    # u9 was written as 00:30 on the 21st at +02:00: 22:30 UTC on the 20th
    assert by_day.loc["11-20", ["completed", "other", "uploads"]].tolist() == [1, 1, 2]
    assert by_day.loc["11-21", "uploads"] == 0
    assert by_day.loc["11-24", ["processing", "uploaded", "other"]].tolist() == [1, 1, 0]
    assert list(frame.columns) == ["period", "processing", "completed", "failed", "uploaded",
                                   "other", "uploads", "failure_rate"]
    assert by_day.loc["11-17", "failure_rate"] == pytest.approx(0.5)
    assert by_day.loc["11-20", "failure_rate"] == 0.0
    assert math.isnan(by_day.loc["11-22", "failure_rate"])   # nothing finished: no data, not 0
    assert frame["uploads"].sum() == 7
    long = uploads.status_long(frame)
    assert set(long["status"]) == {"processing", "completed", "failed", "uploaded", "other"}
    assert long["uploads"].sum() == 7


def test_hourly_buckets_for_the_day_window(tiny):
    frame = uploads.by_period(tiny, Window.of("24h", now=NOW))
    assert frame["period"].iloc[0] == datetime(2026, 11, 23, 12)
    assert frame["period"].iloc[-1] == datetime(2026, 11, 24, 12)
    hours = frame.set_index(frame["period"].dt.hour)
    assert (hours.loc[10, "processing"], hours.loc[11, "uploaded"]) == (1, 1)
    assert frame["uploads"].sum() == 2


def test_stuck_jobs_oldest_first(tiny):
    stuck = uploads.stuck_jobs(tiny, NOW)
    assert stuck["count"] == 2
    jobs = stuck["jobs"]
    assert list(jobs["job_id"]) == ["j7", "j5"]
    assert jobs["age_minutes"].tolist() == pytest.approx([12 * 1440 + 240, 120])
    assert list(jobs.columns) == ["job_id", "file_type", "uploaded_at", "age_minutes"]
    assert uploads.stuck_jobs(tiny, NOW, limit=1)["jobs"]["job_id"].tolist() == ["j7"]


def test_file_types(tiny, week):
    types = uploads.file_types(tiny, week).set_index("file_type")
    assert types.loc[".pdf", ["uploads", "failed"]].tolist() == [5, 1]
    assert types.loc[".pdf", "failure_rate"] == pytest.approx(1 / 3)
    assert math.isnan(types.loc[".txt", "failure_rate"])
    assert types["uploads"].sum() == 7


# ------------------------------------------------------------------ cache hits

def test_hit_rate_per_day(tiny, week):
    hits = cache_hits.hit_rate(tiny, week)
    assert (hits["uploads"], hits["hashed"], hits["hits"]) == (7, 4, 3)
    assert hits["hit_rate"] == pytest.approx(3 / 4)
    frame = hits["by_period"].set_index(hits["by_period"]["period"].dt.strftime("%m-%d"))
    columns = ["uploads", "hashed", "hits", "extracted", "unhashed"]
    assert frame.loc["11-17", columns].tolist() == [2, 2, 1, 1, 0]
    assert frame.loc["11-17", "hit_rate"] == pytest.approx(0.5)
    assert frame.loc["11-20", "hit_rate"] == 1.0
    assert math.isnan(frame.loc["11-22", "hit_rate"])     # only an upload with an empty hash
    assert frame.loc["11-22", "unhashed"] == 1
    served = cache_hits.served_long(hits["by_period"])
    assert served.groupby("source")["uploads"].sum().to_dict() == {
        "from cache": 3, "extracted": 1, "no file hash": 3}


def test_access_counts_and_contents(tiny):
    access = cache_hits.access_counts(tiny)
    assert list(access["bucket"]) == ["1 (never reused)", "2", "3–5", "6–10", "11–50", "51+"]
    assert access["entries"].tolist() == [6, 1, 1, 0, 0, 1]
    contents = cache_hits.contents(tiny)
    assert contents["entries"] == 9
    assert contents["bytes"] == len('{"é": 1}'.encode()) + 8 * 2    # UTF-8 bytes, not characters
    assert contents["bytes_estimated"] is False
    assert contents["accesses"] == 3 + 1 + 1 + 0 + 1 + 2 + 1 + 60
    by_model = contents["by_model"].set_index("model")
    assert by_model.loc["m-a", "entries"] == 5
    assert by_model.loc["m-a", "below_threshold"] == 2          # 0.72 and 0.0
    assert by_model.loc["m-b", "average_confidence"] == pytest.approx(0.85)


def test_document_size_is_estimated_from_the_newest_entries_above_the_sample(db_path, monkeypatch):
    conn = sqlite3.connect(db_path)
    conn.executemany("INSERT INTO cv_extraction_cache VALUES (?, ?, 'm', 0, '2026-01-01', 0.9, 1, '2026-01-01')",
                     [(f"h{i}", "x" * (10 if i < 6 else 20)) for i in range(10)])
    conn.commit()
    conn.close()
    assert cache_hits.contents(db_path)["bytes"] == 6 * 10 + 4 * 20
    monkeypatch.setattr(cache_hits, "SIZE_SAMPLE", 4)   # the newest 4 are 20 bytes each
    contents = cache_hits.contents(db_path)
    assert contents["bytes_estimated"] is True and contents["bytes"] == 10 * 20


def test_eligible_for_cleanup_is_the_cleanups_own_rule(db_path):
    now = timeutil.utcnow()
    old, recent = timeutil.iso(now - timedelta(days=31)), timeutil.iso(now - timedelta(days=29))
    conn = sqlite3.connect(db_path)
    conn.executemany("INSERT INTO cv_extraction_cache VALUES (?, '{}', 'm', 0, ?, 0.9, ?, ?)", [
        ("a", old, 1, old), ("b", old, None, old), ("c", old, 2, old), ("d", recent, 1, recent)])
    conn.commit()
    conn.close()
    assert cache_hits.contents(db_path)["eligible_for_cleanup"] == 2


# ------------------------------------------------------------------ confidence

def test_confidence_summary(tiny, week):
    assert confidence.summary(tiny, week) == pytest.approx({
        "entries": 8, "valid": 5, "invalid": 3, "null": 1, "out_of_range": 2, "low": 1,
        "below_threshold_not_low": 2, "below_threshold": 3, "cacheable": 2,
        "mean": (0.72 + 0.7 + 0.75 + 1.0 + 0.0) / 5})


def test_histogram_bins_are_exact_at_the_rules(tiny, week):
    histogram = confidence.histogram(tiny, week)
    assert len(histogram) == 20 and histogram["bin_start"].iloc[14] == 0.7
    assert {i: n for i, n in enumerate(histogram["entries"]) if n} == {0: 1, 14: 2, 15: 1, 19: 1}
    assert histogram["band"].iloc[13].startswith("low")
    assert histogram["band"].iloc[14].startswith("below caching threshold")
    assert histogram["band"].iloc[15].startswith("cacheable")


def test_exactly_the_threshold_is_not_below_it_everywhere(db_path, week):
    scores = [0.6999999999, 0.7, 0.7499999999, 0.75, 0.7500000001, 0.0, 1.0]
    conn = sqlite3.connect(db_path)
    conn.executemany("INSERT INTO cv_extraction_cache VALUES (?, '{}', 'm', 0, "
                     "'2026-11-23T00:00:00', ?, 1, '2026-11-23T00:00:00')",
                     [(f"h{i}", score) for i, score in enumerate(scores)])
    conn.commit()
    conn.close()
    summary = confidence.summary(db_path, week)
    assert (summary["low"], summary["below_threshold_not_low"], summary["cacheable"]) == (2, 2, 3)
    assert stats.collect_stats(db_path, now=NOW)["cache"]["below_caching_threshold"] == 4
    histogram = confidence.histogram(db_path, week)
    assert {i: n for i, n in enumerate(histogram["entries"]) if n} == {0: 1, 13: 1, 14: 2, 15: 2, 19: 1}
    by_band = histogram.groupby("band")["entries"].sum()
    assert by_band.tolist() == [summary["below_threshold_not_low"], summary["cacheable"],
                                summary["low"]] and list(by_band.index) == sorted(confidence.BANDS)
    assert [confidence.band(x) for x in (0.7499999999, 0.75)] == list(confidence.BANDS[1:])


def test_confidence_by_model_mean_by_day_and_lowest(tiny, week):
    by_model = confidence.by_model(tiny, week).set_index("model")
    assert by_model.loc["m-a"].tolist() == pytest.approx([4, 0.49, 1, 2, 1])
    assert by_model.loc["m-b"].tolist() == pytest.approx([4, 0.85, 0, 1, 2])
    means = confidence.mean_by_period(tiny, week)
    means = means.set_index(means["period"].dt.strftime("%m-%d"))
    assert len(means) == 8
    assert means.loc["11-23", "entries"] == 3
    assert means.loc["11-23", "mean"] == pytest.approx(1.75 / 3)
    assert means.loc["11-20", "entries"] == 0 and math.isnan(means.loc["11-20", "mean"])
    lowest = confidence.lowest(tiny, week, limit=3)
    assert lowest["confidence"].tolist() == [0.0, 0.7, 0.72]
    assert lowest["hash_prefix"].tolist() == [H("h8")[:12], H("h5")[:12], H("h2")[:12]]
    assert list(lowest.columns) == ["hash_prefix", "model", "confidence", "created_at"]


# ------------------------------------------------------------------ anonymous users

def test_anonymous_ids_by_day_with_running_total(tiny, week):
    frame = anonymous.ids_by_period(tiny, week)
    frame = frame.set_index(frame["period"].dt.strftime("%m-%d"))
    assert frame["new_ids"].to_dict() == {
        "11-17": 1, "11-18": 0, "11-19": 0, "11-20": 0, "11-21": 0, "11-22": 0, "11-23": 1, "11-24": 0}
    # anonymous_c (first seen the 12th) and anonymous_d (October) before the window, anonymous_a in it;
    # the users row owns no upload
    assert frame["owning_ids"].tolist() == [3] * 8


def test_anonymous_ages_and_staleness(tiny):
    ages = anonymous.ages(tiny, NOW)
    assert (ages["ids"], ages["uploads"], ages["stale_ids"], ages["stale_uploads"]) == (4, 5, 1, 1)
    assert ages["stale_share"] == pytest.approx(0.25)
    by_age = ages["by_age"].set_index("bucket")
    assert by_age["ids"].to_dict() == {"< 1 day": 1, "1–7 days": 0, "7–30 days": 1, "30–90 days": 1,
                                       "> 90 days": 0, anonymous.UNKNOWN_AGE: 1}
    assert by_age.loc["30–90 days", "stale"] == 1


def test_anonymous_share_of_uploads(tiny, week):
    share = anonymous.share_by_period(tiny, week)
    assert (share["uploads"], share["anonymous"]) == (7, 2)
    assert share["share"] == pytest.approx(2 / 7)
    frame = share["by_period"].set_index(share["by_period"]["period"].dt.strftime("%m-%d"))
    assert frame.loc["11-17", ["uploads", "anonymous"]].tolist() == [2, 1]
    assert frame.loc["11-17", "share"] == 0.5
    assert math.isnan(frame.loc["11-18", "share"])


# ------------------------------------------------------------------ empty, storage, indexes

def test_every_figure_of_an_empty_database(db_path, week):
    assert overview.headline(db_path, week)["current"]["uploads"] == 0
    assert cache_hits.hit_rate(db_path, week)["by_period"]["uploads"].sum() == 0
    assert confidence.summary(db_path, week)["mean"] is None
    assert confidence.lowest(db_path, week).empty
    assert uploads.stuck_jobs(db_path)["count"] == 0
    assert anonymous.ages(db_path)["stale_share"] is None
    assert cache_hits.contents(db_path)["by_model"].empty
    everything = Window.of("all", now=NOW)
    assert uploads.by_period(db_path, everything).empty
    assert anonymous.ids_by_period(db_path, everything).empty


def test_storage_figures(tiny):
    figures = database_file.storage(tiny)
    assert figures["page_count"] > 0 and 0 <= figures["free_ratio"] < 1
    assert figures["stat_rows"] is None and figures["rows"]
    conn = sqlite3.connect(tiny)
    conn.execute("ANALYZE")
    conn.close()
    assert database_file.storage(tiny)["stat_rows"] > 0


def _all_figures(path, window):
    return [overview.headline(path, window)["current"],
            cache_hits.hit_rate(path, window)["by_period"],
            cache_hits.access_counts(path),
            confidence.histogram(path, window), confidence.by_model(path, window),
            uploads.by_period(path, window), uploads.file_types(path, window),
            anonymous.ids_by_period(path, window),
            anonymous.share_by_period(path, window)["by_period"],
            anonymous.ages(path, window.now)["by_age"]]


def test_same_figures_with_only_the_documented_indexes(tiny, week):
    with_indexes = _all_figures(tiny, week)
    conn = sqlite3.connect(tiny)
    for name in schema.INDEXES:
        if name not in schema.DOCUMENTED_INDEXES:
            conn.execute(f"DROP INDEX {name}")
    conn.commit()
    conn.close()
    for got, expected in zip(_all_figures(tiny, week), with_indexes):
        if isinstance(got, dict):
            assert got == pytest.approx(expected)
        else:
            pd.testing.assert_frame_equal(got, expected)


def test_plans_use_indexes_not_table_scans(tiny, week, monkeypatch):
    """On a migrated database no figure scans a table, except the cache's size (it reads cv_data)."""
    from r2w_db.backends.sqlite import connection

    captured = []
    opened = connection.open_reader

    def tracing(path):
        conn = opened(path)
        conn.set_trace_callback(captured.append)
        return conn

    monkeypatch.setattr(connection, "open_reader", tracing)
    _all_figures(tiny, week)
    uploads.stuck_jobs(tiny, NOW)
    confidence.lowest(tiny, week)
    assert len(captured) > 20
    raw = sqlite3.connect(tiny)
    scans = []
    for sql in captured:
        if not sql.lstrip().upper().startswith("SELECT") or "sqlite_master" in sql or "pragma_" in sql:
            continue
        for row in raw.execute("EXPLAIN QUERY PLAN " + sql):
            detail = row[3]
            scanned = detail.split()[1] if detail.startswith("SCAN ") else ""
            derived = re.search(rf"\)\s+{re.escape(scanned)}\b", sql) is not None  # (SELECT ...) name
            if scanned and "INDEX" not in detail and "subquery" not in detail and not derived:
                scans.append((detail, " ".join(sql.split())[:120]))
    raw.close()
    assert scans == []


def test_hit_lookup_stays_in_the_covering_index(tiny):
    conn = sqlite3.connect(tiny)
    plan = " ".join(r[3] for r in conn.execute(
        f"EXPLAIN QUERY PLAN SELECT sum({sqlite_ops.hit_sql(conn)}) FROM cv_uploads u"))
    assert "COVERING INDEX idx_extraction_cache_hash_created" in plan
    conn.execute("DROP INDEX idx_extraction_cache_hash_created")
    assert "INDEXED BY" not in sqlite_ops.hit_sql(conn)
    conn.close()
    assert stats.calculate_cache_hit_rate(tiny) is not None


@pytest.mark.parametrize("window_key", ["24h", "7d", "30d", "all"])
def test_both_ways_of_counting_hits_agree(prod_db, monkeypatch, window_key):
    path, now, expected = prod_db
    migrations.migrate(path)
    window = Window.of(window_key, now=now)
    got = {}
    for share in (0.0, float("inf")):   # always walk the cache / always look each upload up
        monkeypatch.setattr(sqlite_overview, "WALK_SHARE", share)
        got[share] = (overview.headline(path, window)["current"],
                      cache_hits.hit_rate(path, window)["by_period"])
    assert got[0.0][0] == got[float("inf")][0]
    pd.testing.assert_frame_equal(got[0.0][1], got[float("inf")][1])
    if window_key == "all":
        assert got[0.0][0]["cache_hit_rate"] == pytest.approx(expected["cache"]["cache_hit_rate"])


def test_stale_is_the_anonymous_cleanups_own_rule(tiny):
    from r2w_db.app import anonymous as anonymous_ids

    # anonymous_f: one old upload and one with an unreadable date: not provably stale
    rows = [("u20", "anonymous_f", "j20", "2026-09-01T00:00:00"),
            ("u21", "anonymous_f", "j21", "soon")]
    conn = sqlite3.connect(tiny)
    conn.executemany("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                     " upload_date, status) VALUES (?, ?, ?, 'f', 't', ?, 'completed')", rows)
    conn.commit()
    conn.close()
    now = timeutil.utcnow()
    ages = anonymous.ages(tiny, now)
    assert (ages["stale_ids"], ages["stale_uploads"]) == anonymous_ids.count_stale(tiny)
    assert anonymous.ages(tiny, NOW)["stale_ids"] == 1
