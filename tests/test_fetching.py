"""The real HTTP path against a loopback server: limits, retries, redirects, robots, politeness."""
import random
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from newsbeam import reasons
from newsbeam.fetching import (
    HTML_ACCEPT,
    ConcurrentFetcher,
    FetchContext,
    PoliteFetcher,
    html_only,
    retry_delay,
)
from newsbeam.http import FetchSettings
from newsbeam.retry_after import seconds_to_wait
from newsbeam.sample_site import SampleSite
from newsbeam.sample_site.arrival import SLACK
from newsbeam.schemas.records import FetchedPage, FetchFailure, FetchRequest


def fetch(site, path, settings):
    context = FetchContext(settings)
    fetcher = PoliteFetcher(context.client, context.gates, context.robots)
    return fetcher.fetch(FetchRequest(site.url(path), context=None), HTML_ACCEPT, html_only)


# --- pure policy ---------------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize("value, expected", [("0", 0.0), ("7", 7.0), (" 12 ", 12.0), ("soon", None), ("", None)])
def test_retry_after_seconds(value, expected):
    assert seconds_to_wait(value, NOW) == expected


def test_retry_after_http_date_counts_from_now_and_never_below_zero():
    assert seconds_to_wait(format_datetime(NOW + timedelta(seconds=30), usegmt=True), NOW) == 30.0
    assert seconds_to_wait("Sun, 29 Nov 2026 12:00:00", NOW) == 0.0  # past, and no zone: read as UTC


def test_retry_delay_backs_off_exponentially_with_bounded_jitter():
    settings = FetchSettings(backoff_base=1.0, backoff_max=5.0)
    rng = random.Random(1)
    delays = [retry_delay(attempt, None, settings, rng) for attempt in (1, 2, 3, 4)]
    for delay, base in zip(delays, (1.0, 2.0, 4.0, 5.0)):
        assert base <= delay <= base * 1.25


def test_retry_after_wins_and_too_long_gives_up():
    settings = FetchSettings(retry_after_max=60)
    rng = random.Random(1)
    assert retry_delay(1, "3", settings, rng) == 3.0
    assert retry_delay(1, "3600", settings, rng) is None


# --- one URL over real HTTP ----------------------------------------------------------------------------------

def test_ok_page_sends_user_agent_and_decodes_gzip(site, fast_settings):
    page = fetch(site, "/faults/ok.html", fast_settings)
    assert isinstance(page, FetchedPage)
    assert page.status == 200 and page.attempts == 1
    assert b"An ordinary article" in page.body
    (_, headers), = site.requests("/faults/ok.html")
    assert headers["User-Agent"] == fast_settings.user_agent
    assert "gzip" in headers["Accept-Encoding"]


@pytest.mark.parametrize("path, reason, status, attempts", [
    ("/faults/missing.html", "http_404", 404, 1),
    ("/faults/500.html", reasons.HTTP_5XX, 500, 3),
    ("/faults/always-503.html", reasons.HTTP_5XX, 503, 3),
    ("/faults/image.png", reasons.NOT_HTML, 200, 1),
    ("/faults/plain.txt", reasons.NOT_HTML, 200, 1),
    ("/faults/huge.html", reasons.TOO_LARGE, 200, 1),
    ("/faults/huge-undeclared.html", reasons.TOO_LARGE, 200, 1),
    ("/faults/redirect-loop.html", reasons.TOO_MANY_REDIRECTS, None, 6),
    ("/private/memo.html", reasons.ROBOTS_DISALLOWED, None, 0),
    ("/faults/redirect-private.html", reasons.ROBOTS_DISALLOWED, None, 1),
    ("/faults/429-retry-later.html", "http_429", 429, 1),
])
def test_faults_become_failures_with_stable_reasons(site, fast_settings, path, reason, status, attempts):
    failure = fetch(site, path, fast_settings)
    assert isinstance(failure, FetchFailure), failure
    assert (failure.reason, failure.http_status, failure.attempts) == (reason, status, attempts)
    assert failure.detail


