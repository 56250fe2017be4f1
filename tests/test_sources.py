import codecs
import time
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from newsbeam import reasons
from newsbeam.sample_site import LEGACY_ENCODINGS, SITE_DIR
from newsbeam.schemas.records import FeedDocument, FeedFetch, FeedValidator, FetchedPage, FetchRequest
from newsbeam.source_core import document_from_page, read_document, url_file_outcome
from newsbeam.sources import (
    FEED,
    HTML,
    JSON,
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
NOW = datetime(2026, 11, 21, tzinfo=timezone.utc)


def served(relative: str) -> bytes:
    """A site file as the sample site serves it (placeholder filled, legacy files re-encoded)."""
    text = (SITE_DIR / relative).read_text(encoding="utf-8").replace("{{BASE_URL}}", BASE)
    encoding = LEGACY_ENCODINGS.get("/" + relative, ("utf-8", ""))[0]
    return text.encode(encoding)


def rss(items: str, head: str = "", channel: str = "<title>t</title>") -> bytes:
    return f"{head}<rss version='2.0'><channel>{channel}{items}</channel></rss>".encode()


def item(inner: str, link: str = "http://e.org/a") -> str:
    return f"<item>{f'<link>{link}</link>' if link else ''}{inner}</item>"


def reasons_of(contents):
    return [(r.stage, r.reason) for r in contents.rejected]


# --------------------------------------------------------------------------------------------------------------
# classification by root element


@pytest.mark.parametrize("relative, kind", [
    ("feeds/world.rss", FEED), ("feeds/europe.atom", FEED), ("feeds/levant.rss", FEED),
    ("feeds/broken.rss", FEED), ("feeds/subscriptions.opml", OPML), ("feeds/feeds.txt", URL_LIST),
    ("feeds/empty-garbage.xml", HTML),
])
def test_classify_sample_documents(relative, kind):
    assert classify_document(served(relative)) == kind


ATOM = "<?xml version='1.0' encoding='{enc}'?><feed xmlns='http://www.w3.org/2005/Atom'><title>t</title>" \
       "<entry><title>é</title><link href='http://e.org/a'/><id>urn:x</id></entry></feed>"


@pytest.mark.parametrize("body, kind", [
    (b"\xef\xbb\xbf<?xml version='1.0'?><opml version='2.0'/>", OPML),
    # a mention of <opml in a comment or CDATA block does not make a feed a list
    (rss(item(""), head="<!-- see <opml> -->"), FEED),
    (rss(item("<description><![CDATA[<opml version='2.0'>]]></description>")), FEED),
    (b"<html><body><p>&lt;opml&gt;</p><!-- <opml> --></body></html>", HTML),
    (b"<!DOCTYPE html><title>x</title><p>hello", HTML),
    (b"{\"version\": \"https://jsonfeed.org/version/1.1\", \"items\": []}", JSON),
    (b"just some words\nand more", URL_LIST),  # a candidate; its reader refuses it
    (b"", UNKNOWN),
    (b"\x00\x01\x02binary", UNKNOWN),
    # junk before the markup: a PHP warning, blanks, a NUL
    (b"<br />\n<b>Warning</b>:  Cannot modify header information in <b>/var/www/feed.php</b> on line <b>3</b><br />"
     + rss(item("")), FEED),
    (b"\n\n  \t" + rss(item("")), FEED),
    (b"\x00" + rss(item("")), FEED),
])
def test_classify_by_root_element(body, kind):
    assert classify_document(body) == kind


@pytest.mark.parametrize("encoding, bom", [
    ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-16-be", b""),
    ("utf-16-le", b""), ("utf-32-le", codecs.BOM_UTF32_LE), ("utf-32-be", codecs.BOM_UTF32_BE),
])
def test_wide_encodings_are_read(encoding, bom):
    body = bom + ATOM.format(enc=encoding.rsplit("-", 1)[0]).encode(encoding)
    contents = read_source(body, f"{BASE}/f")
    assert contents.kind == FEED and [i.url for i in contents.items] == ["http://e.org/a"]
    assert contents.items[0].title == "é"


@pytest.mark.parametrize("junk", [b"\x00", b"  \r\n\t", b"<br />\n<b>Warning</b>: something in <b>x.php</b><br />\n"])
def test_feed_after_junk_is_read(junk):
    contents = read_source(junk + rss(item("<title>a</title>")), f"{BASE}/f")
    assert [i.url for i in contents.items] == ["http://e.org/a"], contents.rejected


# --------------------------------------------------------------------------------------------------------------
# one bad entry must not fail the source (the hardening issue's item 4)

CRASHERS = {
    "surrogate pair": item("<title>&#55357;&#56832;</title>"),
    "lone surrogate": item("<title>&#xD800;</title>"),
    "beyond unicode": item("<title>&#x110000;</title>"),
    "huge reference": item("<title>&#99999999999;</title>"),
    "year 0": item("<pubDate>0000-01-01T00:00:00Z</pubDate>"),
    "year 0 after the offset": item("<pubDate>0001-01-01T00:00:00+01:00</pubDate>"),
    "year 10000 after the offset": item("<pubDate>9999-12-31T23:59:59-01:00</pubDate>"),
    "all zeros": item("<pubDate>0000-00-00</pubDate>"),
    "gml infinity": item("<georss:where><gml:Point><gml:pos>inf -inf</gml:pos></gml:Point></georss:where>"),
    "gml outside where": item("<gml:pos>inf -inf</gml:pos>"),
    "gml bad dimension": item("<georss:where><gml:Point srsDimension='x'><gml:pos>1 2</gml:pos></gml:Point>"
                              "</georss:where>"),
}
GEO = " xmlns:georss='http://www.georss.org/georss' xmlns:gml='http://www.opengis.net/gml'"


@pytest.mark.parametrize("name", sorted(CRASHERS))
def test_entries_that_crashed_the_run_are_read(name):
    body = rss(CRASHERS[name] + item("<title>second</title>", "http://e.org/b")).replace(
        b"<rss version='2.0'>", f"<rss version='2.0'{GEO}>".encode())
    contents = read_source(body, f"{BASE}/f")
    assert contents.read, contents.rejected
    assert [i.url for i in contents.items] == ["http://e.org/a", "http://e.org/b"]
    first = contents.items[0]
    first.title and first.title.encode("utf-8")  # writable as UTF-8
    assert first.published_at is None  # out-of-range dates become null


def test_surrogate_pairs_become_the_character():
    contents = read_source(rss(CRASHERS["surrogate pair"]), f"{BASE}/f")
    assert contents.items[0].title == "\U0001F600"
    contents = read_source(rss(item("<title>a&#xD800;b &#x110000;</title>")), f"{BASE}/f")
    assert contents.items[0].title == "a\ufffdb \ufffd"


def test_geo_markup_feedparser_fails_on_is_left_out():
    # feedparser 6.0 raises KeyError('where') on a GML position outside <georss:where>, for the whole feed
    body = rss(item("<title>a</title><gml:pos>inf -inf</gml:pos>")).replace(
        b"<rss version='2.0'>", f"<rss version='2.0'{GEO}>".encode())
    contents = read_source(body, f"{BASE}/f")
    assert contents.read and [i.title for i in contents.items] == ["a"]


def test_anything_raised_while_reading_is_that_sources_dead_letter(monkeypatch):
    import feedparser

    def explode(*args, **kwargs):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(feedparser, "parse", explode)
    contents = read_source(rss(item("")), f"{BASE}/f")
    assert not contents.read
    assert [(r.url, r.stage, r.reason) for r in contents.rejected] == [
        (f"{BASE}/f", reasons.STAGE_FEED, reasons.FEED_READER_ERROR)]
    assert "parser bug" in contents.rejected[0].detail


# --------------------------------------------------------------------------------------------------------------
# entity expansion (item 6)


def test_entity_expansion_is_refused_quickly():
    entity = "a" * 64 * 1024
    body = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "{entity}">]>'.encode()
            + rss(item(f"<description>{'&big;' * 2000}</description>")))
    assert len(body) < 80_000
    started = time.monotonic()
    contents = read_source(body, f"{BASE}/f")
    assert time.monotonic() - started < 5
    assert reasons_of(contents) == [(reasons.STAGE_FEED, reasons.FEED_ENTITY_EXPANSION)]


