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
TOO_MANY_REDIRECTS = "too_many_redirects"
BAD_REDIRECT = "bad_redirect"
DECODE_ERROR = "content_decode_error"
INVALID_URL = "invalid_url"
INTERNAL_ERROR = "internal_error"
HTTP_5XX = "http_5xx"

# extract stage
EMPTY_TEXT = "empty_text"
EXTRACTION_ERROR = "extraction_error"

# dedup stage (after extraction, when a page names its canonical URL)
DUPLICATE_CANONICAL = "duplicate_canonical"  # another listing in this run is the same page
SEEN_CANONICAL = "seen_canonical"  # an earlier run wrote this page under its canonical URL

# feed / source stages
FEED_PARSE_ERROR = "feed_parse_error"
SOURCE_UNREADABLE = "source_unreadable"
NESTED_LIST_IGNORED = "nested_list_ignored"
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
