"""XML sitemaps (`urlset`, `sitemapindex`), Google News sitemaps and plain-text sitemaps, gzip-compressed or not:
detection and streaming, bounded parsing (pure functions, no network).

Bounds: gzip is inflated chunk by chunk into the XML parser and stops past `max_bytes` of inflated data (50 MB,
Google's limit); a document stops after `max_entries` entries (50,000, the protocol's limit); the parser keeps one
entry in memory at a time. Hardening: a document with a DOCTYPE is refused (sitemaps have none, and that is
where entity bombs and external entities live); entities are never resolved, DTDs never loaded, nothing is read
from the network (lxml's `resolve_entities=False`, `load_dtd=False`, `no_network=True`).
"""
from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin

from lxml import etree

from newsbeam.listings import (
    INVALID_URL,
    SITEMAP_PARSE_ERROR,
    SITEMAP_TOO_LARGE,
    SITEMAP_TRUNCATED,
    Listing,
    SubSitemap,
    Unusable,
)
from newsbeam.schemas.records import FeedItem
from newsbeam.urls import canonicalize_url, is_http_url
from newsbeam.w3cdates import parse_w3c_datetime

URLSET = "sitemap_urlset"
SITEMAP_INDEX = "sitemap_index"
TEXT_SITEMAP = "sitemap_text"

MAX_BYTES = 50 * 1024 * 1024  # inflated size; sitemaps.org and Google both cap a sitemap file at 50 MB
MAX_ENTRIES = 50_000  # URLs per sitemap (or sitemaps per index), sitemaps.org's limit
MAX_URL_LENGTH = 2048  # sitemaps.org: "less than 2,048 characters"
MAX_KEYWORDS = 32
MAX_ELEMENTS_PER_ENTRY = 10_000  # an image sitemap may list 1,000 images of a few elements each under one <url>
_SNIFF_BYTES = 64 * 1024
_CHUNK = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


class SitemapError(ValueError):
    """A sitemap that cannot be read (any further). `reason` is a stable dead-letter code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class SitemapLimits:
    max_bytes: int = MAX_BYTES
    max_entries: int = MAX_ENTRIES


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    """A `<url>` of a urlset (or a line of a text sitemap), with its Google News fields when it has them."""

    url: str
    lastmod: datetime | None = None
    title: str | None = None  # news:title
    publication_date: datetime | None = None  # news:publication_date
    publication_name: str | None = None  # news:publication/news:name
    language: str | None = None  # news:publication/news:language
    keywords: tuple[str, ...] = ()  # news:keywords

    @property
    def published_at(self) -> datetime | None:
        """The item's feed date: the news publication date, else `lastmod` (a modification date is better than
        nothing for `--since` and newest-first)."""
        return self.publication_date or self.lastmod


@dataclass(frozen=True, slots=True)
class InvalidEntry:
    """A `<url>`/`<sitemap>` (or text line) whose location is not a usable http(s) URL."""

    value: str
    detail: str


Parsed = SitemapEntry | SubSitemap | InvalidEntry


class _BoundedReader:
    """A file-like view of the body for the parser: gzip (recognised by its magic bytes, never by a name) is
    inflated on demand, and more than `max_bytes` of content raises `SitemapError(SITEMAP_TOO_LARGE)`. `whole`:
    gzip data that ends inside its stream (a cut download) raises `SitemapError(SITEMAP_TRUNCATED)` rather than end
    the content there, where a text sitemap's last line would be a cut URL; a look at the head only passes False."""

    def __init__(self, body: bytes, max_bytes: int, whole: bool = True):
        self._body = memoryview(body)
        self._max = max_bytes
        self._whole = whole
        self._gzip = body[:2] == _GZIP_MAGIC
        self._pos = 0
        self._produced = 0
        self._inflater = zlib.decompressobj(wbits=31) if self._gzip else None
        self._pending = b""  # input the inflater has not consumed yet
        if not self._gzip and len(body) > max_bytes:
            raise SitemapError(SITEMAP_TOO_LARGE, f"{len(body)} bytes, over the {max_bytes}-byte limit")

    @property
    def compressed(self) -> bool:
        return self._gzip

    @property
    def ended(self) -> bool:
        """Whether the content read so far ends where its gzip stream ends (plain content always does)."""
        return not self._gzip or self._inflater.eof

    def read(self, size: int = -1) -> bytes:
        size = _CHUNK if size is None or size < 0 else max(size, 1)
        chunk = self._inflate(size) if self._gzip else self._plain(size)
        self._produced += len(chunk)
        if self._produced > self._max:
            raise SitemapError(SITEMAP_TOO_LARGE, f"inflates to more than {self._max} bytes")
        return chunk

    def _plain(self, size: int) -> bytes:
        chunk = bytes(self._body[self._pos:self._pos + size])
        self._pos += len(chunk)
        return chunk

    def _inflate(self, size: int) -> bytes:
        while True:
            if self._inflater.eof:
                # concatenated gzip members are one stream (gzip(1) semantics); anything else after the end is junk
                rest = self._inflater.unused_data + self._pending
                self._pending = b""
                if rest[:2] != _GZIP_MAGIC:
                    return b""
                self._inflater = zlib.decompressobj(wbits=31)
                self._pending = rest
            if not self._pending:
                self._pending = bytes(self._body[self._pos:self._pos + _CHUNK])
                self._pos += len(self._pending)
                if not self._pending:
                    if self._whole:
                        raise SitemapError(SITEMAP_TRUNCATED, "the gzip data ends before its stream does")
                    return b""
            try:
                out = self._inflater.decompress(self._pending, size)
            except zlib.error as exc:
                raise SitemapError(SITEMAP_TRUNCATED, f"gzip data is corrupt: {exc}") from exc
            self._pending = self._inflater.unconsumed_tail
            if out:
                return out


