"""Stable dead-letter reason codes. Analysts filter on these: add codes, never rename them."""
from __future__ import annotations

# fetch stage (articles); feeds use the same codes prefixed with 'feed_'
TIMEOUT = "timeout"
CONNECTION_ERROR = "connection_error"
TLS_ERROR = "tls_error"
TOO_LARGE = "too_large"
NOT_HTML = "not_html"
NOT_A_FEED = "not_a_feed"
ROBOTS_DISALLOWED = "robots_disallowed"
ROBOTS_UNREACHABLE = "robots_unreachable"
HOST_UNREACHABLE = "host_unreachable"  # not requested: the host's last attempts went unanswered (circuit breaker)
TOO_MANY_REDIRECTS = "too_many_redirects"
BAD_REDIRECT = "bad_redirect"
DECODE_ERROR = "content_decode_error"
INVALID_URL = "invalid_url"
INTERNAL_ERROR = "internal_error"
HTTP_5XX = "http_5xx"
BLOCKED_ADDRESS = "blocked_address"  # loopback, private, link-local ... without --allow-private-addresses

# extract stage
EMPTY_TEXT = "empty_text"
EXTRACTION_ERROR = "extraction_error"
EXTRACTION_TIMEOUT = "extraction_timeout"  # over --extract-timeout (hostile or pathological markup)
PDF_ENCRYPTED = "pdf_encrypted"
PDF_ERROR = "pdf_error"  # unreadable or truncated PDF
# TOO_LARGE (above) also: a PDF of more than --max-pdf-pages pages

# dedup stage (after extraction, when a page names its canonical URL)
DUPLICATE_CANONICAL = "duplicate_canonical"  # another listing in this run is the same page
SEEN_CANONICAL = "seen_canonical"  # an earlier run wrote this page under its canonical URL

# feed / source stages
FEED_PARSE_ERROR = "feed_parse_error"
SOURCE_UNREADABLE = "source_unreadable"
NESTED_LIST_IGNORED = "nested_list_ignored"
NO_ARTICLE_LINK = "no_article_link"  # a feed entry with no http(s) link to an article (enclosure only, guid only)
FEED_ENTITY_EXPANSION = "feed_entity_expansion"  # internal DTD entities that would blow the document up
FEED_READER_ERROR = "feed_reader_error"  # the reading code failed on this document (a bug to report)
SITEMAP_PARSE_ERROR = "sitemap_parse_error"  # not a sitemap, refused DTD, or nothing readable before an XML error
SITEMAP_TRUNCATED = "sitemap_truncated"  # an XML or gzip error after some entries: those entries are kept
SITEMAP_TOO_LARGE = "sitemap_too_large"  # over the inflated-size or entry cap: the entries before the cap are kept
SITEMAP_DEPTH = "sitemap_depth"  # a sitemap index nested deeper than allowed
SITEMAP_LOOP = "sitemap_loop"  # a sitemap index that lists itself or an ancestor
JSON_FEED_PARSE_ERROR = "json_feed_parse_error"  # not JSON, not a JSON Feed object, or over the size cap
JSON_FEED_TOO_LARGE = "json_feed_too_large"  # more items than the cap: the first ones are kept
DISCOVERY_NOTHING_FOUND = "discovery_nothing_found"  # a --sites homepage with no feed and no sitemap
WARC_DAMAGED = "warc_damaged"  # a WARC/ARC record that cannot be read; reading goes on with the next file

# stages
STAGE_SOURCE = "source"
STAGE_FEED = "feed"
STAGE_FETCH = "fetch"
STAGE_EXTRACT = "extract"
STAGE_DEDUP = "dedup"

# stages whose dead letters stand for one input article URL (the others stand for a feed or source)
ARTICLE_STAGES = (STAGE_FETCH, STAGE_EXTRACT, STAGE_DEDUP)


def http_reason(status: int) -> str:
    """`http_404`, `http_429` ... for client errors (each is its own story); `http_5xx` for any server error."""
    if status >= 500:
        return HTTP_5XX
    return f"http_{status}"


def feed_reason(fetch_reason: str) -> str:
    return f"feed_{fetch_reason}"
