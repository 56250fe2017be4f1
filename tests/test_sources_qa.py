"""Adversarial sources through the real `newsbeam ingest` over loopback: the oddities publishers serve (an RSS as
text/html with FeedBurner, tracking and fragment links, a PDF enclosure as the article, an audio one, items without
links; the same article in two feeds; a feed that redirects to HTML; an empty 200; a sitemap index with gzip, a 404,
a plain `.gz` and itself; an OPML with a relative xmlUrl, a repeat and itself; a URL disallowed by robots.txt).
Every item is accounted for exactly once and every dead letter says why."""
import gzip
import json

import pyarrow.dataset as ds
import pytest

from newsbeam.sample_site import SampleSite
from tests.kinds_routes import SITEMAPS
from tests.pdf_samples import text_pdf
from tests.test_cli import FAST_FLAGS, GAZETTEER_ONLY, newsbeam

A = ["/articles/en-returnees-trial-brussels.html", "/articles/en-hague-court-ruling.html",
     "/articles/en-raqqa-reconstruction.html", "/articles/en-gaziantep-border-crossing.html"]


def _feed(base: str) -> bytes:
    return f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"><channel><title>QA</title>
<item><title>via feedproxy</title><link>{base}/feedproxy/~r/qa/~3/x/</link>
<feedburner:origLink>{base}{A[0]}?utm_source=feedburner&amp;utm_medium=feed</feedburner:origLink></item>
<item><title>relative, tracked</title><link>{A[1]}?utm_campaign=rss#comments</link></item>
<item><title>annual report</title><enclosure url="{base}/media/report.pdf" type="application/pdf" length="10"/></item>
<item><title>podcast</title><enclosure url="{base}/media/ep1.mp3" type="audio/mpeg" length="10"/></item>
<item><title>no link at all</title><description>text</description></item>
</channel></rss>""".encode()


def _other_feed(base: str) -> bytes:  # the same two articles, as their publisher links them
    return (f'<feed xmlns="http://www.w3.org/2005/Atom"><title>Other</title>'
            f'<entry><title>same</title><link href="{base}{A[0]}"/><id>urn:1</id><updated>2026-11-20T00:00:00Z'
            f'</updated></entry><entry><title>same 2</title><link href="{base}{A[1]}"/><id>urn:2</id>'
            f'<updated>2026-11-20T00:00:00Z</updated></entry></feed>').encode()


def _urlset(base: str, paths) -> bytes:
    urls = "".join(f"<url><loc>{base}{p}</loc><lastmod>2026-11-20</lastmod></url>" for p in paths)
    return f'<urlset xmlns="{SITEMAPS}">{urls}</urlset>'.encode()


def _index(base: str) -> bytes:
    entries = "".join(f"<sitemap><loc>{base}/qa/{name}</loc></sitemap>"
                      for name in ("a.xml.gz", "missing.xml.gz", "plain.xml.gz", "index.xml"))
    return f'<sitemapindex xmlns="{SITEMAPS}">{entries}</sitemapindex>'.encode()


def _opml(base: str) -> bytes:
    return f"""<?xml version="1.0"?><opml version="2.0"><head/><body><outline text="news">
