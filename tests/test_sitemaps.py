import gzip
import tarfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsbeam.listings import (
    INVALID_URL,
    SITEMAP_PARSE_ERROR,
    SITEMAP_TOO_LARGE,
    SITEMAP_TRUNCATED,
)
from newsbeam.sitemaps import (
    SITEMAP_INDEX,
    TEXT_SITEMAP,
    URLSET,
    InvalidEntry,
    SitemapEntry,
    SitemapError,
    SitemapLimits,
    SubSitemap,
    iter_sitemap,
    iter_text_sitemap,
    read_sitemap,
    sitemap_kind,
)
from newsbeam.urls import is_http_url
from newsbeam.w3cdates import parse_w3c_datetime
from tests.sitemap_documents import INDEX, NEWS_SITEMAP, big_urlset, index_of
from tests.sitemap_documents import URLSET as URLSET_DOC

# CI has the corpora next to the repository; a worktree under /work/wt/NAME has them one level further up
_ROOT = Path(__file__).resolve().parents[1]
CORPORA = next((path for path in (_ROOT.parent / "shared" / "corpora", _ROOT.parents[1] / "shared" / "corpora")
                if path.is_dir()), _ROOT.parent / "shared" / "corpora")
SRC = "https://www.example.com/sitemap.xml"
UTC = timezone.utc


def test_sitemaps_org_urlset_example():
    listing = read_sitemap(URLSET_DOC, SRC)
    assert listing.kind == URLSET and listing.complete and listing.unusable == () and listing.sources == ()
    assert [item.url for item in listing.items] == [
        "http://www.example.com/",
        "http://www.example.com/catalog?item=12&desc=vacation_hawaii",
        "http://www.example.com/catalog?item=73&desc=vacation_new_zealand",
        "http://www.example.com/catalog?item=74&desc=vacation_newfoundland",
        "http://www.example.com/catalog?item=83&desc=vacation_usa",
    ]
    first, second, _, fourth, _ = listing.items
    assert first.published_at == datetime(2005, 1, 1, tzinfo=UTC) and second.published_at is None
    assert fourth.published_at == datetime(2004, 12, 23, 18, 0, 15, tzinfo=UTC)
    assert all(item.feed_url == SRC and item.canonical_url for item in listing.items)


def test_sitemaps_org_index_example():
    assert sitemap_kind(INDEX) == SITEMAP_INDEX
    entries = list(iter_sitemap(INDEX, SRC))
    assert entries == [
        SubSitemap("http://www.example.com/sitemap1.xml.gz", datetime(2004, 10, 1, 18, 23, 17, tzinfo=UTC)),
        SubSitemap("http://www.example.com/sitemap2.xml.gz", datetime(2005, 1, 1, tzinfo=UTC)),
    ]
    listing = read_sitemap(INDEX, SRC)
    assert listing.kind == SITEMAP_INDEX and listing.items == ()
    assert listing.sources == tuple(entries)


def test_google_news_fields_become_title_date_and_hints():
    first, second = list(iter_sitemap(NEWS_SITEMAP, SRC))
    assert first == SitemapEntry(
        url="http://www.example.org/business/article55.html",
        title="Companies A, B in Merger Talks",
        publication_date=datetime(2008, 12, 23, tzinfo=UTC),
        publication_name="The Example Times",
        language="en",
        keywords=("business", "merger", "acquisition", "A", "B"),
    )
    # the image extension's <image:loc> is not the page; the publication date wins over lastmod
    assert second.url == "http://www.example.org/world/article56.html"
    assert second.title == "Accord & d\u00e9saccord" and second.language == "fr"
    assert second.lastmod == datetime(2008, 12, 24, 8, tzinfo=UTC)
    assert second.published_at == datetime(2008, 12, 24, 8, 30, tzinfo=UTC)
    item = read_sitemap(NEWS_SITEMAP, SRC).items[1]
    assert (item.title, item.feed_title, item.published_at) == (second.title, "The Example Times", second.published_at)


