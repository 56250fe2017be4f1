"""Source documents: feeds, JSON Feeds, sitemaps, OPML lists and URL lists, read into feed items, listed URLs and
sub-sitemaps (pure functions).

`read_source` is the one entry point, the same for batch and streaming. It never raises: whatever goes wrong in
one document becomes that document's dead letter, so one bad feed cannot stop a run. No parsing library is ever
given anything but bytes (listparser fetches a URL it is given as a string; feedparser does too).
"""
from __future__ import annotations

import calendar
import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import urljoin
from xml.sax import SAXException

import feedparser
import listparser

from newsbeam import reasons
from newsbeam.jsonfeed import is_json_feed
from newsbeam.listings import Listing, SubSitemap
from newsbeam.mediatypes import GENERIC_BINARY, is_pdf_type, media_type, named_pdf
from newsbeam.sitemaps import MAX_BYTES as SITEMAP_MAX_BYTES, SitemapError, gunzip_bounded
from newsbeam.sniff import (  # noqa: F401 (the kinds are part of this module's interface)
    FEED,
    HTML,
    JSON,
    OPML,
    SITEMAP,
    UNKNOWN,
    URL_LIST,
    ROOT_KINDS,
    WIDE_ENCODINGS,
    Sniffed,
    entity_problem,
    repair_character_references,
    sniff,
)
from newsbeam.source_kinds import read_listing
from newsbeam.urls import canonicalize_url, is_http_url
from newsbeam.schemas.records import FeedItem

LOG = logging.getLogger(__name__)
NOT_A_FEED = reasons.feed_reason(reasons.NOT_A_FEED)  # 'feed_not_a_feed'
TOO_LARGE = reasons.feed_reason(reasons.TOO_LARGE)  # 'feed_too_large'
ITEM_KINDS = (FEED, JSON, SITEMAP)  # kinds whose documents list articles (JSON: a JSON Feed)
MAX_INFLATED_BYTES = SITEMAP_MAX_BYTES  # a gzip-compressed source document inflates to at most this
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Rejected:
    """Something in a source document that becomes a dead letter."""

    url: Optional[str]  # a URL or the source's path; None when what was rejected is not a URL (it is in detail)
    feed_url: Optional[str]
    stage: str
    reason: str
    detail: str


@dataclass(frozen=True)
class SourceContents:
    kind: str  # FEED, OPML, URL_LIST, SITEMAP, HTML, JSON (a JSON Feed when read) or UNKNOWN
    read: bool = False  # a feed or sitemap that parsed (items or none), or a subscription list that was expanded
    items: Tuple[FeedItem, ...] = ()  # a feed's or sitemap's entries with an http(s) article link
    listed: Tuple[str, ...] = ()  # a subscription list's http(s) feed URLs
    rejected: Tuple[Rejected, ...] = ()
    sitemaps: Tuple[SubSitemap, ...] = ()  # a sitemap index's sitemaps (followed by their own depth rule)

    @property
    def sitemap_index(self) -> bool:
        return self.read and self.kind == SITEMAP and bool(self.sitemaps)

    @property
    def lists_articles(self) -> bool:
        """A feed, JSON Feed or urlset that was read (a validator is worth keeping for it)."""
        return self.read and self.kind in ITEM_KINDS and not self.sitemaps

    @property
    def empty_feed(self) -> bool:
        """A feed without entries (not an error: a quiet feed). A read feed's rejections are its entries."""
        return self.lists_articles and not self.items and not self.rejected


# --------------------------------------------------------------------------------------------------------------
# URL lists


_INLINE_COMMENT = re.compile(r"\s+#.*$")


@dataclass(frozen=True)
class ListLine:
    number: int  # 1-based
    text: str  # the line without blanks around it and without an inline '  # comment'
    is_url: bool


