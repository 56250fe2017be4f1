import re
import tarfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam.discovery import (
    ATOM,
    FALLBACK,
    JSON_FEED,
    LINK_ALTERNATE,
    ROBOTS_TXT,
    RSS,
    SITEMAP,
    DiscoveredSource,
    DiscoveryLimits,
    discover,
    feed_links,
    homepage_url,
    needs_rediscovery,
    prefer_news,
    read_sites,
    robots_sitemaps,
    robots_url,
)
from newsbeam.urls import is_http_url

_ROOT = Path(__file__).resolve().parents[1]
CORPORA = next((path for path in (_ROOT.parent / "shared" / "corpora", _ROOT.parents[1] / "shared" / "corpora")
                if path.is_dir()), _ROOT.parent / "shared" / "corpora")
HOME = "https://www.example-news.com/"

HOMEPAGE = b"""<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8"><title>Example News</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="Example News &raquo; Feed" href="https://www.example-news.com/feed/">
<link rel="alternate" type="application/rss+xml" title="Example News &raquo; Comments Feed"
      href="https://www.example-news.com/comments/feed/">
<link rel="alternate" type="application/atom+xml" title="Atom" href="/atom.xml">
<link rel="alternate" type="application/feed+json" title="JSON Feed" href="feed.json">
<link rel="alternate" type="application/json" href="https://www.example-news.com/wp-json/wp/v2/pages/2">
<link rel="alternate" type="application/json+oembed" href="https://www.example-news.com/oembed?url=x">
<link rel="alternate" hreflang="fr" href="https://www.example-news.com/fr/">
<link rel="ALTERNATE home" type="Application/RSS+XML; charset=utf-8" href="//feeds.example-cdn.net/world">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
<link rel="alternate" type="application/rss+xml" href="https://www.example-news.com/feed/#dup">
<link rel="alternate" type="application/rss+xml">
</head><body><a href="/rss">RSS</a></body></html>
"""


def test_feed_links_of_a_homepage():
    assert feed_links(HOMEPAGE, HOME) == (
        DiscoveredSource("https://www.example-news.com/feed/", RSS, LINK_ALTERNATE, "Example News \u00bb Feed"),
        DiscoveredSource("https://www.example-news.com/atom.xml", ATOM, LINK_ALTERNATE, "Atom"),
        DiscoveredSource("https://www.example-news.com/feed.json", JSON_FEED, LINK_ALTERNATE, "JSON Feed"),
        DiscoveredSource("https://feeds.example-cdn.net/world", RSS, LINK_ALTERNATE),
    )


def test_base_href_and_limits():
    page = (b"<html><head><base href='https://static.example.com/section/'>"
            + b"".join(b"<link rel=alternate type=application/atom+xml href='f%d.xml'>" % i for i in range(20))
            + b"</head></html>")
    links = feed_links(page, HOME, DiscoveryLimits(max_feeds=3))
    assert [link.url for link in links] == [f"https://static.example.com/section/f{i}.xml" for i in range(3)]
    # links past the byte budget are not looked at
    assert feed_links(b" " * 100 + HOMEPAGE, HOME, DiscoveryLimits(max_html_bytes=50)) == ()


@pytest.mark.parametrize("page", [b"", b"   ", b"\x00\x01\x02", b"<html", b"<<<>>>", "\u00e9t\u00e9".encode("utf-16")])
def test_feed_links_of_junk_are_empty(page):
    assert feed_links(page, HOME) == ()


ROBOTS = """\ufeffUser-agent: *
Disallow: /search
# the news sitemap is listed last on purpose
Sitemap: https://www.example-news.com/sitemap_index.xml
SITEMAP: /sitemap-pages.xml   # relative, against the protocol but seen in the wild
Sitemap: javascript:alert(1)
Sitemap: https://www.example-news.com/sitemap_index.xml
sitemap: https://www.example-news.com/news-sitemap.xml
"""


def test_robots_sitemaps_news_first_resolved_and_deduplicated():
    found = robots_sitemaps(ROBOTS, robots_url(HOME))
    assert [source.url for source in found] == [
        "https://www.example-news.com/news-sitemap.xml",
        "https://www.example-news.com/sitemap_index.xml",
        "https://www.example-news.com/sitemap-pages.xml",
    ]
    assert all(source.kind == SITEMAP and source.found_in == ROBOTS_TXT for source in found)
    assert len(robots_sitemaps(ROBOTS.encode(), robots_url(HOME), DiscoveryLimits(max_sitemaps=1))) == 1
    assert robots_sitemaps("User-agent: *\nDisallow:\n", robots_url(HOME)) == ()