@pytest.mark.parametrize("doctype", [
    # billion laughs: each level ten times the one before
    "<!ENTITY a0 'ha'>" + "".join(f"<!ENTITY a{n} '{('&a' + str(n - 1) + ';') * 10}'>" for n in range(1, 10)),
    "<!ENTITY loop '&loop;'>",
    "<!ENTITY % p '<!ENTITY x \"y\">'> %p;",
])
def test_entity_bombs_are_refused(doctype):
    body = f"<?xml version='1.0'?><!DOCTYPE rss [{doctype}]>".encode() + rss(item("<title>&a9;&loop;</title>"))
    assert reasons_of(read_source(body, "f")) == [(reasons.STAGE_FEED, reasons.FEED_ENTITY_EXPANSION)]


def test_small_entities_are_fine():
    body = b"<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY who 'Reuters'>]>" + rss(item("<title>&who;</title>"))
    contents = read_source(body, f"{BASE}/f")
    assert contents.read and contents.items[0].title == "Reuters"


# --------------------------------------------------------------------------------------------------------------
# OPML: bytes only, never a fetch (item 8), includes reported


def test_opml_is_never_fetched_by_listparser(monkeypatch):
    import listparser
    import requests

    def no_network(*args, **kwargs):
        raise AssertionError("a parsing library tried to fetch a URL")

    monkeypatch.setattr(requests, "get", no_network)
    monkeypatch.setattr(requests.Session, "request", no_network)
    seen = []
    original = listparser.parse
    monkeypatch.setattr(listparser, "parse", lambda obj: seen.append(type(obj)) or original(obj))
    body = (b"http://10.0.0.1/evil.opml\n<opml version='2.0'><body>"
            b"<outline type='rss' xmlUrl='http://e.org/f.xml'/></body></opml>")
    contents = read_source(body, "list.txt")
    assert seen == [bytes]
    assert contents.kind == OPML and contents.listed == ("http://e.org/f.xml",)