<outline text="qa" type="rss" xmlUrl="feed.rss"/><outline text="other" type="rss" xmlUrl="{base}/qa/other.atom"/>
<outline text="other again" type="rss" xmlUrl="/qa/other.atom"/>
<outline text="members" type="rss" xmlUrl="/private/feed.rss"/></outline>
<outline text="me" type="include" url="{base}/qa/list.opml"/></body></opml>""".encode()


def _serve(make, content_type, status=200):
    def route(handler):
        handler.send_body(status, make(handler.server.site.base_url), content_type)
    return route


def _redirect(handler):
    handler.send_response(302)
    handler.send_header("Location", "/qa/landing.html")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


ROUTES = {
    "/qa/feed.rss": _serve(_feed, "text/html; charset=utf-8"),  # an RSS served as text/html
    "/qa/other.atom": _serve(_other_feed, "application/atom+xml"),
    "/qa/moved.rss": _redirect,
    "/qa/landing.html": _serve(lambda b: b"<!doctype html><html><body><p>We moved our feeds.</p></body></html>",
                               "text/html"),
    "/qa/empty.rss": _serve(lambda b: b"", "application/rss+xml"),
    "/qa/index.xml": _serve(_index, "application/xml"),
    "/qa/a.xml.gz": _serve(lambda b: gzip.compress(_urlset(b, [A[2], "/private/secret.html"]), mtime=0),
                           "application/x-gzip"),
    "/qa/plain.xml.gz": _serve(lambda b: _urlset(b, [A[3], A[2]]), "application/x-gzip"),  # not gzip after all
    "/qa/list.opml": _serve(_opml, "text/x-opml"),
    "/private/feed.rss": _serve(_feed, "application/rss+xml"),  # robots.txt disallows /private/
    "/media/report.pdf": _serve(lambda b: text_pdf(1), "application/pdf"),
}


@pytest.fixture
def qa_site():
    with SampleSite(routes=ROUTES) as running:
        yield running


def test_publishers_oddities_end_to_end_each_item_once(qa_site, tmp_path):
    site, out = qa_site, tmp_path / "out"
    done = newsbeam("ingest", "--feeds", site.url("/qa/list.opml"), "--feeds", site.url("/qa/moved.rss"),
                    "--feeds", site.url("/qa/empty.rss"), "--feeds", site.url("/qa/index.xml"),
                    *FAST_FLAGS, *GAZETTEER_ONLY, "--output", str(out), "--run-id", "qa")
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads((out / "_runs" / "qa.json").read_text())
    assert run["accounting"]["balanced"], run["accounting"]  # exit code 3 otherwise, but say which check failed
    counters = run["counters"]
    # feed 3 + other 2 + a.xml.gz 2 + plain.xml.gz 2 = 9 items: 4 pages, a PDF and the robots-disallowed URL
    assert counters["items.in"] == 9 and counters["items.unique"] == 6
    rows = ds.dataset(out / "articles", format="parquet", partitioning="hive").to_table().to_pylist()
    # FeedBurner's origLink (not feedproxy), so it dedupes with the Atom feed's plain link
    assert sorted(r["canonical_url"].replace(site.base_url, "") for r in rows) == sorted(A + ["/media/report.pdf"])
    assert not site.requests("/feedproxy/~r/qa/~3/x/") and not site.requests("/private/secret.html")
    assert not site.requests("/private/feed.rss")
    letters = ds.dataset(out / "dead_letters", format="parquet", partitioning="hive").to_table().to_pylist()
    assert sorted((r["stage"], r["reason"], (r["url"] or "").replace(site.base_url, "")) for r in letters) == [
        ("feed", "feed_http_404", "/qa/missing.xml.gz"),
        ("feed", "feed_not_a_feed", "/qa/empty.rss"),  # a 200 with an empty body
        ("feed", "feed_not_a_feed", "/qa/moved.rss"),  # redirected to an HTML page: named as given
        ("feed", "feed_robots_disallowed", "/private/feed.rss"),  # never fetched
        ("feed", "no_article_link", "/qa/feed.rss"),  # the podcast's audio enclosure
        ("feed", "no_article_link", "/qa/feed.rss"),  # the item without a link
        ("feed", "sitemap_loop", "/qa/index.xml"),  # the index lists itself
        ("fetch", "robots_disallowed", "/private/secret.html"),
        ("source", "nested_list_ignored", "/qa/list.opml"),  # the OPML includes itself
    ]
    [moved] = [r["detail"] for r in letters if r["url"] == site.url("/qa/moved.rss")]
    assert f"the URL led to {site.url('/qa/landing.html')}" in moved  # a feed that moved or was retired
    # the relative xmlUrl is read; a feed listed twice (absolute and relative) and a self-listing are fetched once
    assert len(site.requests("/qa/feed.rss")) == 1
    assert len(site.requests("/qa/list.opml")) == 1 and len(site.requests("/qa/other.atom")) == 1
