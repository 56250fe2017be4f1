"""Hostile and internal servers: slow-drip attacks bounded by the deadline, private addresses refused, and the
URL fetched being the one listed."""
import ipaddress
import logging
import time
from dataclasses import replace

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam import http, reasons
from newsbeam.addresses import blocked_kind, literal_address
from newsbeam.fetching import HTML_ACCEPT, FetchContext, PoliteFetcher, html_only
from newsbeam.sample_site import SampleSite
from newsbeam.schemas.records import FeedItem, FetchedPage, FetchFailure, FetchRequest
from newsbeam.transforms.common import DEAD_LETTERS
from newsbeam.transforms.core import CoreSettings, ProcessArticles
from newsbeam.urls import canonicalize_url
from tests.conftest import FAST
from tests.faults import ENGLISH, SLOW_ATTACKS, RawServer, article_html
from tests.pipeline_helpers import fnapi_pipeline, run_and_count

LOG = logging.getLogger(__name__)
GUARDED = replace(FAST, allow_private_addresses=False)  # the production default


def fetch_url(url, settings):
    context = FetchContext(settings)
    return PoliteFetcher(context.client, context.gates, context.robots).fetch(
        FetchRequest(url, context=None), HTML_ACCEPT, html_only)


# --- slow servers: --deadline bounds the whole exchange ------------------------------------------------------

@pytest.mark.parametrize("attack", sorted(SLOW_ATTACKS))
def test_slow_drip_attacks_time_out_at_the_deadline(attack):
    """One byte every 0.4 s never trips the 1 s read timeout; only the deadline (2 s) can end the exchange."""
    settings = replace(FAST, deadline=2.0, read_timeout=1.0, obey_robots=False)
    with RawServer(SLOW_ATTACKS[attack]) as server:
        started = time.monotonic()
        failure = fetch_url(server.base_url + "/story.html", settings)
        elapsed = time.monotonic() - started
    LOG.info("slow attack %r gave up after %.2f s", attack, elapsed)
    assert isinstance(failure, FetchFailure)
    assert (failure.reason, failure.attempts) == (reasons.TIMEOUT, 1), failure
    assert "deadline" in failure.detail
    assert elapsed < settings.deadline + 1.5  # generous: the machine is shared


def test_slow_robots_txt_is_bounded_too():
    settings = replace(FAST, deadline=2.0, read_timeout=1.0)
    with RawServer(SLOW_ATTACKS["one long header"]) as server:
        started = time.monotonic()
        failure = fetch_url(server.base_url + "/story.html", settings)
        elapsed = time.monotonic() - started
    assert failure.reason == reasons.ROBOTS_UNREACHABLE and "deadline" in failure.detail
    assert elapsed < settings.deadline + 1.5


def test_a_connection_is_reusable_after_a_normal_exchange(site):
    context = FetchContext(replace(FAST, deadline=0.5))
    fetcher = PoliteFetcher(context.client, context.gates, context.robots)
    for _ in range(3):  # the watchdog of an exchange that ended must not shut the pooled connection later
        page = fetcher.fetch(FetchRequest(site.url("/faults/ok.html"), None), HTML_ACCEPT, html_only)
        assert isinstance(page, FetchedPage)
        time.sleep(0.6)


# --- private and internal addresses ----------------------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "224.0.0.1", "239.255.255.250", "0.0.0.0", "240.0.0.1", "255.255.255.255", "192.0.0.8", "198.18.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "2002:7f00:1::", "64:ff9b::a9fe:a9fe", "fe80::1%eth0",
])
def test_internal_addresses_are_blocked(address):
    assert blocked_kind(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8",
                                     "2002:808:808::"])
def test_public_addresses_are_allowed(address):
    assert blocked_kind(address) is None


@pytest.mark.parametrize("host, address", [
    ("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"), ("[::ffff:7f00:1]", "::ffff:7f00:1"), ("169.254.169.254.", "169.254.169.254"),
    ("[fe80::1%25eth0]", "fe80::1"), ("example.org", None), ("deadbeef.example", None), ("1.2.3.4.5", None),
])
def test_literal_addresses_in_every_spelling(host, address):
    found = literal_address(host)
    assert (str(found) if found else None) == address


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_ipv4_spellings_and_mapped_forms_judge_alike(number):
    address = ipaddress.IPv4Address(number)
    octets = str(address).split(".")
    for spelling in (str(number), hex(number), ".".join(oct(int(o)).replace("0o", "0") for o in octets)):
        assert literal_address(spelling) == address, spelling
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    assert (blocked_kind(address) is None) == (blocked_kind(mapped) is None)