def test_huge_body_is_abandoned_early(site, fast_settings):
    started = time.monotonic()
    fetch(site, "/faults/huge-undeclared.html", fast_settings)
    assert time.monotonic() - started < 2.0  # stopped reading at the 10 MB cap, not at 40 MB


@pytest.mark.parametrize("path, attempts", [("/faults/503-then-200.html", 2), ("/faults/429-then-200.html", 2)])
def test_transient_errors_are_retried(site, fast_settings, path, attempts):
    page = fetch(site, path, fast_settings)
    assert isinstance(page, FetchedPage) and page.attempts == attempts


def test_retry_after_is_honoured(site, fast_settings):
    fetch(site, "/faults/429-then-200.html", fast_settings)
    first, second = site.request_times("/faults/429-then-200.html")
    assert second - first >= 1.0  # the server asked for one second; the backoff alone would be 0.01 s


@pytest.mark.parametrize("path, detail", [("/faults/hang.html", "no response headers"),
                                          ("/faults/drip.html", "deadline")])
def test_hanging_servers_time_out_within_the_deadline(site, fast_settings, path, detail):
    started = time.monotonic()
    failure = fetch(site, path, fast_settings)
    elapsed = time.monotonic() - started
    assert isinstance(failure, FetchFailure)
    assert failure.reason == reasons.TIMEOUT and detail in failure.detail
    assert elapsed < fast_settings.deadline + 1.5


def test_redirect_chain_records_final_url(site, fast_settings):
    page = fetch(site, "/faults/redirect-1.html", fast_settings)
    assert isinstance(page, FetchedPage)
    assert page.final_url == site.url("/faults/ok.html")
    assert page.redirects == tuple(site.url(f"/faults/redirect-{i}.html") for i in (1, 2, 3))


def test_unreachable_host_is_a_connection_error(fast_settings):
    with SampleSite() as gone:
        url = gone.url("/articles/x.html")
    context = FetchContext(fast_settings)
    fetcher = PoliteFetcher(context.client, context.gates, None)
    failure = fetcher.fetch(FetchRequest(url, None), HTML_ACCEPT, html_only)
    assert failure.reason == reasons.CONNECTION_ERROR and failure.attempts == 3


def test_robots_unreachable_disallows_per_rfc_9309(fast_settings):
    def broken_robots(handler):
        handler.send_body(503, b"down", "text/plain")

    with SampleSite(routes={"/robots.txt": broken_robots}) as broken:
        failure = fetch(broken, "/articles/x.html", fast_settings)
    assert failure.reason == reasons.ROBOTS_UNREACHABLE


def test_robots_missing_allows_everything(fast_settings):
    def no_robots(handler):
        handler.send_body(404, b"none", "text/plain")

    with SampleSite(routes={"/robots.txt": no_robots, "/private/x.html": lambda h: h.send_body(
            200, b"<html><body><p>hello</p></body></html>", "text/html")}) as open_site:
        page = fetch(open_site, "/private/x.html", fast_settings)
    assert isinstance(page, FetchedPage)


def test_ignore_robots_fetches_disallowed_paths(site, settings_with):
    failure = fetch(site, "/private/memo.html", settings_with(obey_robots=False))
    assert failure.reason == "http_404"  # it was requested, and the server had no such page


# --- many URLs: politeness and concurrency ---------------------------------------------------------------------

def _run_all(fetcher, groups):
    for requests in groups:
        fetcher.submit(requests, HTML_ACCEPT, html_only, tag=None)
    return [outcome for _, outcome in fetcher.drain()]


