"""One entry point for the source kinds beyond RSS/Atom, OPML and URL lists: which one a document is, and its
`Listing` (pure functions). The source reader needs one branch: `if listing_kind(body): return read_listing(...)`.

sitemaps.org lets an RSS or Atom feed serve as a sitemap: a document reached as a sitemap that `listing_kind` does
not recognise and that starts with `<` goes to the feed parser; one that does not is a text sitemap
(`read_listing(..., as_sitemap=True)`)."""
from __future__ import annotations

from newsbeam.jsonfeed import JSON_FEED, JsonFeedError, is_json_feed, read_json_feed
from newsbeam.listings import Listing, Unusable
from newsbeam.sitemaps import (
    SITEMAP_INDEX,
    TEXT_SITEMAP,
    URLSET,
    SitemapError,
    SitemapLimits,
    read_sitemap,
    sitemap_kind,
)

KINDS = (JSON_FEED, URLSET, SITEMAP_INDEX, TEXT_SITEMAP)
UNKNOWN = "unknown"


def listing_kind(body: bytes) -> str | None:
    """JSON_FEED, URLSET or SITEMAP_INDEX from the document's content (gzip looked into), else None: an RSS/Atom
    feed, OPML, a URL list, HTML or junk, which the existing reader handles."""
    if is_json_feed(body):
        return JSON_FEED
    return sitemap_kind(body)


def read_listing(body: bytes, url: str, as_sitemap: bool = False, limits: SitemapLimits | None = None) -> Listing:
    """The `Listing` of a JSON Feed or sitemap; never raises. `as_sitemap`: the document was reached as a sitemap
    (robots.txt, a sitemap index, discovery), so a plain-text document is a text sitemap. A document that cannot
    be read gives `read=False` and its reason in `unusable`."""
    kind = listing_kind(body)
    try:
        if kind == JSON_FEED:
            return read_json_feed(body, url)
        return read_sitemap(body, url, limits or SitemapLimits(), text=as_sitemap)
    except (SitemapError, JsonFeedError) as exc:
        return Listing(kind=kind or (TEXT_SITEMAP if as_sitemap else UNKNOWN), url=url, complete=False, read=False,
                       unusable=(Unusable(url, exc.reason, str(exc)),))
