"""Loopback routes serving every source kind beyond RSS/Atom: JSON Feed, sitemaps (plain, gzip, index, news, text),
a homepage with feed links and a robots.txt with Sitemap lines; plus a 50,000-URL sitemap and an index of 100."""
from __future__ import annotations

import gzip
from typing import Callable, Dict

SITEMAPS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS = "http://www.google.com/schemas/sitemap-news/0.9"
EN = ["/articles/en-returnees-trial-brussels.html", "/articles/en-hague-court-ruling.html",
      "/articles/en-raqqa-reconstruction.html", "/articles/en-gaziantep-border-crossing.html"]
FR = ["/articles/fr-proces-revenantes-paris.html", "/articles/fr-idlib-deplaces-nosra.html"]


def _serve(make: Callable[[str], bytes], content_type: str) -> Callable:
    """A route whose body depends on the server's base URL (built per request: the port is chosen at start)."""
    def route(handler) -> None:
        handler.send_body(200, make(handler.server.site.base_url), content_type)
    return route


def urlset(base: str, paths, lastmod: str = "2026-11-20") -> bytes:
    urls = "".join(f"<url><loc>{base}{p}</loc><lastmod>{lastmod}</lastmod></url>" for p in paths)
    return f'<?xml version="1.0"?><urlset xmlns="{SITEMAPS}">{urls}</urlset>'.encode()


def news_sitemap(base: str) -> bytes:
    entries = "".join(
        f"<url><loc>{base}{p}</loc><news:news><news:publication><news:name>Courier</news:name>"
        f"<news:language>FR</news:language></news:publication>"
        f"<news:publication_date>2026-11-2{i}T08:00:00Z</news:publication_date>"
        f"<news:title>Titre {i}</news:title><news:keywords>syrie, procès</news:keywords></news:news></url>"
        for i, p in enumerate(FR, 1))
    return f'<urlset xmlns="{SITEMAPS}" xmlns:news="{NEWS}">{entries}</urlset>'.encode()


def sitemap_index(base: str, paths, lastmod: str = "2026-11-20") -> bytes:
    entries = "".join(f"<sitemap><loc>{base}{p}</loc><lastmod>{lastmod}</lastmod></sitemap>" for p in paths)
    return f'<sitemapindex xmlns="{SITEMAPS}">{entries}</sitemapindex>'.encode()


def json_feed(base: str) -> bytes:
    return ('{"version": "https://jsonfeed.org/version/1.1", "title": "Courier JSON", "language": "en", '
            f'"home_page_url": "{base}/", "items": ['
            f'{{"id": "1", "url": "{base}{EN[0]}", "title": "Trial", "date_published": "2026-11-20T09:00:00Z"}}, '
            '{"id": "2", "url": "\\/articles\\/en-hague-court-ruling.html", "title": "Ruling"}, '
            '{"id": "3", "url": "javascript:alert(1)"}]}').encode()


def big_sitemap(base: str, count: int = 50_000) -> bytes:
    urls = "".join(f"<url><loc>{base}/big/article-{i}.html</loc><lastmod>2026-11-{1 + i % 28:02d}</lastmod></url>"
                   for i in range(count))
    return f'<urlset xmlns="{SITEMAPS}">{urls}</urlset>'.encode()


def _part(handler) -> None:
    """/big/part-N.xml: 100 URLs of its own."""
    base, number = handler.server.site.base_url, handler.path.rsplit("-", 1)[-1].split(".")[0]
    urls = "".join(f"<url><loc>{base}/big/p{number}/a-{i}.html</loc></url>" for i in range(100))
    handler.send_body(200, f'<urlset xmlns="{SITEMAPS}">{urls}</urlset>'.encode(), "application/xml")


def kinds_routes() -> Dict[str, Callable]:
    gz = lambda base: gzip.compress(urlset(base, EN[2:]), mtime=0)  # noqa: E731
    return {
        "/kinds/feed.json": _serve(json_feed, "application/feed+json"),
        "/kinds/sitemap.xml": _serve(lambda b: urlset(b, EN[:2]), "application/xml"),
        "/kinds/news-sitemap.xml": _serve(news_sitemap, "application/xml"),
        # gzip as a file (no Content-Encoding), under a name that says nothing
        "/kinds/archive.bin": _serve(gz, "application/octet-stream"),
        "/kinds/links.txt": _serve(lambda b: f"{b}{EN[3]}\nnot a url\n".encode(), "text/plain"),
        # an index listing: a urlset, a news sitemap, itself (loop), a nested index (depth 2) and a text sitemap
        "/kinds/index.xml": _serve(lambda b: sitemap_index(b, [
            "/kinds/sitemap.xml", "/kinds/news-sitemap.xml", "/kinds/index.xml", "/kinds/nested.xml"]),
            "application/xml"),
        "/kinds/nested.xml": _serve(lambda b: sitemap_index(b, ["/kinds/archive.bin", "/kinds/links.txt"]),
                                    "application/xml"),
        "/big/sitemap-50k.xml": _serve(big_sitemap, "application/xml"),
        "/big/index-100.xml": _serve(lambda b: sitemap_index(b, [f"/big/part-{i}.xml" for i in range(100)]),
                                     "application/xml"),
        "/big/part-*": _part,
        # discovery: a homepage announcing a JSON Feed and an RSS feed, robots.txt naming a news sitemap
        "/": _serve(lambda b: (
            '<html><head><link rel="alternate" type="application/feed+json" href="/kinds/feed.json">'
            '<link rel="alternate" type="application/rss+xml" href="/feeds/world.rss">'
            '<link rel="alternate" type="application/rss+xml" href="/comments/feed/" title="Comments Feed">'
            '</head><body>home</body></html>').encode(), "text/html; charset=utf-8"),
        "/robots.txt": _serve(lambda b: f"User-agent: *\nDisallow: /private/\nSitemap: {b}/kinds/news-sitemap.xml\n"
                              .encode(), "text/plain"),
    }