def url_list_lines(text: str) -> List[ListLine]:
    """The meaningful lines of a URL list: blank lines and '#' comment lines skipped, `url  # note` is `url`
    (a '#' inside a URL, a fragment, has no blank before it)."""
    lines = []
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        line = _INLINE_COMMENT.sub("", raw.strip().lstrip("\ufeff"))
        if line and not line.startswith("#"):
            lines.append(ListLine(number, line, is_http_url(line)))
    return lines


def parse_url_list(body: bytes) -> List[str]:
    """The http(s) URLs of a URL list, in order, repeats dropped."""
    return list(dict.fromkeys(line.text for line in url_list_lines(sniff(body).text) if line.is_url))


def bad_line(source: str, line: ListLine) -> Rejected:
    """The `url` column only ever holds a URL: the line as written goes into the detail."""
    return Rejected(None, None, reasons.STAGE_SOURCE, reasons.INVALID_URL, bad_line_detail(source, line))


def bad_line_detail(source: str, line: ListLine) -> str:
    return f"line {line.number} of {source} is not an http(s) URL: {line.text[:2048]!r}"


# --------------------------------------------------------------------------------------------------------------
# OPML


@dataclass(frozen=True)
class Subscriptions:
    feeds: Tuple[str, ...]  # xmlUrl of feed outlines
    lists: Tuple[str, ...]  # outlines of type include, link or source: other subscription lists


def parse_opml(body: bytes) -> Subscriptions:
    """The feeds and included lists of an OPML subscription list, nested outlines included."""
    sniffed = sniff(body)
    # bytes, never a str: listparser fetches a str that starts with http itself. UTF-8 with a BOM, so lxml's
    # HTML parser (listparser's) does not guess the encoding again.
    result = listparser.parse(b"\xef\xbb\xbf" + _without_declaration(sniffed.text).encode("utf-8"))
    feeds = tuple(dict.fromkeys(feed.url.strip() for feed in result.feeds if feed.url and feed.url.strip()))
    lists = tuple(dict.fromkeys(item.url.strip() for item in result.lists if item.url and item.url.strip()))
    return Subscriptions(feeds, lists)


def _without_declaration(text: str) -> str:
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", text.lstrip("\x00"), count=1)


# --------------------------------------------------------------------------------------------------------------
# Feeds


class FeedParseError(ValueError):
    pass


def _entry_time(entry) -> Optional[datetime]:
    """The entry's date in UTC, or None when it has none or one outside what a datetime holds (year 0, 10000)."""
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc)
    except (ValueError, OverflowError, OSError, TypeError):
        return None


def _text(value) -> Optional[str]:
    """A string feedparser produced, with surrogates paired or replaced (they cannot be written as UTF-8)."""
    if not value or not isinstance(value, str):
        return None
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


@dataclass(frozen=True)
class ParsedFeed:
    title: Optional[str]
    items: Tuple[FeedItem, ...]
    unusable: Tuple[str, ...]  # why each entry without an article link has none, with its id or title
    version: str


def _article_link(entry, base: Optional[str], atom: bool) -> Optional[str]:
    # FeedBurner's <link> is a feedproxy redirect; origLink is the publisher's own URL (the same article listed in
    # another feed then dedupes, and the fetch is not a tracking redirect)
    original = (entry.get("feedburner_origlink") or "").strip()
    if is_http_url(original):
        return original
    link = _as_browser_would((entry.get("link") or "").strip())
    if link and base and not is_http_url(link):
        link = urljoin(base, link)  # relative or protocol-relative, where feedparser had no base to resolve it
    if is_http_url(link):
        return link
    # Atom feeds sometimes carry the permalink only as the id; an RSS guid is a link only when it is a permalink,
    # and then feedparser has already made it the link
    guid = (entry.get("id") or "").strip()
    if atom and is_http_url(guid):
        return guid
    return _pdf_enclosure(entry)


