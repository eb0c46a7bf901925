"""The stuck-jobs preview costs its page a few rows, not one per stuck job (issue 21): it counts
every stuck job and their ages on the (status, upload_date) index, and lists only the SHOWN
oldest (age, file type, registered or anonymous owner), oldest first, saying "showing the 20
oldest of 25"; the same on SQLite and PostgreSQL; on SQLite a timestamp in an odd form takes
its place by its instant, not its text. The Maintenance page's stuck card shows that list."""
import json
import sqlite3
from datetime import timedelta

import pytest

from r2w_db.app import uploads, users
from r2w_db.backends import migrations, open_database
from r2w_db.engine import timeutil
from r2w_db.figures.periods import read
from r2w_db.maintenance import registry, stuck_jobs
from .signin_helpers import MAINTENANCE, NOW, app, pages_on   # the pages' frozen time

ANON = "anonymous_00000000000a"
STUCK = 25                                     # more than stuck_jobs.SHOWN
# stuck-NN uploaded 61 + 97 * NN minutes ago (the oldest: stuck-24, 39.8 h)
AGES = {f"stuck-{i:02}": 61 + 97 * i for i in range(STUCK)}
OTHERS = [("young", 59, "processing"), ("done", 9000, "completed"), ("gave-up", 9000, "failed")]


@pytest.fixture
def clock(monkeypatch):
    moment = {"now": NOW}
    monkeypatch.setattr(timeutil, "utcnow", lambda: moment["now"])
    return moment


def fill(db, clock):
    """STUCK stuck jobs (every third one anonymous, the others jane's; .pdf or .docx by turns)
    and OTHERS, through the application's own functions at their upload times."""
    jane = users.create_user(db, "jane@example.com", "h")
    jobs = [(job, ANON if i % 3 == 0 else jane, ".pdf" if i % 2 else ".docx", minutes, "processing")
            for i, (job, minutes) in enumerate(AGES.items())]
    jobs += [(job, jane, ".pdf", minutes, status) for job, minutes, status in OTHERS]
    for job, owner, file_type, minutes, status in jobs:
        clock["now"] = NOW - timedelta(minutes=minutes)
        uploads.create_cv_upload(db, owner, job, f"{job}{file_type}", file_type)
        if status != "processing":
            uploads.update_cv_upload_status(db, job, status)
    clock["now"] = NOW


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def filled(request, tmp_path, clock):
    location = tmp_path / "stuck.db" if request.param == "sqlite" else \
        request.getfixturevalue("pg_url")
    migrations.init(location)
    db = open_database(location)
    fill(db, clock)
    return db


def oldest_first(n):
    return sorted(AGES, key=AGES.get, reverse=True)[:n]


def test_the_preview_lists_the_oldest_and_counts_them_all(filled):
    pv = registry.preview(filled, "stuck", now=NOW)
    d = pv.details
    assert pv.count == d["count"] == STUCK and stuck_jobs.SHOWN == 20
    assert d["shown"] == 20 and [j["job_id"] for j in d["oldest"]] == oldest_first(20)
    for job in d["oldest"]:
        assert job["age_minutes"] == pytest.approx(AGES[job["job_id"]], abs=1e-3)
        i = int(job["job_id"][-2:])
        assert job["owner"] == ("anonymous" if i % 3 == 0 else "registered")
        assert job["file_type"] == (".pdf" if i % 2 else ".docx")
        assert job["uploaded_at"].startswith(
            timeutil.iso(NOW - timedelta(minutes=AGES[job["job_id"]]))[:19])
    # the ages of all 25, not of the 20 shown: under 2 h 61 and 158 min (...) over a day 10
    assert d["ages"] == {"1-2 h": 1, "2-6 h": 3, "6-24 h": 11, "over 1 day": 10}
    assert d["oldest_minutes"] == pytest.approx(AGES["stuck-24"], abs=0.1)
    assert stuck_jobs.shown_line(d) == "showing the 20 oldest of 25 stuck jobs"
    assert pv.message.startswith("25 uploads processing for more than 60 min would be marked "
                                 "failed (oldest 39.8 h; 1-2 h 1, 2-6 h 3, 6-24 h 11, over 1 day 10)")
    assert "jane" not in json.dumps(pv.as_dict(), default=str)     # owners never named


def test_fewer_shown_and_a_higher_threshold(filled):
    few = stuck_jobs.figures(filled, 60, NOW, shown=3)
    assert few["count"] == STUCK and [j["job_id"] for j in few["oldest"]] == oldest_first(3)
    # over 30 h: stuck-18 (1807 min) ... stuck-24; all 7 shown
    late = stuck_jobs.figures(filled, 1800, NOW)
    assert late["count"] == late["shown"] == 7
    assert [j["job_id"] for j in late["oldest"]] == oldest_first(7)
    assert late["ages"] == {"1-2 h": 0, "2-6 h": 0, "6-24 h": 0, "over 1 day": 7}
    assert stuck_jobs.shown_line(late) == "showing all 7 stuck jobs"
    assert stuck_jobs.shown_line(stuck_jobs.figures(filled, 2300, NOW)) == \
        "showing the only stuck job"
    none = stuck_jobs.figures(filled, 5000, NOW)
    assert (none["count"], none["oldest"], none["oldest_minutes"]) == (0, [], None)


