"""Alerts: what changed since the last notification, sent to every destination, and the heartbeat.

A message goes out when a check got worse (green -> amber -> red), recovered to green, or has
stayed red for `repeat_hours` since its last message (a reminder). A red check turning amber is
remembered without a message (its next worsening is news). The first run, with no state,
reports every check that is not green. When the database cannot be read at all, the pseudo-check
`database` turns red (and recovers when it can be read again).

http(s) destinations get a JSON POST: a Slack-compatible `text`, and `status`, `database`,
`checks`. A destination that is down, slow or refusing never breaks the check: each send has a
timeout, runs in its own thread, and is logged as failed and retried at the next cycle.
"""
import base64
import hashlib
import http.client
import json
import re
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from r2w_db import errors
from r2w_db.engine import locations, timeutil
from r2w_db.figures import health, health_report
from r2w_db.monitor.alert_store import AlertStore

ORDER = {health.OK: 0, health.WARN: 1, health.ERROR: 2}
WORDS = {"first": "not OK", "worse": "worse", "recovered": "recovered",
         "reminder": "still CRITICAL"}
DATABASE_CHECK = "database"
USER_AGENT = "r2w-monitor"
REDIRECTS = (301, 302, 303, 307, 308)
FOLLOWED = (307, 308)      # a POST redirected by these stays a POST with its body
MAX_REDIRECTS = 5


def destination_id(url):
    """A stable id for a URL that does not reveal it (the log never holds a webhook's token)."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def destination_label(url):
    """scheme://host[:port]/... : enough to recognise a destination, never its path or password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparseable URL)"
    return f"{parts.scheme}://{host}{port}" + ("/…" if parts.path.strip("/") or parts.query else "")


def _rows(report):
    """The checks of a report, plus the `database` pseudo-check (red when it cannot be read)."""
    rows = list(report["checks"])
    readable = bool(rows) or report["exit_code"] != health_report.UNKNOWN_CODE
    rows.append({"key": DATABASE_CHECK, "title": "Database readable",
                 "status": health.OK if readable else health.ERROR,
                 "number": 1 if readable else 0,
                 "value": "readable" if readable else "cannot be read",
                 "detail": report.get("error") or "", "command": "",
                 "remedy": "" if readable else "Check the location, the file and its permissions."})
    return rows


def decider(report, repeat_hours, now):
    """decide(state, first, silenced) for AlertStore.claim: (new_state, message or None, kind).
    A silenced check sends nothing (its notified state stays as it was, so that a change or a
    reminder is due again once the silence ends), except its recovery, which ends the silence."""
    def decide(state, first, silenced):
        new_state, changes = {}, []
        for row in _rows(report):
            key, status = row["key"], row["status"]
            old = state.get(key) or {}
            before = old.get("status", health.OK)
            entry = {"status": status, "number": _float(row.get("number")), "notified": False}
            if key in silenced:
                change = _silenced(entry, before, silenced[key])
                new_state[key] = entry
                if change:
                    changes.append({**row, **change})
                continue
            change = None
            if first:
                change = "first" if status != health.OK else None
            elif ORDER[status] > ORDER.get(before, 0):
                change = "worse"
            elif status == health.OK and before != health.OK:
                change = "recovered"
            elif status == health.ERROR and before == health.ERROR:
                last = timeutil.parse(old.get("notified_at") or old.get("changed_at"))
                if last is None or now - last >= timedelta(hours=repeat_hours):
                    change = "reminder"
            entry["notified"] = change is not None
            new_state[key] = entry
            if change:
                changes.append({**row, "change": change, "previous": None if first else before})
        if not changes:
            return new_state, None, None
        kind = ("first" if first else
                "reminder" if all(c["change"] == "reminder" for c in changes) else "change")
        return new_state, message(report, changes, now), kind
    return decide


def _silenced(entry, before, silence):
    """A silenced check's entry (marked for the claim) and its change, if any: failing, it is
    only noted on the silence; green after failing (as last notified, or as seen while
    silenced), it is a recovery, sent, and the silence ends."""
    if entry["status"] != health.OK:
        entry["silence"] = "seen"
        return None
    earlier = before if before != health.OK else silence.get("seen_status")
    if earlier not in ORDER or earlier == health.OK:
        return None   # green all along: the silence waits for its expiry
    entry.update(notified=True, silence="recovered")
    return {"change": "recovered", "previous": earlier,
            "silenced": {"by": silence["user"], "reason": silence["reason"],
                         "until": silence["until"], "ended": "recovered"}}