def gunzip_bounded(body: bytes, max_bytes: int) -> tuple[bytes, bool]:
    """A gzip document's whole content, as the sitemap reader inflates it (every member, bytes after the last that
    begin no member ignored), and whether its stream ended (False: cut short, the content before the cut given).
    Past `max_bytes`: SitemapError(SITEMAP_TOO_LARGE); corrupt data: SitemapError(SITEMAP_TRUNCATED)."""
    reader = _BoundedReader(body, max_bytes, whole=False)
    chunks = []
    while chunk := reader.read(_CHUNK):
        chunks.append(chunk)
    return b"".join(chunks), reader.ended


def sitemap_kind(body: bytes) -> str | None:
    """URLSET or SITEMAP_INDEX when the document's root element says so (gzip looked into), else None.

    Only the first 64 KB (inflated) are looked at; a text sitemap cannot be told from a URL list by content, so
    it is never returned here (see `parse_text_sitemap`).
    """
    try:
        head = _BoundedReader(body, MAX_BYTES, whole=False).read(_SNIFF_BYTES)
    except SitemapError:
        return None
    parser = etree.XMLPullParser(events=("start",), resolve_entities=False, load_dtd=False, no_network=True)
    try:
        parser.feed(head)
        for _, element in parser.read_events():
            # not etree.QName, which raises ValueError on a root with an unbound prefix (`<javascript:urlset>`)
            return _ROOTS.get(_localname(element))
    except etree.XMLSyntaxError:
        pass
    return None


_ROOTS = {"urlset": URLSET, "sitemapindex": SITEMAP_INDEX}


