"""Fixtures of the data-layer tests: a local HTTP server for the downloaders and ``fetch``.

The server listens on an ephemeral port of 127.0.0.1; no test of tests/data ever contacts the
network.
"""
from __future__ import annotations

import io
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from PIL import Image


def _jpeg(color=(200, 60, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(buf, "JPEG")
    return buf.getvalue()


class ServerState:
    """What the server serves and what it saw; tests flip its switches."""

    def __init__(self):
        self.jpeg = _jpeg()        # the body of every image answer
        self.hits = Counter()
        self.down = False          # /down/*: 503 while True
        self.files = {}            # /files/<name>: archives, Range-capable
        self.range_ok = True
        self.cut_next = False      # next /files answer: half the body, full Content-Length
        self.ranges = []


class _Handler(BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, code, body=b"", ctype="image/jpeg", length=None, headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if length is not False:
            self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server's name
        st, path = self.state, urlsplit(self.path).path
        jpeg = st.jpeg
        st.hits[path] += 1
        if path == "/good.jpg" or "passwd" in path or "%2F" in path.upper():
            self._send(200, jpeg)
        elif path == "/404":
            self._send(404, b"nope", "text/plain")
        elif path == "/500":
            self._send(500, b"boom", "text/plain")
        elif path == "/flaky":
            self._send(500, b"boom", "text/plain") if st.hits[path] == 1 else self._send(200, jpeg)
        elif path == "/slow":
            time.sleep(1.2)
            self._send(200, jpeg)
        elif path == "/truncated":
            self._send(200, jpeg[:100], length=len(jpeg) + 1000)
        elif path == "/cut.jpg":
            self._send(200, jpeg[: len(jpeg) * 2 // 5])
        elif path == "/redirect":
            self._send(302, b"", "text/plain", headers=[("Location", "/good.jpg")])
        elif path == "/html":
            self._send(200, b"<html><body>Not found</body></html>", "image/jpeg")
        elif path == "/nolength":
            self._send(200, jpeg, length=False)
        elif path.startswith("/down/"):
            self._send(503, b"down", "text/plain") if st.down else self._send(200, jpeg)
        elif path.startswith("/files/") and path[7:] in st.files:
            self._serve_file(st.files[path[7:]])
        else:
            self._send(404, b"nope", "text/plain")

    def _serve_file(self, data: bytes):
        st, rng = self.state, self.headers.get("Range")
        st.ranges.append(rng)
        start = int(rng.split("=")[1].split("-")[0]) if rng and st.range_ok else 0
        if start >= len(data) and rng and st.range_ok:
            return self._send(416, b"", headers=[("Content-Range", f"bytes */{len(data)}")])
        headers = [("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")] if start else []
        body = data[start:]
        length = len(body)
        if st.cut_next:
            st.cut_next, body = False, body[: len(body) // 2]
        self._send(206 if start else 200, body, "application/zip", length=length, headers=headers)


@pytest.fixture
def server():
    """``(base URL, ServerState)`` of a fresh threaded server on an ephemeral 127.0.0.1 port.

    Paths: ``/good.jpg``; ``/404``; ``/500``; ``/flaky`` (500 once, then the image); ``/slow``
    (1.2 s); ``/truncated`` (body shorter than its Content-Length); ``/cut.jpg`` (a cut JPEG);
    ``/redirect`` (to /good.jpg); ``/html`` (a page served as image/jpeg); ``/nolength``;
    ``/down/<any>`` (503 while ``state.down``); ``/files/<name>`` (``state.files[name]``, with
    Range support unless ``state.range_ok`` is False, cut halfway once when ``state.cut_next``).
    """
    state = ServerState()
    handler = type("H", (_Handler,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.handle_error = lambda *a: None  # clients hanging up on /slow is expected
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    httpd.shutdown()
    httpd.server_close()
