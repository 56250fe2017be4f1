"""Fault-serving routes for the loopback test site: every way a real server misbehaves that the tests need."""
from __future__ import annotations

import gzip
import socket
import threading
import zlib
from http.server import BaseHTTPRequestHandler
from typing import Callable, Dict

from newsbeam.sample_site.arrival import stamp_arrivals

ARTICLE = (
    "<html><head><meta charset='utf-8'><title>{title}</title></head><body>"
    "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
    "<article><h1>{title}</h1>{paragraphs}</article><footer>Copyright 2026 Test Courier</footer></body></html>"
)


def article_html(title: str, sentence: str, paragraphs: int = 5) -> bytes:
    body = "".join(f"<p>{sentence} ({i + 1})</p>" for i in range(paragraphs))
    return ARTICLE.format(title=title, paragraphs=body).encode("utf-8")


ENGLISH = ("Prosecutors in Brussels opened the trial of three women who returned from the al-Hol camp in "
           "north-east Syria, where thousands of families of Islamic State fighters are still held")
FRENCH = ("Le procès de trois femmes revenues du camp d'al-Hol, dans le nord-est de la Syrie, s'est ouvert à "
          "Paris, où les magistrats ont entendu des témoignages détaillés sur les réseaux de recrutement")


def _html(status: int, body: bytes, content_type: str = "text/html; charset=utf-8", headers=None) -> Callable:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_body(status, body, content_type, headers)
    return route


def _flaky(failures: int, status: int, body: bytes, retry_after: str = "0") -> Callable:
    """Fails `failures` times with `status`, then serves `body`."""
    lock = threading.Lock()
    seen = [0]

    def route(handler) -> None:
        with lock:
            seen[0] += 1
            failing = seen[0] <= failures
        if failing:
            handler.send_body(status, b"busy", "text/plain", {"Retry-After": retry_after})
        else:
            handler.send_body(200, body, "text/html; charset=utf-8")
    return route


def _hang(handler) -> None:
    """Accepts the connection and never answers (until the test server stops)."""
    handler.server.site.stopping.wait(60)