def iter_sitemap(body: bytes, document_url: str, limits: SitemapLimits = SitemapLimits()) -> Iterator[Parsed]:
    """The entries of an XML sitemap one at a time, in document order: `SitemapEntry` for a urlset's `<url>`,
    `SubSitemap` for an index's `<sitemap>`, `InvalidEntry` for either without a usable http(s) location.

    Raises `SitemapError` when the document is not a sitemap or is refused (SITEMAP_PARSE_ERROR), ends in an XML
    or gzip error (SITEMAP_TRUNCATED), or goes past a limit (SITEMAP_TOO_LARGE); entries yielded before stay valid.
    Relative locations are resolved against `document_url`.
    """
    reader = _BoundedReader(body, limits.max_bytes)
    events = etree.iterparse(
        reader, events=("start", "end"), resolve_entities=False, load_dtd=False, no_network=True,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )
    base = document_url if is_http_url(document_url) else None
    depth = 0  # 1: the root, 2: an entry (a child of the root), deeper: inside an entry
    count = 0
    inside = 0  # elements inside the current entry
    root_kind = None
    try:
        for event, element in events:
            if event == "start":
                depth += 1
                if depth == 1:
                    root_kind = _check_root(element)
                elif depth == 2:
                    inside = 0
                else:
                    inside += 1
                    if inside > MAX_ELEMENTS_PER_ENTRY:
                        # the tree of one entry is held until it ends: this bounds it
                        raise SitemapError(SITEMAP_TOO_LARGE,
                                           f"an entry with more than {MAX_ELEMENTS_PER_ENTRY} elements")
                continue
            depth -= 1
            if depth != 1:
                continue
            name = _localname(element)
            if (root_kind, name) in (_URL_CHILD, _SITEMAP_CHILD):
                count += 1
                if count > limits.max_entries:
                    raise SitemapError(SITEMAP_TOO_LARGE, f"more than {limits.max_entries} entries; the rest ignored")
                yield _entry(element, root_kind, base)
            # only one child of the root is kept in memory at a time
            element.clear(keep_tail=False)
            while element.getprevious() is not None:
                del element.getparent()[0]
    except etree.XMLSyntaxError as exc:
        if root_kind is None:
            raise SitemapError(SITEMAP_PARSE_ERROR, f"not well-formed XML: {exc}") from exc
        raise SitemapError(SITEMAP_TRUNCATED, f"XML error after {count} entries: {exc}") from exc
    if root_kind is None:
        raise SitemapError(SITEMAP_PARSE_ERROR, "empty document")


_URL_CHILD = (URLSET, "url")
_SITEMAP_CHILD = (SITEMAP_INDEX, "sitemap")


def _check_root(element) -> str:
    info = element.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:
        raise SitemapError(SITEMAP_PARSE_ERROR, "document has a DOCTYPE; refused (sitemaps have none)")
    kind = _ROOTS.get(_localname(element))
    if kind is None:
        raise SitemapError(SITEMAP_PARSE_ERROR, f"root element <{_localname(element)}> is not a sitemap")
    return kind


def _localname(element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""  # entity references left unresolved, comments
    return tag.rpartition("}")[2]


def _text(element) -> str:
    # an unresolved entity reference ends .text: what precedes it is all that is read
    return (element.text or "").strip()


def _location(raw: str, base: str | None) -> tuple[str | None, str]:
    if not raw:
        return None, "no <loc>"
    if len(raw) > MAX_URL_LENGTH:
        return None, f"location longer than {MAX_URL_LENGTH} characters"
    if is_http_url(raw):
        return raw, ""
    url = urljoin(base, raw) if base else raw  # relative locations break the protocol but are common
    if not is_http_url(url):
        return None, "location is not an http(s) URL"
    return url, ""


def _entry(element, kind: str, base: str | None) -> Parsed:
    loc = lastmod = ""
    news = None
    for child in element:
        name = _localname(child)
        if name == "loc":
            loc = _text(child)
        elif name == "lastmod":
            lastmod = _text(child)
        elif name == "news" and kind == URLSET:
            news = child
    url, problem = _location(loc, base)
    if url is None:
        return InvalidEntry(loc[:MAX_URL_LENGTH] or "(no loc)", problem)
    if kind == SITEMAP_INDEX:
        return SubSitemap(url, parse_w3c_datetime(lastmod))
    if news is None:
        return SitemapEntry(url, parse_w3c_datetime(lastmod))
    return _news_entry(url, parse_w3c_datetime(lastmod), news)


def _news_entry(url: str, lastmod: datetime | None, news) -> SitemapEntry:
    fields = {}
    for child in news.iter():
        name = _localname(child)
        if name in ("title", "publication_date", "keywords", "name", "language") and name not in fields:
            fields[name] = _text(child)
    keywords = tuple(dict.fromkeys(k.strip() for k in fields.get("keywords", "").split(",") if k.strip()))
    return SitemapEntry(
        url=url,
        lastmod=lastmod,
        title=fields.get("title") or None,
        publication_date=parse_w3c_datetime(fields.get("publication_date")),
        publication_name=fields.get("name") or None,
        language=(fields.get("language") or "").lower() or None,
        keywords=keywords[:MAX_KEYWORDS],
    )


def iter_text_sitemap(body: bytes, document_url: str, limits: SitemapLimits = SitemapLimits()) -> Iterator[Parsed]:
    """A plain-text sitemap (UTF-8, one URL a line; blank lines and '#' comments skipped), gzip or not:
    `SitemapEntry` per URL, `InvalidEntry` for a line that is not an http(s) URL. Same errors as `iter_sitemap`.

    Content cannot tell a text sitemap from a list of feed URLs: call this for a document reached as a sitemap
    (robots.txt `Sitemap:`, a sitemap index, discovery's fallbacks) that `sitemap_kind` does not recognise.
    """
    reader = io.BufferedReader(_RawAdapter(_BoundedReader(body, limits.max_bytes)), buffer_size=_CHUNK)
    count = 0
    while True:
        raw = reader.readline(MAX_URL_LENGTH * 4)
        if not raw:
            return
        line = raw.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
        if not line or line.startswith("#"):
            continue
        count += 1
        if count > limits.max_entries:
            raise SitemapError(SITEMAP_TOO_LARGE, f"more than {limits.max_entries} entries; the rest ignored")
        if len(line) > MAX_URL_LENGTH or not is_http_url(line):
            yield InvalidEntry(line[:MAX_URL_LENGTH], "line is not an http(s) URL")
        else:
            yield SitemapEntry(line)


class _RawAdapter(io.RawIOBase):
    def __init__(self, reader: _BoundedReader):
        self._reader = reader

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._reader.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)


