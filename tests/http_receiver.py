"""A real HTTP receiver on 127.0.0.1 for webhook and heartbeat tests: it records every request
(and its headers) and answers 200, 500, or never (hang), per path prefix; /r<code>/rest answers
that redirect code to /rest, /x<code>/rest to the same path on http://localhost (another host
name for the same server), /loop redirects to itself."""
import json
import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self):
        self.requests = []          # (method, path, parsed JSON body or None)
        self.headers = []           # the headers of each request (a dict), in the same order
        self.lock = threading.Lock()
        self.release = threading.Event()   # set at the end: hanging handlers return
        self.server = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path):
        return self.base + path

    def got(self, prefix=""):
        with self.lock:
            return [r for r in self.requests if r[1].startswith(prefix)]

    def got_with_headers(self, prefix=""):
        """[(method, path, body, headers)] of the requests whose path starts with prefix."""
        with self.lock:
            return [(*r, h) for r, h in zip(self.requests, self.headers) if r[1].startswith(prefix)]


def _handler(receiver):
    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with receiver.lock:
                receiver.requests.append((self.command, self.path,
                                          json.loads(body) if body else None))
                receiver.headers.append(dict(self.headers))
            redirect = re.match(r"^/([rx])(30[0-8])(/.*)$", self.path)
            if redirect or self.path.startswith("/loop"):
                kind, code, rest = redirect.groups() if redirect else ("r", "307", self.path)
                port = receiver.server.server_address[1]
                self.send_response(int(code))
                self.send_header("Location", rest if kind == "r" else f"http://localhost:{port}{rest}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path.startswith("/hang"):
                receiver.release.wait(30)
                return
            code = 500 if self.path.startswith("/fail500") else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass
    return Handler


@contextmanager
def receiver():
    """A running Receiver (a free port of 127.0.0.1), shut down afterwards."""
    rec = Receiver()
    rec.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    rec.server.daemon_threads = True
    thread = threading.Thread(target=rec.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        rec.release.set()
        rec.server.shutdown()
        rec.server.server_close()