def test_lastmod_is_the_date_when_there_is_nothing_better():
    (entry,) = iter_sitemap(b"<urlset><url><loc>http://a.example/x</loc><lastmod>2026-11-02</lastmod>"
                            b"<news:news xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>"
                            b"<news:title>T</news:title><news:publication_date>garbage</news:publication_date>"
                            b"</news:news></url></urlset>", SRC)
    assert entry.published_at == datetime(2026, 11, 2, tzinfo=UTC) and entry.title == "T"


def test_gzip_is_recognised_by_content_and_reads_the_same():
    packed = gzip.compress(NEWS_SITEMAP)
    assert sitemap_kind(packed) == URLSET
    assert read_sitemap(packed, "https://x.example/whatever-name") .items == read_sitemap(
        NEWS_SITEMAP, "https://x.example/whatever-name").items
    # gzip(1) concatenates members into one stream
    half = len(URLSET_DOC) // 2
    assert len(read_sitemap(gzip.compress(URLSET_DOC[:half]) + gzip.compress(URLSET_DOC[half:]), SRC).items) == 5


def test_sitemap_kind_reads_past_prolog_and_rejects_others():
    assert sitemap_kind(b"\xef\xbb\xbf<?xml version='1.0'?>\n<!-- generator -->\n<?xml-stylesheet href='x.xsl'?>"
                        b"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'/>") == URLSET
    for body in (b"<rss version='2.0'><channel/></rss>", b"<html><body>x</body></html>", b"http://a/b\n",
                 b"", b"\x1f\x8b\x08garbage", b'{"version": "https://jsonfeed.org/version/1.1"}'):
        assert sitemap_kind(body) is None


def test_urls_are_checked_resolved_and_repeats_listed_once():
    body = (b"<urlset><url><loc> /relative/page </loc></url><url><loc>javascript:alert(1)</loc></url>"
            b"<url><lastmod>2026-01-01</lastmod></url><url><loc>http://a.example/" + b"x" * 3000 + b"</loc></url>"
            b"<url><loc>ftp://a.example/f</loc></url><url><loc>http://a.example/p</loc></url>"
            b"<url><loc>http://a.example/p</loc></url></urlset>")
    listing = read_sitemap(body, "https://site.example/sitemap.xml")
    assert [item.url for item in listing.items] == ["https://site.example/relative/page", "http://a.example/p"]
    assert [u.reason for u in listing.unusable] == [INVALID_URL] * 4
    assert listing.unusable[0].value == "javascript:alert(1)" and listing.unusable[1].value == "(no loc)"
    assert "longer than" in listing.unusable[2].detail


@pytest.mark.parametrize("text, expected", [
    ("2026-11-29", datetime(2026, 11, 29, tzinfo=UTC)),
    ("2026-11", datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026", datetime(2026, 1, 1, tzinfo=UTC)),
    ("2026-11-29T10:20+01:00", datetime(2026, 11, 29, 9, 20, tzinfo=UTC)),
    ("2026-11-29T10:20:30.123456789Z", datetime(2026, 11, 29, 10, 20, 30, 123456, tzinfo=UTC)),
    ("2026-11-29 10:20:30 -0530", datetime(2026, 11, 29, 15, 50, 30, tzinfo=UTC)),
    ("2026-11-29T10:20:30", datetime(2026, 11, 29, 10, 20, 30, tzinfo=UTC)),
    ("Sun, 29 Nov 2026 10:20:30 GMT", datetime(2026, 11, 29, 10, 20, 30, tzinfo=UTC)),
    ("  2026-11-29\n", datetime(2026, 11, 29, tzinfo=UTC)),
    ("2026-13-01", None), ("2026-02-30", None), ("0000-00-00", None), ("9999-12-31", None), ("1969-12-31", None),
    ("2026-11-29T25:00Z", None), ("2026-11-29T10:00+15:00", None), ("yesterday", None), ("", None), (None, None),
    ("2026-11-29T10:00:00ZZ", None), ("9" * 500, None),
])
def test_w3c_dates(text, expected):
    assert parse_w3c_datetime(text) == expected


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_w3c_dates_never_raise_and_are_utc(text):
    parsed = parse_w3c_datetime(text)
    assert parsed is None or (parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0))