def read_sitemap(body: bytes, document_url: str, limits: SitemapLimits = SitemapLimits(),
                 text: bool = False) -> Listing:
    """A whole sitemap as a `Listing`: a urlset's entries as `FeedItem`s (feed_url = `document_url`), an index's
    sub-sitemaps as `sources`, unusable entries and a truncation as `unusable`. `text=True` reads it as a
    plain-text sitemap when it is not XML. Repeated URLs are listed once.

    Raises `SitemapError` only when nothing at all could be read.
    """
    kind = sitemap_kind(body)
    if text and kind is None and not _looks_like_xml(body):
        kind, entries = TEXT_SITEMAP, iter_text_sitemap(body, document_url, limits)
    else:
        entries = iter_sitemap(body, document_url, limits)
    items: dict[str, FeedItem] = {}
    sources: dict[str, SubSitemap] = {}
    unusable = []
    complete = True
    try:
        for entry in entries:
            if isinstance(entry, SitemapEntry):
                if entry.url not in items:  # converted at once: the entries themselves are not all kept
                    items[entry.url] = entry_item(entry, document_url)
            elif isinstance(entry, SubSitemap):
                sources.setdefault(entry.url, entry)
            else:
                unusable.append(Unusable(entry.value, INVALID_URL, f"{entry.detail} (in {document_url})"))
    except SitemapError as exc:
        if not (items or sources or unusable):
            raise
        complete = False
        unusable.append(Unusable(document_url, exc.reason, exc.detail))
    if kind == TEXT_SITEMAP and unusable and not items:
        # a document of which no line is a URL is not a text sitemap; its lines are not dead letters one by one
        raise SitemapError(SITEMAP_PARSE_ERROR, f"not a sitemap: none of its first {len(unusable)} lines is a URL")
    if kind is None:  # the root was past the sniffed head
        kind = SITEMAP_INDEX if sources else URLSET
    return Listing(
        kind=kind,
        url=document_url,
        items=tuple(items.values()),
        sources=tuple(sources.values()),
        unusable=tuple(unusable),
        complete=complete,
    )


def _looks_like_xml(body: bytes) -> bool:
    try:
        head = _BoundedReader(body, MAX_BYTES, whole=False).read(1024)
    except SitemapError:
        return False
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def entry_item(entry: SitemapEntry, sitemap_url: str) -> FeedItem:
    """The article candidate a sitemap entry stands for (news fields mapped to the feed title, title and date)."""
    return FeedItem(
        url=entry.url,
        canonical_url=canonicalize_url(entry.url),
        feed_url=sitemap_url,
        feed_title=entry.publication_name,
        title=entry.title,
        published_at=entry.published_at,
        language_hint=entry.language,
        keywords=entry.keywords,
    )
