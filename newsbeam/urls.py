"""URLs: the one fetched, the dedup key (canonical form) and the stable ids derived from it (pure functions).

Two forms on purpose. `fetch_url` is the URL as listed, minus known tracking parameters and the fragment: servers
differ in what they treat as equivalent (`?1001` vs `?1002`, `;jsessionid=`, `//` in a Wayback URL), so nothing
else is touched. `canonicalize_url` is only a dedup key: it normalises what RFC 3986 says is equivalent (case of
scheme and host, default port, percent-encoding of unreserved characters, dot segments) and sorts the query,
but never drops a parameter that may identify a page.
"""
from __future__ import annotations

import re
from typing import List, Optional, Tuple
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes, urlsplit, urlunsplit

import idna
from urllib3.util import parse_url

# the ids are part of the output contract, defined with it; re-exported for the library's callers
from newsbeam.schemas.columns import article_id, registered_domain

# Parameters that only say where a click came from, never which page it is. Exact names (lower-case), plus the
# prefixes below; deliberately narrow: a broad pattern dropped page ids such as `pk_no=1412361`.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid", "igshid",
    "igsh", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "__hstc", "__hssc", "__hsfp", "mkt_tok",
    "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "rb_clickid", "s_cid", "xtor", "at_medium",
    "at_campaign", "ocid", "ncid", "cmpid", "__twitter_impression", "ref_src", "ref_url", "pk_campaign",
    "pk_kwd", "pk_source", "pk_medium", "pk_content", "piwik_campaign", "piwik_kwd", "mtm_source",
    "mtm_medium", "mtm_campaign", "mtm_keyword", "mtm_content", "mtm_cid", "mtm_group", "mtm_placement",
})
TRACKING_PREFIXES = ("utm_",)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# RFC 3986 pchar minus unreserved: kept as they are in a path, so `;jsessionid=` or `//` survive
_PATH_SAFE = "/:@!$&'()*+,;=%"

# the characters str.isspace() accepts, and control characters; ~10x faster than testing each one
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")

__all__ = ["article_id", "canonical_host", "canonicalize_url", "fetch_url", "host_key", "is_http_url",
           "registered_domain", "requested_url"]


def is_http_url(value: str) -> bool:
    """An http(s) URL with a host that can be looked up: a port in range, no spaces or controls, IDNA-valid labels."""
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and _SPACE_OR_CONTROL.search(value) is None
            and canonical_host(parts.hostname) is not None)


def canonical_host(host: str) -> Optional[str]:
    """A host name in one form, as a browser reads it (UTS-46 mapping, non-transitional as in the WHATWG URL
    standard): lower case, full-width letters and dots folded, no trailing dot, and each international label in its
    Unicode form (`XN--BCHER-KVA.example.` and `bücher.example` -> `bücher.example`). None when a label is not
    valid IDNA (`xn--zz`, an emoji, a stray joiner): no client can look such a host up.

    ASCII labels are only lower-cased: `_` and odd hyphens are common in real host names and browsers accept them.
    IP literals are returned as they are."""
    host = host.lower()
    if host.isascii() and "xn--" not in host or ":" in host:
        return host.rstrip(".") or None  # `.` alone (the DNS root) names no server
    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False).rstrip(".")
        labels = [label if label.isascii() and not label.startswith("xn--")
                  else idna.ulabel(label if label.isascii() else idna.alabel(label))
                  for label in mapped.split(".")]
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    return ".".join(labels) or None


def is_tracking_param(name: str) -> bool:
    """`name` is a raw (maybe percent-encoded) query parameter name."""
    key = unquote_to_bytes(name).decode("utf-8", "replace").strip().lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _split_query(query: str) -> List[str]:
    return [part for part in query.split("&") if part]


def _drop_tracking(query: str) -> Tuple[str, bool]:
    """The query without tracking parameters, byte for byte otherwise, and whether anything was dropped."""
    parts = _split_query(query)
    kept = [part for part in parts if not is_tracking_param(part.split("=", 1)[0])]
    return "&".join(kept), len(kept) != len(parts)


def fetch_url(url: str) -> str:
    """The URL to request for a listed URL: as listed, minus known tracking parameters and the fragment."""
    url = url.strip()
    base, hash_sign, _ = url.partition("#")
    path_part, question, query = base.partition("?")
    if not question:
        return base
    kept, dropped = _drop_tracking(query)
    if not dropped:
        return base
    return f"{path_part}?{kept}" if kept else path_part


def _normalise_escapes(text: str) -> str:
    """Unreserved characters unescaped (`%7E` -> `~`), other escapes upper-case (`%2f` -> `%2F`)."""
    def one(match: "re.Match[str]") -> str:
        byte = int(match.group(1), 16)
        return chr(byte) if byte in _UNRESERVED else "%" + match.group(1).upper()
    return _ESCAPE.sub(one, text)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: what an HTTP client sends for `/a/../b` and `/./b`."""
    if not path.startswith("/") or "/." not in path:
        return path
    return parse_url("http://h" + path).path or "/"


def _canonical_path(path: str) -> str:
    path = quote(_normalise_escapes(path), safe=_PATH_SAFE)
    return _remove_dot_segments(path) or "/"


def _canonical_query_part(part: str) -> Tuple[str, str]:
    """(sort key, text) for one `name=value` or bare `token`: escapes and `+` made uniform, byte-exact."""
    def encode(text: str, safe: str) -> str:
        return quote_from_bytes(unquote_to_bytes(text.replace("+", " ")), safe=safe).replace("%20", "+")
    if "=" in part:
        name, value = part.split("=", 1)
        name, value = encode(name, ""), encode(value, "")
        return name, f"{name}={value}"
    token = encode(part, "/")
    return token, token


def _canonical_netloc(parts) -> str:
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0] + "@" if len(netloc) == 2 else ""
    hostname = parts.hostname or ""
    host = canonical_host(hostname)
    if host is None:  # not a valid host (is_http_url refuses it): a key all the same, never an exception
        host = hostname.rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return parts.netloc.lower()
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    return userinfo + host


def canonicalize_url(url: str) -> str:
    """The dedup key of a URL: lower-case scheme and host, default port and fragment removed, escapes of
    unreserved characters decoded, dot segments resolved, tracking parameters (utm_*, fbclid, gclid, ...)
    removed and the remaining query parameters sorted (stably, so repeated names keep their order).

    Every other parameter is kept, value-less ones (`?1001`, `?news/2024/a`) included, so that two different
    pages never share a key.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # a malformed authority (`[` unclosed, NFKC tricks): not a URL (is_http_url refuses it)
        return url.strip()
    if not parts.netloc:  # no authority (`http:////`, `mailto:`): nothing to normalise, and the key stays stable
        return url.strip()
    scheme = parts.scheme.lower()
    query_parts = [_canonical_query_part(part) for part in _split_query(_drop_tracking(parts.query)[0])]
    query = "&".join(text for _, text in sorted(query_parts, key=lambda item: item[0]))
    return urlunsplit((scheme, _canonical_netloc(parts), _canonical_path(parts.path), query, ""))


def requested_url(url: str) -> str:
    """The URL exactly as urllib3 will request it (dot segments resolved, invalid characters escaped): robots.txt
    is checked against this, not against the listed spelling."""
    return parse_url(url).url


def host_key(url: str) -> str:
    """The politeness unit: scheme, host and port (robots.txt is per origin)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    default = _DEFAULT_PORTS.get(parts.scheme)
    hostname = parts.hostname or ""
    host = canonical_host(hostname) or hostname  # one server, one politeness unit, however its name is spelled
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" if port in (None, default) else f"{parts.scheme}://{host}:{port}"
