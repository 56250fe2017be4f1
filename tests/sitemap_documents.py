"""Documents for the sitemap, JSON Feed and discovery tests, written after the specifications' own examples
(sitemaps.org protocol, Google's news sitemap documentation, jsonfeed.org 1.0 and 1.1)."""
from __future__ import annotations

import json

SM = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS = "http://www.google.com/schemas/sitemap-news/0.9"

# sitemaps.org, "Sample XML Sitemap"
URLSET = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="{SM}">
   <url>
      <loc>http://www.example.com/</loc>
      <lastmod>2005-01-01</lastmod>
      <changefreq>monthly</changefreq>
      <priority>0.8</priority>
   </url>
   <url>
      <loc>http://www.example.com/catalog?item=12&amp;desc=vacation_hawaii</loc>
      <changefreq>weekly</changefreq>
   </url>
   <url>
      <loc>http://www.example.com/catalog?item=73&amp;desc=vacation_new_zealand</loc>
      <lastmod>2004-12-23</lastmod>
      <changefreq>weekly</changefreq>
   </url>
   <url>
      <loc>http://www.example.com/catalog?item=74&amp;desc=vacation_newfoundland</loc>
      <lastmod>2004-12-23T18:00:15+00:00</lastmod>
      <priority>0.3</priority>
   </url>
   <url>
      <loc>http://www.example.com/catalog?item=83&amp;desc=vacation_usa</loc>
      <lastmod>2004-11-23</lastmod>
   </url>
</urlset>
""".encode()

# sitemaps.org, "Sample XML Sitemap Index"
INDEX = f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="{SM}">
   <sitemap>
      <loc>http://www.example.com/sitemap1.xml.gz</loc>
      <lastmod>2004-10-01T18:23:17+00:00</lastmod>
   </sitemap>
   <sitemap>
      <loc>http://www.example.com/sitemap2.xml.gz</loc>
      <lastmod>2005-01-01</lastmod>
   </sitemap>
</sitemapindex>
""".encode()

# Google Search Central, "News sitemap example", with keywords (still sent by many publishers) and a second,
# image-extended entry whose image:loc must not be taken for the page's loc
NEWS_SITEMAP = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="{SM}" xmlns:news="{NEWS}" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url>
   <loc>http://www.example.org/business/article55.html</loc>
   <news:news>
     <news:publication>
       <news:name>The Example Times</news:name>
       <news:language>en</news:language>
     </news:publication>
     <news:publication_date>2008-12-23</news:publication_date>
     <news:title>Companies A, B in Merger Talks</news:title>
     <news:keywords>business, merger, acquisition, A, B</news:keywords>
   </news:news>
  </url>
  <url>
   <image:image><image:loc>http://img.example.org/photo.jpg</image:loc></image:image>
   <loc>http://www.example.org/world/article56.html</loc>
   <lastmod>2008-12-24T08:00:00Z</lastmod>
   <news:news>
     <news:publication><news:name>The Example Times</news:name><news:language>FR</news:language></news:publication>
     <news:publication_date>2008-12-24T09:30:00+01:00</news:publication_date>
     <news:title>Accord &amp; d&#233;saccord</news:title>
   </news:news>
  </url>
</urlset>
""".encode()


def big_urlset(count: int, host: str = "https://news.example.com") -> bytes:
    """A urlset of `count` news-article URLs with lastmods, as large news sites publish them."""
    rows = "".join(
        f"<url><loc>{host}/{2024 + i % 3}/{1 + i % 12:02d}/story-{i:06d}.html</loc>"
        f"<lastmod>{2024 + i % 3}-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00Z</lastmod></url>\n"
        for i in range(count)
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SM}">\n{rows}</urlset>\n'.encode()


def index_of(urls) -> bytes:
    rows = "".join(f"<sitemap><loc>{url}</loc><lastmod>2026-11-0{1 + i % 9}</lastmod></sitemap>\n"
                   for i, url in enumerate(urls))
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{SM}">\n{rows}</sitemapindex>\n'.encode()


# jsonfeed.org/version/1.1, the spec's "simple" example plus items that exercise each rule
JSON_FEED_11 = json.dumps({
    "version": "https://jsonfeed.org/version/1.1",
    "title": "My Example Feed",
    "home_page_url": "https://example.org/",
    "feed_url": "https://example.org/feed.json",
    "language": "en-GB",
    "items": [
        {"id": "2", "content_text": "This is a second item.", "url": "https://example.org/second-item"},
        {"id": "1", "content_html": "<p>Hello, world!</p>", "url": "https://example.org/initial-post",
         "title": "Initial post", "summary": "The first one", "date_published": "2026-11-20T10:00:00-05:00",
         "language": "fr"},
        {"id": 3, "url": "/relative/third", "date_modified": "2026-11-21T00:00:00Z"},
        {"id": "4", "external_url": "https://elsewhere.example.net/linked", "content_text": "a link post"},
        {"id": "5", "url": "javascript:alert(1)", "title": "no usable url"},
        {"id": "6", "content_text": "no url at all"},
        "not an object",
    ],
}).encode()

# jsonfeed.org/version/1, as Daring Fireball-style feeds wrote it (author, not authors; escaped slashes)
JSON_FEED_10 = (
    b'{"version": "https:\\/\\/jsonfeed.org\\/version\\/1", "title": "Old feed", '
    b'"home_page_url": "https:\\/\\/blog.example.com\\/", '
    b'"author": {"name": "A"}, "items": [{"id": "a", "url": "posts\\/a.html", "title": "A", '
    b'"date_published": "2017-05-17T08:02:12Z"}]}'
)
