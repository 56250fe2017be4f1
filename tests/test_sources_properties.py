"""Property-based tests: random and mutated documents thrown at the source reader never escape it as an exception,
and what it returns keeps its promises (items carry http(s) URLs, an unread source has exactly one dead letter)."""
import codecs

from hypothesis import HealthCheck, given, settings, strategies as st

from newsbeam import reasons
from newsbeam.sniff import FEED, sniff
from newsbeam.source_core import url_file_outcome
from newsbeam.sources import read_source, url_list_lines

SOURCE = "http://127.0.0.1:9/feed"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TEMPLATES = [
    b"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>T</title><link>http://e.org/</link>"
    b"<item><title>A</title><link>http://e.org/a</link><pubDate>Sat, 21 Nov 2026 10:00:00 GMT</pubDate>"
    b"<guid isPermaLink='false'>id-1</guid><description>x</description></item></channel></rss>",
    b"<feed xmlns='http://www.w3.org/2005/Atom'><title>T</title><entry><title>A</title>"
    b"<link href='/a'/><id>urn:a</id><updated>2026-11-21T10:00:00Z</updated></entry></feed>",
    b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' xmlns='http://purl.org/rss/1.0/'>"
    b"<channel><title>T</title></channel><item><title>A</title><link>http://e.org/a</link></item></rdf:RDF>",
    b"<opml version='2.0'><body><outline text='x'><outline type='rss' xmlUrl='http://e.org/f.xml'/>"
    b"<outline type='include' url='http://e.org/l.opml'/></outline></body></opml>",
    b"http://e.org/a.xml\n# comment\nhttp://e.org/b.xml  # note\n",
]

# what broke the reader before, and what else a document may throw at it
FRAGMENTS = st.one_of(
    st.integers(min_value=0, max_value=10 ** 12).map(lambda n: b"&#%d;" % n),
    st.integers(min_value=0, max_value=0x7FFFFFFF).map(lambda n: b"&#x%X;" % n),
    st.sampled_from([
        b"&#55357;&#56832;", b"<pubDate>0000-01-01T00:00:00Z</pubDate>",
        b"<updated>9999-12-31T23:59:59-01:00</updated>",
        b"<pubDate>0000-00-00</pubDate>", b"<gml:pos>inf -inf</gml:pos>", b"<georss:point>nan 1e999</georss:point>",
        b"<!-- <opml> -->", b"<![CDATA[<opml>]]>", b"<!DOCTYPE rss [<!ENTITY e 'x'>]>", b"&e;", b"\xef\xbb\xbf",
        b"\x00", b"\xff\xfe", b"</item>", b"<item>", b"<link>//e.org/x</link>", b"<link>rel/x</link>",
        b"<enclosure url='http://e.org/a.mp3'/>", b"<?xml version='1.0' encoding='utf-16'?>", b"]]>", b"<",
        b"<opml>", b"<html>", b"http://", b"\r\n", b"<br />\n<b>Warning</b>:",
    ]),
    st.binary(max_size=12),
)
ALLOWED_REASONS = {reasons.FEED_PARSE_ERROR, reasons.FEED_READER_ERROR, reasons.FEED_ENTITY_EXPANSION,
                   reasons.NO_ARTICLE_LINK, reasons.INVALID_URL, reasons.NESTED_LIST_IGNORED, "feed_not_a_feed"}


@st.composite
def mutated(draw):
    body = bytearray(draw(st.sampled_from(TEMPLATES)))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        position = draw(st.integers(min_value=0, max_value=len(body)))
        if draw(st.booleans()):
            body[position:position] = draw(FRAGMENTS)
        else:
            del body[position:position + draw(st.integers(min_value=1, max_value=8))]
    return bytes(body)


