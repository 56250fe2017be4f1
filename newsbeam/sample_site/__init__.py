"""The bundled sample news site, served on loopback for the demo and the end-to-end tests.

Files under `site/` are served as they are, except that `{{BASE_URL}}` becomes the server's own address and a
few files are re-encoded into the legacy charsets they declare (see `LEGACY_ENCODINGS`).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from newsbeam.sample_site.arrival import StampedReader, stamp_arrivals

LOG = logging.getLogger(__name__)
SITE_DIR = Path(__file__).parent / "site"

# path -> (encoding of the bytes served, Content-Type header sent). The German page deliberately carries a
# wrong charset in its header: its bytes are Latin-1, its <meta> says so, the header claims UTF-8.
LEGACY_ENCODINGS: Dict[str, Tuple[str, str]] = {
    "/legacy/de-latin1-page.html": ("iso-8859-1", "text/html; charset=utf-8"),
    "/feeds/levant.rss": ("windows-1256", "application/rss+xml"),
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".opml": "text/x-opml",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
}

# A route answers a request itself: it gets the handler and writes the whole response. A key ending in '*' is a
# prefix: '/story/*' answers every path under /story/.
Route = Callable[[BaseHTTPRequestHandler], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, site: "SampleSite"):
        super().__init__(address, _Handler)
        self.site = site

    def handle_error(self, request, client_address):
        # clients that hang up mid-response (size caps, timeouts) are expected here, not errors
        LOG.debug("connection from %s ended early", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        LOG.debug("%s %s", self.address_string(), format % args)

    def setup(self):
        super().setup()
        self._arrivals: Optional[StampedReader] = None
        if self.server.site.stamped:  # the connection inherited the listener's stamping
            self._arrivals = StampedReader(self.connection)
            self.rfile = io.BufferedReader(self._arrivals)

    def do_GET(self):
        site = self.server.site
        path = urlsplit(self.path).path
        site.record(path, dict(self.headers.items()), self._arrivals.last_arrival if self._arrivals else None)
        route = site.route_for(path)
        if route is not None:
            route(self)
            return
        body, content_type = site.render(path)
        if body is None:
            self.send_body(404, b"<html><body><h1>Not found</h1></body></html>", "text/html; charset=utf-8")
            return
        # validators as a well-behaved server sends them, so that conditional GETs can be answered with 304
        etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        validators = {"ETag": etag, "Last-Modified": site.last_modified}
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            for name, value in validators.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_body(200, body, content_type, validators)

    def send_body(self, status: int, body: bytes, content_type: str, headers: Optional[Dict[str, str]] = None):
        """Sends a complete response, gzip-compressed when the client accepts it (as real sites do)."""
        if "gzip" in (self.headers.get("Accept-Encoding") or "") and len(body) > 512:
            body = gzip.compress(body, mtime=0)
            headers = {**(headers or {}), "Content-Encoding": "gzip"}
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class SampleSite:
    """`with SampleSite() as site:` serves the sample site on 127.0.0.1 at `site.base_url`."""

    def __init__(self, routes: Optional[Dict[str, Route]] = None, root: Path = SITE_DIR):
        self.routes: Dict[str, Route] = dict(routes or {})
        self.root = root
        self.last_modified = "Sat, 21 Nov 2026 06:00:00 GMT"
        self.stopping = threading.Event()  # released on stop, so that hanging test routes end
        self._lock = threading.Lock()
        self._requests: List[Tuple[str, Dict[str, str], float]] = []
        self._server = _Server(("127.0.0.1", 0), self)
        self.stamped = stamp_arrivals(self._server.socket)  # on from before the first request (see arrival.py)
        self._thread = threading.Thread(target=self._server.serve_forever, name="sample-site", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route_for(self, path: str) -> Optional[Route]:
        """The route for `path`: an exact key, or the longest key ending in '*' that prefixes it."""
        if path in self.routes:
            return self.routes[path]
        prefixes = [key for key in self.routes if key.endswith("*") and path.startswith(key[:-1])]
        return self.routes[max(prefixes, key=len)] if prefixes else None

    def render(self, path: str) -> Tuple[Optional[bytes], str]:
        """The bytes and content type served at `path`, or (None, '') where there is no such file."""
        relative = path.lstrip("/")
        target = (self.root / relative).resolve()
        if not relative or self.root.resolve() not in target.parents or not target.is_file():
            return None, ""
        text = target.read_text(encoding="utf-8").replace("{{BASE_URL}}", self.base_url)
        encoding, content_type = LEGACY_ENCODINGS.get(path, ("utf-8", CONTENT_TYPES.get(target.suffix,
                                                                                          "application/octet-stream")))
        return text.encode(encoding), content_type

    def record(self, path: str, headers: Dict[str, str], arrival: Optional[float] = None) -> None:
        """Notes a request; `arrival` is when its head reached the machine (arrival.py), else now."""
        with self._lock:
            self._requests.append((path, headers, time.monotonic() if arrival is None else arrival))

    def requests(self, path: Optional[str] = None) -> List[Tuple[str, Dict[str, str]]]:
        """(path, headers) of each request received so far, in arrival order."""
        with self._lock:
            return [(p, h) for p, h, _ in self._requests if path is None or p == path]

    def request_times(self, path: str) -> List[float]:
        """When each request for `path` arrived, on the time.monotonic() clock: the kernel's receive time of its head
        where the platform gives one (see arrival.py; a server thread can be scheduled late on a loaded machine),
        in arrival order (the threads of concurrent requests may record them in another)."""
        with self._lock:
            return sorted(t for p, _, t in self._requests if p == path)

    def start(self) -> "SampleSite":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "SampleSite":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def article_paths(root: Path = SITE_DIR) -> List[str]:
    """Site paths of every article page, sorted."""
    return sorted("/" + str(p.relative_to(root)) for p in (root / "articles").glob("*.html"))
