"""robots.txt: parsing (BOM, size), the check on the URL actually requested, and random input."""
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam import reasons
from newsbeam.fetching import HTML_ACCEPT, FetchContext, PoliteFetcher, html_only
from newsbeam.robots import PARSE_BYTES, parse_robots, robots_allows
from newsbeam.sample_site import SampleSite
from newsbeam.schemas.records import FetchedPage, FetchFailure, FetchRequest
from tests.conftest import FAST
from tests.faults import ENGLISH, article_html

AGENT = FAST.user_agent
SECRET = b"User-agent: *\nDisallow: /secret/\n"


def allows(body: bytes, url: str) -> bool:
    return robots_allows(parse_robots(body), url, AGENT)


def test_a_utf8_bom_does_not_hide_the_first_group():
    assert not allows(b"\xef\xbb\xbfUser-agent: *\nDisallow: /\n", "https://e.org/x")


def test_a_huge_robots_txt_is_parsed_up_to_500_kib():
    body = b"User-agent: *\nDisallow: /\n" + b"# padding\n" * (600 * 1024 // 10)
    assert len(body) > 512 * 1024
    assert not allows(body, "https://e.org/x")
    assert allows(b"User-agent: *\nDisallow: /a\n" + b"#" * PARSE_BYTES + b"\nDisallow: /b\n", "https://e.org/b")


def test_a_cut_last_line_is_dropped_not_half_read():
    body = b"User-agent: *\n" + b"#" * (PARSE_BYTES - 40) + b"\nDisallow: /secret-but-not-this-one-entirely"
    assert allows(body[:PARSE_BYTES] + b"x", "https://e.org/secret")


@pytest.mark.parametrize("path", ["/./secret/1.html", "/a/../secret/2.html", "/%73ecret/3.html", "/secret/./4.html",
                                  "/x/y/../../secret/5.html", "/./%73ecret/6.html"])
def test_dot_segments_and_escapes_cannot_dodge_a_disallow(path):
    assert not allows(SECRET, "https://e.org" + path)


@pytest.mark.parametrize("path", ["/public/1.html", "/secretary.html", "/a/secret/1.html", "/secret"])
def test_other_paths_stay_allowed(path):
    assert allows(SECRET, "https://e.org" + path)


# --- over HTTP: what the server sees -------------------------------------------------------------------------

def _fetch(site, path, settings=FAST):
    context = FetchContext(settings)
    return PoliteFetcher(context.client, context.gates, context.robots).fetch(
        FetchRequest(site.url(path), None), HTML_ACCEPT, html_only)


def _site(robots: bytes):
    page = article_html("Public", ENGLISH)
    return SampleSite(routes={"/robots.txt": lambda h: h.send_body(200, robots, "text/plain"),
                              "/secret/1.html": lambda h: h.send_body(200, page, "text/html"),
                              "/open/1.html": lambda h: h.send_body(200, page, "text/html")})


@pytest.mark.parametrize("robots, path", [
    (b"\xef\xbb\xbfUser-agent: *\nDisallow: /\n", "/open/1.html"),
    (b"User-agent: *\nDisallow: /\n" + b"#" * (600 * 1024), "/open/1.html"),
    (SECRET, "/./secret/1.html"),
    (SECRET, "/open/../secret/1.html"),
])
def test_disallowed_pages_are_never_requested(robots, path):
    with _site(robots) as site:
        failure = _fetch(site, path)
        assert isinstance(failure, FetchFailure) and failure.reason == reasons.ROBOTS_DISALLOWED, failure
        assert [p for p, _ in site.requests()] == ["/robots.txt"]


def test_allowed_pages_still_come_through():
    with _site(SECRET) as site:
        assert isinstance(_fetch(site, "/open/1.html"), FetchedPage)


# --- properties ----------------------------------------------------------------------------------------------

_SETTINGS = settings(max_examples=100, deadline=None)
_line = st.one_of(
    st.sampled_from(["User-agent: *", "User-agent: newsbeam", "Disallow: /", "Allow: /", "Disallow: /secret/",
                     "Crawl-delay: 5", "Sitemap: http://e.org/s.xml", "Disallow: /*?id=", "Allow: /$", "# c", ""]),
    st.text(max_size=30))
_robots = st.lists(_line, max_size=12).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))
_path_char = st.sampled_from(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/%?")


@_SETTINGS
@given(st.one_of(_robots, st.binary(max_size=300)), st.text(max_size=60))
def test_random_robots_and_urls_never_crash(body, url):
    rules = parse_robots(body)
    robots_allows(rules, "https://e.org/" + url.lstrip("/"), AGENT)
    robots_allows(rules, url, AGENT)


@_SETTINGS
@given(_robots, st.lists(st.text(_path_char, max_size=15), min_size=1, max_size=5))
def test_a_bom_never_changes_a_decision(body, paths):
    plain, with_bom = parse_robots(body), parse_robots(b"\xef\xbb\xbf" + body)
    for path in paths:
        url = "https://e.org/" + path
        assert robots_allows(plain, url, AGENT) == robots_allows(with_bom, url, AGENT)


@_SETTINGS
@given(st.lists(st.sampled_from(["./", "x/../", "a/b/../../", "a/./../"]), max_size=4),
       st.text(string.ascii_lowercase + string.digits, max_size=10), st.data())
def test_mutated_spellings_of_a_disallowed_path_stay_disallowed(prefixes, name, data):
    # any letter may be escaped (`%73` is `s`); the `/` may not: `%2F` is another resource
    escaped = "".join(f"%{ord(c):02x}" if data.draw(st.booleans()) else c for c in "secret")
    path = "/" + "".join(prefixes) + escaped + "/" + name
    assert not allows(SECRET, "https://e.org" + path), path
