"""Typed records that flow between pipeline stages.

One record type per stage boundary; the Parquet row shape lives in `newsbeam.schemas.datasets`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Optional, Tuple



@dataclass(frozen=True)
class EntityMention:
    """A named entity found in an article's text (made by `newsbeam.entities`)."""

    text: str  # == original_text[start:end]
    label: str  # PERSON, ORG, GPE, LOC, NORP or EVENT
    start: int
    end: int
    entity_id: Optional[str]  # 'geonames:170794', 'wikidata:Q2429253', 'newsbeam:sdf', or None if not linked
    entity_name: Optional[str]


@dataclass(frozen=True)
class FeedItem:
    """An article candidate: an item of a feed, or a URL given directly (`feed_url` is None)."""

    url: str
    canonical_url: str
    feed_url: Optional[str] = None
    feed_title: Optional[str] = None
    title: Optional[str] = None
    guid: Optional[str] = None
    published_at: Optional[datetime] = None
    summary: Optional[str] = None
    # hints a listing gives about the article (Google News sitemaps, JSON Feed 1.1): not facts about the page
    language_hint: Optional[str] = None  # lower-case language code as listed, e.g. 'en', 'zh-cn'
    keywords: Tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedValidator:
    """What a feed answered last time: the validators for a conditional GET, and a hash of its body for
    servers whose validators cannot be trusted."""

    feed_url: str
    etag: Optional[str]
    last_modified: Optional[str]
    body_sha256: str
    fetched_at: datetime


@dataclass(frozen=True)
class FeedFetch:
    """The context of a feed source fetch."""

    depth: int  # 0: given by the user; 1: listed in a subscription list or a sitemap index
    previous: Optional[FeedValidator] = None
    sitemap_chain: Tuple[str, ...] = ()  # canonical URLs of the sitemap indexes that led here, outermost first
    as_sitemap: bool = False  # reached as a sitemap (an index, robots.txt, discovery): plain text is a text sitemap


@dataclass(frozen=True)
class FeedDocument:
    """The raw bytes of something given as a feed source (feed, OPML list or URL list)."""

    source: str  # the URL or path it was read from
    body: bytes
    content_type: Optional[str] = None
    depth: int = 0  # 0: given by the user; 1: listed in a subscription list
    validator: Optional[FeedValidator] = None  # this answer's validators, for the next run (URLs only)
    previous: Optional[FeedValidator] = None  # what the last run saw
    not_modified: bool = False  # the server answered 304 to a conditional GET
    base_url: Optional[str] = None  # where it was finally fetched from: relative item links resolve against it
    sitemap_chain: Tuple[str, ...] = ()  # as in FeedFetch
    as_sitemap: bool = False
    warc: Optional["WarcPointer"] = None  # the archived response it came in, when archived


@dataclass(frozen=True)
class FetchRequest:
    """A URL to fetch, with the record it belongs to carried along unchanged."""

    url: str
    context: object  # FeedItem for articles, FeedFetch for feed sources
    headers: Tuple[Tuple[str, str], ...] = ()  # extra request headers (conditional GET)
    max_bytes: Optional[int] = None  # a larger body cap for this fetch (sources: 50 MB) than --max-bytes


@dataclass(frozen=True)
class WarcPointer:
    """Where a response is archived: the WARC-Record-ID of its response record and, once the archive is written,
    the file (relative to the output root) and the byte range of that gzip member."""

    record_id: str
    filename: Optional[str] = None
    offset: Optional[int] = None
    length: Optional[int] = None
    # the record's WARC-Truncated value ('length', 'time', 'disconnect', 'unspecified'): its body is only the part the
    # crawler kept (a foreign crawler's payload cap; newsbeam's own --max-bytes, deadline or a dropped connection)
    truncated: Optional[str] = None


@dataclass(frozen=True)
class FetchedPage:
    """A successful HTTP exchange: 2xx after redirects, body within the size cap."""

    request: FetchRequest
    final_url: str
    status: int
    content_type: Optional[str]
    header_charset: Optional[str]
    body: bytes
    fetched_at: datetime
    attempts: int
    redirects: Tuple[str, ...] = ()
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    content_location: Optional[str] = None  # the Content-Location header: a feed's base URL when given
    exchanges: Tuple[object, ...] = ()  # newsbeam.http.RawExchange of every response on the way (archive)
    warc: Optional[WarcPointer] = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class FetchFailure:
    """A URL that could not be fetched, with a stable reason code (see `newsbeam.reasons`)."""

    request: FetchRequest
    reason: str
    detail: str
    failed_at: datetime
    http_status: Optional[int] = None
    attempts: int = 0
    final_url: Optional[str] = None
    exchanges: Tuple[object, ...] = ()  # newsbeam.http.RawExchange of every response on the way (archive)
    warc: Optional[WarcPointer] = None


@dataclass(frozen=True)
class ExtractedArticle:
    """Clean text and metadata of one fetched page."""

    item: FeedItem
    final_url: str
    canonical_url: str  # the page's own <link rel=canonical> when on the same site, else the item's
    http_status: int
    content_type: Optional[str]
    encoding: str
    fetched_at: datetime
    attempts: int
    title: Optional[str]
    authors: Tuple[str, ...]
    published_at: Optional[datetime]
    date_source: str  # 'html:json-ld', 'html:meta', 'html:text', 'url', 'feed', 'none' (newsbeam.dates)
    sitename: Optional[str]
    description: Optional[str]
    tags: Tuple[str, ...]
    text: str
    word_count: int
    content_hash: str
    # --- articles schema v3 (extraction): the publisher's day and offset, PDF page count
    published_local_date: Optional[date] = None
    published_utc_offset_minutes: Optional[int] = None
    page_count: Optional[int] = None  # PDF documents only
    # --- articles schema v4 (WARC archive)
    warc: Optional[WarcPointer] = None  # the archived response it was extracted from


@dataclass(frozen=True)
class Article:
    """An extracted article with its language: what the articles dataset stores."""

    extracted: ExtractedArticle
    language: str  # ISO 639-1, or 'und'
    language_score: float
    entities: Tuple[EntityMention, ...] = ()  # set by the entity stage
    topics: Tuple[str, ...] = ()  # watchlist topic ids, set by the entity stage
    duplicate_group: Optional[str] = None  # set by the near-duplicate stage


@dataclass(frozen=True)
class DeadLetter:
    """An element that could not become an article, with where and why."""

    url: Optional[str]  # a URL or path, or None (an invalid line of a list: the line is in `detail`)
    stage: str
    reason: str
    detail: str
    failed_at: datetime
    feed_url: Optional[str] = None
    http_status: Optional[int] = None
    attempts: int = 0
    warc: Optional[WarcPointer] = None  # the archived response, when there was one