def test_nested_opml_outlines_are_all_read():
    feeds = parse_opml(served("feeds/subscriptions.opml")).feeds
    assert sorted(feeds) == sorted(f"{BASE}/feeds/{name}" for name in ("world.rss", "europe.atom", "levant.rss",
                                                                       "broken.rss"))


def test_included_lists_are_reported_not_dropped():
    body = (b"<opml version='2.0'><body><outline type='rss' xmlUrl='http://e.org/f.xml'/>"
            b"<outline type='include' url='http://e.org/more.opml'/>"
            b"<outline type='link' url='http://e.org/other.opml'/></body></opml>")
    contents = read_source(body, "list.opml")
    assert contents.listed == ("http://e.org/f.xml",)
    assert sorted((r.url, r.reason) for r in contents.rejected) == [
        ("http://e.org/more.opml", reasons.NESTED_LIST_IGNORED),
        ("http://e.org/other.opml", reasons.NESTED_LIST_IGNORED)]


# --------------------------------------------------------------------------------------------------------------
# feeds


def test_rss_items_keep_feed_fields():
    parsed = parse_feed(served("feeds/world.rss"), f"{BASE}/feeds/world.rss", "application/rss+xml")
    assert parsed.title and parsed.unusable == ()
    assert len(parsed.items) == 19
    found = next(i for i in parsed.items if i.url.endswith("en-hague-court-ruling.html"))
    assert found.feed_url == f"{BASE}/feeds/world.rss" and found.feed_title == parsed.title
    assert found.title and found.guid and found.summary
    assert found.published_at == datetime(2026, 11, 19, 14, 40, tzinfo=timezone.utc)
    tracked = next(i for i in parsed.items if "utm_source" in i.url)
    assert "utm_" not in tracked.canonical_url


def test_atom_entries():
    assert len(parse_feed(served("feeds/europe.atom"), "f", "application/atom+xml").items) == 17


def test_legacy_single_byte_feed_decodes_arabic():
    items = parse_feed(served("feeds/levant.rss"), "f", "application/rss+xml").items
    assert len(items) == 4
    assert all(any("\u0600" <= ch <= "\u06ff" for ch in i.title) for i in items)


def test_ill_formed_feed_is_used_as_far_as_it_goes():
    items = parse_feed(served("feeds/broken.rss"), "f", "application/rss+xml").items
    assert len(items) == 2 and all(i.title for i in items)


@pytest.mark.parametrize("body", [b"<rss><chan", b"<rss version='2.0'><channel><title>x</title></chan"])
def test_ill_formed_documents_without_entries_raise(body):
    with pytest.raises(FeedParseError):
        parse_feed(body, "f")


