"""Feed and sitemap discovery from a site's homepage and robots.txt (pure functions, no network).

For a homepage: its `<link rel="alternate">` feeds (RSS, Atom, RDF, JSON Feed types), its robots.txt `Sitemap:`
lines, and, when robots.txt names none, the conventional `/sitemap.xml` locations to try. News sitemaps come first;
every count is bounded. The caller fetches robots.txt, the homepage and the candidates through the polite fetcher.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

from lxml import etree
from protego import Protego

from newsbeam.mediatypes import media_type
from newsbeam.urls import canonicalize_url, host_key, is_http_url

# what a discovered source is
RSS = "rss"
ATOM = "atom"
RDF = "rdf"
JSON_FEED = "json_feed"
SITEMAP = "sitemap"

# where it was found
LINK_ALTERNATE = "link_alternate"
ROBOTS_TXT = "robots_txt"
FALLBACK = "fallback"

# <link type> values that announce a feed (trafilatura's list, minus the bare application/json that WordPress uses
# for its REST API links, plus JSON Feed's registered type)
FEED_TYPES = {
    "application/rss+xml": RSS,
    "application/x-rss+xml": RSS,
    "application/atom+xml": ATOM,
    "application/x.atom+xml": ATOM,
    "application/x-atom+xml": ATOM,
    "application/rdf+xml": RDF,
    "application/feed+json": JSON_FEED,
    "text/xml": RSS,
}
# tried in this order when robots.txt names no sitemap (WordPress/Yoast's index is the next most common name)
FALLBACK_PATHS = ("/sitemap.xml", "/sitemap_index.xml")
REDISCOVER_DAYS = 7


@dataclass(frozen=True)
class DiscoveryLimits:
    max_feeds: int = 5
    max_sitemaps: int = 5
    max_html_bytes: int = 2 * 1024 * 1024  # feed links are in <head>: the start of a homepage is enough
    max_robots_bytes: int = 512 * 1024  # Google reads the first 500 KiB of a robots.txt


@dataclass(frozen=True)
class DiscoveredSource:
    url: str
    kind: str  # RSS, ATOM, RDF, JSON_FEED or SITEMAP (a sitemap's exact kind is known once it is read)
    found_in: str  # LINK_ALTERNATE, ROBOTS_TXT or FALLBACK
    title: str | None = None


@dataclass(frozen=True)
class Discovery:
    """What one site offers: feeds and sitemaps to poll, in preference order. `fallback` is True when the sitemaps
    are guesses (robots.txt named none): a 404 on one of them is expected, not an error."""

    site: str
    feeds: tuple[DiscoveredSource, ...] = ()
    sitemaps: tuple[DiscoveredSource, ...] = ()
    fallback: bool = False

    @property
    def sources(self) -> tuple[DiscoveredSource, ...]:
        return self.feeds + self.sitemaps


def homepage_url(site: str) -> str | None:
    """A `--sites` entry as a homepage URL: `example.com` and `//example.com` become `https://example.com/`; an
    http(s) URL is kept; anything else is None."""
    value = site.strip()
    if not value or any(c.isspace() for c in value):
        return None
    if "://" not in value:
        value = "https://" + value.lstrip("/")
    if not is_http_url(value):
        return None
    parts = urlsplit(value)
    return value if parts.path else parts._replace(path="/").geturl()


def read_sites(body: bytes, max_sites: int = 10_000) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A `--sites` file: one homepage or host name a line, blank lines and '#' comments skipped. Returns the
    homepages (one per origin, first spelling kept, at most `max_sites`) and the lines that are not sites."""
    sites: dict[str, str] = {}
    invalid: list[str] = []
    for raw in body.decode("utf-8", errors="replace").splitlines():
        line = raw.strip().lstrip("\ufeff")
        if not line or line.startswith("#"):
            continue
        home = homepage_url(line)
        if home is None:
            invalid.append(line[:2048])
        elif len(sites) < max_sites:
            sites.setdefault(host_key(home), home)
    return tuple(sites.values()), tuple(invalid)


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def feed_links(html: bytes, base_url: str, limits: DiscoveryLimits = DiscoveryLimits()) -> tuple[DiscoveredSource, ...]:
    """The feeds a page announces with `<link rel="alternate" type="...">`, in document order, resolved against
    the page's `<base href>` or `base_url`; comment feeds left out; at most `limits.max_feeds`."""
    if not html or not html.strip():
        return ()
    parser = etree.HTMLParser(no_network=True, remove_comments=True, remove_pis=True, recover=True)
    try:
        root = etree.fromstring(html[:limits.max_html_bytes], parser)
    except (etree.ParserError, ValueError):
        return ()
    if root is None:
        return ()
    base = base_url
    for element in root.iter("base"):
        href = (element.get("href") or "").strip()
        if href:
            joined = _join(base_url, href)
            base = joined if joined and is_http_url(joined) else base_url
        break
    found: dict[str, DiscoveredSource] = {}
    for element in root.iter("link"):
        rels = (element.get("rel") or "").lower().split()
        kind = FEED_TYPES.get(media_type(element.get("type")))
        if "alternate" not in rels or kind is None:
            continue
        url = _join(base, (element.get("href") or "").strip())
        if url is None or _is_comment_feed(url, element.get("title")):
            continue
        title = (element.get("title") or "").strip() or None
        found.setdefault(canonicalize_url(url), DiscoveredSource(url, kind, LINK_ALTERNATE, title))
        if len(found) >= limits.max_feeds:
            break
    return tuple(found.values())