def _float(value):
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def message(report, changes, now):
    """The JSON sent: text (Slack-compatible), status, database, checks, as_of. Statuses in the
    command line's words (OK, WARNING, CRITICAL); `colour` stays for the receivers reading it."""
    word = health_report.status_word
    lines = [f"R2W {report['status']} on {report['database']}"]
    for c in changes:
        was = f"{word(c['previous'])} → " if c.get("previous") else ""
        line = f"• {c['title']}: {was}{word(c['status'])} ({c['value']}), {WORDS[c['change']]}"
        if c.get("silenced"):
            line += f"; its silence ends {health_report.silenced_note(c['silenced'])}"
        if c.get("remedy"):
            line += f". {c['remedy']}"
        lines.append(line)
    checks = [{"key": c["key"], "title": c["title"], "status": c["status"],
               "status_word": word(c["status"]), "colour": health_report.COLOUR[c["status"]],
               "previous": c.get("previous"), "change": c["change"], "number": c.get("number"),
               "value": c["value"], "detail": c.get("detail", ""), "remedy": c.get("remedy", ""),
               "command": c.get("command", ""), "silenced": c.get("silenced")}
              for c in changes]
    return {"text": "\n".join(lines), "status": report["status"], "database": report["database"],
            "checks": checks, "as_of": timeutil.iso(now)}


def post_json(url, payload, timeout):
    """(ok, error or note): POST the payload as JSON. ok only when the POST itself got a 2xx
    answer within the timeout: a 307 or 308 redirect is followed as a POST with its body, any
    other redirect (301, 302, 303 would turn it into a GET without its body) is a failure; the
    note says when it was delivered through a redirect."""
    body = json.dumps(payload, default=str).encode()
    return _guarded(lambda: _send(url, "POST", body, timeout), url)


def fetch(url, timeout):
    """(ok, error or note): GET a URL (the heartbeat); a GET follows any redirect as a GET."""
    return _guarded(lambda: _send(url, "GET", None, timeout, what="heartbeat"), url)


def failure_url(url):
    """The heartbeat's failure signal: '/fail' appended to the URL's path, before its query
    (healthchecks.io: https://hc-ping.com/<uuid>/fail?rid=...)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.rstrip("/") + "/fail"      # refused as it is by prepared()
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/fail",
                       parts.query, parts.fragment))


def heartbeat(url, ok, timeout, fail_url=None):
    """Ping the heartbeat after a cycle: the URL when it went well; when not, `fail_url` if set,
    else the URL with '/fail' appended to its path (before the query)."""
    return _bounded(lambda: fetch(url if ok else fail_url or failure_url(url), timeout), timeout)


class BadDestination(errors.InvalidValue):
    """An alert or heartbeat URL that cannot be used as it is (one line, password redacted)."""


def shown(url):
    """A URL fit for an error line: scheme, user, host and port, never the password, path or
    query. Fails closed: everything before the last '@' of the address is taken for the user
    part (the user name is kept only when it is plain)."""
    text = str(url).strip()
    match = locations.SCHEME.match(text)
    if not match:
        return "(not a URL)"
    address = text[match.end():]
    head, at, tail = address.rpartition("@")
    host = re.split(r"[/?#]", tail if at else address, maxsplit=1)[0]
    if not at:
        return match.group(0) + host
    name, colon, _ = head.partition(":")
    user = f"{name}:***@" if colon and not re.search(r"[/?#@]", name) else "***@"
    return f"{match.group(0)}{user}{host}"


def prepared(url, what="destination"):
    """(address, Authorization header or None, secrets): the URL without its user:password@
    and, when it had one, HTTP Basic authentication carrying it. BadDestination (one line,
    password redacted) for a URL that is not http(s) or cannot be read unambiguously."""
    text = str(url).strip()
    try:
        parts = urlsplit(text)
        port = parts.port
        scheme = parts.scheme.lower()
    except ValueError:
        raise BadDestination(
            f"{shown(text)} is not a valid URL (a password holding @, :, /, ?, # or % must be "
            f"percent-encoded, e.g. # as %23)") from None
    if scheme not in ("http", "https"):
        raise BadDestination(f"unsupported {what} {destination_label(text)}: only http(s) URLs")
    if not parts.hostname or "@" in parts.fragment:
        raise BadDestination(
            f"{shown(text)} is not a valid URL (no host, or a user part that is not "
            f"percent-encoded: write # as %23, / as %2F, ? as %3F)")
    secrets, auth = [], None
    if parts.username is not None or parts.password is not None:
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        secrets = [s for s in (parts.password, password) if s]
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        auth = f"Basic {token}"
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host + (f":{port}" if port is not None else "")
    return urlunsplit((scheme, netloc, parts.path, parts.query, "")), auth, secrets


def _guarded(func, url):
    """func() with whatever it raises turned into (False, one line), the password removed:
    a sending thread never dies with a traceback."""
    try:
        return func()
    except BadDestination as exc:
        return False, str(exc)
    except Exception as exc:  # noqa: BLE001 - a sender never raises
        return False, _scrubbed(f"{type(exc).__name__}: {exc}", url)


def _scrubbed(text, url):
    """text without the URL's user part (raw or percent-decoded)."""
    text = errors.one_line(text)
    try:
        parts = urlsplit(str(url))
        secrets = [parts.password, unquote(parts.password or ""), parts.username,
                   unquote(parts.username or "")]
    except ValueError:
        secrets = []
    address = str(url).split("://", 1)[-1]
    if "@" in address:
        secrets.append(address.rsplit("@", 1)[0])
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _origin(address):
    parts = urlsplit(address)
    return parts.scheme, parts.hostname, parts.port or {"http": 80, "https": 443}[parts.scheme]