def test_discover_prefers_robots_then_falls_back():
    found = discover(HOME, HOMEPAGE, ROBOTS)
    assert not found.fallback and len(found.feeds) == 4 and found.sitemaps[0].url.endswith("/news-sitemap.xml")
    assert found.sources == found.feeds + found.sitemaps
    guessed = discover(HOME, None, "User-agent: *\nDisallow: /private\n")
    assert guessed.fallback and guessed.feeds == ()
    assert [s.url for s in guessed.sitemaps] == ["https://www.example-news.com/sitemap.xml",
                                                  "https://www.example-news.com/sitemap_index.xml"]
    assert all(s.found_in == FALLBACK for s in guessed.sitemaps)
    assert discover(HOME, None, None, DiscoveryLimits(max_sitemaps=1)).sitemaps[0].url.endswith("/sitemap.xml")


@pytest.mark.parametrize("site, expected", [
    ("example.com", "https://example.com/"),
    ("  //example.com  ", "https://example.com/"),
    ("http://example.com", "http://example.com/"),
    ("https://example.com/news/?edition=uk", "https://example.com/news/?edition=uk"),
    ("https://example.com?x=1", "https://example.com/?x=1"),
    ("ftp://example.com/", None), ("", None), ("exa mple.com", None), ("javascript:alert(1)", None),
])
def test_homepage_url(site, expected):
    assert homepage_url(site) == expected


def test_read_sites_file():
    body = b"\xef\xbb\xbf# news sites\nexample.com\n\nhttps://EXAMPLE.com/\nhttp://other.example/news/\nnot a site\nftp://x/\n"
    sites, invalid = read_sites(body)
    assert sites == ("https://example.com/", "http://other.example/news/")
    assert invalid == ("not a site", "ftp://x/")
    assert read_sites(b"a.example\nb.example\nc.example\n", max_sites=2)[0] == ("https://a.example/", "https://b.example/")


def test_prefer_news_is_stable_and_looks_at_the_path_only():
    urls = ["https://news.example.com/sitemap.xml", "https://a.example/s1.xml", "https://a.example/sitemap_news.xml",
            "https://a.example/news/sitemap.xml"]
    assert prefer_news(urls) == [urls[2], urls[3], urls[0], urls[1]]


def test_needs_rediscovery():
    now = datetime(2026, 11, 29, tzinfo=timezone.utc)
    assert needs_rediscovery(None, now)
    assert needs_rediscovery(now - timedelta(days=7), now)
    assert not needs_rediscovery(now - timedelta(days=6, hours=23), now)
    assert needs_rediscovery(now - timedelta(days=2), now, days=1)


@given(st.binary(max_size=3000) | st.text(max_size=3000).map(str.encode)
       | st.lists(st.sampled_from([b"<link rel=alternate type=application/rss+xml href=", b"'", b'"', b"<base href=",
                                   b"javascript:x", b"//h", b"/p", b">", b"<head>", b"\x00", b"http://", b" "]),
                  max_size=30).map(b"".join))
@settings(max_examples=200, deadline=None)
def test_feed_links_of_anything_are_http_urls(page):
    assert all(is_http_url(link.url) for link in feed_links(page, HOME))


@given(st.text(max_size=2000) | st.lists(st.sampled_from(["Sitemap:", " ", "\n", "/x", "http://", "a.example",
                                                          "javascript:", "#", "User-agent: *", "\x00"]),
                                         max_size=40).map("".join))
@settings(max_examples=200, deadline=None)
def test_robots_sitemaps_of_anything_are_http_urls(text):
    assert all(is_http_url(source.url) for source in robots_sitemaps(text, robots_url(HOME)))


@pytest.fixture(scope="session")
def readability_pages(tmp_path_factory):
    archive = CORPORA / "readability-tests.tar.xz"
    if not archive.exists():
        pytest.skip(f"corpus not found: {archive}")
    target = tmp_path_factory.mktemp("readability-corpus")
    with tarfile.open(archive) as tar:
        tar.extractall(target, members=[m for m in tar.getmembers() if m.name.endswith("/source.html")],
                       filter="data")
    return sorted(target.rglob("source.html"))


def test_real_pages(readability_pages):
    assert len(readability_pages) > 100
    with_feeds = 0
    for path in readability_pages:
        page = path.read_bytes()
        links = feed_links(page, "http://fakehost/test/page.html")
        assert all(is_http_url(link.url) and link.kind in (RSS, ATOM, JSON_FEED) for link in links), path
        # a crude oracle: a page with an RSS or Atom <link> tag yields at least one feed
        assert bool(links) or not re.search(rb"<link[^>]*(rss|atom)\+xml", page, re.IGNORECASE), path
        with_feeds += bool(links)
    assert with_feeds >= 35  # 38 of these 130 pages announce feeds