def test_private_address_is_a_dead_letter_and_gets_no_request(site):
    failure = fetch_url(site.url("/faults/ok.html"), GUARDED)
    assert (failure.reason, failure.attempts) == (reasons.BLOCKED_ADDRESS, 0), failure
    assert "127.0.0.1" in failure.detail and site.requests() == []  # not even robots.txt


@pytest.mark.parametrize("spelling", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]"])
def test_spelled_addresses_are_refused(site, spelling):
    port = site.base_url.rsplit(":", 1)[1]
    failure = fetch_url(f"http://{spelling}:{port}/faults/ok.html", GUARDED)
    assert failure.reason == reasons.BLOCKED_ADDRESS and site.requests() == []


def test_the_address_actually_connected_to_is_checked(site, monkeypatch):
    """A name (here `localhost`; in an attack, a DNS-rebinding name) is judged by the socket's peer address."""
    monkeypatch.setattr(http, "literal_address", lambda host: None)  # only the peer check is left
    for url in (site.url("/faults/ok.html"), site.url("/faults/ok.html").replace("127.0.0.1", "localhost")):
        failure = fetch_url(url, GUARDED)
        assert failure.reason == reasons.BLOCKED_ADDRESS, failure
    assert site.requests() == []


@pytest.mark.parametrize("literal_check", [True, False])
def test_every_redirect_hop_and_robots_txt_are_checked(monkeypatch, literal_check):
    """127.0.0.1 plays a public site, 127.0.0.2 the metadata service (the policy is narrowed for the test)."""
    monkeypatch.setattr(http, "blocked_kind", lambda address: "internal" if str(address) == "127.0.0.2" else None)
    if not literal_check:
        monkeypatch.setattr(http, "literal_address", lambda host: None)
    with RawServer(lambda conn, stopping, interval: conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\nmetadata!"),
            host="127.0.0.2") as internal:
        routes = {"/go.html": lambda h: h.send_body(302, b"", "text/html", {"Location": internal.base_url + "/x"})}
        with SampleSite(routes=routes) as public:
            hop = fetch_url(public.url("/go.html"), GUARDED)
        robots_routes = {"/robots.txt": routes["/go.html"]}
        with SampleSite(routes=robots_routes) as public:
            robots = fetch_url(public.url("/faults/ok.html"), GUARDED)
    assert (hop.reason, hop.final_url) == (reasons.BLOCKED_ADDRESS, internal.base_url + "/x")
    assert robots.reason == reasons.BLOCKED_ADDRESS, robots
    assert internal.connections == (0 if literal_check else 2)  # connected, then refused before sending a byte


def test_a_run_without_the_option_gives_dead_letters_not_a_crash(site):
    items = [FeedItem(url=site.url(path), canonical_url=canonicalize_url(site.url(path)))
             for path in ("/faults/ok.html", "/faults/missing.html")]
    pipeline = fnapi_pipeline()
    result = pipeline | beam.Create(items) | ProcessArticles(CoreSettings(fetch=GUARDED, entities=None))
    assert_that(result[DEAD_LETTERS] | beam.Map(lambda d: (d.stage, d.reason)),
                equal_to([("fetch", "blocked_address")] * 2))
    assert run_and_count(pipeline)["pages.fetch_failed"] == 2
    assert site.requests() == []


# --- the URL fetched is the URL listed -------------------------------------------------------------------------

def test_listed_urls_are_fetched_with_their_own_query():
    """`?1001` and `?1002` are two stories: each is requested as listed (tracking parameters aside)."""
    def echo(handler):
        handler.send_body(200, article_html(handler.path, ENGLISH), "text/html; charset=utf-8")

    with SampleSite(routes={"/story.php": echo}) as site:
        urls = [site.url("/story.php?1001&utm_source=rss"), site.url("/story.php?1002")]
        pipeline = fnapi_pipeline()
        result = (pipeline | beam.Create([FeedItem(url=u, canonical_url=canonicalize_url(u)) for u in urls])
                  | ProcessArticles(CoreSettings(fetch=FAST, entities=None)))
        assert_that(result["articles"] | beam.Map(lambda a: a.extracted.title),
                    equal_to(["/story.php?1001", "/story.php?1002"]))
        run_and_count(pipeline)
