"""robots.txt: parsing and the allow check (pure functions; the download and cache are in `newsbeam.fetching`)."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from newsbeam.urls import canonicalize_url, requested_url

# Google parses the first 500 KiB and ignores the rest; RFC 9309 asks for at least that much.
PARSE_BYTES = 500 * 1024


def parse_robots(body: bytes, truncated: bool = False) -> Protego:
    """Rules from a robots.txt body: a UTF-8 byte order mark is not part of the first line, and a body cut at
    `PARSE_BYTES` loses its unfinished last line (half a path would be a different rule)."""
    body = body[:PARSE_BYTES]
    if truncated or len(body) == PARSE_BYTES:
        body = body[: body.rfind(b"\n") + 1]
    return Protego.parse(body.decode("utf-8-sig", errors="replace"))


def _forms(url: str):
    """The URL as the HTTP client will request it (dot segments resolved), and its path normalised further
    (escaped unreserved characters decoded), since servers treat both as the same resource."""
    try:
        requested = requested_url(url)
    except ValueError:
        return [url]
    parts = urlsplit(requested)
    path = urlsplit(canonicalize_url(requested)).path
    return [requested, urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))]


def robots_allows(rules: Protego, url: str, user_agent: str) -> bool:
    """False if any spelling of `url` that reaches the same resource is disallowed (`/./secret/` is `/secret/`)."""
    return all(rules.can_fetch(form, user_agent) for form in _forms(url))