def test_robots_fetched_once_per_host_and_delay_respected(site, settings_with):
    settings = settings_with(host_delay=0.2, host_concurrency=2)
    fetcher = ConcurrentFetcher(FetchContext(settings))
    requests = [FetchRequest(site.url(f"/faults/ok.html?n={i}"), None) for i in range(6)]
    outcomes = _run_all(fetcher, [requests])
    fetcher.close()
    assert len(outcomes) == 6 and all(isinstance(o, FetchedPage) for o in outcomes)
    assert len(site.requests("/robots.txt")) == 1
    log = site.requests("/faults/ok.html")
    assert len(log) == 6
    # 6 requests (plus robots.txt) at >= 0.2 s apart take at least 1.2 s whatever the concurrency
    times = site.request_times("/faults/ok.html")
    assert all(b - a >= 0.2 - SLACK for a, b in zip(times, times[1:])), times


def test_host_concurrency_limit_holds(settings_with):
    in_flight = [0, 0]  # now, peak
    lock = threading.Lock()

    def slow(handler):
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
        time.sleep(0.2)
        with lock:
            in_flight[0] -= 1
        handler.send_body(200, b"<html><body><p>x</p></body></html>", "text/html")

    with SampleSite(routes={"/slow.html": slow}) as slow_site:
        fetcher = ConcurrentFetcher(FetchContext(settings_with(host_concurrency=3, max_connections=16)))
        outcomes = _run_all(fetcher, [[FetchRequest(slow_site.url(f"/slow.html?{i}"), None) for i in range(12)]])
        fetcher.close()
    assert len(outcomes) == 12
    assert in_flight[1] == 3


def test_slow_host_does_not_hold_up_other_hosts(site, settings_with):
    """A host that hangs occupies only its own lanes: the fast host's pages all come back first."""
    settings = settings_with(read_timeout=2.0, deadline=3.0, host_concurrency=1)
    with SampleSite(routes={"/hang.html": lambda h: h.server.site.stopping.wait(60)}) as slow_site:
        fetcher = ConcurrentFetcher(FetchContext(settings))
        fetcher.submit([FetchRequest(slow_site.url(f"/hang.html?{i}"), None) for i in range(2)], HTML_ACCEPT,
                       html_only, tag="slow")
        fetcher.submit([FetchRequest(site.url(f"/faults/ok.html?{i}"), None) for i in range(5)], HTML_ACCEPT,
                       html_only, tag="fast")
        order = [tag for tag, _ in fetcher.drain()]
        fetcher.close()
    assert order == ["fast"] * 5 + ["slow"] * 2


# --- the HTTP client's own cost ------------------------------------------------------------------------------

def test_exchanges_start_no_thread_each(site, fast_settings, monkeypatch):
    """The deadline of every exchange is watched by one shared thread: a timer thread started (and cancelled) per
    request cost ~0.3 ms of CPU a page. Fails on the code that started a threading.Timer per exchange."""
    context = FetchContext(fast_settings)
    fetcher = PoliteFetcher(context.client, context.gates, context.robots)
    fetcher.fetch(FetchRequest(site.url("/faults/ok.html"), context=None), HTML_ACCEPT, html_only)  # robots.txt
    started = []
    original = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda thread: (started.append(thread.name), original(thread)))
    for _ in range(20):
        page = fetcher.fetch(FetchRequest(site.url("/faults/ok.html"), context=None), HTML_ACCEPT, html_only)
        assert isinstance(page, FetchedPage)
    assert len(started) <= 1, started  # at most the deadline thread, if it had ended while idle


def test_deadlines_fire_due_watches_only():
    from newsbeam.http import _Deadlines, _Watch

    deadlines = _Deadlines(idle=0.2)
    fired = []

    class Watch(_Watch):
        def fire(self):
            fired.append(self)

    kept = [Watch(60.0, deadlines) for _ in range(3)]  # not due: stopped below
    soon = Watch(0.05, deadlines)
    stopped = Watch(0.05, deadlines)
    stopped.stop()
    many = [Watch(60.0, deadlines) for _ in range(2000)]  # enough stopped ones to rebuild the heap
    for watch in many + kept:
        watch.stop()
    time.sleep(0.5)
    assert fired == [soon]
    assert len(deadlines._heap) < 1000
    again = Watch(0.05, deadlines)  # after the idle thread ended, a new one starts
    time.sleep(0.4)
    assert fired == [soon, again]


