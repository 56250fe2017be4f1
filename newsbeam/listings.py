"""What a sitemap or a JSON Feed lists, in the shape the source reader builds for RSS/Atom (pure data).

Kept apart from `newsbeam.sources` so the sitemap and JSON Feed parsers depend on nothing that is being rewritten;
`Listing` maps one to one onto `sources.SourceContents` (see docs/source-kinds.md, "Wiring").
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from newsbeam.schemas.records import FeedItem

# proposed dead-letter reason codes (stage 'feed'); see docs/source-kinds.md
SITEMAP_PARSE_ERROR = "sitemap_parse_error"  # not a sitemap, refused DTD, or nothing readable before an XML error
SITEMAP_TRUNCATED = "sitemap_truncated"  # an XML or gzip error after some entries: those entries are kept
SITEMAP_TOO_LARGE = "sitemap_too_large"  # over the inflated-size or entry cap: the entries before the cap are kept
SITEMAP_DEPTH = "sitemap_depth"  # a sitemap index nested deeper than allowed
SITEMAP_LOOP = "sitemap_loop"  # a sitemap index that lists itself or an ancestor
SITEMAP_BUDGET = "sitemap_budget"  # a site's sub-sitemaps over the per-run budget
JSON_FEED_PARSE_ERROR = "json_feed_parse_error"  # not JSON, not a JSON Feed object, or over the size cap
JSON_FEED_TOO_LARGE = "json_feed_too_large"  # more items than the cap: the first ones are kept
INVALID_URL = "invalid_url"  # the same code `newsbeam.reasons.INVALID_URL` has


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
