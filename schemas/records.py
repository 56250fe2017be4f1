"""Typed records that flow between pipeline stages.

One record type per stage boundary; the Parquet row shape lives in `schemas.datasets`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Tuple


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


@dataclass(frozen=True)
class FeedDocument:
    """The raw bytes of something given as a feed source (feed, OPML list or URL list)."""

    source: str  # the URL or path it was read from
    body: bytes
    content_type: Optional[str] = None
    depth: int = 0  # 0: given by the user; 1: listed in a subscription list


@dataclass(frozen=True)
class FetchRequest:
    """A URL to fetch, with the record it belongs to carried along unchanged."""

    url: str
    context: object  # FeedItem for articles, the source depth (int) for feeds


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


@dataclass(frozen=True)
class ExtractedArticle:
    """Clean text and metadata of one fetched page."""

    item: FeedItem
    final_url: str
    http_status: int
    content_type: Optional[str]
    encoding: str
    fetched_at: datetime
    attempts: int
    title: Optional[str]
    authors: Tuple[str, ...]
    published_at: Optional[datetime]
    date_source: str  # 'html', 'feed' or 'none'
    sitename: Optional[str]
    description: Optional[str]
    tags: Tuple[str, ...]
    text: str
    word_count: int
    content_hash: str


@dataclass(frozen=True)
class Article:
    """An extracted article with its language: what the articles dataset stores."""

    extracted: ExtractedArticle
    language: str  # ISO 639-1, or 'und'
    language_score: float


@dataclass(frozen=True)
class DeadLetter:
    """An element that could not become an article, with where and why."""

    url: str
    stage: str
    reason: str
    detail: str
    failed_at: datetime
    feed_url: Optional[str] = None
    http_status: Optional[int] = None
    attempts: int = 0

