"""The dashboard's small misleads (issue 20), each fixed: no page names an OS user when there
are no team accounts; ?db= of an unknown name offers the valid names and shows no database's
figures; the Query benchmarks page has no time window; the databases summary uses the status
words; the History page lists the silences beside the notifications."""
import getpass
from datetime import timedelta

import pytest

from r2w_db.backends import open_database
from r2w_db.monitor.silences import SilenceStore

from .signin_helpers import NOW, OVERVIEW, PAGES, app, demo_path, env, texts  # noqa: F401

HISTORY = "pages/7_History.py"
BENCHMARKS = "pages/5_Query_benchmarks.py"


def opened(page, query=None):
    at = app(page, query=query).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("page", PAGES)
def test_no_page_names_the_os_user(page, env, monkeypatch):
    monkeypatch.setattr(getpass, "getuser", lambda: "r2w-os-user")
    at = opened(page)
    assert "r2w-os-user" not in texts(at)
    if "Maintenance" in page:
        assert "Open: no team accounts" in texts(at)
        assert "Signed in as" not in texts(at)


@pytest.mark.parametrize("page", [OVERVIEW, "pages/3_Uploads.py", "pages/6_Maintenance.py"])
def test_an_unknown_db_offers_the_valid_names(page, env, demo_path, monkeypatch):
    monkeypatch.setenv("R2W_DATABASES", f"prod={demo_path} staging={demo_path}")
    at = opened(page, query={"db": "nosuch"})
    assert len(at.error) == 1 and "'nosuch' is not one of the databases" in at.error[0].value
    chooser = at.selectbox(key="_r2w_db_offered")
    assert chooser.options == ["prod", "staging"]
    assert not at.metric and not at.dataframe and not at.get("vega_lite_chart"), \
        "no database's figures"
    chooser.set_value("staging").run()
    assert not at.exception, at.exception
    assert not at.error and at.query_params["db"] == "staging"


def test_the_benchmarks_page_has_no_time_window(env):
    at = opened(BENCHMARKS)
    assert not [r for r in at.sidebar.radio if r.label == "Time window"]
    assert "last 7 days" not in " ".join(c.value for c in at.sidebar.caption)


def test_the_databases_summary_uses_the_status_words(env, demo_path, monkeypatch):
    monkeypatch.setenv("R2W_DATABASES", f"prod={demo_path} staging={demo_path}")
    at = opened(OVERVIEW)
    rows = [m.value for m in at.markdown if "CRITICAL," in m.value and "WARNING" in m.value
            and "·" not in m.value]
    assert len(rows) == 2 and all("**CRITICAL**" in r for r in rows)
    assert not [m for m in at.markdown if " red, " in m.value or " amber" in m.value]


def test_the_history_page_lists_the_silences(env, demo_path):
    db = open_database(demo_path)
    store = SilenceStore()
    store.silence(db, "stuck", until=NOW + timedelta(days=1), reason="worker fixed by ann",
                  user="ada", now=NOW)
    store.lift(db, "stuck", user="ada", now=NOW + timedelta(minutes=5))
    at = opened(HISTORY)
    frame = next(d.value for d in at.dataframe if "event" in d.value.columns)
    assert list(frame["event"]) == ["lifted", "set"]
    assert set(frame["check"]) == {"stuck"} and "worker fixed by ann" in set(frame["reason"])


def test_the_history_page_without_silences_says_how_to_set_one(env):
    at = opened(HISTORY)
    assert any("No silence yet" in i.value for i in at.info)
