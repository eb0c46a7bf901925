"""A live edge of a window (timeutil.is_short) reads only its own range of the date index when no
odd timestamp lies near it, and counts exactly as the day-wide text range does when one does."""
import sqlite3
from datetime import datetime, timedelta

import pytest

from r2w_db.backends import migrations
from r2w_db.backends.sqlite import anonymous, window_sql
from r2w_db.engine import timeutil
from r2w_db.figures.periods import Window

START, END = datetime(2026, 11, 24, 12, 15), datetime(2026, 11, 24, 13, 0)
CANONICAL = ["2026-11-24T12:15:00.000000", "2026-11-24T12:59:59.999000",   # in
             "2026-11-24T12:14:59.998000", "2026-11-24T13:00:00.000000",   # just outside
             "2026-11-24T12:14:59.999999", "2026-11-24T12:59:59.999999",   # julianday's rounding
             "2026-11-24T12:40:00.000000", "2026-11-24T02:00:00.000000", "2026-11-25T01:00:00.000000"]
ODD_IN = ["2026-11-24 12:30:00", "2026-11-24T14:30:00+02:00", "2026-11-24T12:20:00Z",
          "2026-11-24T12:15:00"]
ODD_OUT = ["2026-11-24T12:30:00+02:00", "2026-11-24 13:00:00", "2026-11-24T12:14:59Z"]
SPANS = [(START, END), (START, None), (None, START), (datetime(2026, 11, 22), END)]


def uploads_db(path, dates):
    migrations.init(path)
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO cv_uploads VALUES (?, 'r1', ?, 'cv.pdf', '.pdf', ?, NULL,"
                     " 'completed', NULL)", [(f"u{i}", f"j{i}", d) for i, d in enumerate(dates)])
    conn.commit()
    return conn


def count(conn, start, end, table):
    where, params = window_sql.window_where("upload_date", start, end, table)
    return conn.execute(f"SELECT count(*) FROM cv_uploads WHERE {where}", params).fetchone()[0]


def to_millisecond(moment):
    """The instant as julianday() reads it: rounded to the millisecond (12:59:59.999999 is
    13:00, outside an edge ending at 13:00; 12:14:59.999999 is inside one from 12:15)."""
    return moment.replace(microsecond=0) + timedelta(milliseconds=round(moment.microsecond / 1000))


def expected(dates, start, end):
    """The rows whose instant lies in [start, end), parsed in Python."""
    return sum(1 for d in (to_millisecond(timeutil.parse(d)) for d in dates)
               if (start is None or d >= start) and (end is None or d < end))


@pytest.mark.parametrize("odd", [[], ODD_IN, ODD_OUT, ODD_IN + ODD_OUT, [ODD_IN[0]], [ODD_OUT[0]]])
@pytest.mark.parametrize("start,end", SPANS)
def test_an_edge_counts_exactly_as_the_day_wide_range(tmp_path, odd, start, end):
    dates = CANONICAL + odd
    conn = uploads_db(tmp_path / "r.db", dates)
    assert count(conn, start, end, "cv_uploads") == count(conn, start, end, None) \
        == expected(dates, start, end)


def test_a_named_query_on_an_edge_finds_its_odd_timestamps(tmp_path):
    dates = CANONICAL + ODD_IN + ODD_OUT
    conn = uploads_db(tmp_path / "r.db", dates)
    uploads, _ = anonymous.share_by_period(conn, Window.between(START, END, grain="hour"))
    assert dict(uploads) == {"2026-11-24 12:00": expected(dates, START, END)} \
        == {"2026-11-24 12:00": 4 + len(ODD_IN)}


def bound_reads(conn, start, end):
    """(plan, VM steps) of counting the edge's rows."""
    where, params = window_sql.window_where("upload_date", start, end, "cv_uploads")
    sql = f"SELECT count(*) FROM cv_uploads WHERE {where}"
    plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    steps = []
    conn.set_progress_handler(lambda: steps.append(1), 1)
    conn.execute(sql, params).fetchone()
    conn.set_progress_handler(None, 1)
    return plan, len(steps)


def test_a_canonical_edge_reads_only_its_own_range(tmp_path):
    conn = uploads_db(tmp_path / "r.db", CANONICAL)
    plan, alone = bound_reads(conn, START, END)
    assert plan[0].startswith("SEARCH cv_uploads USING COVERING INDEX")
    assert plan[0].endswith("(upload_date>? AND upload_date<?)")
    assert any("idx_cv_uploads_odd_time" in step for step in plan)   # the odd rows' seek
    # a thousand rows within the day's slack, outside the edge, are not read (a deeper index
    # costs a few steps; reading them would cost thousands)
    near = [timeutil.iso(START - timedelta(minutes=1 + i % 600)) for i in range(500)] + \
           [timeutil.iso(END + timedelta(minutes=i % 600)) for i in range(500)]
    conn.executemany("INSERT INTO cv_uploads VALUES (?, 'r1', ?, 'cv.pdf', '.pdf', ?, NULL,"
                     " 'completed', NULL)", [(f"n{i}", f"k{i}", d) for i, d in enumerate(near)])
    assert bound_reads(conn, START, END)[1] < alone + 100
    # one odd timestamp near the edge widens it back to the day (and is counted)
    conn.execute("INSERT INTO cv_uploads VALUES ('o', 'r1', 'o', 'cv.pdf', '.pdf',"
                 " '2026-11-24 12:30:00', NULL, 'completed', NULL)")
    assert bound_reads(conn, START, END)[1] > alone + 1000
    assert count(conn, START, END, "cv_uploads") == count(conn, START, END, None) \
        == expected(CANONICAL + near + ["2026-11-24 12:30:00"], START, END) == 5


def test_a_long_window_keeps_the_day_wide_range():
    where, params = window_sql.window_where("upload_date", START - timedelta(days=7), END,
                                            "cv_uploads")
    assert "EXISTS" not in where and len(params) == 4
