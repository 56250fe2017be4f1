"""Feed sources: telling feeds, OPML lists and URL lists apart, and reading each (pure functions)."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, List, Optional, Tuple

import feedparser
import listparser

from newsbeam import reasons
from newsbeam.urls import canonicalize_url, is_http_url
from newsbeam.schemas.records import FeedItem

FEED = "feed"
OPML = "opml"
URL_LIST = "url_list"
UNKNOWN = "unknown"


def classify_document(body: bytes) -> str:
    """What a source document is, from its first bytes (servers mislabel content types too often to trust)."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<opml" in head:
        return OPML
    if head.startswith(b"<") and any(tag in head for tag in (b"<rss", b"<feed", b"<rdf", b"<channel")):
        return FEED
    if head.startswith(b"<"):
        return FEED  # XML or HTML: let feedparser decide, it reports why it fails
    lines = [line.strip() for line in _text_lines(body)]
    if lines and all(is_http_url(line) for line in lines):
        return URL_LIST
    return UNKNOWN


def _text_lines(body: bytes) -> Iterable[str]:
    for raw in body.decode("utf-8", errors="replace").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            yield line


def parse_url_list(body: bytes) -> List[str]:
    """One URL a line; blank lines and '#' comments skipped; order kept, repeats dropped."""
    return list(dict.fromkeys(_text_lines(body)))


def parse_opml(body: bytes) -> List[str]:
    """Feed URLs of an OPML subscription list, nested outlines included (listparser flattens them)."""
    result = listparser.parse(body.decode("utf-8", errors="replace"))
    return list(dict.fromkeys(feed.url for feed in result.feeds if feed.url))


class FeedParseError(ValueError):
    pass


def _entry_time(entry) -> Optional[datetime]:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc)


def parse_feed(
    body: bytes, feed_url: str, content_type: Optional[str] = None
) -> Tuple[Optional[str], List[FeedItem], List[str]]:
    """Items of an RSS/Atom feed: (feed title, items, entries without a usable http(s) link, by id or title).

    Ill-formed ("bozo") feeds are used as far as feedparser recovers them; a document that yields no entries
    at all raises `FeedParseError` with feedparser's reason.
    """
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(body, response_headers=headers)
    if not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise FeedParseError(f"no entries: {problem}" if problem else "no entries in feed")
    title = parsed.feed.get("title") or None
    items: List[FeedItem] = []
    unusable: List[str] = []
    for entry in parsed.entries:
        link = (entry.get("link") or "").strip()
        if not is_http_url(link) and is_http_url(entry.get("id") or ""):
            link = entry["id"].strip()  # Atom feeds sometimes carry the permalink only as the id
        if not is_http_url(link):
            unusable.append(link or entry.get("id") or entry.get("title") or f"entry {len(items) + len(unusable)}")
            continue
        items.append(
            FeedItem(
                url=link,
                canonical_url=canonicalize_url(link),
                feed_url=feed_url,
                feed_title=title,
                title=entry.get("title") or None,
                guid=entry.get("id") or None,
                published_at=_entry_time(entry),
                summary=entry.get("summary") or None,
            )
        )
    return title, items, unusable


@dataclass(frozen=True)
class Rejected:
    """Something in a source document that becomes a dead letter."""

    url: str
    feed_url: str
    stage: str
    reason: str
    detail: str


@dataclass(frozen=True)
class SourceContents:
    kind: str  # FEED, OPML, URL_LIST or UNKNOWN
    read: bool = False  # a feed that parsed, or a subscription list that was expanded
    items: Tuple[FeedItem, ...] = ()  # a feed's entries with an http(s) link
    listed: Tuple[str, ...] = ()  # a subscription list's http(s) URLs
    rejected: Tuple[Rejected, ...] = ()


def read_source(body: bytes, source: str, content_type: Optional[str] = None, depth: int = 0) -> SourceContents:
    """What a source document holds, the same for batch and streaming. `depth` 0: given by the user, so a
    subscription list is expanded; deeper: listed in a list, where a list is reported, not followed (a loop of
    lists cannot run forever)."""
    kind = classify_document(body)
    if kind == FEED:
        try:
            _, items, unusable = parse_feed(body, source, content_type)
        except FeedParseError as exc:
            return SourceContents(kind, rejected=(
                Rejected(source, source, reasons.STAGE_FEED, reasons.FEED_PARSE_ERROR, str(exc)),))
        return SourceContents(kind, read=True, items=tuple(items), rejected=tuple(
            Rejected(entry, source, reasons.STAGE_FEED, reasons.INVALID_URL, "feed entry without an http(s) link")
            for entry in unusable))
    if kind in (OPML, URL_LIST):
        if depth > 0:
            return SourceContents(kind, rejected=(Rejected(
                source, source, reasons.STAGE_SOURCE, reasons.NESTED_LIST_IGNORED,
                f"a {kind} listed inside a subscription list is not followed"),))
        urls = parse_opml(body) if kind == OPML else parse_url_list(body)
        return SourceContents(kind, read=True, listed=tuple(url for url in urls if is_http_url(url)), rejected=tuple(
            Rejected(url, url, reasons.STAGE_SOURCE, reasons.INVALID_URL, f"listed in {source}")
            for url in urls if not is_http_url(url)))
    return SourceContents(kind, rejected=(Rejected(source, source, reasons.STAGE_FEED, reasons.FEED_PARSE_ERROR,
                                                   "neither a feed, an OPML list nor a list of URLs"),))
