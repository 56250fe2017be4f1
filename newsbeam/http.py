"""One HTTP exchange at a time, with hard limits: timeouts, a total deadline, a streamed size cap, and no
connection to a private or internal address unless allowed.

No redirects, retries or politeness here (see `newsbeam.fetching`); this module only turns one GET into bytes
or a `FetchError` with a stable reason code.
"""
from __future__ import annotations

import heapq
import http.client
import itertools
import socket
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional, Tuple

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    LocationParseError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from newsbeam import __version__, mediatypes, reasons
from newsbeam.addresses import blocked_kind, literal_address

# Operators should add a contact address with --user-agent, e.g. "newsbeam/0.1 (+mailto:news-team@example.org)".
DEFAULT_USER_AGENT = f"newsbeam/{__version__}"
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchSettings:
    """Every knob of polite, bounded fetching (one object, passed to workers unchanged)."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 60.0  # whole exchange, headers to last byte
    max_bytes: int = 10 * 1024 * 1024  # decoded body
    max_redirects: int = 5
    max_attempts: int = 3
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    retry_after_max: float = 120.0  # a longer Retry-After gives up instead of stalling the run
    obey_robots: bool = True
    host_concurrency: int = 2
    host_delay: float = 1.0
    crawl_delay_max: float = 30.0  # cap on a robots.txt Crawl-delay
    max_connections: int = 16  # fetch threads per worker process
    # a host's circuit breaker (newsbeam.fetching.HostGates.refusal): after this many attempts in a row without any
    # answer (connect refused or timed out, no response headers), its other URLs are not requested (0: never) ...
    host_failure_limit: int = 5
    host_failure_pause: float = 300.0  # ... for this many seconds; then one request probes it
    allow_private_addresses: bool = False  # True: loopback, private, link-local ... may be fetched (intranets, tests)


class FetchError(Exception):
    def __init__(self, reason: str, detail: str, status: Optional[int] = None, retryable: bool = False):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.status = status
        self.retryable = retryable
        self.attempts = 0  # HTTP attempts spent before giving up; set by the retry loop
        self.raw: Optional["RawExchange"] = None  # the response as received, when one came (for the WARC archive)


@dataclass(frozen=True)
class RawExchange:
    """One request and its response as they went over the wire, for the WARC archive: headers in their order and
    case, the body before content decoding. `truncated` is a WARC-Truncated value when the body is incomplete."""

    url: str
    request_headers: Tuple[Tuple[str, str], ...]
    requested_at: datetime
    status: int
    reason: str
    http_version: str
    headers: Tuple[Tuple[str, str], ...]
    body: bytes
    truncated: Optional[str] = None  # 'length', 'time', 'disconnect', 'unspecified'
    record_id: str = field(default_factory=lambda: f"<urn:uuid:{uuid.uuid4()}>")


@dataclass(frozen=True)
class Exchange:
    url: str
    status: int
    headers: Dict[str, str]  # lower-case names
    body: bytes
    raw: Optional[RawExchange] = None

    @property
    def content_type(self) -> Optional[str]:
        return mediatypes.media_type(self.headers.get("content-type"))

    @property
    def charset(self) -> Optional[str]:
        return mediatypes.charset(self.headers.get("content-type"))


# Decides from the status, headers and URL whether the body is wanted; returns a reason code to refuse it.
ContentCheck = Callable[[int, Dict[str, str], str], Optional[str]]


class BlockedAddressError(NewConnectionError):
    """The socket's peer is an address the settings forbid; raised before a byte of the request is sent."""