def test_relative_links_resolve_against_where_the_feed_was_fetched():
    body = rss(item("", "/news/a.html") + item("", "//cdn.e.org/b.html") + item("", "c.html"))
    contents = read_source(body, "http://e.org/feeds/x.rss", base_url="https://www.e.org/rss/final.xml")
    assert [i.url for i in contents.items] == ["https://www.e.org/news/a.html", "https://cdn.e.org/b.html",
                                               "https://www.e.org/rss/c.html"]
    # without a redirect, the feed's own URL is the base
    assert [i.url for i in read_source(body, "http://e.org/feeds/x.rss").items][0] == "http://e.org/news/a.html"
    # a local file has no base: the entries are reported, not turned into bad URLs
    local = read_source(body, "/data/x.rss")
    assert local.items == () and {r.reason for r in local.rejected} == {reasons.NO_ARTICLE_LINK}


def test_content_location_is_the_base_when_given():
    request = FetchRequest(url="http://e.org/feed", context=FeedFetch(depth=0))
    page = FetchedPage(request=request, final_url="https://www.e.org/final/feed", status=200,
                       content_type="application/rss+xml", header_charset=None,
                       body=rss(item("", "a.html")), fetched_at=NOW, attempts=1, content_location="/feeds/en/")
    outcome = read_document(document_from_page(page), NOW)
    assert [i.url for i in outcome.items] == ["https://www.e.org/feeds/en/a.html"]
    moved = replace(page, content_location=None)
    assert [i.url for i in read_document(document_from_page(moved), NOW).items] == ["https://www.e.org/final/a.html"]


def test_entries_without_an_article_link_get_a_clear_reason():
    body = rss(
        item("<guid isPermaLink='false'>http://e.org/not-a-page</guid><title>guid only</title>", link="")
        + item("<title>podcast</title><enclosure url='http://e.org/ep.mp3' length='1' type='audio/mpeg'/>", link="")
        + item("<guid>http://e.org/permalink</guid>", link="")
        + item("<title>ok</title>"))
    contents = read_source(body, f"{BASE}/f")
    assert [i.url for i in contents.items] == ["http://e.org/permalink", "http://e.org/a"]
    assert [(r.url, r.feed_url, r.reason) for r in contents.rejected] == [
        (f"{BASE}/f", f"{BASE}/f", reasons.NO_ARTICLE_LINK)] * 2  # the url column holds a URL
    details = " ".join(r.detail for r in contents.rejected)
    assert "isPermaLink" in details and "enclosure" in details


def test_empty_feed_is_not_an_error():
    contents = read_source(b"<rss version='2.0'><channel><title>quiet</title></channel></rss>", f"{BASE}/f")
    assert contents.read and contents.empty_feed and contents.rejected == ()
    outcome = read_document(FeedDocument(source=f"{BASE}/f", body=b"<feed xmlns='http://www.w3.org/2005/Atom'>"
                                                                   b"<title>q</title></feed>"), NOW)
    assert outcome.dead_letters == () and dict(outcome.counts)["feeds.empty"] == 1


def test_an_article_page_given_as_a_feed_says_so():
    contents = read_source(served("articles/en-hague-court-ruling.html"), f"{BASE}/articles/x.html")
    assert reasons_of(contents) == [(reasons.STAGE_FEED, "feed_not_a_feed")]
    assert "--urls" in contents.rejected[0].detail


# --------------------------------------------------------------------------------------------------------------
# URL lists


def test_url_list_skips_comments_blanks_and_repeats():
    assert parse_url_list(b"# feeds\n\nhttp://a/x\n  http://a/y  \nhttp://a/x\n") == ["http://a/x", "http://a/y"]


def test_url_list_lines_one_by_one():
    body = "\ufeffhttp://e.org/a.xml  # the main feed\nnot a url\n\nhttp://e.org/b.xml#frag\n# note\n".encode()
    contents = read_source(body, "feeds.txt")
    assert contents.kind == URL_LIST and contents.listed == ("http://e.org/a.xml", "http://e.org/b.xml#frag")
    assert [(r.url, r.reason, r.detail) for r in contents.rejected] == [
        (None, reasons.INVALID_URL, "line 2 of feeds.txt is not an http(s) URL: 'not a url'")]
    # --urls files: the same lines, the same dead letters
    outcome = url_file_outcome("urls.txt", body, NOW)
    assert [i.url for i in outcome.items] == ["http://e.org/a.xml", "http://e.org/b.xml#frag"]
    assert [(d.url, d.detail) for d in outcome.dead_letters] == [
        (None, "line 2 of urls.txt is not an http(s) URL: 'not a url'")]


