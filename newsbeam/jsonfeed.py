"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1): detection and parsing into feed items (pure
functions, no network)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin

from newsbeam.listings import INVALID_URL, JSON_FEED_PARSE_ERROR, JSON_FEED_TOO_LARGE, Listing, Unusable
from newsbeam.mediatypes import media_type
from newsbeam.schemas.records import FeedItem
from newsbeam.urls import canonicalize_url, is_http_url
from newsbeam.w3cdates import parse_w3c_datetime

JSON_FEED = "json_feed"
MAX_BYTES = 20 * 1024 * 1024
MAX_ITEMS = 50_000
_VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")


class JsonFeedError(ValueError):
    """A document that is not a readable JSON Feed. `reason` is a stable dead-letter code."""

    reason = JSON_FEED_PARSE_ERROR


@dataclass(frozen=True)
class JsonFeedItem:
    url: str  # the item's `url`, else its `external_url`, resolved to an absolute http(s) URL
    id: str | None = None
    title: str | None = None
    summary: str | None = None
    published_at: datetime | None = None  # `date_published`, else `date_modified`
    language: str | None = None  # 1.1: the item's `language`, else the feed's


@dataclass(frozen=True)
class JsonFeed:
    version: str
    title: str | None
    home_page_url: str | None
    feed_url: str | None
    items: tuple[JsonFeedItem, ...]
    unusable: tuple[str, ...]  # items without a usable http(s) URL, by id or title
    ignored: int = 0  # items past `max_items`


def is_json_feed(body: bytes) -> bool:
    """Whether the document looks like a JSON Feed: a JSON object with a jsonfeed.org `version` URL in its first
    or last 4 KB (writers put `version` first, as the spec's examples do, or last, when they sort keys)."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{"):
        return False
    return any(b"jsonfeed.org/version/" in part.replace(b"\\/", b"/") for part in (head, body[-4096:]))


def parse_json_feed(body: bytes, document_url: str, max_items: int = MAX_ITEMS) -> JsonFeed:
    """The feed's items, in document order. Relative URLs are resolved against the feed's `feed_url`, else its
    `home_page_url`, else `document_url`. Raises `JsonFeedError` for anything that is not a JSON Feed object."""
    if len(body) > MAX_BYTES:
        raise JsonFeedError(f"{len(body)} bytes, over the {MAX_BYTES}-byte limit")
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise JsonFeedError(f"not JSON: {str(exc)[:200]}") from exc
    if not isinstance(document, dict):
        raise JsonFeedError("not a JSON object")
    version = document.get("version")
    if not isinstance(version, str) or not version.startswith(_VERSION_PREFIXES):
        raise JsonFeedError("no jsonfeed.org version")
    entries = document.get("items")
    if not isinstance(entries, list):
        raise JsonFeedError("no 'items' list")
    base = _base_url(document, document_url)
    language = _string(document.get("language"))
    items = []
    unusable = []
    for position, entry in enumerate(entries[:max_items]):
        if not isinstance(entry, dict):
            unusable.append(f"item {position}")
            continue
        url = (_absolute(entry.get("url"), base) or _absolute(entry.get("external_url"), base)
               or _pdf_attachment(entry.get("attachments"), base))
        if url is None:
            unusable.append(_identifier(entry.get("id")) or _string(entry.get("title")) or f"item {position}")
            continue
        items.append(JsonFeedItem(
            url=url,
            id=_identifier(entry.get("id")),
            title=_string(entry.get("title")),
            summary=_string(entry.get("summary")),
            published_at=parse_w3c_datetime(_string(entry.get("date_published")))
            or parse_w3c_datetime(_string(entry.get("date_modified"))),
            language=(_string(entry.get("language")) or language),
        ))
    return JsonFeed(
        version=version,
        title=_string(document.get("title")),
        home_page_url=_absolute(document.get("home_page_url"), document_url),
        feed_url=_absolute(document.get("feed_url"), document_url),
        items=tuple(items),
        unusable=tuple(unusable),
        ignored=max(0, len(entries) - max_items),
    )


def _pdf_attachment(attachments, base: str | None) -> str | None:
    """An item whose only document is a PDF attachment (a report, a ruling): newsbeam reads PDFs, so the PDF is the
    article, as with an RSS enclosure. Audio and video attachments (podcasts) are not articles."""
    if not isinstance(attachments, list):
        return None
    for attachment in attachments:
        if isinstance(attachment, dict) and media_type(_string(attachment.get("mime_type"))) == "application/pdf":
            url = _absolute(attachment.get("url"), base)
            if url:
                return url
    return None


def _string(value) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _identifier(value) -> str | None:
    # the spec says a string, but numbers are common ("id": 1234); booleans are not ids
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return _string(value)


def _absolute(value, base: str | None) -> str | None:
    text = _string(value)
    if text is None:
        return None
    if is_http_url(text):
        return text
    if base is None:
        return None
    try:
        url = urljoin(base, text)
    except ValueError:
        return None
    return url if is_http_url(url) else None


def _base_url(document: dict, document_url: str) -> str | None:
    own = document_url if is_http_url(document_url) else None
    for key in ("feed_url", "home_page_url"):
        url = _absolute(document.get(key), own)
        if url:
            return url
    return own


def read_json_feed(body: bytes, document_url: str, max_items: int = MAX_ITEMS) -> Listing:
    """A JSON Feed as a `Listing` of `FeedItem`s (feed_url = `document_url`); raises `JsonFeedError`."""
    feed = parse_json_feed(body, document_url, max_items)
    items = tuple(
        FeedItem(
            url=item.url,
            canonical_url=canonicalize_url(item.url),
            feed_url=document_url,
            feed_title=feed.title,
            title=item.title,
            guid=item.id,
            published_at=item.published_at,
            summary=item.summary,
            language_hint=item.language.lower() if item.language else None,
        )
        for item in feed.items
    )
    unusable = [Unusable(value, INVALID_URL, "JSON Feed item without an http(s) url") for value in feed.unusable]
    if feed.ignored:
        unusable.append(Unusable(document_url, JSON_FEED_TOO_LARGE,
                                 f"{feed.ignored} items past the first {max_items} ignored"))
    return Listing(kind=JSON_FEED, url=document_url, title=feed.title, items=items, unusable=tuple(unusable),
                   complete=not feed.ignored)
