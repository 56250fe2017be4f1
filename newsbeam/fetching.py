"""Polite fetching: robots.txt, per-host concurrency and delay, redirects, retries with backoff.

`PoliteFetcher.fetch` turns one `FetchRequest` into a `FetchedPage` or a `FetchFailure`, never raising.
`ConcurrentFetcher` runs many hosts at once on a thread pool and hands results back as they complete, with
a bounded queue so that fetching cannot run away from the consumer.
"""
from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union
from urllib.parse import quote, urljoin

from protego import Protego

from newsbeam import reasons
from newsbeam.http import ContentCheck, Exchange, FetchError, FetchSettings, HttpClient, RawExchange
from newsbeam.mediatypes import PDF_TYPES, may_be_page, media_type
from newsbeam.retry_after import not_before_note, seconds_to_wait
from newsbeam.robots import PARSE_BYTES, parse_robots, robots_allows
from newsbeam.urls import host_key, is_http_url
from newsbeam.schemas.records import FetchedPage, FetchFailure, FetchRequest

LOG = logging.getLogger(__name__)

FetchOutcome = Union[FetchedPage, FetchFailure]
_REDIRECTS = (301, 302, 303, 307, 308)
_URL_SAFE = "".join(map(chr, range(0x21, 0x7F)))  # printable ASCII but the space: kept as sent, escapes included
_RETRY_STATUSES = (429, 500, 502, 503, 504)
# failures that say the host gave no answer at all (when no status came): what its circuit breaker counts
_UNANSWERED = frozenset({reasons.TIMEOUT, reasons.CONNECTION_ERROR, reasons.TLS_ERROR})


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def retry_delay(attempt: int, retry_after: Optional[str], settings: FetchSettings,
                rng: random.Random) -> Optional[float]:
    """Seconds to wait before attempt `attempt + 1`, or None to give up (a Retry-After beyond the cap).

    Retry-After (seconds or an HTTP date) wins over exponential backoff; backoff gets up to 25 % jitter so
    that many workers do not retry in step.
    """
    if retry_after:
        seconds = seconds_to_wait(retry_after, utcnow())
        if seconds is not None:
            return seconds if seconds <= settings.retry_after_max else None
    backoff = min(settings.backoff_max, settings.backoff_base * (2 ** (attempt - 1)))
    return backoff * (1.0 + 0.25 * rng.random())


def redirect_target(base: str, location: str) -> str:
    """The absolute URL a `Location` value points at. http.client reads header bytes as Latin-1, so a UTF-8
    `/café` arrives as `/cafÃ©`; as browsers do, its bytes (UTF-8 or not) and any space are percent-encoded.
    ValueError when it cannot be read as a URL (`http://[::1/`)."""
    location = location.strip()
    try:
        data = location.encode("latin-1")  # the bytes as sent
    except UnicodeEncodeError:
        data = location.encode("utf-8")
    return urljoin(base, quote(data, safe=_URL_SAFE))


class _HostGate:
    """One origin's politeness state; `changed` guards it."""

    def __init__(self, concurrency: int, delay: float):
        self.semaphore = threading.Semaphore(concurrency)
        self.changed = threading.Condition()
        self.delay = delay
        self.next_start = 0.0
        self.unsent: Optional[object] = None  # the ticket of a request let through that has not reached its socket
        self.unanswered = 0  # attempts in a row that got no answer at all (the circuit breaker's count)
        self.last_unanswered = ""
        self.refused_until: Optional[float] = None  # monotonic time until which the host is not asked (circuit open)

    def sent(self, ticket: object) -> None:
        with self.changed:
            if self.unsent is ticket:  # once per request: a later call (the slot's exit) must not clear the next's
                self.unsent = None
                self.next_start = max(self.next_start, time.monotonic() + self.delay)
                self.changed.notify_all()


