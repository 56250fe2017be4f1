from datetime import datetime, timezone

import pytest

from newsbeam import reasons
from newsbeam.sample_site import LEGACY_ENCODINGS, SITE_DIR
from newsbeam.sources import (
    FEED,
    OPML,
    UNKNOWN,
    URL_LIST,
    FeedParseError,
    classify_document,
    parse_feed,
    parse_opml,
    parse_url_list,
    read_source,
)

BASE = "http://127.0.0.1:9"


def served(relative: str) -> bytes:
    """A site file as the sample site serves it (placeholder filled, legacy files re-encoded)."""
    text = (SITE_DIR / relative).read_text(encoding="utf-8").replace("{{BASE_URL}}", BASE)
    encoding = LEGACY_ENCODINGS.get("/" + relative, ("utf-8", ""))[0]
    return text.encode(encoding)


@pytest.mark.parametrize("relative, kind", [
    ("feeds/world.rss", FEED), ("feeds/europe.atom", FEED), ("feeds/levant.rss", FEED),
    ("feeds/broken.rss", FEED), ("feeds/subscriptions.opml", OPML), ("feeds/feeds.txt", URL_LIST),
])
def test_classify_sample_documents(relative, kind):
    assert classify_document(served(relative)) == kind


@pytest.mark.parametrize("body, kind", [
    (b"\xef\xbb\xbf<?xml version='1.0'?><opml version='2.0'/>", OPML),
    (b"just some words\nand more", UNKNOWN),
    (b"", UNKNOWN),
])
def test_classify_edge_cases(body, kind):
    assert classify_document(body) == kind


def test_nested_opml_outlines_are_all_read():
    urls = parse_opml(served("feeds/subscriptions.opml"))
    assert sorted(urls) == sorted(f"{BASE}/feeds/{name}" for name in ("world.rss", "europe.atom", "levant.rss",
                                                                      "broken.rss"))


def test_url_list_skips_comments_blanks_and_repeats():
    assert parse_url_list(b"# feeds\n\nhttp://a/x\n  http://a/y  \nhttp://a/x\n") == ["http://a/x", "http://a/y"]


def test_rss_items_keep_feed_fields():
    title, items, unusable = parse_feed(served("feeds/world.rss"), f"{BASE}/feeds/world.rss", "application/rss+xml")
    assert title and unusable == []
    assert len(items) == 19
    item = next(i for i in items if i.url.endswith("en-hague-court-ruling.html"))
    assert item.feed_url == f"{BASE}/feeds/world.rss" and item.feed_title == title
    assert item.title and item.guid and item.summary
    assert item.published_at == datetime(2026, 11, 19, 14, 40, tzinfo=timezone.utc)
    tracked = next(i for i in items if "utm_source" in i.url)
    assert "utm_" not in tracked.canonical_url


def test_atom_entries():
    _, items, _ = parse_feed(served("feeds/europe.atom"), "f", "application/atom+xml")
    assert len(items) == 17 and all(i.published_at for i in items)


def test_legacy_single_byte_feed_decodes_arabic():
    _, items, _ = parse_feed(served("feeds/levant.rss"), "f", "application/rss+xml")
    assert len(items) == 4
    assert all(any("\u0600" <= ch <= "\u06ff" for ch in item.title) for item in items)


def test_ill_formed_feed_is_used_as_far_as_it_goes():
    _, items, _ = parse_feed(served("feeds/broken.rss"), "f", "application/rss+xml")
    assert len(items) == 2 and all(i.title for i in items)


@pytest.mark.parametrize("body", [served("feeds/empty-garbage.xml"), b"<rss><chan", b"", b"\x00\x01binary"])
def test_documents_without_entries_raise(body):
    with pytest.raises(FeedParseError):
        parse_feed(body, "f")


def test_entries_without_links_are_reported():
    body = (b"<rss version='2.0'><channel><title>t</title><item><title>no link</title></item>"
            b"<item><title>ok</title><link>http://e.org/a</link></item></channel></rss>")
    _, items, unusable = parse_feed(body, "f")
    assert [i.url for i in items] == ["http://e.org/a"] and unusable == ["no link"]


FEED_WITH_A_LINKLESS_ENTRY = (b"<rss version='2.0'><channel><title>t</title><item><title>no link</title></item>"
                              b"<item><title>ok</title><link>http://e.org/a</link></item></channel></rss>")


@pytest.mark.parametrize("body, depth, read, items, listed, rejected", [
    (FEED_WITH_A_LINKLESS_ENTRY, 1, True, ["http://e.org/a"], [],
     [("no link", "src", reasons.STAGE_FEED, reasons.INVALID_URL)]),
    (b"<rss version='2.0'><channel><title>empty</title></channel></rss>", 0, False, [], [],
     [("src", "src", reasons.STAGE_FEED, reasons.FEED_PARSE_ERROR)]),
    (b"http://e.org/feed.xml\nhttp://e.org/other.xml\n", 0, True, [], ["http://e.org/feed.xml",
                                                                     "http://e.org/other.xml"], []),
    (b"<opml version='2.0'><body><outline xmlUrl='http://e.org/f.xml'/><outline xmlUrl='ftp://e.org/g'/>"
     b"</body></opml>", 0, True, [], ["http://e.org/f.xml"],
     [("ftp://e.org/g", "ftp://e.org/g", reasons.STAGE_SOURCE, reasons.INVALID_URL)]),
    (b"http://e.org/feed.xml\n", 1, False, [], [],
     [("src", "src", reasons.STAGE_SOURCE, reasons.NESTED_LIST_IGNORED)]),
    (b"just some words", 0, False, [], [], [("src", "src", reasons.STAGE_FEED, reasons.FEED_PARSE_ERROR)]),
])
def test_read_source(body, depth, read, items, listed, rejected):
    contents = read_source(body, "src", None, depth)
    assert contents.read is read
    assert [item.url for item in contents.items] == items
    assert list(contents.listed) == listed
    assert [(r.url, r.feed_url, r.stage, r.reason) for r in contents.rejected] == rejected