def test_text_sitemap():
    body = b"\xef\xbb\xbfhttp://a.example/1\r\n# a comment\n\n  https://a.example/2  \nnot a url\nhttp://a.example/1\n"
    listing = read_sitemap(body, "https://a.example/sitemap.txt", text=True)
    assert listing.kind == TEXT_SITEMAP
    assert [item.url for item in listing.items] == ["http://a.example/1", "https://a.example/2"]
    assert [u.value for u in listing.unusable] == ["not a url"]
    assert read_sitemap(gzip.compress(body), "https://a.example/sitemap.txt", text=True).items == listing.items
    # a document of which no line is a URL is not a text sitemap (one dead letter, not one per line)
    with pytest.raises(SitemapError) as error:
        read_sitemap(b"Not Found\nThe page you asked for\n", SRC, text=True)
    assert error.value.reason == SITEMAP_PARSE_ERROR
    # XML is never read as text, even when asked to
    assert read_sitemap(URLSET_DOC, SRC, text=True).kind == URLSET
    with pytest.raises(SitemapError) as error:
        read_sitemap(b"<rss><channel/></rss>", SRC, text=True)
    assert error.value.reason == SITEMAP_PARSE_ERROR


# --- hostile documents -----------------------------------------------------------------------------------------

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE urlset [\n <!ENTITY lol "lol">\n'
    + b"".join(b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
               for i in range(1, 10))
    + b']>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://a.example/&lol9;</loc>'
    b"</url></urlset>"
)