class HostGates:
    """Per-origin politeness shared by all fetch threads of a process: at most `host_concurrency` requests in
    flight per origin, and requests sent at least `delay` seconds apart (robots.txt Crawl-delay raises it).

    The delay counts from the moment the previous request was written to its socket (`slot` yields the callback
    that marks it), and the next one is not let through before that: a thread can be held between the gate and
    the socket (another thread holding the GIL, a slow connect), and counting from the gate would then let the
    server see two requests closer than `delay`."""

    def __init__(self, settings: FetchSettings):
        self._settings = settings
        self._lock = threading.Lock()
        self._gates: Dict[str, _HostGate] = {}

    def set_crawl_delay(self, origin: str, crawl_delay: Optional[float]) -> None:
        if crawl_delay:
            gate = self._gate(origin)
            with gate.changed:
                gate.delay = max(self._settings.host_delay, min(crawl_delay, self._settings.crawl_delay_max))

    def refusal(self, origin: str) -> Optional[str]:
        """Why `origin` is not to be asked now, or None. A host whose last `host_failure_limit` attempts got no
        answer at all (connect refused or timed out, no response headers) is not asked for `host_failure_pause`
        seconds: each of its URLs would otherwise wait out its own timeouts and retries, and a host that died
        mid-run with thousands of listed URLs held the run for hours. Then one request goes through as a probe
        (the next ones wait for its outcome, up to one request's longest time); an answer closes the circuit."""
        settings = self._settings
        if not settings.host_failure_limit:
            return None
        gate = self._gate(origin)
        with gate.changed:
            if gate.refused_until is None:
                return None
            now = time.monotonic()
            if now >= gate.refused_until:  # the probe
                gate.refused_until = now + settings.connect_timeout + settings.deadline
                return None
            return (f"{gate.unanswered} attempts in a row got no answer (the last: {gate.last_unanswered}); "
                    f"not asked for {settings.host_failure_pause:g}s (--host-failure-pause)")

    def answered(self, origin: str, answered: bool, failure: str = "") -> None:
        """Records whether an attempt to `origin` got any answer (see `refusal`)."""
        if not self._settings.host_failure_limit:
            return
        gate = self._gate(origin)
        with gate.changed:
            if answered:
                gate.unanswered, gate.refused_until = 0, None
                return
            gate.unanswered += 1
            gate.last_unanswered = failure
            if gate.unanswered >= self._settings.host_failure_limit:
                gate.refused_until = time.monotonic() + self._settings.host_failure_pause

    def _gate(self, origin: str) -> _HostGate:
        with self._lock:
            gate = self._gates.get(origin)
            if gate is None:
                gate = self._gates[origin] = _HostGate(self._settings.host_concurrency, self._settings.host_delay)
            return gate

    @contextmanager
    def slot(self, origin: str) -> Iterator[Callable[[], None]]:
        """Waits for the origin's turn; yields `sent`, to call once the request is on the wire. A request that
        never calls it (it failed before sending) counts as sent when the slot is left."""
        gate = self._gate(origin)
        with gate.semaphore:
            ticket = object()
            with gate.changed:
                while True:
                    if gate.unsent is not None:  # the request before is on its way to its socket: its sending
                        gate.changed.wait()      # sets the time
                        continue
                    wait = gate.next_start - time.monotonic()
                    if wait <= 0:
                        break
                    gate.changed.wait(wait)  # a sleep that gives the lock back (and may wake late: fine)
                if gate.delay > 0:  # without a delay, requests need not wait for each other's sending
                    gate.unsent = ticket
            try:
                yield lambda: gate.sent(ticket)
            finally:
                gate.sent(ticket)


class _BlockedRobots(str):
    """A robots.txt problem that is a refused address."""


