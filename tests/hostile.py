"""A raw-socket loopback server that answers each path its own way, byte for byte: for the network QA tests that
run the real `newsbeam ingest` against every way a web server can misbehave (see tests/test_hostile_web.py)."""
from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
import zlib
from typing import Callable, Dict, List, Optional, Tuple

from newsbeam.sample_site.arrival import recv_stamped
from tests.faults import ENGLISH, SocketServer, article_html

# route(conn, stopping): writes whatever it likes to the socket; the server closes it afterwards
Route = Callable[[socket.socket, threading.Event], None]


class HostileServer(SocketServer):
    """`with HostileServer(routes) as server:` serves `routes[path]` on 127.0.0.1 (one thread per connection,
    keep-alive while routes answer with a length); an unknown path is a 404. `requests` lists (arrival, path) of
    every request head received, for robots.txt and politeness assertions: the arrival is the kernel's receive
    time on the `time.monotonic()` clock (see newsbeam/sample_site/arrival.py), the read's time without one."""

    def __init__(self, routes: Dict[str, Route]):
        super().__init__()
        self.routes = routes
        self.requests: List[Tuple[float, str]] = []
        self._lock = threading.Lock()

    def url(self, path: str) -> str:
        return self.base_url + path

    def paths(self) -> List[str]:
        with self._lock:
            return [path for _, path in self.requests]

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(10)
                pending = b""
                while not self.stopping.is_set():
                    while b"\r\n\r\n" not in pending:
                        data, arrived = recv_stamped(conn, 65536) if self.stamped else (conn.recv(65536), None)
                        if not data:
                            return
                        pending += data
                    head, pending = pending.split(b"\r\n\r\n", 1)
                    path = head.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
                    with self._lock:
                        self.requests.append((time.monotonic() if arrived is None else arrived, path))
                    route = self.routes.get(path, _not_found)
                    if route(conn, self.stopping) is not KEEP_ALIVE:
                        return
            except OSError:
                return  # the client hung up, as it should


KEEP_ALIVE = object()  # a route's return value: the connection may carry another request


def _not_found(conn, stopping):
    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    return KEEP_ALIVE


def answer(status: str = "200 OK", body: bytes = b"", headers: Tuple[Tuple[str, str], ...] = (),
           content_type: Optional[str] = "text/html; charset=utf-8", length: bool = True) -> Route:
    """A plain response; `headers` as given (str values are sent as latin-1, bytes as they are)."""
    def route(conn, stopping):
        lines = [f"HTTP/1.1 {status}".encode()]
        if content_type is not None:
            lines.append(b"Content-Type: " + content_type.encode("latin-1"))
        for name, value in headers:
            lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode("latin-1")))
        if length:
            lines.append(b"Content-Length: " + str(len(body)).encode())
        else:
            lines.append(b"Connection: close")
        conn.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        return KEEP_ALIVE if length else None
    return route


def raw(data: bytes) -> Route:
    """Exactly `data`, then the connection closes."""
    def route(conn, stopping):
        conn.sendall(data)
    return route


def reset_after(data: bytes) -> Route:
    """`data`, then a TCP reset (SO_LINGER 0) instead of an orderly close."""
    def route(conn, stopping):
        conn.sendall(data)
        time.sleep(0.05)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return route


def hang(conn, stopping):
    stopping.wait(60)


def drip(prefix: bytes, unit: bytes, interval: float = 0.5) -> Route:
    def route(conn, stopping):
        conn.sendall(prefix)
        while not stopping.wait(interval):
            conn.sendall(unit)
    return route


def gzip_bomb(gigabytes: float = 1.0) -> bytes:
    """`gigabytes` of zeros, gzip-compressed (about 1 MB a GB), built once per call."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    parts = [compressor.compress(block) for _ in range(int(gigabytes * 1024))]
    return b"".join(parts) + compressor.flush()


def page(title: str) -> bytes:
    return article_html(title, ENGLISH)


def gzipped(body: bytes) -> bytes:
    return gzip.compress(body)