class _Deadlines:
    """One thread that fires each `_Watch` whose deadline has passed. A timer thread per exchange (started, then
    cancelled) cost ~0.3 ms of CPU a page, a third of the HTTP client's, in thread starts and hand-offs of the
    GIL. The thread ends after `idle` seconds without a watch, and starts again with the next one."""

    _COMPACT = 1024  # stopped watches left in the heap before it is rebuilt without them

    def __init__(self, idle: float = 5.0):
        self._idle = idle
        self._changed = threading.Condition()
        self._heap: List[Tuple[float, int, "_Watch"]] = []  # (when, sequence, watch), earliest first
        self._sequence = itertools.count()
        self._stopped = 0  # watches in the heap that were stopped before their deadline
        self._running = False

    def add(self, watch: "_Watch", seconds: float) -> None:
        with self._changed:
            heapq.heappush(self._heap, (time.monotonic() + seconds, next(self._sequence), watch))
            watch.queued = True
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="newsbeam-deadlines", daemon=True).start()
            elif self._heap[0][2] is watch:  # earlier than what the thread waits for
                self._changed.notify()

    def remove(self, watch: "_Watch") -> None:
        with self._changed:
            if not watch.queued:
                return  # fired already
            watch.queued = False
            self._stopped += 1
            # stopped watches stay in the heap (removing one is O(n)) until they reach its top or are many
            if self._stopped > self._COMPACT and 2 * self._stopped > len(self._heap):
                self._heap = [entry for entry in self._heap if entry[2].queued]
                heapq.heapify(self._heap)
                self._stopped = 0

    def _run(self) -> None:
        with self._changed:
            while True:
                while self._heap and not self._heap[0][2].queued:
                    heapq.heappop(self._heap)
                    self._stopped -= 1
                if not self._heap:
                    if not self._changed.wait(self._idle) and not self._heap:
                        self._running = False
                        return
                    continue
                when, _, watch = self._heap[0]
                delay = when - time.monotonic()
                if delay > 0:
                    self._changed.wait(delay)
                    continue
                heapq.heappop(self._heap)
                watch.queued = False
                self._changed.release()
                try:
                    watch.fire()
                finally:
                    self._changed.acquire()


class _Watch:
    """Bounds one exchange in time: when the deadline passes, the sockets it watches are shut down, which ends
    any blocked read (a status line, header, gzip header or chunk size dripped one byte a second never trips the
    per-read timeout). Sockets, not connections: http.client detaches the socket from a connection that will
    close while the response still reads from it."""

    def __init__(self, seconds: float, deadlines: _Deadlines, on_sent: Optional[Callable[[], None]] = None):
        self.on_sent = on_sent  # called once the request is written to a socket (the host gate's clock)
        self.fired = False
        self.queued = False  # waiting in `deadlines` (guarded by its lock)
        self._lock = threading.Lock()
        self._sockets: List[socket.socket] = []
        self._deadlines = deadlines
        deadlines.add(self, seconds)

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.fired:
                return
        _shut(sock)  # attached after the deadline passed

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def stop(self) -> None:
        self._deadlines.remove(self)


def _shut(sock: socket.socket) -> None:
    try:
        # the plain socket's shutdown, also under TLS: SSLSocket.shutdown would race the reading thread
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class _Guard:
    """What the connections of one HttpClient check: the address policy, and the calling thread's `_Watch`."""

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private
        self._local = threading.local()
        self._deadlines = _Deadlines()

    def start(self, seconds: float, on_sent: Optional[Callable[[], None]] = None) -> _Watch:
        watch = self._local.watch = _Watch(seconds, self._deadlines, on_sent)
        return watch

    def sent(self) -> None:
        watch = getattr(self._local, "watch", None)
        if watch is not None and watch.on_sent is not None:
            watch.on_sent()

    def finish(self, watch: _Watch) -> None:
        watch.stop()
        self._local.watch = None

    def attach(self, sock: Optional[socket.socket]) -> None:
        watch = getattr(self._local, "watch", None)
        if watch is not None and sock is not None:
            watch.attach(sock)

    def admit(self, sock: socket.socket, connection: HTTPConnection) -> None:
        """Checks the address actually connected to (after DNS, so a rebinding name cannot slip through)."""
        if self.allow_private:
            return
        peer = sock.getpeername()[0]
        kind = blocked_kind(peer)
        if kind is not None:
            sock.close()
            raise BlockedAddressError(connection, f"refused to connect to {peer} ({kind} address)")


class _InterimSkippingResponse(http.client.HTTPResponse):
    """http.client skips a `100 Continue` only; any other 1xx (102 Processing, 103 Early Hints) became the final
    answer (`http_103`) and the page after it was lost. RFC 9110 15.2: a client must read past every 1xx."""

    def _read_status(self):
        while True:
            version, status, reason = super()._read_status()
            if not 100 < status < 200 or status == 101:  # `begin` skips a 100 itself; 101 is a protocol switch
                return version, status, reason
            http.client.parse_headers(self.fp)  # the interim answer's headers, read and dropped


class _GuardedConnectionMixin:
    guard: _Guard  # set on the per-client subclasses
    response_class = _InterimSkippingResponse

    def _new_conn(self):
        sock = super()._new_conn()
        self.guard.admit(sock, self)
        self.guard.attach(sock)  # a new connection, before any TLS handshake
        return sock

    def request(self, *args, **kwargs):
        self.guard.attach(self.sock)  # a reused connection (a new one has no socket yet: see _new_conn)
        super().request(*args, **kwargs)
        self.guard.sent()  # the request's bytes are in the socket now


