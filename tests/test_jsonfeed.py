import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam.jsonfeed import (
    JSON_FEED,
    JsonFeedError,
    is_json_feed,
    parse_json_feed,
    read_json_feed,
)
from newsbeam.listings import INVALID_URL, JSON_FEED_PARSE_ERROR, JSON_FEED_TOO_LARGE
from newsbeam.urls import is_http_url
from tests.sitemap_documents import JSON_FEED_10, JSON_FEED_11

UTC = timezone.utc
SRC = "https://cdn.example.org/feeds/main.json"


def test_version_1_1_items():
    feed = parse_json_feed(JSON_FEED_11, SRC)
    assert feed.title == "My Example Feed" and feed.feed_url == "https://example.org/feed.json"
    assert [item.url for item in feed.items] == [
        "https://example.org/second-item",
        "https://example.org/initial-post",
        "https://example.org/relative/third",  # resolved against the feed's own feed_url, not the document URL
        "https://elsewhere.example.net/linked",  # external_url when there is no url
    ]
    second, initial, third, _ = feed.items
    assert (initial.id, initial.title, initial.summary) == ("1", "Initial post", "The first one")
    assert initial.published_at == datetime(2026, 11, 20, 15, tzinfo=UTC)
    assert (initial.language, second.language) == ("fr", "en-GB")
    assert third.id == "3" and third.published_at == datetime(2026, 11, 21, tzinfo=UTC)  # date_modified fallback
    assert feed.unusable == ("5", "6", "item 6")


def test_read_json_feed_maps_onto_feed_items():
    listing = read_json_feed(JSON_FEED_11, SRC)
    assert listing.kind == JSON_FEED and listing.title == "My Example Feed" and listing.complete
    item = listing.items[1]
    assert (item.url, item.feed_url, item.feed_title, item.guid, item.title, item.summary) == (
        "https://example.org/initial-post", SRC, "My Example Feed", "1", "Initial post", "The first one")
    assert item.canonical_url == "https://example.org/initial-post"
    assert [u.reason for u in listing.unusable] == [INVALID_URL] * 3


def test_version_1_0_with_escaped_slashes_and_home_page_base():
    assert is_json_feed(JSON_FEED_10)
    (item,) = parse_json_feed(JSON_FEED_10, SRC).items
    assert item.url == "https://blog.example.com/posts/a.html"
    assert item.published_at == datetime(2017, 5, 17, 8, 2, 12, tzinfo=UTC)


def test_document_url_is_the_last_base():
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "x", "url": "a/b"}]})
    assert parse_json_feed(body.encode(), SRC).items[0].url == "https://cdn.example.org/feeds/a/b"
    # without any http(s) base a relative url is unusable
    assert parse_json_feed(body.encode(), "feeds/local.json").unusable == ("x",)


def test_item_cap():
    body = json.dumps({"version": "https://jsonfeed.org/version/1",
                       "items": [{"url": f"https://a.example/{i}"} for i in range(12)]}).encode()
    listing = read_json_feed(body, SRC, max_items=5)
    assert len(listing.items) == 5 and not listing.complete
    assert listing.unusable[-1].reason == JSON_FEED_TOO_LARGE


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[]", b"{}", b'{"version": "1.1", "items": []}',
    b'{"version": "https://jsonfeed.org/version/1.1"}',
    b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}',
    b"\xff\xfe{", b"[" * 100_000 + b"]" * 100_000, b'{"version": 1e999999, "items": [1' + b"0" * 10_000 + b"]}",
    b"<rss version='2.0'><channel/></rss>",
])
def test_not_a_json_feed(body):
    with pytest.raises(JsonFeedError) as error:
        read_json_feed(body, SRC)
    assert error.value.reason == JSON_FEED_PARSE_ERROR


def test_version_written_last_by_a_writer_that_sorts_keys():
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "Sorted",
                "items": [{"id": str(i), "url": f"https://a.example/{i}", "content_text": "x" * 100}
                          for i in range(200)]}
    body = json.dumps(document, sort_keys=True).encode()
    assert body.index(b"version") > 4096 and is_json_feed(body)
    assert len(read_json_feed(body, SRC).items) == 200


def test_is_json_feed_by_content():
    assert is_json_feed(b'\xef\xbb\xbf {"version":"https://jsonfeed.org/version/1.1","items":[]}')
    assert not is_json_feed(b'{"items": []}') and not is_json_feed(b"<rss/>") and not is_json_feed(b"")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
    | st.sampled_from(["https://a.example/x", "/rel", "javascript:alert(1)", "//h.example/p", "http://", "2026-11-29"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "url", "external_url", "title", "summary", "date_published", "date_modified",
                         "language", "feed_url", "home_page_url", "items", "version", "x"]), children, max_size=6),
    max_leaves=20,
)


@given(st.one_of(
    st.binary(max_size=500),
    _json.map(lambda value: json.dumps(value).encode()),
    st.builds(lambda items, base: json.dumps({"version": "https://jsonfeed.org/version/1.1", "feed_url": base,
                                              "items": items}).encode(), st.lists(_json, max_size=5), _json),
))
@settings(max_examples=150, deadline=None)
def test_any_input_raises_only_json_feed_error_and_lists_only_http_urls(body):
    try:
        listing = read_json_feed(body, SRC)
    except JsonFeedError:
        return
    assert all(is_http_url(item.url) for item in listing.items)


def test_an_item_whose_only_document_is_a_pdf_attachment_has_it_as_its_article():
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [
        {"id": "r", "attachments": [{"url": "/reports/r.pdf", "mime_type": "application/pdf"}]},
        {"id": "p", "attachments": [{"url": "https://e.org/ep.mp3", "mime_type": "audio/mpeg"}]},
        {"id": "l", "url": "https://e.org/page", "attachments": [{"url": "https://e.org/l.pdf",
                                                                   "mime_type": "application/pdf"}]},
        {"id": "b", "attachments": "not a list"}]}).encode()
    listing = read_json_feed(body, "https://e.org/feed.json")
    assert [item.url for item in listing.items] == ["https://e.org/reports/r.pdf", "https://e.org/page"]
    assert [entry.reason for entry in listing.unusable] == [INVALID_URL, INVALID_URL]
