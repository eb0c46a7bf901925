"""Issue 19, classes 14 and 15: every value from a URL (`?db=`) or from a database (user ids,
filenames, file types, statuses, models, table names, locations) is shown as text on every
page, never read as Markdown: no link or image to another host, no HTML, no code-span
break-out, no Streamlit directive (`:red[...]`, `:material/...:`), no emoji shortcode, no
`$...$` LaTeX. dashboard/safe_text.py is the one helper; these tests drive every page with
AppTest on databases built here and read what each element would hand to Markdown."""
import html
import re
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.safe_text import code, md, prose
from r2w_db.backends import migrations
from r2w_db.engine import timeutil

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["app.py", "pages/1_Cache_hits.py", "pages/2_Confidence.py", "pages/3_Uploads.py",
         "pages/4_Anonymous_users.py", "pages/5_Query_benchmarks.py", "pages/6_Maintenance.py",
         "pages/7_History.py"]

HOSTILE = [
    "[x](http://evil.example/a)",
    "![i](http://evil.example/i.png)",
    "a`b` [y](http://evil.example/b) `c",
    "``x`` ![j](http://evil.example/j.png)",
    "<img src=x onerror=alert(1)>",
    ":red[hostile]",
    ":blue-background[hostile]",
    "$hostile$",
    "$$hostile$$",
    ":material/bolt:",
    ":material_bolt:",
    ":smile:",
    ":streamlit:",
    "http://evil.example/plain",
    "www.evil.example",
    "someone@evil.example",
    "<http://evil.example/auto>",
    "[ref]\n\n[ref]: http://evil.example/ref",
    "# heading\n- item\n> quote\n1. one\n---",
    "*em* **strong** _u_ ~~strike~~",
    "&lt;img src=x&gt; &#91;x&#93;",
    "\\[x](http://evil.example/escaped)",
    "| a | b |\n|---|---|\n| [x](http://evil.example/t) | c |",
]

# what must never reach Markdown as it is (each hostile value's tell)
TELLS = ["http://evil", "](", "![", "<img", "<http", ":red[hostile", ":blue-background[",
         "$hostile$", ":material/bolt", ":material_bolt", ":smile:", ":streamlit:", "www.evil",
         "someone@evil", "]: http"]

# element types whose text Streamlit never reads as Markdown
PLAIN = {"code", "text", "arrow_data_frame", "dataframe", "arrow_vega_lite_chart",
         "vega_lite_chart", "json", "table", "selectbox", "download_button"}


def shown(source):
    """The text Markdown shows for md()'s output (character references decoded)."""
    return html.unescape(source).replace("\u2060", "")


def assert_inert(source):
    """A Markdown source that can hold no construct of a hostile value."""
    for tell in TELLS:
        assert tell not in source, (tell, source)
    assert not re.search(r"(?<![&\\])`", source.replace("&#96;", "")) or source.count("`") % 2 == 0
    assert "$" not in source and "<" not in source
    assert not re.search(r":[A-Za-z]", source), source          # no directive, no icon
    assert not re.search(r"^[ \t]*(#{1,6}|[-+*>]|\d+[.)])([ \t]|$)", source, re.M), source
    assert not re.search(r"&(?!#\d+;|lt;)", source.replace("&#38;", "")), source


# ------------------------------------------------------------------ the helper

@pytest.mark.parametrize("value", HOSTILE)
def test_md_shows_the_value_and_starts_nothing(value):
    out = md(value)
    assert shown(out) == value.replace("\r\n", "\n")
    assert_inert(out)


@pytest.mark.parametrize("value", HOSTILE)
def test_code_and_prose_of_hostile_values_start_nothing(value):
    assert code(value) == md(value)          # not plain: text, never a code span
    assert_inert(code(value))
    sentence = prose(f"cannot open {value}: run `python -m r2w_db --db x check`")
    for tell in TELLS:
        assert tell not in sentence


@pytest.mark.parametrize("value", [
    "PostgreSQL postgresql://app:***@/r2w", "postgresql://app:***@db:5432/r2w?host=/run/pg&port=5433",
    "[monitor] session_hours must be a number", "may not open the database 'prod'", "r2w_db",
    "R2W_HEALTH_NONSENSE", "12:00:00 UTC", "C:\\data\\r2w.db", "/tmp/x-1.db", "3 pending step(s)",
    "> 10 years", "64.0 MB", "a -- b",
])
def test_ordinary_text_is_left_as_it_reads(value):
    """Paths, redacted URLs and messages keep their characters (the earlier tests look for
    them); only what could start a construct changes."""
    out = md(value)
    assert shown(out) == value
    if value[0] not in ">":
        assert out == value


def test_code_spans_plain_values_and_prose_keeps_its_commands():
    assert code("/tmp/r2w.db") == "`/tmp/r2w.db`"
    assert code("postgresql://app:***@/r2w") == "`postgresql://app:***@/r2w`"
    assert code("a`b") == "a&#96;b" and code(None) == "" and code("x\n\ny") == md("x\n\ny")
    assert prose("see `stats`, then `python -m r2w_db --db /x.db check`") == \
        "see `stats`, then `python -m r2w_db --db /x.db check`"
    assert prose("one ` backtick [x](http://evil)") == md("one ` backtick [x](http://evil)")
    assert md(None) == "" and md(3) == "3"


# ------------------------------------------------------------------ the pages

