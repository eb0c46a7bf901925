"""Secrets that cannot be trusted close the dashboard (issue 11, item 1): a secrets.toml that
does not parse or cannot be read, an empty [team], team accounts that cannot sign in. Every
page shows one message naming the file or entry and the problem; no figures, no sign-in
form, no maintenance, no exception."""
import pytest
import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.runtime.secrets import Secrets

from dashboard import access, ui
from r2w_db.monitor.store import MonitorStore

from .signin_helpers import (  # noqa: F401
    MAINTENANCE,
    OVERVIEW,
    PAGES,
    PASSWORDS,
    TEAM,
    app,
    demo_path,
    env,
    figures,
    sign_in,
    signed_in,
)

BROKEN_FILES = {
    "syntax": (b'[team.ada]\npassword_hash = "x"\nrole = admin\n', "line 3, column 8"),
    "unclosed table": (b"[team.ada\n", "line 1"),
    "twice": (b"[team]\n[team]\n", "line 2"),
    "not utf-8": (b'[monitor]\nread_only = "\xff\xfe"\n', "not UTF-8"),
    "monitor not a table": (b"monitor = true\n", "[monitor] must be a table"),
}


def closed(at, *needles):
    """The page shows only the closed message (once), naming what is wrong."""
    assert not at.exception, at.exception
    assert figures(at) == 0 and not at.text_input and not at.button
    assert not at.get("page_link") and not at.sidebar.children
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "closed until the secrets are fixed" in errors[0], errors
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    assert ui.SESSION_USER not in at.session_state
    return errors[0]


@pytest.fixture
def secrets_file(env, tmp_path, monkeypatch):
    """Write .streamlit/secrets.toml in a fresh working directory that Streamlit reads."""
    folder = tmp_path / "cwd" / ".streamlit"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder.parent)
    monkeypatch.setattr(st, "secrets", Secrets())   # not yet parsed

    def write(content: bytes):
        (folder / "secrets.toml").write_bytes(content)
        return folder / "secrets.toml"
    return write


# ------------------------------------------------------------------ a file that does not parse

@pytest.mark.parametrize("page", PAGES)
def test_a_file_that_does_not_parse_closes_every_page(page, secrets_file):
    path = secrets_file(BROKEN_FILES["syntax"][0])
    message = closed(app(page).run(), str(path), "line 3, column 8")
    assert "Invalid value" in message


@pytest.mark.parametrize("case", [c for c in BROKEN_FILES if c != "syntax"])
def test_every_kind_of_unreadable_file_closes_the_dashboard(case, secrets_file):
    content, detail = BROKEN_FILES[case]
    path = secrets_file(content)
    closed(app(OVERVIEW).run(), str(path), detail)
    closed(app(MAINTENANCE).run(), str(path))


def test_a_directory_in_place_of_the_file(env, tmp_path, monkeypatch):
    (tmp_path / "cwd" / ".streamlit" / "secrets.toml").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(st, "secrets", Secrets())
    closed(app(OVERVIEW).run(), "secrets.toml", "directory")


def test_a_good_file_still_opens_and_no_file_still_runs_open(secrets_file):
    secrets_file(b"[monitor]\nread_only = false\n")
    at = app(OVERVIEW).run()
    assert not at.exception and figures(at) >= 10
    assert any("No team accounts configured" in w.value for w in at.sidebar.warning)


def test_streamlit_refusing_the_secrets_closes_the_dashboard(env, monkeypatch):
    """However Streamlit reports it (a FileNotFoundError subclass, as for no file at all)."""
    class Unparsable:
        def get(self, *args, **kwargs):
            raise StreamlitSecretNotFoundError(
                "Error parsing secrets file at {path}: {error}", path="/etc/r2w/secrets.toml",
                error="Invalid value (at line 9, column 1)")
    monkeypatch.setattr(st, "secrets", Unparsable())
    closed(app(OVERVIEW).run(), "/etc/r2w/secrets.toml", "line 9")
    assert access.read_only() and access.accounts_configured()
    assert access.current_user() == (None, None), "never the open dashboard's local admin"


# ------------------------------------------------------------------ [team] that cannot sign anyone in

GOOD = TEAM["ada"]["password_hash"]
BAD_TEAMS = {
    "empty": ({}, "[team] has no accounts"),
    "not a table": ("ada", "[team] must be a table"),
    "entry not a table": ({"ada": "x"}, "[team.ada] is not a table"),
    "no hash": ({"ada": {"role": "admin"}}, "[team.ada] has no valid bcrypt password_hash"),
    "plain text": ({"ada": {"password_hash": "ada-admin-password", "role": "admin"}},
                   "[team.ada] has no valid bcrypt"),
    "example placeholder": ({"ada": {"password_hash":
                                     "$2b$12$REPLACE.WITH.THE.OUTPUT.OF.hash-password..............",
                                     "role": "admin"}}, "[team.ada] has no valid bcrypt"),
    "truncated hash": ({"ada": {"password_hash": GOOD[:-1], "role": "admin"}}, "[team.ada]"),
    "cost out of range": ({"ada": {"password_hash": GOOD[:4] + "99" + GOOD[6:], "role": "admin"}},
                          "[team.ada]"),
    "hash not text": ({"ada": {"password_hash": 12, "role": "admin"}}, "[team.ada]"),
    "unknown role": ({"ada": {"password_hash": GOOD, "role": "root"}},
                     "role must be viewer or admin, not 'root'"),
    "one bad among good": ({**TEAM, "eve": {"password_hash": GOOD, "role": "owner"}}, "[team.eve]"),
    "name with spaces": ({" ada": {"password_hash": GOOD, "role": "admin"}}, "surrounding spaces"),
}


@pytest.mark.parametrize("case", list(BAD_TEAMS))
def test_a_team_that_cannot_sign_in_closes_the_dashboard(case, env):
    team, detail = BAD_TEAMS[case]
    closed(app(OVERVIEW, team).run(), "secrets.toml", detail)


def test_a_monitor_that_is_not_a_table_closes_the_dashboard(env):
    at = app(OVERVIEW, TEAM)
    at.secrets["monitor"] = "read_only"
    closed(at.run(), "[monitor] must be a table")


def test_breaking_the_secrets_signs_everyone_out_and_runs_nothing(env):
    at = signed_in(MAINTENANCE, "ada")
    at.button(key="maint_run_sessions").click().run()        # the confirmation dialog
    at.checkbox(key="maint_backup_first").uncheck()
    at.secrets["team"] = {}                                  # then the secrets break
    at.button(key="maint_dialog_confirm").click().run()
    closed(at, "[team] has no accounts")
    assert MonitorStore().recent_log() == [], "the confirmed task never ran"
    at.secrets["team"] = TEAM                                # fixed: signed out, the form again
    at.run()
    assert not at.exception and [t.label for t in at.text_input] == ["Username", "Password"]
    assert sign_in(at, "ada", PASSWORDS["ada"]).button(key="maint_run_sessions")
    assert MonitorStore().recent_log() == [], "nor after signing in again"