FEED_WITH_A_LINKLESS_ENTRY = rss(item("<title>no link</title>", link="") + item("<title>ok</title>"))


@pytest.mark.parametrize("body, depth, read, items, listed, rejected", [
    (FEED_WITH_A_LINKLESS_ENTRY, 1, True, ["http://e.org/a"], [],
     [("src", "src", reasons.STAGE_FEED, reasons.NO_ARTICLE_LINK)]),
    (b"<rss version='2.0'><channel><title>empty</title></channel></rss>", 0, True, [], [], []),
    (b"http://e.org/feed.xml\nhttp://e.org/other.xml\n", 0, True, [], ["http://e.org/feed.xml",
                                                                     "http://e.org/other.xml"], []),
    (b"<opml version='2.0'><body><outline xmlUrl='http://e.org/f.xml'/><outline xmlUrl='ftp://e.org/g'/>"
     b"</body></opml>", 0, True, [], ["http://e.org/f.xml"],
     [(None, None, reasons.STAGE_SOURCE, reasons.INVALID_URL)]),
    (b"http://e.org/feed.xml\n", 1, False, [], [],
     [("src", "src", reasons.STAGE_SOURCE, reasons.NESTED_LIST_IGNORED)]),
    (b"just some words", 0, False, [], [], [("src", "src", reasons.STAGE_FEED, "feed_not_a_feed")]),
    (b"", 0, False, [], [], [("src", "src", reasons.STAGE_FEED, "feed_not_a_feed")]),
])
def test_read_source(body, depth, read, items, listed, rejected):
    contents = read_source(body, "src", None, depth)
    assert contents.read is read
    assert [i.url for i in contents.items] == items
    assert list(contents.listed) == listed
    assert [(r.url, r.feed_url, r.stage, r.reason) for r in contents.rejected] == rejected


# --------------------------------------------------------------------------------------------------------------
# the source core: what batch and streaming both do with a document


def validator(body_sha256: str) -> FeedValidator:
    return FeedValidator(f"{BASE}/f", '"e"', None, body_sha256, NOW)


def test_core_skips_304_and_unchanged_bodies():
    body = rss(item(""))
    not_modified = FeedDocument(source=f"{BASE}/f", body=b"", validator=validator("x"), previous=validator("x"),
                                not_modified=True)
    outcome = read_document(not_modified, NOW)
    assert not outcome.changed and outcome.validator == validator("x")
    assert outcome.counts == (("feeds.not_modified", 1),)
    same = FeedDocument(source=f"{BASE}/f", body=body, validator=validator("h"), previous=validator("h"))
    assert read_document(same, NOW).counts == (("feeds.unchanged", 1),)
    changed = FeedDocument(source=f"{BASE}/f", body=body, validator=validator("new"), previous=validator("h"))
    outcome = read_document(changed, NOW)
    assert outcome.changed and len(outcome.items) == 1 and outcome.validator == validator("new")
    assert dict(outcome.counts) == {"feeds.parsed": 1, "feeds.items": 1}


# --- adversarial QA of publishers' sources (sourcesqa) --------------------------------------------------------------