def check(contents, depth=0):
    assert all(item.url.startswith(("http://", "https://")) for item in contents.items)
    assert all(url.startswith(("http://", "https://")) for url in contents.listed)
    assert {r.reason for r in contents.rejected} <= ALLOWED_REASONS
    for item in contents.items:  # everything a row will hold can be written as UTF-8
        for value in (item.title, item.summary, item.feed_title, item.guid):
            if value is not None:
                value.encode("utf-8")
    if not contents.read:
        assert len(contents.rejected) == 1 and contents.rejected[0].url == SOURCE


@FAST
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(body):
    check(read_source(body, SOURCE))


@FAST
@given(mutated(), st.sampled_from([None, "application/rss+xml", "text/html; charset=iso-8859-1"]),
       st.integers(min_value=0, max_value=1))
def test_mutated_documents_never_raise(body, content_type, depth):
    check(read_source(body, SOURCE, content_type, depth), depth)


@FAST
@given(mutated(), st.sampled_from(["utf-16-le", "utf-16-be", "utf-32-le"]))
def test_mutated_wide_documents_never_raise(body, encoding):
    text = body.decode("utf-8", errors="replace")
    check(read_source(codecs.BOM_UTF8 + text.encode("utf-8"), SOURCE))
    check(read_source(text.encode(encoding, errors="replace"), SOURCE))


@FAST
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=200),
       st.sampled_from(["<!-- {} -->", "<![CDATA[{}]]>", "{}"]))
def test_a_mention_of_opml_before_or_inside_a_feed_does_not_make_it_a_list(noise, wrapper):
    noise = noise.replace("-->", "").replace("]]>", "").replace("<", "").replace("&", "")
    hidden = wrapper.format(noise + " <opml version='2.0'> ")
    if wrapper == "{}":
        hidden = hidden.replace("<", "&lt;")
    body = f"<!-- {noise.replace('-', '')} --><rss version='2.0'><channel><title>t</title><item>" \
           f"<link>http://e.org/a</link><description>{hidden}</description></item></channel></rss>"
    assert sniff(body.encode("utf-8")).kind == FEED


@FAST
@given(st.lists(st.one_of(
    st.from_regex(r"https?://[a-z]{1,8}\.org/[a-z0-9]{0,8}", fullmatch=True),
    st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=20),
), max_size=20))
def test_url_file_lines_are_each_an_item_or_a_dead_letter(lines):
    body = "\n".join(lines).encode("utf-8")
    outcome = url_file_outcome("urls.txt", body, None)
    meaningful = url_list_lines(body.decode("utf-8"))
    assert len(outcome.items) + len(outcome.dead_letters) == len(meaningful)
    assert [d.detail.split()[1] for d in outcome.dead_letters] == [str(line.number) for line in meaningful
                                                                 if not line.is_url]


LINK_PARTS = st.lists(st.sampled_from(["https://e.org/", "a", " ", "\n   ", "\t", "/", "?utm_source=x", "#f", "48213",
                                       "//cdn.e.org/", "é", "&amp;", "feed://", ".pdf"]), max_size=8).map("".join)
ENCLOSURE_TYPES = st.sampled_from(["", "application/pdf", "audio/mpeg", "application/PDF; x=1", "application/x-pdf",
                                   "application/octet-stream"])


@FAST
@given(link=LINK_PARTS, guid=LINK_PARTS, enclosure=LINK_PARTS, kind=ENCLOSURE_TYPES)
def test_every_rss_item_is_one_item_with_a_clean_url_or_one_dead_letter(link, guid, enclosure, kind):
    item = (f"<item><title>t</title><link>{link}</link><guid>{guid}</guid>"
            f"<enclosure url='{enclosure}' type='{kind}' length='1'/></item>")
    body = f"<rss version='2.0'><channel><title>T</title>{item}{item}</channel></rss>".encode()
    contents = read_source(body, "https://e.org/feeds/all.rss")
    assert len(contents.items) + len(contents.rejected) == 2
    for found in contents.items:
        assert found.url.startswith(("http://", "https://")) and not any(c.isspace() for c in found.url)