def _as_browser_would(link: str) -> str:
    """A link as a browser follows it: a wrapped link's line break and indentation removed (feedparser has already
    dropped the line break: a run of blanks is the indentation), tabs removed (the WHATWG URL parser's rule), a
    space percent-encoded. CMSs do publish `/2026/11/my story.html`, which is not a URL as written."""
    return _WRAPPED.sub("", link).replace(" ", "%20")


_WRAPPED = re.compile(r"\s*[\r\n]\s*|[ \t]{2,}|\t")


def _pdf_enclosure(entry) -> Optional[str]:
    """An item whose only document is a PDF enclosure (a report, a ruling, a press release): newsbeam reads PDFs,
    so the PDF is the article. Audio and video enclosures (podcasts) are not articles."""
    for link in entry.get("links", ()):
        href = (link.get("href") or "").strip()
        kind = media_type(link.get("type"))
        # the fetch's rule (newsbeam.mediatypes.may_be_page): a PDF type or alias, or a `.pdf` name that is
        # untyped or typed `application/octet-stream`
        if link.get("rel") == "enclosure" and is_http_url(href) and (
                is_pdf_type(kind) or (kind in (None, GENERIC_BINARY) and named_pdf(href))):
            return href
    return None


_GUID = re.compile(rb"<guid(?:\s[^>]*)?>\s*([^<\s]+)\s*</guid>")


def _opaque_guid_links(body: bytes, base: Optional[str]) -> frozenset:
    """The links feedparser made of guids that are ids, not URLs. A <guid> is a permalink unless it says
    isPermaLink="false", and feedparser resolves it against the base: `<guid>12345</guid>` in an item without a
    <link> would become https://site/12345, a page that was never listed. An id here has no '/' and no scheme."""
    if not base or b"<guid" not in body:
        return frozenset()
    ids = (raw.decode("utf-8", "replace") for raw in _GUID.findall(body))
    return frozenset(urljoin(base, value) for value in ids if "/" not in value and ":" not in value)


def _why_no_link(entry, base: Optional[str]) -> str:
    link = (entry.get("link") or "").strip()
    named = _text(entry.get("id")) or _text(entry.get("title")) or "untitled"
    if link:
        return f"entry {named!r}: link {link!r} is not an http(s) URL" + ("" if base else " (no base URL)")
    if any(link_.get("rel") == "enclosure" for link_ in entry.get("links", ())):
        return f"entry {named!r} has only an enclosure (media file), no article link"
    if entry.get("id") and not entry.get("guidislink", True):
        return f"entry {named!r} has a guid that is not a permalink (isPermaLink=\"false\") and no link"
    return f"entry {named!r} has no link"


def parse_feed(body: bytes, feed_url: str, content_type: Optional[str] = None,
               base_url: Optional[str] = None) -> ParsedFeed:
    """Items of an RSS/Atom/RDF feed. Ill-formed ("bozo") feeds are used as far as feedparser recovers them; a
    document that is not well-formed and yields no entries raises `FeedParseError` with feedparser's reason.

    Relative links resolve against xml:base, then `base_url` (where the feed was finally fetched from)."""
    headers = {}
    if content_type:
        headers["content-type"] = content_type
    if base_url:
        headers["content-location"] = base_url
    parsed = feedparser.parse(body, response_headers=headers)
    problem = parsed.get("bozo_exception")
    if not parsed.entries and isinstance(problem, SAXException):
        raise FeedParseError(f"not well-formed and no entries: {problem}")
    atom = (parsed.get("version") or "").startswith("atom")
    title = _text(parsed.feed.get("title"))
    items: List[FeedItem] = []
    unusable: List[str] = []
    opaque = _opaque_guid_links(body, base_url) if not atom else frozenset()
    for entry in parsed.entries:
        if entry.get("guidislink") and (entry.get("link") or "").strip() in opaque:
            unusable.append(f"entry {_text(entry.get('title')) or 'untitled'!r} has no link and a guid that is "
                            "an id, not a URL")
            continue
        link = _article_link(entry, base_url, atom)
        if link is None:
            unusable.append(_why_no_link(entry, base_url))
            continue
        items.append(FeedItem(
            url=link,
            canonical_url=canonicalize_url(link),
            feed_url=feed_url,
            feed_title=title,
            title=_text(entry.get("title")),
            guid=_text(entry.get("id")),
            published_at=_entry_time(entry),
            summary=_text(entry.get("summary")),
        ))
    return ParsedFeed(title, tuple(items), tuple(unusable), parsed.get("version") or "")


