"""URL normalisation and the stable ids derived from it (pure functions)."""
from __future__ import annotations

from urllib.parse import urldefrag, urlsplit

from courlan import normalize_url

# the ids are part of the output contract, defined with it; re-exported for the library's callers
from newsbeam.schemas.columns import article_id, registered_domain

__all__ = ["article_id", "canonicalize_url", "host_key", "is_http_url", "registered_domain"]


def is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # raises on a port that is not a number in range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in value)


def canonicalize_url(url: str) -> str:
    """The URL an article is known by: lower-case scheme and host, default port, tracking parameters
    (utm_*, fbclid, gclid, ...) and the fragment removed, remaining query parameters sorted.

    courlan does the normalising; its non-strict mode keeps every parameter it does not recognise as a tracker,
    so two different stories behind `?id=1` and `?id=2` never merge.
    """
    normalized = normalize_url(url.strip(), strict=False)
    return urldefrag(normalized).url


def host_key(url: str) -> str:
    """The politeness unit: scheme, host and port (robots.txt is per origin)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = (parts.hostname or "").lower()
    return f"{parts.scheme}://{host}" if port in (None, default) else f"{parts.scheme}://{host}:{port}"