def _drip(handler) -> None:
    """Headers at once, then one byte every 0.3 s: every read is quick, the whole never ends."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(100000):
        if handler.server.site.stopping.wait(0.3):
            return
        try:
            handler.wfile.write(b"<")
            handler.wfile.flush()
        except OSError:
            return


def _huge(declared: bool) -> Callable:
    size = 40 * 1024 * 1024

    def route(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        if declared:
            handler.send_header("Content-Length", str(size))
        else:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        chunk = b"<p>" + b"x" * 65530 + b"</p>"
        try:
            for _ in range(size // len(chunk)):
                handler.wfile.write(chunk)
        except OSError:
            return  # the client gave up, as it should
    return route


def _redirect(location: str, status: int = 301) -> Callable:
    def route(handler) -> None:
        handler.send_body(status, b"", "text/html", {"Location": location})
    return route


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 64


def fault_routes() -> Dict[str, Callable]:
    """Paths under /faults/ and what they do (see each name)."""
    return {
        "/faults/ok.html": _html(200, article_html("An ordinary article", ENGLISH)),
        "/faults/500.html": _html(500, b"<h1>Internal Server Error</h1>"),
        "/faults/always-503.html": _html(503, b"busy", "text/plain", {"Retry-After": "0"}),
        "/faults/503-then-200.html": _flaky(1, 503, article_html("Back after a 503", ENGLISH)),
        "/faults/429-then-200.html": _flaky(1, 429, article_html("Back after a 429", ENGLISH), retry_after="1"),
        "/faults/429-retry-later.html": _html(429, b"slow down", "text/plain", {"Retry-After": "86400"}),
        "/faults/hang.html": _hang,
        "/faults/drip.html": _drip,
        "/faults/huge.html": _huge(declared=True),
        "/faults/huge-undeclared.html": _huge(declared=False),
        "/faults/image.png": _html(200, PNG, "image/png"),
        "/faults/plain.txt": _html(200, ENGLISH.encode() * 5, "text/plain; charset=utf-8"),
        "/faults/redirect-1.html": _redirect("/faults/redirect-2.html", 301),
        "/faults/redirect-2.html": _redirect("/faults/redirect-3.html", 302),
        "/faults/redirect-3.html": _redirect("/faults/ok.html", 307),
        "/faults/redirect-loop.html": _redirect("/faults/redirect-loop.html", 302),
        "/faults/redirect-private.html": _redirect("/private/secret.html", 301),
        "/faults/wrong-charset.html": _html(200, article_html("Procès à Paris", FRENCH),
                                            "text/html; charset=iso-8859-1"),
        "/faults/boilerplate.html": _html(200, ARTICLE.format(title="Subscribers only",
                                                              paragraphs="<p>Subscribe to read.</p>").encode()),
        "/faults/garbage.xml": _html(200, b"<rss><chan", "application/rss+xml"),
        "/faults/feed-500.rss": _html(500, b"oops", "text/plain"),
    }


# --- slow servers below HTTP: a raw socket, so that any byte of the answer can be dripped ------------------------

def _drip_forever(prefix: bytes, unit: bytes) -> Callable:
    """Sends `prefix`, then `unit` every `interval` seconds until the client hangs up or the server stops."""
    def attack(conn: socket.socket, stopping: threading.Event, interval: float) -> None:
        conn.sendall(prefix)
        while not stopping.wait(interval):
            conn.sendall(unit)
    return attack


_GZIP_WITH_NAME = b"\x1f\x8b\x08\x08" + b"\x00\x00\x00\x00" + b"\x00\x03"  # FLG.FNAME set: a zero-ended name follows
SLOW_ATTACKS = {
    "status line": _drip_forever(b"H", b"T"),
    "one long header": _drip_forever(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Padding: ", b"a"),
    "gzip FNAME": _drip_forever(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n"
        + _GZIP_WITH_NAME, b"n"),
    "chunk extension": _drip_forever(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=", b"x"),
    "chunked body": _drip_forever(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\n<\r\n"),
}


def encode_body(body: bytes, coding: str) -> bytes:
    """`body` as a server sends it with Content-Encoding `coding`: gzip, gzip2 (two gzip members, as some servers
    concatenate them), deflate (zlib) or raw-deflate (no zlib header, which servers also send as `deflate`)."""
    if coding == "gzip":
        return gzip.compress(body)
    if coding == "gzip2":
        return gzip.compress(body[:len(body) // 2]) + gzip.compress(body[len(body) // 2:])
    if coding == "deflate":
        return zlib.compress(body)
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


class SocketServer:
    """A loopback listener that hands each accepted connection to `_handle` on its own thread; `with` starts and
    stops it. `connections` counts the accepted ones. Subclasses answer byte for byte (no HTTP library)."""

    def __init__(self, host: str = "127.0.0.1"):
        self.stopping = threading.Event()
        self.connections = 0
        self._listener = socket.create_server((host, 0))
        # for the subclasses that record arrivals: set from before the first request, and inherited by every
        # connection accepted (newsbeam/sample_site/arrival.py)
        self.stamped = stamp_arrivals(self._listener)
        self._listener.settimeout(0.1)
        self.base_url = f"http://{host}:{self._listener.getsockname()[1]}"

    def __enter__(self):
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self._listener.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        raise NotImplementedError


class RawServer(SocketServer):
    """`with RawServer(attack) as server:` accepts connections on `host`, reads the request head and hands the
    socket to `attack(conn, stopping, interval)`: for answers no HTTP server library would send."""

    def __init__(self, attack: Callable, host: str = "127.0.0.1", interval: float = 0.4):
        super().__init__(host)
        self._attack = attack
        self._interval = interval

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    data = conn.recv(4096)
                    if not data:
                        return
                    head += data
                self._attack(conn, self.stopping, self._interval)
            except OSError:
                return  # the client hung up, as it should
