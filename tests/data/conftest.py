"""Fixtures of the data-layer tests: a local HTTP server for the downloaders and ``fetch``.

The server listens on an ephemeral port of 127.0.0.1; no test of tests/data ever contacts the
network.
"""
from __future__ import annotations

import io
import socket
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
        self.peers = []            # (path, client port) of every request, in order


#: The longest a hostile answer holds a connection (a test's limit is far below).
TRICKLE_S = 30.0


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
        st.peers.append((path, self.client_address[1]))  # the client's port: one per connection
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
        elif path in _HOSTILE:
            _HOSTILE[path](self)
        else:
            self._send(404, b"nope", "text/plain")

    # Hostile answers: each holds the connection at most TRICKLE_S seconds, then gives up.
    def _drip(self, data: bytes, every: float):
        end = time.monotonic() + TRICKLE_S
        for i in range(len(data)):
            if time.monotonic() > end:
                return
            self.wfile.write(data[i:i + 1])
            time.sleep(every)

    def slow_headers(self):
        """The status line, then one header byte every 0.1 s (never ending the headers)."""
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        self._drip(b"X-Padding: " + b"a" * 10_000, 0.1)

    def trickle_body(self):
        """A whole JPEG, one byte every 0.05 s: each read gets a byte before any read timeout."""
        self._send_headers(200, len(self.state.jpeg))
        self._drip(self.state.jpeg, 0.05)

    def endless_body(self):
        """No Content-Length, and bytes as fast as the client reads them, for ever."""
        self._send_headers(200, None)
        block, end = b"\0" * 65536, time.monotonic() + TRICKLE_S
        while time.monotonic() < end:
            self.wfile.write(block)

    def stalled_body(self):
        """Content-Length of the JPEG, a tenth of it, then silence with the connection open."""
        self._send_headers(200, len(self.state.jpeg))
        self.wfile.write(self.state.jpeg[: len(self.state.jpeg) // 10])
        time.sleep(TRICKLE_S)

    def lying_short(self):
        """Content-Length of 10 bytes, then a whole JPEG: only 10 bytes are an answer."""
        self._send_headers(200, 10)
        self.wfile.write(self.state.jpeg)

    def lying_huge(self):
        """Content-Length of a terabyte; the body is a small JPEG."""
        self._send_headers(200, 10**12)
        self.wfile.write(self.state.jpeg)

    def _send_headers(self, code, length):
        self.send_response(code)
        self.send_header("Content-Type", "image/jpeg")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

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
    Hostile ones: ``/slow-headers`` (a header byte every 0.1 s), ``/trickle`` (a body byte every
    0.05 s), ``/endless`` (a body without end, fast), ``/stalled`` (part of the body, then
    silence), ``/lying-short`` (Content-Length 10, a whole JPEG sent), ``/lying-huge``
    (Content-Length 10**12).
    """
    httpd, base, state = _serve("HTTP/1.0")
    yield base, state
    httpd.shutdown()
    httpd.server_close()


_HOSTILE = {"/slow-headers": _Handler.slow_headers, "/trickle": _Handler.trickle_body,
            "/endless": _Handler.endless_body, "/stalled": _Handler.stalled_body,
            "/lying-short": _Handler.lying_short, "/lying-huge": _Handler.lying_huge}


def _serve(protocol: str):
    state = ServerState()
    handler = type("H", (_Handler,), {"state": state, "protocol_version": protocol})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.handle_error = lambda *a: None  # clients hanging up on hostile answers is expected
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}", state


@pytest.fixture
def keepalive_server():
    """The ``server`` fixture's paths over HTTP/1.1 keep-alive: a client reuses a connection
    for its next request (so an attempt can run on a socket an earlier attempt opened)."""
    httpd, base, state = _serve("HTTP/1.1")
    yield base, state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def silent_server():
    """A 127.0.0.1 port whose socket listens but never accepts or answers: connecting succeeds
    (the kernel completes it), then no byte ever comes."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