# --------------------------------------------------------------------------------------------------------------
# One entry point


@dataclass(frozen=True)
class SourceRef:
    """Where a document came from."""

    source: str  # the URL or path it was given or listed as
    content_type: Optional[str]
    depth: int  # 0: given by the user; 1: listed in a subscription list
    base_url: Optional[str]  # the URL it was finally fetched from (relative links resolve against it)
    as_sitemap: bool = False  # reached as a sitemap (index, robots.txt, discovery): plain text is a text sitemap


def _feed_dead(ref: SourceRef, reason: str, detail: str) -> Rejected:
    return Rejected(ref.source, ref.source, reasons.STAGE_FEED, reason, detail)


def _nested(kind: str, ref: SourceRef) -> SourceContents:
    return SourceContents(kind, rejected=(Rejected(
        ref.source, ref.source, reasons.STAGE_SOURCE, reasons.NESTED_LIST_IGNORED,
        f"a {kind} listed inside a subscription list is not followed: give it with --feeds"),))


_GEO_TAG = re.compile(rb"</?(?:gml|georss):[^>]*>")


def _parse_feed_or_without_geo(body: bytes, sniffed: Sniffed, ref: SourceRef) -> ParsedFeed:
    """feedparser 6.0 fails on a whole feed for some GeoRSS/GML markup (a `gml:pos` outside `georss:where`
    raises KeyError): such a feed is read again without its geo tags, which newsbeam does not use."""
    repaired = repair_character_references(body, sniffed.encoding)
    try:
        return parse_feed(repaired, ref.source, ref.content_type, ref.base_url)
    except FeedParseError:
        raise
    except Exception:
        if sniffed.encoding in WIDE_ENCODINGS or not _GEO_TAG.search(repaired):
            raise
        LOG.info("%s: feedparser failed on its GeoRSS/GML markup; read without it", ref.source)
        return parse_feed(_GEO_TAG.sub(b"", repaired), ref.source, ref.content_type, ref.base_url)


def _read_feed(body: bytes, sniffed: Sniffed, ref: SourceRef) -> SourceContents:
    try:
        parsed = _parse_feed_or_without_geo(body, sniffed, ref)
    except FeedParseError as exc:
        return SourceContents(FEED, rejected=(_feed_dead(ref, reasons.FEED_PARSE_ERROR, str(exc)),))
    if not parsed.items and not parsed.unusable and not parsed.version and sniffed.root not in ROOT_KINDS:
        what = f"an XML document with root <{sniffed.root}>" if sniffed.root else "not an RSS, Atom or RDF feed"
        return SourceContents(FEED, rejected=(_feed_dead(ref, NOT_A_FEED, f"{what}, not a feed"),))
    return SourceContents(FEED, read=True, items=parsed.items, rejected=tuple(
        Rejected(ref.source, ref.source, reasons.STAGE_FEED, reasons.NO_ARTICLE_LINK, why)
        for why in parsed.unusable))


