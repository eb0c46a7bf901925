"""A sign-in that survives a reload and a restart (issue 13), in the real browser: the cookie
and its attributes, a reload, a server restart, sign-out, and the old cookie sent again.

Its own server (team accounts, its own monitor database), because one test restarts it."""
import base64
import re
import time

import pytest
from playwright.sync_api import expect

from r2w_db.monitor import signin_tokens

from . import streamlit_app as app
from .conftest import ACCOUNTS
from .streamlit_app import assert_no_exception, metric_values, open_page, screenshot, wait_for_app

SIGNED_IN = "Signed in as"


@pytest.fixture(scope="module")
def remember_server(e2e_dir, demo_db):
    from r2w_db.app.passwords import hash_password

    secrets = e2e_dir / "remember" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text("".join(
        f'[team.{name}]\npassword_hash = "{hash_password(password, rounds=4)}"\n'
        f'role = "{role}"\n\n' for name, (password, role) in ACCOUNTS.items()))
    server = app.Server("remember", e2e_dir, demo_db, secrets)
    try:
        yield server.start()
    finally:
        server.stop()


def sidebar(page):
    return page.get_by_test_id("stSidebar")


def the_form(page):
    expect(page.get_by_role("button", name=re.compile("Sign in"))).to_be_visible()
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    assert_no_exception(page)


def signed_in_as(page, name):
    expect(sidebar(page).get_by_text(SIGNED_IN)).to_contain_text(name)
    expect(page.locator('[data-testid="stHeading"] h1').first).to_have_text("Overview")
    assert "Uploads" in metric_values(page)
    assert_no_exception(page)


def remembered(page):
    """The sign-in cookie in the browser, or None."""
    found = [c for c in page.context.cookies() if c["name"] == signin_tokens.COOKIE]
    return found[0] if found else None


def sign_in(page, server, name):
    open_page(page, server)
    page.get_by_label("Username", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(ACCOUNTS[name][0])
    page.get_by_role("button", name=re.compile("Sign in")).click()
    wait_for_app(page)
    # the page's script writes the cookie once the signed-in page is drawn
    page.wait_for_function(f"document.cookie.includes('{signin_tokens.COOKIE}=')",
                           timeout=app.WAIT_MS)


def test_a_reload_and_a_restart_keep_the_sign_in(page, remember_server):
    sign_in(page, remember_server, "vic")
    signed_in_as(page, "vic")
    cookie = remembered(page)
    # the value names no one: an opaque token, nothing of the name, role or password
    value = cookie["value"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value), value
    decoded = base64.urlsafe_b64decode(value + "=")
    for secret in ("vic", "viewer", ACCOUNTS["vic"][0]):
        assert secret not in value and secret.encode() not in decoded
    assert cookie["path"] == "/" and cookie["sameSite"] == "Strict"
    assert not cookie["secure"], "plain http here: Secure is added on https only"
    assert abs(cookie["expires"] - (time.time() + 12 * 3600)) < 300, "Max-Age: 12 h"

    page.reload(wait_until="commit")
    wait_for_app(page)
    signed_in_as(page, "vic")
    print(f"Overview after a reload: {screenshot(page, 'Overview-after-reload')}")

    remember_server.stop()
    remember_server.start()
    open_page(page, remember_server)
    signed_in_as(page, "vic")
    assert remembered(page)["value"] == value, "the same sign-in, not a new one"


def test_after_sign_out_the_old_cookie_opens_nothing(page, remember_server):
    sign_in(page, remember_server, "ada")
    signed_in_as(page, "ada")
    old = remembered(page)
    sidebar(page).get_by_role("button", name=re.compile("Sign out")).click()
    wait_for_app(page)
    the_form(page)
    page.wait_for_function(f"!document.cookie.includes('{signin_tokens.COOKIE}=')",
                           timeout=app.WAIT_MS)
    assert remembered(page) is None, "the cookie is deleted"

    page.reload(wait_until="commit")
    wait_for_app(page)
    the_form(page)

    page.context.add_cookies([{k: old[k] for k in ("name", "value", "domain", "path",
                                                    "expires", "sameSite")}])
    assert remembered(page)["value"] == old["value"]
    page.reload(wait_until="commit")
    wait_for_app(page)
    the_form(page)
    expect(sidebar(page).get_by_text(SIGNED_IN)).to_have_count(0)
    # a new tab of the same browser: the same answer
    other = page.context.new_page()
    try:
        open_page(other, remember_server)
        the_form(other)
    finally:
        other.close()