def _same_site(here, origin):
    """The Authorization header follows a redirect only to the same scheme, host and port, or
    from http:// to the https:// of the same host."""
    return here == origin or (here[1] == origin[1] and origin[0] == "http" and here[0] == "https"
                              and origin[2] == 80 and here[2] == 443)


def _send(url, method, body, timeout, what="destination"):
    """(ok, error or note) of one request and the redirects it follows (at most
    MAX_REDIRECTS, all within `timeout`)."""
    address, auth, secrets = prepared(url, what)
    origin, hops = _origin(address), []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, f"no answer within {timeout:g} s"
        headers = {"User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(address, data=body, method=method, headers=headers)
        if auth and _same_site(_origin(address), origin):
            request.add_unredirected_header("Authorization", auth)
        status, location, error = _open(request, left, timeout)
        if status is None:
            return False, _clean(error, secrets)
        if status in REDIRECTS and location:
            target = urljoin(address, location)
            label = destination_label(target)
            if method == "POST" and status not in FOLLOWED:
                return False, (f"HTTP {status} redirect to {label} not followed: it would turn "
                               f"the POST into a GET without its body (set the URL it points to)")
            if len(hops) >= MAX_REDIRECTS:
                return False, f"more than {MAX_REDIRECTS} redirects ({', '.join(hops)})"
            hops.append(f"{status} to {label}")
            address, _, more = prepared(target, f"redirect ({status}) to")
            secrets = secrets + more
            continue
        if 200 <= status < 300:
            return True, (f"delivered after redirect {', then '.join(hops)}" if hops else None)
        return False, _clean(error or f"HTTP {status}", secrets) + (
            f" (after redirect {', then '.join(hops)})" if hops else "")


def _clean(text, secrets):
    text = errors.one_line(text)
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answered, not followed: _send decides (see post_json)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _open(request, left, timeout):
    """(HTTP status, Location or None, error or None), or (None, None, error) without an answer."""
    try:
        with _OPENER.open(request, timeout=left) as answer:
            answer.read(1024)
            return answer.status, None, None if answer.status < 300 else f"HTTP {answer.status}"
    except urllib.error.HTTPError as exc:
        location = exc.headers.get("Location") if exc.headers is not None else None
        exc.close()
        return exc.code, location, f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            return None, None, f"no answer within {timeout:g} s"
        return None, None, f"cannot reach it: {exc.reason}"
    except TimeoutError:
        return None, None, f"no answer within {timeout:g} s"
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return None, None, str(exc) or type(exc).__name__


def _bounded(func, timeout):
    """Run func in a daemon thread; give up waiting a second after its own timeout."""
    box = []
    thread = threading.Thread(target=lambda: box.append(func()), daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return box[0] if box else (False, f"no answer within {timeout:g} s")


def deliver(claimed, urls, timeout):
    """[(claimed row, ok, error)]: every claimed delivery sent at once, each in its own thread."""
    results = [None] * len(claimed)

    def send(i, row):
        url = urls.get(row["destination_id"])
        results[i] = (False, "destination no longer configured") if url is None else \
            post_json(url, row["payload"], timeout)

    threads = [threading.Thread(target=send, args=(i, row), daemon=True)
               for i, row in enumerate(claimed)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 1.0)
    return [(row, *(results[i] or (False, f"no answer within {timeout:g} s")))
            for i, row in enumerate(claimed)]


def notify(db, report, alerts, store=None, now=None):
    """Send what changed (and retry what failed before). Returns {"sent", "failed", "changes"
    (the checks in the new message), "problem"}; problem: why nothing could be addressed;
    "configured": False when no destination is set up (nothing is sent or recorded)."""
    store = store if isinstance(store, AlertStore) else AlertStore(store)
    now = now or timeutil.utcnow()
    if alerts.problem:
        store.log_problem(db, alerts.problem, now)
        return {"sent": 0, "failed": 1, "changes": [], "problem": alerts.problem}
    if not alerts.urls:
        return {"sent": 0, "failed": 0, "changes": [], "configured": False, "problem":
                "no alert destinations: set R2W_ALERT_URLS or urls under [alerts] in the secrets"}
    urls = {destination_id(u): u for u in alerts.urls}
    claimed = store.claim(db, decider(report, alerts.repeat_hours, now),
                          [(i, destination_label(u)) for i, u in urls.items()], now)
    sent = failed = 0
    for row, ok, error in deliver(claimed, urls, alerts.timeout):
        store.finish(row["id"], ok, error)
        sent, failed = sent + bool(ok), failed + (not ok)
    fresh = [c for c in claimed if not c.get("retry")]
    return {"sent": sent, "failed": failed, "problem": None,
            "changes": fresh[0]["payload"]["checks"] if fresh else []}