def _read_opml(body: bytes, sniffed: Sniffed, ref: SourceRef) -> SourceContents:
    if ref.depth > 0:
        return _nested(OPML, ref)
    subscriptions = parse_opml(body)
    # a relative (or protocol-relative) xmlUrl resolves against the list's own URL, as a browser would
    feeds = tuple(dict.fromkeys(urljoin(ref.base_url, url) if ref.base_url else url for url in subscriptions.feeds))
    rejected = [Rejected(None, None, reasons.STAGE_SOURCE, reasons.INVALID_URL,
                         f"xmlUrl {url[:2048]!r} listed in {ref.source} is not an http(s) URL")
                for url in feeds if not is_http_url(url)]
    rejected += [Rejected(url, url, reasons.STAGE_SOURCE, reasons.NESTED_LIST_IGNORED,
                          f"an outline of type include/link/source in {ref.source}: lists inside lists are not "
                          "followed; give it with --feeds") for url in subscriptions.lists]
    return SourceContents(OPML, read=True, listed=tuple(url for url in feeds if is_http_url(url)),
                          rejected=tuple(rejected))


def _read_url_list(body: bytes, sniffed: Sniffed, ref: SourceRef) -> SourceContents:
    if ref.as_sitemap:  # a text sitemap looks exactly like a list of feed URLs: how it was reached decides
        return _from_listing(read_listing(body, ref.source, as_sitemap=True), SITEMAP, ref)
    lines = url_list_lines(sniffed.text)
    if not any(line.is_url for line in lines):
        return _read_unknown(body, sniffed, ref)
    if ref.depth > 0:
        return _nested(URL_LIST, ref)
    return SourceContents(URL_LIST, read=True,
                          listed=tuple(dict.fromkeys(line.text for line in lines if line.is_url)),
                          rejected=tuple(bad_line(ref.source, line) for line in lines if not line.is_url))


def _read_html(body: bytes, sniffed: Sniffed, ref: SourceRef) -> SourceContents:
    # a feed URL that now redirects to a page is a feed that moved or was retired: say where it led
    moved = f" (the URL led to {ref.base_url})" if ref.base_url and ref.base_url != ref.source else ""
    return SourceContents(HTML, rejected=(_feed_dead(
        ref, NOT_A_FEED, f"an HTML page{moved}, not a feed: give article URLs with --urls; a site's feeds are named "
                         "in its <link rel=\"alternate\"> tags"),))


def _read_json(body: bytes, sniffed: Sniffed, ref: SourceRef) -> SourceContents:
    if not is_json_feed(body):
        return SourceContents(JSON, rejected=(_feed_dead(
            ref, NOT_A_FEED, "a JSON document that is not a JSON Feed (no jsonfeed.org version)"),))
    return _from_listing(read_listing(body, ref.source), JSON, ref)


def _read_sitemap(body: bytes, sniffed: Sniffed, ref: SourceRef) -> SourceContents:
    return _from_listing(read_listing(body, ref.source), SITEMAP, ref)


def _from_listing(listing: Listing, kind: str, ref: SourceRef) -> SourceContents:
    """A sitemap's or JSON Feed's `Listing` as source contents. An unusable entry's value is a URL, the
    listing's own URL, or what was written instead of a URL (then `url` is None and the value is in the detail)."""
    rejected = []
    for unusable in listing.unusable:
        if unusable.value == ref.source or is_http_url(unusable.value):
            rejected.append(Rejected(unusable.value, ref.source, reasons.STAGE_FEED, unusable.reason,
                                     unusable.detail))
        else:
            rejected.append(Rejected(None, ref.source, reasons.STAGE_FEED, unusable.reason,
                                     f"{unusable.value[:2048]!r}: {unusable.detail}"))
    return SourceContents(kind, read=listing.read, items=listing.items, rejected=tuple(rejected),
                          sitemaps=listing.sources)


def _read_unknown(body: bytes, sniffed: Sniffed, ref: SourceRef) -> SourceContents:
    if ref.as_sitemap:
        return _from_listing(read_listing(body, ref.source, as_sitemap=True), SITEMAP, ref)
    text = sniffed.text.strip("\x00 \t\r\n")
    what = "an empty document" if not text else "no element" if text.startswith("<") else "no markup and no URL"
    return SourceContents(UNKNOWN, rejected=(_feed_dead(
        ref, NOT_A_FEED, f"{what}: not a feed, an OPML list or a list of feed URLs"),))


