"""One HTTP exchange at a time, with hard limits: timeouts, a total deadline, a streamed size cap.

No redirects, retries or politeness here (see `newsbeam.fetching`); this module only turns one GET into bytes
or a `FetchError` with a stable reason code.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from email.message import Message
from typing import Callable, Dict, Optional, Tuple

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


@dataclass(frozen=True)
class Exchange:
    url: str
    status: int
    headers: Dict[str, str]  # lower-case names
    body: bytes

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
        try:
            response = self._pool.request(
                "GET", url, headers={**self._headers, "Accept": accept, **dict(headers)}, redirect=False,
                preload_content=False
            )
        except HTTPError as exc:
            raise _request_error(exc) from None
        complete = False
        try:
            headers = {name.lower(): value for name, value in response.headers.items()}
            if not 200 <= response.status < 300:
                return Exchange(url, response.status, headers, b"")
            if check is not None:
                refused = check(response.status, headers)
                if refused:
                    raise FetchError(refused, f"content-type {headers.get('content-type')!r}", response.status)
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchError(
                    reasons.TOO_LARGE, f"content-length {declared} > limit {limit}", response.status
                )
            body = self._read_body(response, limit, started)
            complete = True
            return Exchange(url, response.status, headers, body)
        finally:
            if not complete:
                # Unread bytes would poison a pooled connection; closing is cheaper than draining a huge body.
                response.close()
            response.release_conn()

    def _read_body(self, response, limit: int, started: float) -> bytes:
        """Streams the body, decoded, failing as soon as it passes the cap or the deadline."""
        chunks = []
        size = 0
        deadline = self.settings.deadline
        try:
            while True:
                chunk = response.read1(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise FetchError(reasons.TOO_LARGE, f"body passed the limit of {limit} bytes", response.status)
                if time.monotonic() - started > deadline:
                    raise FetchError(reasons.TIMEOUT, f"total deadline of {deadline}s passed", response.status)
                chunks.append(chunk)
        except ReadTimeoutError:
            raise FetchError(reasons.TIMEOUT, f"read timeout after {size} bytes", response.status) from None
        except DecodeError as exc:
            raise FetchError(reasons.DECODE_ERROR, str(exc), response.status) from None
        except ProtocolError as exc:
            raise FetchError(reasons.CONNECTION_ERROR, f"after {size} bytes: {exc}", response.status) from None
        return b"".join(chunks)