def test_requests_reach_the_host_delay_apart_even_when_one_is_held_before_its_socket(site, settings_with,
                                                                                     monkeypatch):
    # a thread let through by the host gate can be held before it writes its request (another thread holding the
    # GIL, e.g. models loading; a slow connect): the next request must count its delay from that write, not from
    # the gate, or the server sees the two closer than --host-delay
    import urllib3.connection

    held = [0.15]  # the first article request waits 150 ms between the gate and its socket
    original = urllib3.connection.HTTPConnection.putrequest

    def late_putrequest(self, method, url, *args, **kwargs):
        if "ok.html" in url and held:
            time.sleep(held.pop())
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "putrequest", late_putrequest)
    fetcher = ConcurrentFetcher(FetchContext(settings_with(host_delay=0.2, host_concurrency=2)))
    outcomes = _run_all(fetcher, [[FetchRequest(site.url(f"/faults/ok.html?n={i}"), None) for i in range(3)]])
    fetcher.close()
    assert all(isinstance(o, FetchedPage) for o in outcomes)
    times = site.request_times("/faults/ok.html")
    assert len(times) == 3
    # counted from the gate, the second request arrived 50 ms after the held one
    assert all(b - a >= 0.2 - SLACK for a, b in zip(times, times[1:])), times


def test_a_request_leaving_its_slot_does_not_release_the_next_before_that_one_is_sent():
    # two requests in flight per host: when the first leaves its slot, the second (let through, not yet sent) still
    # holds the turn; a third must wait for the second's sending, plus the delay
    from newsbeam.fetching import HostGates
    from newsbeam.http import FetchSettings

    gates = HostGates(FetchSettings(host_concurrency=2, host_delay=0.1))
    a_sent, b_through = threading.Event(), threading.Event()
    times = {}

    def first():
        with gates.slot("http://a.example") as sent:
            sent()
            a_sent.set()
            b_through.wait(5)
        times["a_left"] = time.monotonic()

    def second():
        a_sent.wait(5)
        with gates.slot("http://a.example") as sent:
            b_through.set()
            time.sleep(0.3)  # held before its socket
            times["b_sent"] = time.monotonic()
            sent()
            time.sleep(0.2)

    def third():
        b_through.wait(5)
        time.sleep(0.05)  # after the first has left its slot
        with gates.slot("http://a.example"):
            times["c_through"] = time.monotonic()

    threads = [threading.Thread(target=f) for f in (first, second, third)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert times["a_left"] < times["b_sent"]
    assert times["c_through"] >= times["b_sent"] + 0.1 - 0.01, times


def test_the_host_delay_holds_while_other_threads_hold_the_gil(site, settings_with):
    # fetch threads are held between the gate and the socket by threads that keep the GIL busy (the entity models'
    # warm-up, extraction): the server must still see the host's requests --host-delay apart. The arrivals are the
    # kernel's receive times, so the sample site's own threads, slowed as much, do not blur the measure.
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            sum(range(10_000))

    spinners = [threading.Thread(target=spin, daemon=True) for _ in range(3)]
    for spinner in spinners:
        spinner.start()
    try:
        fetcher = ConcurrentFetcher(FetchContext(settings_with(host_delay=0.1, host_concurrency=4, max_connections=8)))
        outcomes = _run_all(fetcher, [[FetchRequest(site.url(f"/faults/ok.html?n={i}"), None) for i in range(12)]])
        fetcher.close()
    finally:
        stop.set()
    assert len(outcomes) == 12 and all(isinstance(o, FetchedPage) for o in outcomes)
    times = site.request_times("/faults/ok.html")
    assert len(times) == 12 and all(b - a >= 0.1 - SLACK for a, b in zip(times, times[1:])), times