Reader = Callable[[bytes, Sniffed, SourceRef], SourceContents]

# kind -> reader. A new kind (sitemaps, JSON Feed) is one entry here and, for XML, one in `sniff.ROOT_KINDS`.
READERS: Dict[str, Reader] = {
    FEED: _read_feed,
    OPML: _read_opml,
    URL_LIST: _read_url_list,
    HTML: _read_html,
    JSON: _read_json,
    SITEMAP: _read_sitemap,
    UNKNOWN: _read_unknown,
}


def classify_document(body: bytes, content_type: Optional[str] = None) -> str:
    return sniff(body, content_type).kind


def _cut_lines(contents: SourceContents, ref: SourceRef) -> SourceContents:
    """A list of lines (URLs, a text sitemap) whose gzip data was cut: it has no end mark of its own, so the cut
    shows only there. Its last line was dropped (a URL cut short); the source says it was cut."""
    reason = reasons.SITEMAP_TRUNCATED if contents.kind == SITEMAP else reasons.FEED_PARSE_ERROR
    return replace(contents, rejected=contents.rejected + (_feed_dead(
        ref, reason, "the gzip data ends before its stream does: the lines before the cut were read, the one it "
                     "cut was not"),))


def read_source(body: bytes, source: str, content_type: Optional[str] = None, depth: int = 0,
                base_url: Optional[str] = None, as_sitemap: bool = False) -> SourceContents:
    """What a source document holds, the same for batch and streaming. Never raises.

    `depth` 0: given by the user, so a subscription list is expanded; deeper: listed in a list, where a list is
    reported, not followed (a loop of lists cannot run forever). `base_url` (default: `source` when it is a URL)
    resolves relative item links. `as_sitemap`: reached as a sitemap, so plain text is a text sitemap. A gzip file
    (recognised by its magic bytes, whatever its name) is inflated, bounded, first."""
    ref = SourceRef(source, content_type, depth, base_url or (source if is_http_url(source) else None), as_sitemap)
    kind = UNKNOWN
    try:
        whole = True
        if body[:2] == _GZIP_MAGIC:
            try:
                body, whole = gunzip_bounded(body, MAX_INFLATED_BYTES)
            except SitemapError as exc:
                if exc.reason == reasons.SITEMAP_TOO_LARGE:
                    return SourceContents(UNKNOWN, rejected=(_feed_dead(ref, TOO_LARGE, f"gzip file {exc}"),))
                return SourceContents(UNKNOWN, rejected=(_feed_dead(  # the zlib error, as the reader caught it
                    ref, reasons.FEED_PARSE_ERROR, f"not a readable gzip file: {exc.__cause__ or exc}"),))
        sniffed = sniff(body, content_type)
        kind = sniffed.kind
        lines_cut = not whole and kind in (URL_LIST, UNKNOWN)
        if lines_cut:  # markup that was cut is reported by its parser; a list of lines (maybe cut to none) is not
            body = body[:body.rfind(b"\n") + 1]
            sniffed = sniff(body, content_type)
            kind = sniffed.kind
        if kind in (FEED, OPML):
            problem = entity_problem(sniffed.text)
            if problem is not None:
                return SourceContents(kind, rejected=(_feed_dead(ref, reasons.FEED_ENTITY_EXPANSION, problem),))
        contents = READERS[kind](body, sniffed, ref)
        return _cut_lines(contents, ref) if lines_cut and contents.read else contents
    except Exception as exc:  # a parser's bug in one document must not stop the other sources
        LOG.warning("reading %s failed: %s: %s", source, type(exc).__name__, exc)
        LOG.debug("reading %s failed", source, exc_info=True)
        return SourceContents(kind, rejected=(_feed_dead(
            ref, reasons.FEED_READER_ERROR, f"{type(exc).__name__}: {exc}"[:2000]),))