FEEDBURNER_RSS = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"><channel><title>T</title>
<item><title>a</title><link>http://feedproxy.google.com/~r/site/~3/abc/</link>
<feedburner:origLink>https://news.example/2026/a?utm_source=feedburner</feedburner:origLink></item>
<item><title>b</title><link>https://news.example/2026/b</link></item>
</channel></rss>"""


def test_feedburner_origlink_is_the_article_url_not_the_feedproxy_redirect():
    items = read_source(FEEDBURNER_RSS, "https://news.example/feed").items
    assert [item.url for item in items] == ["https://news.example/2026/a?utm_source=feedburner",
                                            "https://news.example/2026/b"]
    # the same article listed without FeedBurner in another feed dedupes on this canonical URL
    assert items[0].canonical_url == "https://news.example/2026/a"


def test_opml_relative_and_protocol_relative_xmlurls_resolve_against_the_list():
    opml = b"""<?xml version="1.0"?><opml version="2.0"><head/><body><outline text="group">
    <outline text="a" type="rss" xmlUrl="feeds/a.xml"/><outline text="b" type="rss" xmlUrl="//cdn.example/b.xml"/>
    <outline text="c" type="rss" xmlUrl="https://news.example/c.xml"/>
    <outline text="c again" type="rss" xmlUrl="https://news.example/c.xml"/></outline></body></opml>"""
    contents = read_source(opml, "https://news.example/lists/mine.opml")
    assert contents.listed == ("https://news.example/lists/feeds/a.xml", "https://cdn.example/b.xml",
                               "https://news.example/c.xml")
    assert contents.rejected == ()
    # a local OPML file has no URL to resolve against: the relative xmlUrls are still clear dead letters
    local = read_source(opml, "/tmp/mine.opml")
    assert [r.reason for r in local.rejected] == [reasons.INVALID_URL] * 2


def test_an_rss_guid_that_is_an_id_is_not_made_into_a_url():
    # isPermaLink defaults to true, so feedparser takes any <guid> as the link and resolves it against the feed URL
    rss = b"""<rss version="2.0"><channel><title>T</title>
    <item><title>numeric</title><guid>48213</guid></item>
    <item><title>path</title><guid>/2026/11/path-guid</guid></item>
    <item><title>url</title><guid>https://news.example/2026/url-guid</guid></item>
    <item><title>linked</title><link>https://news.example/2026/linked</link><guid>48214</guid></item>
    </channel></rss>"""
    contents = read_source(rss, "https://news.example/feeds/all.rss")
    assert [item.url for item in contents.items] == [
        "https://news.example/2026/11/path-guid", "https://news.example/2026/url-guid",
        "https://news.example/2026/linked"]
    assert [(r.reason, r.detail) for r in contents.rejected] == [
        (reasons.NO_ARTICLE_LINK, "entry 'numeric' has no link and a guid that is an id, not a URL")]


def test_a_pdf_enclosure_is_the_article_when_an_item_has_no_link():
    rss = b"""<rss version="2.0"><channel><title>Ministry</title>
    <item><title>report</title><enclosure url="https://gov.example/r.pdf" type="application/pdf" length="9"/></item>
    <item><title>untyped</title><enclosure url="https://gov.example/u.PDF?v=2" length="9"/></item>
    <item><title>linked</title><link>https://gov.example/page</link>
      <enclosure url="https://gov.example/l.pdf" type="application/pdf" length="9"/></item>
    <item><title>podcast</title><enclosure url="https://gov.example/ep.mp3" type="audio/mpeg" length="9"/></item>
    <item><title>alias</title><enclosure url="https://gov.example/a" type="application/x-pdf" length="9"/></item>
    <item><title>binary</title><enclosure url="https://gov.example/b.pdf" type="application/octet-stream"/></item>
    <item><title>binary, no name</title><enclosure url="https://gov.example/b.bin" type="application/octet-stream"/>
    </item>
    </channel></rss>"""
    contents = read_source(rss, "https://gov.example/feed")
    # listed as the fetch would take them (mediatypes.may_be_page): the PDF aliases, octet-stream named .pdf
    assert [item.url for item in contents.items] == [
        "https://gov.example/r.pdf", "https://gov.example/u.PDF?v=2", "https://gov.example/page",
        "https://gov.example/a", "https://gov.example/b.pdf"]
    assert [r.reason for r in contents.rejected] == [reasons.NO_ARTICLE_LINK] * 2


def test_links_with_spaces_or_line_breaks_are_read_as_a_browser_would():
    rss = b"""<rss version="2.0"><channel><title>T</title>
    <item><title>spaced</title><link>https://news.example/2026/11/my story.html</link></item>
    <item><title>wrapped</title><link>https://news.example/2026/11/a-very-long-
        slug.html</link></item></channel></rss>"""
    contents = read_source(rss, "https://news.example/feed")
    assert [item.url for item in contents.items] == [
        "https://news.example/2026/11/my%20story.html", "https://news.example/2026/11/a-very-long-slug.html"]
    assert contents.rejected == ()
