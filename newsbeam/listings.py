"""What a sitemap or a JSON Feed lists, in the shape the source reader builds for RSS/Atom (pure data).

Kept apart from `newsbeam.sources` so the sitemap and JSON Feed parsers depend on nothing that is being rewritten;
`Listing` maps one to one onto `sources.SourceContents` (see docs/source-kinds.md, "Wiring").
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from newsbeam.schemas.records import FeedItem

# dead-letter reason codes (stage 'feed'), defined with the others in newsbeam.reasons
from newsbeam.reasons import (  # noqa: E402,F401 (re-exported for the parsers)
    INVALID_URL,
    JSON_FEED_PARSE_ERROR,
    JSON_FEED_TOO_LARGE,
    SITEMAP_DEPTH,
    SITEMAP_LOOP,
    SITEMAP_PARSE_ERROR,
    SITEMAP_TOO_LARGE,
    SITEMAP_TRUNCATED,
)


@dataclass(frozen=True)
class Unusable:
    """An entry of a listing that cannot become an item, or a problem with the listing itself."""

    value: str  # the entry's URL as written (or its id/title), or the listing's own URL
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class SubSitemap:
    """A `<sitemap>` of a sitemap index: a further listing to read, with its modification date."""

    url: str
    lastmod: datetime | None = None


@dataclass(frozen=True)
class Listing:
    """A parsed sitemap or JSON Feed.

    `items` are article candidates (http(s) URLs only), `sources` are further listings to read (the sub-sitemaps
    of a sitemap index), `unusable` are entries or problems that become dead letters. `complete` is False when
    the document was cut short (truncated, over a cap): the items read before that point are kept. `read` is False
    when nothing could be read at all (then `unusable` holds the one reason why).
    """

    kind: str
    url: str
    title: str | None = None
    items: tuple[FeedItem, ...] = ()
    sources: tuple[SubSitemap, ...] = ()
    unusable: tuple[Unusable, ...] = ()
    complete: bool = True
    read: bool = True
