"""A loopback news server for the benchmark, run in its own process so that it takes no GIL time from an
in-process pipeline.

It serves pre-rendered pages from memory (gzip-compressed once at start-up when the client accepts gzip, as
real sites do), on `hosts` ports of 127.0.0.1, each a separate origin for the pipeline's politeness rules
(the pipeline groups work by origin, so a single origin would put every page in one element). Every request
waits `latency_ms` before its answer, to model a remote server. It counts requests and their timing so that
the benchmark can tell when fetching started and ended and how many requests were in flight.
"""
from __future__ import annotations

import gzip
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Tuple

ROBOTS = b"User-agent: *\nAllow: /\n"


class _Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.pages = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.first_start = None
        self.last_end = None
        self.bytes_sent = 0
        self.page_times = []  # when each page's answer was sent: the fetch rate over the run

    def begin(self):
        with self.lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            now = time.time()
            if self.first_start is None:
                self.first_start = now

    def end(self, page: bool, sent: int):
        with self.lock:
            self.in_flight -= 1
            self.bytes_sent += sent
            if page:
                self.pages += 1
                self.last_end = time.time()
                self.page_times.append(self.last_end)

    def snapshot(self):
        with self.lock:
            return {"requests": self.requests, "pages": self.pages, "max_in_flight": self.max_in_flight,
                    "first_start": self.first_start, "last_end": self.last_end, "bytes_sent": self.bytes_sent,
                    "page_times": list(self.page_times)}

    def reset(self):
        with self.lock:
            self.requests = self.pages = self.max_in_flight = self.bytes_sent = 0
            self.first_start = self.last_end = None
            self.page_times = []


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


_COPY = re.compile(r"^/r\d+")


def _handler(pages: Dict[Tuple[int, str], Tuple[bytes, bytes, str]], latency: float, stats: _Stats,
             nodelay: bool = True):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The headers and the body are two writes: with Nagle's algorithm the body waits for the client's
        # (delayed, ~40 ms) ACK of the headers, so every answer took ~40 ms and 8 connections gave ~180 pages/s
        # whatever the client did. Web servers send without that wait (nginx: tcp_nodelay on).
        disable_nagle_algorithm = nodelay

        def log_message(self, format, *args):  # noqa: A002
            pass

        def do_GET(self):
            stats.begin()
            sent, page = 0, False
            try:
                if latency:
                    time.sleep(latency)
                path = self.path.split("?", 1)[0]
                if path == "/robots.txt":
                    status, body, encoded, content_type = 200, ROBOTS, False, "text/plain; charset=utf-8"
                else:
                    port = self.server.server_address[1]
                    # /r<copy>/...: the same page under another URL (real pages repeated to reach a page count)
                    entry = pages.get((port, path)) or pages.get((port, _COPY.sub("", path, count=1)))
                    if entry is None:
                        status, body, encoded, content_type = 404, b"not found", False, "text/plain"
                    else:
                        page = True
                        plain, compressed, content_type = entry
                        encoded = "gzip" in (self.headers.get("Accept-Encoding") or "")
                        status, body = 200, compressed if encoded else plain
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                if encoded:
                    self.send_header("Content-Encoding", "gzip")
                self.end_headers()
                self.wfile.write(body)
                sent = len(body)
            finally:
                stats.end(page, sent)

    return Handler


def serve(page_dir: str, hosts: int, latency_ms: float, conn, nodelay: bool = True) -> None:
    """Process entry point. Sends {'ports': [...]} on `conn` once listening, then answers commands:
    'stats' -> the counters, 'reset' -> zero them, 'stop' -> exit. `nodelay=False`: Nagle's algorithm on, as
    before 2026-11-30 (see `_handler`)."""
    servers: List[_Server] = [_Server(("127.0.0.1", 0), BaseHTTPRequestHandler) for _ in range(hosts)]
    ports = [s.server_address[1] for s in servers]
    base_urls = [f"http://127.0.0.1:{port}" for port in ports]
    pages: Dict[Tuple[int, str], Tuple[bytes, bytes, str]] = {}
    root = Path(page_dir)
    for file in sorted(root.rglob("*.html")):
        relative = "/" + file.relative_to(root).as_posix()
        number = int(file.stem.rsplit("-", 1)[1])
        host = number % hosts
        raw = file.read_bytes()
        try:
            raw.decode("utf-8")
            content_type = "text/html; charset=utf-8"
        except UnicodeDecodeError:  # a real page in another encoding: let its own <meta charset> speak
            content_type = "text/html"
        plain = raw.replace(b"{{BASE_URL}}", base_urls[host].encode())
        entry = (plain, gzip.compress(plain, compresslevel=6, mtime=0), content_type)
        pages[(ports[host], relative)] = entry
        if b"{{BASE_URL}}" not in raw:  # served from any origin, so that its copies can be spread over hosts
            for port in ports:
                pages.setdefault((port, relative), entry)
    stats = _Stats()
    handler = _handler(pages, latency_ms / 1000.0, stats, nodelay)
    threads = []
    for server in servers:
        server.RequestHandlerClass = handler
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        threads.append(thread)
    conn.send({"ports": ports, "pages": len(pages), "pid": os.getpid()})
    while True:
        try:
            command = conn.recv()
        except EOFError:
            break
        if command == "stats":
            snapshot = stats.snapshot()
            snapshot["cpu_seconds"] = sum(os.times()[:2])
            conn.send(snapshot)
        elif command == "reset":
            stats.reset()
            conn.send(True)
        else:
            break
    for server in servers:
        server.shutdown()
        server.server_close()


def url_for(ports: List[int], number: int, path: str) -> str:
    return f"http://127.0.0.1:{ports[number % len(ports)]}{path}"
