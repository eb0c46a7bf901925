"""The browser's remembered-sign-in cookie, written and deleted by a script in the page.

Streamlit reads cookies (st.context.cookies, what the browser sent when it connected) but
cannot set one from the server; st.html with unsafe_allow_javascript runs this one fixed
script (its only input is a token this process made: [A-Za-z0-9_-]). Set from JavaScript,
the cookie cannot be HttpOnly. The element hides itself, so the page keeps its layout.
"""
import json

import streamlit as st

from r2w_db.engine import timeutil
from r2w_db.monitor import signin_tokens

# The element hides itself (no gap above the page's title). Secure is added on HTTPS;
# SameSite=None carries it always (a browser refuses it otherwise).
COOKIE_JS = """<script>(() => {{
  const box = document.currentScript?.closest('[data-testid="stElementContainer"]');
  if (box) box.style.display = "none";
  const https = window.location.protocol === "https:";
  for (const attributes of {variants}) {{
    const secure = https && !attributes.includes("; Secure") ? "; Secure" : "";
    document.cookie = {prefix} + attributes + secure;
  }}
}})();</script>"""


def cookie_attributes(samesite, max_age):
    """The cookie's attributes after its value: `Path=/; Max-Age=N; SameSite=...` (with
    `Secure; Partitioned` for SameSite=None; Secure is added on HTTPS in the browser)."""
    if samesite == "none":
        return f"; Path=/; Max-Age={int(max_age)}; SameSite=None; Secure; Partitioned"
    return f"; Path=/; Max-Age={int(max_age)}; SameSite={samesite.capitalize()}"


def write(token, expires_at=None, limits=None):
    """Write (token) or delete (None) the browser's cookie: a script in the page. Deleting
    covers every SameSite the cookie may have been written with."""
    if token is None:
        variants = [cookie_attributes(samesite, 0) for samesite in signin_tokens.SAMESITE]
        prefix = f"{signin_tokens.COOKIE}="
    else:
        max_age = max(0, int((expires_at - timeutil.utcnow()).total_seconds()))
        variants = [cookie_attributes(limits.samesite, max_age)]
        prefix = f"{signin_tokens.COOKIE}={token}"
    st.html(COOKIE_JS.format(variants=json.dumps(variants), prefix=json.dumps(prefix)),
            unsafe_allow_javascript=True, width="content")