@pytest.mark.parametrize("body", [
    BILLION_LAUGHS,
    (b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<urlset><url><loc>http://a.example/&x;</loc></url></urlset>'),
    (b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>'
    b"<urlset><url><loc>http://a.example/</loc></url></urlset>"),
    (b'<?xml version="1.0"?><!DOCTYPE urlset SYSTEM "http://127.0.0.1:9/sitemap.dtd">'
    b"<urlset><url><loc>http://a.example/</loc></url></urlset>"),
], ids=["billion-laughs", "xxe-file", "xxe-parameter-entity", "external-dtd"])
def test_dtds_are_refused_and_nothing_is_expanded_or_read(body):
    started = time.perf_counter()
    for document in (body, gzip.compress(body)):
        with pytest.raises(SitemapError) as error:
            read_sitemap(document, SRC)
        assert error.value.reason == SITEMAP_PARSE_ERROR
        assert "root:" not in error.value.detail
    assert time.perf_counter() - started < 5


def test_gzip_bomb_stops_at_the_inflated_cap():
    bomb = gzip.compress(b"<urlset>" + b"<url><loc>http://a.example/x</loc></url>" * 20 + b" " * (8 << 20), 9)
    assert len(bomb) < 20_000
    listing = read_sitemap(bomb, SRC, SitemapLimits(max_bytes=1 << 20))
    assert not listing.complete and len(listing.items) == 1
    assert listing.unusable[-1].reason == SITEMAP_TOO_LARGE
    with pytest.raises(SitemapError) as error:
        read_sitemap(gzip.compress(b" " * (3 << 20) + b"<urlset/>"), SRC, SitemapLimits(max_bytes=1 << 20))
    assert error.value.reason == SITEMAP_TOO_LARGE


def test_default_cap_is_50_megabytes_inflated():
    started = time.perf_counter()
    # many small comments: one 51 MB text node would be stopped earlier, by libxml2's own 10 MB node limit
    bomb = gzip.compress(b"<urlset>" + (b"<!--" + b"x" * 1017 + b"-->") * (51 << 10) + b"</urlset>", 1)
    with pytest.raises(SitemapError) as error:
        list(iter_sitemap(bomb, SRC))
    assert error.value.reason == SITEMAP_TOO_LARGE and "52428800" in error.value.detail
    with pytest.raises(SitemapError):
        list(iter_sitemap(b"<urlset>" + b" " * (51 << 20), SRC))
    assert time.perf_counter() - started < 30


def test_one_huge_entry_is_stopped_before_it_fills_memory():
    # 2 MB of empty elements inside one <url> would be a ~100 MB tree; the parser holds one entry at a time
    body = b"<urlset><url><loc>http://a.example/1</loc></url><url>" + b"<x/>" * 500_000 + b"</url></urlset>"
    listing = read_sitemap(body, SRC)
    assert len(listing.items) == 1 and listing.unusable[-1].reason == SITEMAP_TOO_LARGE
    assert "elements" in listing.unusable[-1].detail


def test_entry_cap_keeps_the_first_entries():
    listing = read_sitemap(big_urlset(30), SRC, SitemapLimits(max_entries=10))
    assert len(listing.items) == 10 and not listing.complete
    assert listing.unusable[-1].reason == SITEMAP_TOO_LARGE
    text = b"".join(b"http://a.example/%d\n" % i for i in range(30))
    assert len(read_sitemap(text, SRC, SitemapLimits(max_entries=10), text=True).items) == 10


@pytest.mark.parametrize("body, reason", [
    (b"", SITEMAP_PARSE_ERROR),
    (b"   \n", SITEMAP_PARSE_ERROR),
    (b"not xml at all", SITEMAP_PARSE_ERROR),
    (b"<rss version='2.0'><channel><item><link>http://a.example/</link></item></channel></rss>", SITEMAP_PARSE_ERROR),
    (b"<html><body><a href='http://a.example/'>x</a></body></html>", SITEMAP_PARSE_ERROR),
    (b"<urlset><url><loc>http://a.example/", SITEMAP_TRUNCATED),
    (b"\x1f\x8b\x08\x00garbage-after-a-gzip-magic", SITEMAP_TRUNCATED),
])
def test_malformed_documents_raise_with_a_reason(body, reason):
    with pytest.raises(SitemapError) as error:
        read_sitemap(body, SRC)
    assert error.value.reason == reason


def test_truncated_documents_keep_what_was_read():
    body = big_urlset(100)
    cut = body[: body.index(b"story-000050")]
    listing = read_sitemap(cut, SRC)
    assert len(listing.items) == 50 and not listing.complete
    assert listing.unusable[-1].reason == SITEMAP_TRUNCATED
    packed = gzip.compress(body)
    listing = read_sitemap(packed[: len(packed) // 2], SRC)
    assert 0 < len(listing.items) < 100 and listing.unusable[-1].reason == SITEMAP_TRUNCATED


@given(keep=st.floats(min_value=0.05, max_value=1.0, exclude_max=True), level=st.sampled_from([0, 6]))
@settings(max_examples=60, deadline=None)
def test_a_cut_gzip_text_sitemap_keeps_its_whole_lines_and_never_a_cut_url(keep, level):
    """A text sitemap has no end tag: the cut shows only in its gzip stream. Before, the last line, a URL cut
    short, was listed (and fetched, as a 404)."""
    urls = [f"https://news.example.com/2026/11/29/a-rather-long-story-slug-{n:05d}.html" for n in range(400)]
    packed = gzip.compress("".join(url + "\n" for url in urls).encode(), level)
    try:
        listing = read_sitemap(packed[:max(20, int(keep * len(packed)))], SRC, text=True)
    except SitemapError as nothing_whole:  # cut before its first line ended
        assert nothing_whole.reason == SITEMAP_TRUNCATED
        return
    assert [item.url for item in listing.items] == urls[:len(listing.items)]
    assert not listing.complete and listing.unusable[-1].reason == SITEMAP_TRUNCATED


def test_empty_sitemaps_are_read_and_empty():
    assert read_sitemap(b"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'/>", SRC).items == ()
    assert read_sitemap(b"<sitemapindex/>", SRC).kind == SITEMAP_INDEX


def test_50000_url_sitemap_and_an_index_of_100():
    body = big_urlset(50_000)
    started = time.perf_counter()
    listing = read_sitemap(gzip.compress(body, 6), SRC)
    elapsed = time.perf_counter() - started
    assert len(listing.items) == 50_000 and listing.complete and elapsed < 60
    assert listing.items[-1].published_at == datetime(2025, 8, 20, 7, tzinfo=UTC)
    index = read_sitemap(index_of(f"https://news.example.com/sitemap-{i}.xml.gz" for i in range(100)), SRC)
    assert len(index.sources) == 100 and index.kind == SITEMAP_INDEX


# --- property tests --------------------------------------------------------------------------------------------

def _check(body: bytes, text: bool = False) -> None:
    try:
        listing = read_sitemap(body, SRC, SitemapLimits(max_bytes=1 << 20), text=text)
    except SitemapError as error:
        assert error.reason in (SITEMAP_PARSE_ERROR, SITEMAP_TRUNCATED, SITEMAP_TOO_LARGE)
        return
    assert all(is_http_url(item.url) for item in listing.items)
    assert all(is_http_url(source.url) for source in listing.sources)
    try:
        for entry in (iter_text_sitemap if text else iter_sitemap)(body, SRC):
            if not isinstance(entry, InvalidEntry):
                assert is_http_url(entry.url)
    except SitemapError:
        assert not listing.complete


@given(st.binary(max_size=2000), st.booleans())
@settings(max_examples=200, deadline=None)
def test_random_bytes_raise_only_sitemap_error(body, text):
    _check(body, text)


@st.composite
def mutated(draw):
    body = bytearray(draw(st.sampled_from([URLSET_DOC, INDEX, NEWS_SITEMAP])))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(body)))
        operation = draw(st.sampled_from(["cut", "delete", "insert", "replace"]))
        if operation == "cut":
            del body[position:]
        elif operation == "delete":
            del body[position:position + draw(st.integers(1, 40))]
        else:
            chunk = draw(st.sampled_from([b"<", b">", b"&", b"&amp;", b"<loc>", b"</url>", b"javascript:",
                                          b"<!DOCTYPE x>", b"\x00", b"\xff\xfe", b"]]>", b"<![CDATA[", b"%"]))
            body[position:position + (len(chunk) if operation == "replace" else 0)] = chunk
    return bytes(body)


@given(mutated(), st.booleans(), st.booleans())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_sitemaps_raise_only_sitemap_error_and_list_only_http_urls(body, packed, text):
    _check(gzip.compress(body) if packed else body, text)


# --- real material ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def feedparser_documents(tmp_path_factory):
    archive = CORPORA / "feedparser-tests.tar.gz"
    if not archive.exists():
        pytest.skip(f"corpus not found: {archive}")
    target = tmp_path_factory.mktemp("feedparser-corpus")
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return sorted(path for path in target.rglob("*") if path.is_file() and path.suffix in (".xml", ".rdf", ".atom"))


def test_real_feeds_are_not_taken_for_sitemaps(feedparser_documents):
    assert len(feedparser_documents) > 1000
    for path in feedparser_documents:
        body = path.read_bytes()
        assert sitemap_kind(body) is None, path
        with pytest.raises(SitemapError):
            read_sitemap(body, SRC)


def test_a_root_with_an_unbound_prefix_is_no_sitemap_and_raises_nothing_else():
    """Regression (found by the mutation property): `<javascript:urlset>` made lxml's QName raise ValueError."""
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n<javascript:urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    assert sitemap_kind(body) is None
    _check(body, False)