class RobotsCache:
    """robots.txt per origin, fetched once per `ttl` seconds (RFC 9309: 4xx allows all, 5xx or unreachable
    disallows all, and a crawler should not cache it for more than a day). A 5xx or unreachable robots.txt is
    asked again after `error_ttl` seconds: a single 503 disallowed its host for a day in a streaming run."""

    def __init__(self, client: HttpClient, gates: HostGates, ttl: float = 86400.0, error_ttl: float = 600.0):
        self._client = client
        self._gates = gates
        self._ttl = ttl
        self._error_ttl = error_ttl
        self._lock = threading.Lock()
        self._origin_locks: Dict[str, threading.Lock] = {}
        self._rules: Dict[str, Tuple[float, Optional[Protego], Optional[str]]] = {}
        self._exchanges: List[RawExchange] = []  # robots.txt responses not yet handed to a fetch result

    def take_exchanges(self) -> Tuple[RawExchange, ...]:
        """The robots.txt responses received since the last call (each is handed out once, for the archive)."""
        with self._lock:
            taken, self._exchanges = tuple(self._exchanges), []
        return taken

    def check(self, url: str) -> Optional[FetchError]:
        """None when `url` may be fetched, else the error that explains why not."""
        origin = host_key(url)
        rules, problem = self._rules_for(origin)
        if problem:
            # an origin (or a robots.txt redirect) on a forbidden address is that, not an unreachable robots.txt
            reason = reasons.BLOCKED_ADDRESS if isinstance(problem, _BlockedRobots) else reasons.ROBOTS_UNREACHABLE
            return FetchError(reason, problem)
        if rules is not None and not robots_allows(rules, url, self._client.settings.user_agent):
            return FetchError(reasons.ROBOTS_DISALLOWED, f"disallowed by {origin}/robots.txt")
        return None

    def _cached(self, origin: str) -> Optional[Tuple[Optional[Protego], Optional[str]]]:
        with self._lock:
            entry = self._rules.get(origin)
        if entry is not None and time.monotonic() - entry[0] < (self._error_ttl if entry[2] else self._ttl):
            return entry[1], entry[2]
        return None

    def _rules_for(self, origin: str) -> Tuple[Optional[Protego], Optional[str]]:
        cached = self._cached(origin)
        if cached is not None:
            return cached
        with self._lock:
            origin_lock = self._origin_locks.setdefault(origin, threading.Lock())
        with origin_lock:  # one download per origin; the other threads wait for it
            cached = self._cached(origin)
            if cached is not None:
                return cached
            rules, problem = self._download(origin)
            with self._lock:
                self._rules[origin] = (time.monotonic(), rules, problem)
            return rules, problem

    def _download(self, origin: str) -> Tuple[Optional[Protego], Optional[str]]:
        url = origin + "/robots.txt"
        for _ in range(self._client.settings.max_redirects + 1):
            try:
                with self._gates.slot(host_key(url)) as sent:
                    # a longer one is cut, as Google does: ignoring it would allow everything it forbids
                    answer = self._client.get(url, accept="text/plain", max_bytes=PARSE_BYTES, truncate=True,
                                              on_sent=sent)
                self._keep(answer.raw)
            except FetchError as exc:
                self._keep(exc.raw)
                if exc.reason == reasons.BLOCKED_ADDRESS:
                    return None, _BlockedRobots(f"robots.txt {url}: {exc.detail}")
                return None, f"robots.txt unreachable: {exc.reason}: {exc.detail}"
            if answer.status in _REDIRECTS and answer.headers.get("location"):
                try:
                    url = redirect_target(url, answer.headers["location"])
                except ValueError:  # e.g. `http://[::1/`: no URL at all, like a missing robots.txt redirect
                    return None, f"robots.txt redirect to {answer.headers['location']!r}, not a URL"
                continue
            if 200 <= answer.status < 300:
                rules = parse_robots(answer.body)
                self._gates.set_crawl_delay(origin, rules.crawl_delay(self._client.settings.user_agent))
                return rules, None
            if 400 <= answer.status < 500 and answer.status != 429:
                return None, None
            return None, f"robots.txt answered HTTP {answer.status}"
        return None, "robots.txt redirected too often"

    def _keep(self, raw: Optional[RawExchange]) -> None:
        if raw is not None:
            with self._lock:
                self._exchanges.append(raw)