def test_equal_upload_times_are_listed_by_job_id(filled, clock):
    clock["now"] = NOW - timedelta(days=30)
    for job in ("tie-b", "tie-a", "tie-c"):
        uploads.create_cv_upload(filled, "anonymous_tie", job, f"{job}.pdf", ".pdf")
    clock["now"] = NOW
    got = stuck_jobs.figures(filled, 60, NOW, shown=2)
    assert got["count"] == STUCK + 3 and [j["job_id"] for j in got["oldest"]] == ["tie-a", "tie-b"]


def add_odd(path, rows):
    """(job_id, upload_date as stored) of 'processing' uploads written in a form the
    application never writes."""
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO cv_uploads (user_id, job_id, filename, file_type, upload_date,"
                         " status) VALUES ('anonymous_odd', ?, 'x.pdf', '.pdf', ?, 'processing')",
                         rows)


def test_odd_timestamps_take_their_place_by_instant(tmp_path, clock):
    path = tmp_path / "odd.db"
    migrations.init(path)
    fill(open_database(path), clock)
    old = NOW - timedelta(days=3)
    # a space instead of 'T': its text sorts before every canonical one of the same day
    add_odd(path, [("odd-newer", (NOW - timedelta(minutes=200)).strftime("%Y-%m-%d %H:%M:%S")),
                   ("odd-oldest", old.strftime("%Y-%m-%d %H:%M:%S") + "Z"),
                   ("odd-unreadable", "not a date")])
    got = stuck_jobs.figures(path, 60, NOW, shown=3)
    assert got["count"] == STUCK + 2      # the unreadable one is never stuck (as the run sees it)
    assert [j["job_id"] for j in got["oldest"]] == ["odd-oldest", *oldest_first(2)]
    everything = stuck_jobs.figures(path, 60, NOW, shown=100)
    ids = [j["job_id"] for j in everything["oldest"]]
    assert len(ids) == STUCK + 2 and ids.index("odd-newer") == ids.index("stuck-01") - 1
    assert everything["ages"]["2-6 h"] == 4


def test_the_sqlite_statements_seek_the_index(tmp_path, clock):
    """Neither read scans the table: the count and ages on the (status, upload_date) index
    alone; the oldest an ordered range on it (sorted only among equal upload times), and the
    partial index of odd timestamps (normally empty); only those few rows are sorted."""
    path = tmp_path / "plan.db"
    migrations.init(path)
    db = open_database(path)
    fill(db, clock)
    statements = []
    with read(db) as conn:
        conn.set_trace_callback(statements.append)
        cutoff = stuck_jobs.cutoff(60, NOW)
        db.backend.stuck.stuck_counts(conn, cutoff, [NOW])
        db.backend.stuck.stuck_oldest(conn, cutoff, NOW, 5)
        conn.set_trace_callback(None)
        counts, oldest = ([r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql)]
                          for sql in statements)
    assert counts == ["SEARCH cv_uploads USING COVERING INDEX idx_cv_uploads_status_date"
                      " (status=? AND upload_date<?)"]
    assert "SEARCH cv_uploads USING INDEX idx_cv_uploads_status_date (status=? AND upload_date<?)" \
        in oldest
    assert [line for line in oldest if line.startswith("SCAN cv_uploads")] == [
        "SCAN cv_uploads USING COVERING INDEX idx_cv_uploads_odd_time"]
    assert oldest.count("USE TEMP B-TREE FOR ORDER BY") == 1, oldest   # the outer few rows


def test_the_maintenance_card_lists_them(tmp_path, clock, monkeypatch):
    path = tmp_path / "page.db"
    migrations.init(path)
    fill(open_database(path), clock)
    with pages_on(path, tmp_path, monkeypatch):
        at = app(MAINTENANCE).run()
        assert not at.exception, at.exception
        [listed] = [e for e in at.expander if e.label == "Showing the 20 oldest of 25 stuck jobs"]
        assert "Processing for · uploaded (UTC) · file type · owner · job" in [
            c.value for c in listed.caption]
        [table] = [m.value for m in listed.markdown if m.value.startswith("- **")]
        rows = [line.split(" · ") for line in table.splitlines()]
        assert [row[-1] for row in rows] == oldest_first(20)
        assert [rows[0][0], *rows[0][2:4]] == [f"- **{AGES['stuck-24'] / 60:.1f} h**", ".docx",
                                               "anonymous"]
        assert {row[3] for row in rows} == {"registered", "anonymous"}


def test_the_card_shows_an_applications_job_id_by_its_first_characters(tmp_path, clock,
                                                                       monkeypatch):
    """The application's job ids are 36-character UUIDs: the card shows their first 8
    characters, so that a job's line fits the card."""
    path = tmp_path / "page.db"
    migrations.init(path)
    job = "a83efd29-aa38-4c59-9b1e-0c2f4d5e6f70"
    clock["now"] = NOW - timedelta(minutes=300)
    uploads.create_cv_upload(open_database(path), ANON, job, "cv.pdf", ".pdf")
    clock["now"] = NOW
    with pages_on(path, tmp_path, monkeypatch):
        at = app(MAINTENANCE).run()
        assert not at.exception, at.exception
        [listed] = [e for e in at.expander if e.label == "Showing the only stuck job"]
        [table] = [m.value for m in listed.markdown if m.value.startswith("- **")]
        assert table.split(" · ")[-1] == "a83efd29…" and job not in table
