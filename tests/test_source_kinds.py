import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam.jsonfeed import JSON_FEED
from newsbeam.listings import JSON_FEED_PARSE_ERROR, SITEMAP_PARSE_ERROR
from newsbeam.sample_site import SITE_DIR
from newsbeam.sitemaps import SITEMAP_INDEX, TEXT_SITEMAP, URLSET
from newsbeam.source_kinds import UNKNOWN, listing_kind, read_listing
from newsbeam.urls import is_http_url
from tests.sitemap_documents import INDEX, JSON_FEED_10, JSON_FEED_11, NEWS_SITEMAP
from tests.sitemap_documents import URLSET as URLSET_DOC

SRC = "https://example.org/source"


@pytest.mark.parametrize("body, kind", [
    (URLSET_DOC, URLSET), (gzip.compress(NEWS_SITEMAP), URLSET), (INDEX, SITEMAP_INDEX),
    (JSON_FEED_11, JSON_FEED), (JSON_FEED_10, JSON_FEED),
    (b"http://a.example/1\nhttp://a.example/2\n", None), (b"", None), (b"{}", None),
])
def test_listing_kind_by_content(body, kind):
    assert listing_kind(body) == kind


@pytest.mark.parametrize("name", sorted(p.name for p in (SITE_DIR / "feeds").iterdir()))
def test_the_existing_kinds_are_left_to_the_existing_reader(name):
    assert listing_kind((SITE_DIR / "feeds" / name).read_bytes()) is None


def test_read_listing_dispatches_and_never_raises():
    assert read_listing(JSON_FEED_11, SRC).kind == JSON_FEED
    assert read_listing(INDEX, SRC).sources and read_listing(URLSET_DOC, SRC).items
    assert read_listing(b"http://a.example/1\n", SRC, as_sitemap=True).kind == TEXT_SITEMAP
    failed = read_listing(b"<rss><channel/></rss>", SRC)
    assert (failed.read, failed.complete, failed.kind) == (False, False, UNKNOWN)
    assert failed.unusable[0].reason == SITEMAP_PARSE_ERROR and failed.unusable[0].value == SRC
    broken = read_listing(JSON_FEED_11[:-20], SRC)
    assert not broken.read and broken.kind == JSON_FEED and broken.unusable[0].reason == JSON_FEED_PARSE_ERROR


@given(st.binary(max_size=1000) | st.sampled_from([URLSET_DOC, INDEX, JSON_FEED_11]).flatmap(
    lambda doc: st.integers(0, len(doc)).map(lambda cut: doc[:cut])), st.booleans())
@settings(max_examples=150, deadline=None)
def test_read_listing_of_anything(body, as_sitemap):
    listing = read_listing(body, SRC, as_sitemap=as_sitemap)
    assert all(is_http_url(item.url) for item in listing.items) and all(is_http_url(s.url) for s in listing.sources)
    assert listing.read or (len(listing.unusable) == 1 and not listing.items)