def _guarded_pool_classes(guard: _Guard) -> Dict[str, type]:
    http_connection = type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection), {"guard": guard})
    https_connection = type("GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection), {"guard": guard})
    return {
        "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_connection}),
        "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_connection}),
    }


def _request_error(exc: HTTPError) -> FetchError:
    """urllib3's error before any response, as a FetchError. Connection problems are retryable."""
    cause = getattr(exc, "reason", None) or exc  # MaxRetryError wraps the cause even with retries=False
    if isinstance(cause, BlockedAddressError):
        return FetchError(reasons.BLOCKED_ADDRESS, str(cause).split(": ", 1)[-1])
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2.x, so it is tested first
    if isinstance(cause, NewConnectionError):
        return FetchError(reasons.CONNECTION_ERROR, str(cause), retryable=True)
    if isinstance(cause, ProtocolError):
        # a dropped or reset connection (a stale keep-alive one too) is retried; an answer that breaks HTTP (a
        # header line over 64 KiB, over 100 headers, no status line) would come back the same
        dropped = bool(cause.args) and isinstance(cause.args[-1], OSError)
        return FetchError(reasons.CONNECTION_ERROR, str(cause), retryable=dropped)
    if isinstance(cause, ConnectTimeoutError):
        return FetchError(reasons.TIMEOUT, f"connect timeout: {cause}", retryable=True)
    if isinstance(cause, ReadTimeoutError):
        return FetchError(reasons.TIMEOUT, f"no response headers: {cause}")
    if isinstance(cause, SSLError):
        return FetchError(reasons.TLS_ERROR, str(cause))
    if isinstance(cause, LocationParseError):
        return FetchError(reasons.INVALID_URL, str(cause))
    return FetchError(reasons.CONNECTION_ERROR, str(cause), retryable=True)


class HttpClient:
    """A thread-safe connection pool; build one per worker process and share it."""

    def __init__(self, settings: FetchSettings):
        self.settings = settings
        self._pool = urllib3.PoolManager(
            num_pools=256,
            maxsize=max(2, settings.host_concurrency),
            retries=False,
            timeout=urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
        )
        self._guard = _Guard(settings.allow_private_addresses)
        self._pool.pool_classes_by_scheme = _guarded_pool_classes(self._guard)
        self._headers = {"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"}

    def _refuse_literal_address(self, url: str) -> None:
        """A URL that spells a forbidden address (in any notation) is refused without connecting at all."""
        if self.settings.allow_private_addresses:
            return
        try:
            host = urllib3.util.parse_url(url).host or ""
        except LocationParseError:
            return  # urllib3 reports it when it tries
        address = literal_address(host)
        kind = blocked_kind(address) if address is not None else None
        if kind is not None:
            raise FetchError(reasons.BLOCKED_ADDRESS, f"refused to connect to {address} ({kind} address)")

    def get(
        self,
        url: str,
        accept: str = "*/*",
        check: Optional[ContentCheck] = None,
        max_bytes: Optional[int] = None,
        headers: Tuple[Tuple[str, str], ...] = (),
        truncate: bool = False,
        on_sent: Optional[Callable[[], None]] = None,
    ) -> Exchange:
        """One GET without following redirects. Non-2xx answers come back with an empty body.

        The whole exchange, from connecting to the last decoded byte, ends within `deadline` seconds. A body
        over `max_bytes` is `too_large`, or with `truncate` cut to its first `max_bytes` bytes. `on_sent` is called
        once the request has been written to its socket."""
        self._refuse_literal_address(url)
        deadline = self.settings.deadline
        watch = self._guard.start(deadline, on_sent)
        try:
            exchange = self._get(url, accept, check, max_bytes, headers, truncate, watch)
            if watch.fired:  # a shut socket reads as the end of a body without Content-Length: maybe cut short
                error = FetchError(reasons.TIMEOUT, "deadline", exchange.status)
                error.raw = replace(exchange.raw, truncated="time") if exchange.raw is not None else None
                raise error
            return exchange
        except Exception as exc:
            if watch.fired:  # whatever broke when the watchdog shut the socket, the cause is the deadline
                status = exc.status if isinstance(exc, FetchError) else None
                error = FetchError(reasons.TIMEOUT, f"total deadline of {deadline}s passed", status)
                raw = getattr(exc, "raw", None)  # the bytes received before the deadline stay archived
                error.raw = replace(raw, truncated="time") if raw is not None else None
                raise error from None
            raise
        finally:
            self._guard.finish(watch)

    def _get(self, url, accept, check, max_bytes, headers, truncate: bool, watch: _Watch) -> Exchange:
        limit = self.settings.max_bytes if max_bytes is None else max_bytes
        started = time.monotonic()
        sent = {**self._headers, "Accept": accept, **dict(headers)}
        requested_at = datetime.now(timezone.utc)
        try:
            response = self._pool.request("GET", url, headers=sent, redirect=False, preload_content=False)
        except HTTPError as exc:
            raise _request_error(exc) from None
        complete = False
        raw: List[bytes] = []

        def as_received(body: bytes, truncated: Optional[str]) -> RawExchange:
            return RawExchange(url, tuple(sent.items()), requested_at, response.status, response.reason or "",
                               _http_version(response.version), tuple(response.headers.items()), body, truncated)

        try:
            headers = {name.lower(): value for name, value in response.headers.items()}
            if not 200 <= response.status < 300:
                # the body of an error page is not read (see docs/archive.md)
                return Exchange(url, response.status, headers, b"", as_received(b"", "unspecified"))
            try:
                if check is not None:
                    refused = check(response.status, headers, url)
                    if refused:
                        raise FetchError(refused, f"content-type {headers.get('content-type')!r}", response.status)
                unsupported = unsupported_coding(headers.get("content-encoding", ""),
                                                 headers.get("transfer-encoding", ""))
                if unsupported:
                    raise FetchError(reasons.DECODE_ERROR, unsupported, response.status)
                declared = headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit and not truncate:
                    raise FetchError(
                        reasons.TOO_LARGE, f"content-length {declared} > limit {limit}", response.status
                    )
                body = self._read_body(response, limit, started, truncate, raw)
            except FetchError as exc:
                exc.raw = as_received(b"".join(raw), _TRUNCATED.get(exc.reason, "unspecified"))
                raise
            cut = truncate and len(body) >= limit
            complete = not cut  # a cut body leaves bytes unread
            # without a content coding the bytes as received are the body: one copy, not two
            plain = _decoder(headers.get("content-encoding", "")) is None and not cut
            received = body if plain else b"".join(raw)
            return Exchange(url, response.status, headers, body, as_received(received, "length" if cut else None))
        finally:
            if not complete or watch.fired:
                # Unread bytes would poison a pooled connection; closing is cheaper than draining a huge body.
                response.close()
            response.release_conn()

    def _read_body(self, response, limit: int, started: float, truncate: bool, raw: List[bytes]) -> bytes:
        """Streams the body, decoded, failing as soon as it passes the cap or the deadline (with `truncate`, cut to
        the cap instead). The bytes as received are appended to `raw`."""
        chunks = []
        size = 0
        deadline = self.settings.deadline
        decoder = _decoder(response.headers.get("content-encoding", ""))
        try:
            while True:
                received = response.read1(_CHUNK, decode_content=False)
                raw.append(received)
                # never more than one byte over the cap out of the decoder, whatever the compression ratio
                chunk = decoder(received, not received, limit - size + 1) if decoder else received
                if not chunk:
                    if received:
                        continue
                    break
                size += len(chunk)
                if size >= limit and truncate:
                    chunks.append(chunk)
                    return b"".join(chunks)[:limit]
                if size > limit:
                    raise FetchError(reasons.TOO_LARGE, f"body passed the limit of {limit} bytes", response.status)
                if time.monotonic() - started > deadline:
                    raise FetchError(reasons.TIMEOUT, f"total deadline of {deadline}s passed", response.status)
                chunks.append(chunk)
        except ReadTimeoutError:
            raise FetchError(reasons.TIMEOUT, f"read timeout after {size} bytes", response.status) from None
        except (DecodeError, zlib.error) as exc:
            raise FetchError(reasons.DECODE_ERROR, str(exc), response.status) from None
        except ProtocolError as exc:
            # a reset or aborted connection is retried like one before the response; a malformed body (a short
            # Content-Length, a bad chunk size) would come back the same
            reset = bool(exc.args) and isinstance(exc.args[-1], OSError)
            raise FetchError(reasons.CONNECTION_ERROR, f"after {size} bytes: {exc}", response.status,
                             retryable=reset) from None
        if decoder is not None and not decoder.complete:
            # a body sent without a length ends when the connection closes: only its compressed stream shows that
            # it was cut (as a short Content-Length does, which urllib3 reports above)
            raise FetchError(reasons.CONNECTION_ERROR, f"the connection closed inside the body's "
                             f"{response.headers.get('content-encoding')} stream, after {size} bytes decoded",
                             response.status)
        return b"".join(chunks)


# WARC-Truncated value for a body cut short by each failure
_TRUNCATED = {reasons.TOO_LARGE: "length", reasons.TIMEOUT: "time", reasons.CONNECTION_ERROR: "disconnect"}


def _http_version(version: int) -> str:
    return {9: "HTTP/0.9", 10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2"}.get(version, "HTTP/1.1")


def _decoder(content_encoding: str) -> Optional["_Inflater"]:
    """A decoder for a gzip or deflate body read raw (so that the archive keeps the bytes as received); None for
    identity and for unknown codings, which stay as they came, as browsers and urllib3 leave them (see
    `unsupported_coding` for the known ones it cannot decode)."""
    coding = content_encoding.strip().lower()
    if coding in ("gzip", "x-gzip"):
        return _Inflater(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        # RFC 9110 says zlib-wrapped, some servers send raw deflate: try the first, fall back to the second
        return _Inflater(zlib.MAX_WBITS, fallback=-zlib.MAX_WBITS)
    return None


# codings a server may send although newsbeam asks for gzip and deflate only, and that it cannot decode
_UNDECODED = ("br", "zstd", "compress", "x-compress")


def unsupported_coding(content_encoding: str, transfer_encoding: str = "") -> Optional[str]:
    """Why a body in this Content-Encoding cannot be decoded (a known coding other than gzip and deflate, or
    several codings), else None: without it, compressed bytes went on to extraction as if they were HTML. The
    same for a Transfer-Encoding other than `chunked`, which http.client does not undo (not even the chunks of
    `gzip, chunked`)."""
    if transfer_encoding.strip() and transfer_encoding.strip().lower() != "chunked":
        return f"transfer-encoding {transfer_encoding!r} is not decoded"
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip().lower() not in ("", "identity")]
    if len(codings) > 1:
        return f"content-encoding {content_encoding!r}: stacked codings are not decoded"
    if codings and codings[0] in _UNDECODED:
        return f"content-encoding {codings[0]!r} was not asked for and is not decoded"
    return None


class _Inflater:
    """Inflates a gzip (every member) or deflate body given in pieces, at most `room` bytes a call: 1 MB of gzip
    inflates to 1 GB of zeros, so the size cap must hold before the bytes exist, not after. `fallback` is the
    window bits to retry with when the stream fails before its first byte out (raw deflate sent as zlib)."""

    def __init__(self, wbits: int, fallback: Optional[int] = None):
        self._wbits = wbits
        self._fallback = fallback
        self._inflate = zlib.decompressobj(wbits)
        self._head = b""  # input before the first byte out, to start again with `fallback`
        self._pending = b""  # input not inflated yet (over the last call's room)
        self._given = False  # any input at all: an empty body is whole without a stream

    @property
    def complete(self) -> bool:
        """Whether the input so far ends where a stream ends (not inside one cut short)."""
        return not self._given or (self._inflate.eof and not self._pending)

    def __call__(self, data: bytes, last: bool, room: Optional[int] = None) -> bytes:
        self._given = self._given or bool(data)
        self._pending += data
        out: List[bytes] = []
        left = room if room is not None else -1
        while self._pending and left != 0:
            if self._inflate.eof:  # a stream ended: gzip may go on with another member, deflate ignores the rest
                if self._wbits < 16 + zlib.MAX_WBITS:
                    self._pending = b""
                    break
                self._inflate = zlib.decompressobj(self._wbits)
            if self._fallback is not None:
                self._head += self._pending
            try:
                chunk = self._inflate.decompress(self._pending, max(left, 0))
            except zlib.error:
                if self._fallback is None:
                    raise
                self._inflate = zlib.decompressobj(self._fallback)
                self._fallback, self._pending, self._head = None, self._head, b""
                continue
            if chunk:
                self._fallback, self._head = None, b""
            out.append(chunk)
            left -= len(chunk) if room is not None else 0
            # the input left over: past the stream's end, or what did not fit in the room
            self._pending = self._inflate.unused_data if self._inflate.eof else self._inflate.unconsumed_tail
            if not chunk and not self._inflate.eof and not self._pending:
                break
        if last and not self._pending and not self._inflate.eof:
            out.append(self._inflate.flush())
        return b"".join(out)