@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("R2W_DATABASES", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def markdown_sources(at):
    """Every string of the page that Streamlit reads as Markdown: bodies, labels, help, metric
    values and deltas, expander and status labels, button labels ... (not code, text, tables,
    charts, selectbox options)."""
    found = []

    def walk(node):
        kind = getattr(node, "type", None)
        proto = getattr(node, "proto", None)
        if proto is not None and kind not in PLAIN:
            for field, value in proto.ListFields():
                if isinstance(value, str) and field.name not in ("id", "form_id", "icon",
                                                                 "page", "page_script_hash"):
                    found.append((kind, field.name, value))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return found


def assert_page_inert(at):
    assert not at.exception, at.exception
    sources = markdown_sources(at)
    assert sources
    for kind, field, value in sources:
        for tell in TELLS:
            assert tell not in value, (kind, field, tell, value)


def hostile_database(folder):
    """A database at the current schema whose user ids, filenames, file types, statuses,
    models, hashes and one extra table carry hostile Markdown; uploads recent enough for
    every window."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "r2w.db"
    migrations.init(path)
    now = timeutil.utcnow()
    conn = sqlite3.connect(path)
    with conn:
        for i, value in enumerate(HOSTILE):
            user = value if i % 2 else f"anonymous_{value}"
            at = (now - timedelta(hours=i + 2)).isoformat()
            if not user.startswith("anonymous_"):
                conn.execute("INSERT INTO users (user_id, email, password_hash, name, created_at) "
                             "VALUES (?, ?, 'x', ?, ?)", (user, f"u{i}@example.invalid", value, at))
                conn.execute("INSERT INTO sessions (session_id, user_id, created_at) VALUES (?, ?, ?)",
                             (f"s{i}", user, at))
            conn.execute("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, "
                         "upload_date, status, file_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (f"u{i}", user, f"j{i}", value, value, at,
                          [value, "processing", "uploaded", "failed"][i % 4], value))
            conn.execute("INSERT INTO cv_extraction_cache (file_hash, cv_data, extraction_model, "
                         "temperature, created_at, confidence_score, access_count, last_accessed) "
                         "VALUES (?, '{}', ?, 0, ?, ?, 1, ?)", (value, value, at, 0.5 + i / 100, at))
        conn.execute('CREATE TABLE "[t](http://evil.example/t) :red[hostile]" (x)')
    conn.close()
    return path


@pytest.fixture
def hostile_db(tmp_path):
    return hostile_database(tmp_path / "db")


def open_page(page, query=None, timeout=60):
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / page), default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_the_databases_values_as_text(page, hostile_db, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", str(hostile_db))
    at = open_page(page, query={"window": "all"})
    assert_page_inert(at)
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("value", [HOSTILE[0], HOSTILE[1], HOSTILE[2], HOSTILE[4], HOSTILE[5],
                                   HOSTILE[7], HOSTILE[9], HOSTILE[16]])
def test_a_hostile_db_in_the_link_is_one_line_of_text(page, value, hostile_db, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", str(hostile_db))
    at = open_page(page, query={"db": value}, timeout=30)
    assert not at.exception
    assert len(at.error) == 1 and "not one of the databases configured here" in at.error[0].value
    assert value in shown(at.error[0].value)      # shown, as it was typed
    assert_page_inert(at)


def test_a_hostile_db_among_several_databases(hostile_db, tmp_path, monkeypatch):
    """?db= against R2W_DATABASES (the error lists the names configured)."""
    monkeypatch.setenv("R2W_DATABASES", f"prod={hostile_db} other={hostile_db}")
    for page in ("app.py", "pages/6_Maintenance.py"):
        at = open_page(page, query={"db": "[x](http://evil.example/a) <img src=x>"}, timeout=30)
        assert not at.exception and len(at.error) == 1
        assert_page_inert(at)
        at = open_page(page, query={"db": "prod"})
        assert_page_inert(at)


def test_a_hostile_location_is_text_in_the_captions_and_commands(tmp_path, monkeypatch):
    """The database's own path (shown in the sidebar, the captions, the History page's
    commands, the Maintenance page's target) with Markdown in a folder's name."""
    folder = tmp_path / "d`x` [l](https:evil.example) ![i](https:evil.example) <img src=x> :red[hostile] $hostile$ :smile:"
    path = hostile_database(folder)
    monkeypatch.setenv("DATABASE_URL", str(path))
    for page in ("app.py", "pages/3_Uploads.py", "pages/6_Maintenance.py", "pages/7_History.py"):
        at = open_page(page)
        assert not at.exception, (page, at.exception)
        for kind, field, value in markdown_sources(at):
            for tell in ("](https:evil", "![i", "<img", ":red[hostile", "$hostile$", ":smile:"):
                assert tell not in value, (page, kind, field, value)
        sidebar = " ".join(shown(m.value) for m in at.sidebar.markdown)
        assert str(path) in sidebar


def test_the_benchmarks_parameters_line_keeps_a_backtick_user_id_as_text(tmp_path, monkeypatch):
    """Class 15's example: the Parameters line samples a user_id from the rows; a backtick in
    it ended the code span and let a link and an image onto the page."""
    path = hostile_database(tmp_path / "db")
    monkeypatch.setenv("DATABASE_URL", str(path))
    at = open_page("pages/5_Query_benchmarks.py")
    at.number_input(key="bench_iterations").set_value(2)
    at.button(key="bench_run").click().run()
    assert_page_inert(at)
    params = [c.value for c in at.caption if c.value.startswith("Parameters:")]
    assert params and any("evil" in p for p in params), params
    assert any(shown(e.label) for e in at.expander)