class PoliteFetcher:
    """Fetches one URL at a time per calling thread, following redirects and retrying transient failures."""

    def __init__(self, client: HttpClient, gates: HostGates, robots: Optional[RobotsCache]):
        self._client = client
        self._settings = client.settings
        self._gates = gates
        self._robots = robots
        self._rng = random.Random()

    def fetch(self, request: FetchRequest, accept: str, check: Optional[ContentCheck]) -> FetchOutcome:
        attempts = 0
        url = request.url
        redirects: List[str] = []
        exchanges: List[RawExchange] = []  # every response on the way, for the archive
        try:
            for _ in range(self._settings.max_redirects + 1):
                if not is_http_url(url):
                    raise FetchError(reasons.INVALID_URL if not redirects else reasons.BAD_REDIRECT, url)
                if self._robots is not None:
                    refusal = self._robots.check(url)
                    exchanges.extend(self._robots.take_exchanges())
                    if refusal is not None:
                        raise refusal
                answer, used = self._get_with_retries(url, accept, check, request.headers, exchanges,
                                                      _body_cap(request, self._settings))
                attempts += used
                if answer.status in _REDIRECTS:
                    location = answer.headers.get("location")
                    if not location:
                        raise FetchError(reasons.BAD_REDIRECT, "redirect without Location", answer.status)
                    redirects.append(url)
                    try:
                        url = redirect_target(url, location)
                    except ValueError:  # e.g. `http://[::1/` (it was an internal_error)
                        raise FetchError(reasons.BAD_REDIRECT, f"Location {location!r} is not a URL",
                                         answer.status) from None
                    continue
                not_modified = answer.status == 304 and bool(request.headers)  # only a conditional GET may get one
                if not 200 <= answer.status < 300 and not not_modified:
                    raise FetchError(reasons.http_reason(answer.status), f"HTTP {answer.status}", answer.status)
                return FetchedPage(
                    request=request,
                    final_url=url,
                    status=answer.status,
                    content_type=answer.content_type,
                    header_charset=answer.charset,
                    body=answer.body,
                    fetched_at=utcnow(),
                    attempts=attempts,
                    redirects=tuple(redirects),
                    etag=answer.headers.get("etag"),
                    last_modified=answer.headers.get("last-modified"),
                    content_location=answer.headers.get("content-location"),
                    exchanges=tuple(exchanges),
                )
            raise FetchError(reasons.TOO_MANY_REDIRECTS, f"more than {self._settings.max_redirects} redirects")
        except FetchError as exc:
            return FetchFailure(
                request=request,
                reason=exc.reason,
                detail=exc.detail,
                failed_at=utcnow(),
                http_status=exc.status,
                attempts=attempts + exc.attempts,
                final_url=url,
                exchanges=tuple(exchanges),
            )
        except Exception as exc:  # a bug or a library surprise must cost one URL, not the run
            LOG.exception("unexpected error fetching %s", request.url)
            return FetchFailure(
                request=request,
                reason=reasons.INTERNAL_ERROR,
                detail=f"{type(exc).__name__}: {exc}",
                failed_at=utcnow(),
                attempts=attempts,
                final_url=url,
                exchanges=tuple(exchanges),
            )

    def _get_with_retries(self, url: str, accept: str, check: Optional[ContentCheck],
                          headers: Tuple[Tuple[str, str], ...], exchanges: List[RawExchange],
                          max_bytes: Optional[int] = None) -> Tuple[Exchange, int]:
        origin = host_key(url)
        attempt = 0
        while True:
            attempt += 1
            retry_after = None
            refusal = self._gates.refusal(origin)
            if refusal is not None:
                error = FetchError(reasons.HOST_UNREACHABLE, refusal)
                error.attempts = attempt - 1
                raise error
            try:
                with self._gates.slot(origin) as sent:
                    try:
                        answer = self._client.get(url, accept=accept, check=check, headers=headers,
                                                  max_bytes=max_bytes, on_sent=sent)
                    except FetchError as exc:
                        if exc.status is not None:
                            self._gates.answered(origin, True)
                        elif exc.reason in _UNANSWERED:
                            self._gates.answered(origin, False, f"{exc.reason}: {exc.detail}")
                        raise
                self._gates.answered(origin, True)
                if answer.raw is not None:
                    exchanges.append(answer.raw)
                if answer.status not in _RETRY_STATUSES:
                    return answer, attempt
                error = FetchError(reasons.http_reason(answer.status), f"HTTP {answer.status}", answer.status)
                retry_after = answer.headers.get("retry-after")
            except FetchError as exc:
                exc.attempts = attempt
                if exc.raw is not None:
                    exchanges.append(exc.raw)
                if not exc.retryable:
                    raise
                error = exc
            error.attempts = attempt
            if attempt >= self._settings.max_attempts:
                error.detail = f"{error.detail}; gave up after {attempt} attempts"
                raise error
            delay = retry_delay(attempt, retry_after, self._settings, self._rng)
            if delay is None:
                error.detail = (f"{error.detail}; Retry-After {retry_after!r} beyond {self._settings.retry_after_max}s"
                                f"{not_before_note(retry_after, utcnow())}")
                raise error
            time.sleep(delay)


def _body_cap(request: FetchRequest, settings: FetchSettings) -> Optional[int]:
    """A request may allow a larger body than --max-bytes (a 50 MB sitemap), never a smaller one."""
    return None if request.max_bytes is None else max(request.max_bytes, settings.max_bytes)


HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,application/pdf;q=0.8,*/*;q=0.1"
FEED_ACCEPT = (
    "application/rss+xml,application/atom+xml,application/rdf+xml;q=0.9,application/xml;q=0.9,"
    "text/xml;q=0.9,text/x-opml;q=0.9,text/plain;q=0.5,*/*;q=0.1"
)
_NOT_FEED_PREFIXES = ("image/", "audio/", "video/", "font/", "application/zip", *sorted(PDF_TYPES))


def html_only(status: int, headers: Dict[str, str], url: str = "") -> Optional[str]:
    """Refuse a declared body that cannot be an article page (newsbeam.mediatypes.may_be_page: HTML or PDF) before
    downloading it; an undeclared type is sniffed after extraction."""
    return None if may_be_page(media_type(headers.get("content-type")), url) else reasons.NOT_HTML


def feed_like(status: int, headers: Dict[str, str], url: str = "") -> Optional[str]:
    """Feeds come with every content type imaginable; refuse only what cannot be one."""
    declared = media_type(headers.get("content-type")) or ""
    return reasons.NOT_A_FEED if declared.startswith(_NOT_FEED_PREFIXES) else None


class FetchContext:
    """What all fetch threads of a worker process share: connection pool, politeness gates, robots rules."""

    def __init__(self, settings: FetchSettings):
        self.settings = settings
        self.client = HttpClient(settings)
        self.gates = HostGates(settings)
        self.robots = RobotsCache(self.client, self.gates) if settings.obey_robots else None


class ConcurrentFetcher:
    """Fetches many hosts at once. Each submitted host gets up to `host_concurrency` lanes pulling its URLs, one
    URL per turn on the shared threads. Results come back through a bounded queue, so a slow consumer pauses
    fetching instead of piling pages up in memory."""

    def __init__(self, context: FetchContext):
        settings = context.settings
        self._settings = settings
        self._fetcher = PoliteFetcher(context.client, context.gates, context.robots)
        self._executor = ThreadPoolExecutor(max_workers=settings.max_connections, thread_name_prefix="newsbeam-fetch")
        self._results: "queue.Queue[Tuple[object, FetchOutcome]]" = queue.Queue(maxsize=4 * settings.max_connections)
        self._lanes: List[Future] = []
        self._lanes_lock = threading.Lock()  # lanes queue their next turn from the fetch threads

    def submit(self, requests: List[FetchRequest], accept: str, check: Optional[ContentCheck], tag: object) -> None:
        """Queue one host's requests; `tag` comes back with each of their results."""
        pending = deque(requests)
        for _ in range(min(self._settings.host_concurrency, len(pending))):
            self._queue_turn(pending, accept, check, tag)

    def _queue_turn(self, pending: deque, accept: str, check: Optional[ContentCheck], tag: object) -> None:
        with self._lanes_lock:
            self._lanes.append(self._executor.submit(self._lane, pending, accept, check, tag))

    def _lane(self, pending: deque, accept: str, check: Optional[ContentCheck], tag: object) -> None:
        """One URL of a host, then the lane's next turn goes behind every lane queued meanwhile (the pool is
        first in, first out). A lane that kept its thread for all of its host's URLs let a few hosts whose
        requests hang until the deadline hold every thread, and the hosts after them waited for all of it."""
        try:
            request = pending.popleft()
        except IndexError:
            return
        self._results.put((tag, self._fetcher.fetch(request, accept, check)))
        if pending:
            try:
                self._queue_turn(pending, accept, check, tag)  # queued before this turn counts as done
            except RuntimeError:
                return  # closed: the pool takes no more work

    def ready(self) -> Iterator[Tuple[object, FetchOutcome]]:
        """Results available now, without waiting."""
        while True:
            try:
                yield self._results.get_nowait()
            except queue.Empty:
                return

    def drain(self) -> Iterator[Tuple[object, FetchOutcome]]:
        """Every remaining result, waiting for all submitted hosts to finish."""
        while True:
            with self._lanes_lock:
                self._lanes = [lane for lane in self._lanes if not lane.done() or _raise_if_failed(lane)]
                idle = not self._lanes
            try:
                yield self._results.get(timeout=0.05)
            except queue.Empty:
                if idle:
                    yield from self.ready()
                    return

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _raise_if_failed(lane: Future) -> bool:
    error = lane.exception()
    if error is not None:
        raise error
    return False