def robots_sitemaps(robots_txt: str | bytes, robots_location: str,
                    limits: DiscoveryLimits = DiscoveryLimits()) -> tuple[DiscoveredSource, ...]:
    """The `Sitemap:` lines of a robots.txt (read by protego, as the fetcher reads the rules), resolved against
    the robots.txt URL, repeats dropped, news sitemaps first, at most `limits.max_sitemaps`."""
    if isinstance(robots_txt, bytes):
        robots_txt = robots_txt[:limits.max_robots_bytes].decode("utf-8", errors="replace")
    else:
        robots_txt = robots_txt[:limits.max_robots_bytes]
    listed = list(Protego.parse(robots_txt).sitemaps)
    found: dict[str, str] = {}
    for value in listed:
        url = _join(robots_location, value.strip())
        if url:
            found.setdefault(canonicalize_url(url), url)
    ordered = prefer_news(list(found.values()))
    return tuple(DiscoveredSource(url, SITEMAP, ROBOTS_TXT) for url in ordered[:limits.max_sitemaps])


def fallback_sitemaps(homepage: str) -> tuple[DiscoveredSource, ...]:
    """The conventional sitemap locations of a site, to try when its robots.txt names none."""
    return tuple(DiscoveredSource(urljoin(homepage, path), SITEMAP, FALLBACK) for path in FALLBACK_PATHS)


def discover(homepage: str, html: bytes | None, robots_txt: str | bytes | None,
             limits: DiscoveryLimits = DiscoveryLimits(), page_url: str | None = None) -> Discovery:
    """A site's feeds and sitemaps from its homepage and robots.txt (either may be None when it could not be
    fetched): the homepage's feed links, robots.txt's sitemaps, else the fallback locations. `page_url` is where
    the homepage was finally fetched from (after redirects): its relative feed links resolve against it."""
    feeds = feed_links(html, page_url or homepage, limits) if html else ()
    sitemaps = robots_sitemaps(robots_txt, robots_url(homepage), limits) if robots_txt else ()
    if sitemaps:
        return Discovery(homepage, feeds, sitemaps)
    return Discovery(homepage, feeds, fallback_sitemaps(homepage)[:limits.max_sitemaps], fallback=True)


def prefer_news(urls: list[str]) -> list[str]:
    """News sitemaps first (a `news` in the path: `/news-sitemap.xml`, `/sitemap_news.xml`, `/news/sitemap.xml`),
    otherwise the given order."""
    return sorted(urls, key=lambda url: "news" not in urlsplit(url).path.lower())


def needs_rediscovery(discovered_at: datetime | None, now: datetime, days: int = REDISCOVER_DAYS) -> bool:
    """Whether a site's recorded sources are older than `days` (or were never discovered)."""
    return discovered_at is None or now - discovered_at >= timedelta(days=days)


def _join(base: str, href: str) -> str | None:
    if not href:
        return None
    try:
        url = urljoin(base, href)
    except ValueError:
        return None
    return url if is_http_url(url) else None


def _is_comment_feed(url: str, title: str | None) -> bool:
    # WordPress announces a comments feed next to the posts feed; its items are comments, not articles
    path = urlsplit(url).path.lower()
    return "/comments/" in path or path.endswith("/comments") or "comments feed" in (title or "").lower()
