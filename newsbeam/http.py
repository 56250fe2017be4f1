"""One HTTP exchange at a time, with hard limits: timeouts, a total deadline, a streamed size cap.

No redirects, retries or politeness here (see `newsbeam.fetching`); this module only turns one GET into bytes
or a `FetchError` with a stable reason code.
"""
from __future__ import annotations

import time
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from typing import Callable, Dict, List, Optional, Tuple

import urllib3
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

from newsbeam import __version__, reasons

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
        value = self.headers.get("content-type")
        return value.split(";")[0].strip().lower() if value else None

    @property
    def charset(self) -> Optional[str]:
        value = self.headers.get("content-type")
        if not value:
            return None
        message = Message()
        message["content-type"] = value
        charset = message.get_param("charset")
        return charset.strip().lower() if isinstance(charset, str) and charset.strip() else None


# Decides from the status and headers whether the body is wanted; returns a reason code to refuse it.
ContentCheck = Callable[[int, Dict[str, str]], Optional[str]]


def _request_error(exc: HTTPError) -> FetchError:
    """urllib3's error before any response, as a FetchError. Connection problems are retryable."""
    cause = getattr(exc, "reason", None) or exc  # MaxRetryError wraps the cause even with retries=False
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2.x, so it is tested first
    if isinstance(cause, (NewConnectionError, ProtocolError)):
        return FetchError(reasons.CONNECTION_ERROR, str(cause), retryable=True)
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
        self._headers = {"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"}

    def get(
        self,
        url: str,
        accept: str = "*/*",
        check: Optional[ContentCheck] = None,
        max_bytes: Optional[int] = None,
        headers: Tuple[Tuple[str, str], ...] = (),
    ) -> Exchange:
        """One GET without following redirects. Non-2xx answers come back with an empty body."""
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
                    refused = check(response.status, headers)
                    if refused:
                        raise FetchError(refused, f"content-type {headers.get('content-type')!r}", response.status)
                declared = headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FetchError(
                        reasons.TOO_LARGE, f"content-length {declared} > limit {limit}", response.status
                    )
                body = self._read_body(response, limit, started, raw)
            except FetchError as exc:
                exc.raw = as_received(b"".join(raw), _TRUNCATED.get(exc.reason, "unspecified"))
                raise
            complete = True
            # without a content coding the bytes as received are the body: one copy, not two
            received = body if _decoder(headers.get("content-encoding", "")) is None else b"".join(raw)
            return Exchange(url, response.status, headers, body, as_received(received, None))
        finally:
            if not complete:
                # Unread bytes would poison a pooled connection; closing is cheaper than draining a huge body.
                response.close()
            response.release_conn()

    def _read_body(self, response, limit: int, started: float, raw: List[bytes]) -> bytes:
        """Streams the body, decoded, failing as soon as it passes the cap or the deadline. The bytes as received
        are appended to `raw`."""
        chunks = []
        size = 0
        deadline = self.settings.deadline
        decoder = _decoder(response.headers.get("content-encoding", ""))
        try:
            while True:
                received = response.read1(_CHUNK, decode_content=False)
                raw.append(received)
                chunk = decoder(received, not received) if decoder else received
                if not chunk:
                    if received:
                        continue
                    break
                size += len(chunk)
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
            raise FetchError(reasons.CONNECTION_ERROR, f"after {size} bytes: {exc}", response.status) from None
        return b"".join(chunks)


# WARC-Truncated value for a body cut short by each failure
_TRUNCATED = {reasons.TOO_LARGE: "length", reasons.TIMEOUT: "time", reasons.CONNECTION_ERROR: "disconnect"}


def _http_version(version: int) -> str:
    return {9: "HTTP/0.9", 10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2"}.get(version, "HTTP/1.1")


def _decoder(content_encoding: str) -> Optional[Callable[[bytes, bool], bytes]]:
    """A decoder for a gzip or deflate body read raw (so that the archive keeps the bytes as received); None for
    identity and for codings not asked for, which stay as they came, as urllib3 leaves them."""
    coding = content_encoding.strip().lower()
    if coding in ("gzip", "x-gzip"):
        state = [zlib.decompressobj(16 + zlib.MAX_WBITS)]

        def gunzip(data: bytes, last: bool) -> bytes:
            out = []
            while data:
                out.append(state[0].decompress(data))
                data = state[0].unused_data  # a further gzip member follows
                if data:
                    state[0] = zlib.decompressobj(16 + zlib.MAX_WBITS)
            if last:
                out.append(state[0].flush())
            return b"".join(out)

        return gunzip
    if coding == "deflate":
        # RFC 9110 says zlib-wrapped, some servers send raw deflate: try the first, fall back to the second
        state: list = []
        head = [b""]  # the first bytes, until the two of a zlib header have come

        def inflate(data: bytes, last: bool) -> bytes:
            if not state:
                head[0] += data
                if len(head[0]) < 2 and not last:
                    return b""
                data = head[0]
                try:
                    state.append(zlib.decompressobj())
                    out = state[0].decompress(data)
                    return out + state[0].flush() if last else out
                except zlib.error:
                    state[:] = [zlib.decompressobj(-zlib.MAX_WBITS)]
            out = state[0].decompress(data) if data else b""
            return out + state[0].flush() if last else out

        return inflate
    return None
