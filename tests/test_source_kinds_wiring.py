"""The new source kinds in the one source reader (`read_source`, `read_document`, `plan_sitemaps`): pure, fast."""
import gzip
from datetime import datetime, timezone

from hypothesis import given, settings, strategies as st

from newsbeam import reasons
from newsbeam.listings import SubSitemap
from newsbeam.sitemap_plan import root_visit
from newsbeam.source_core import plan_sitemaps, read_document, visit_of
from newsbeam.sources import JSON, SITEMAP, read_source
from newsbeam.schemas.records import FeedDocument
from newsbeam.urls import is_http_url
from tests.conftest import FAST

NOW = datetime(2026, 11, 29, tzinfo=timezone.utc)
SM = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS = "http://www.google.com/schemas/sitemap-news/0.9"
URLSET = (f'<urlset xmlns="{SM}"><url><loc>http://e.org/a</loc><lastmod>2026-11-20</lastmod></url>'
          f'<url><loc>javascript:x</loc></url></urlset>').encode()
INDEX = f'<sitemapindex xmlns="{SM}"><sitemap><loc>http://e.org/s1.xml</loc></sitemap></sitemapindex>'.encode()
RSS = b"<rss version='2.0'><channel><title>t</title><item><link>http://e.org/r</link></item></channel></rss>"


def test_a_urlset_is_read_wherever_a_feed_is_and_its_bad_entry_has_a_null_url():
    contents = read_source(URLSET, "http://e.org/sitemap.xml")
    assert contents.kind == SITEMAP and contents.read and [i.url for i in contents.items] == ["http://e.org/a"]
    assert [(r.url, r.feed_url, r.reason) for r in contents.rejected] == [
        (None, "http://e.org/sitemap.xml", reasons.INVALID_URL)]
    assert "'javascript:x'" in contents.rejected[0].detail


def test_news_fields_become_date_title_and_hints():
    body = (f'<urlset xmlns="{SM}" xmlns:news="{NEWS}"><url><loc>http://e.org/n</loc><lastmod>2026-01-01</lastmod>'
            '<news:news><news:publication><news:name>Courier</news:name><news:language>DE</news:language>'
            '</news:publication><news:publication_date>2026-11-28T10:00:00+01:00</news:publication_date>'
            '<news:title>T</news:title><news:keywords>a, b</news:keywords></news:news></url></urlset>').encode()
    (item,) = read_source(body, "http://e.org/news.xml").items
    assert item.published_at == datetime(2026, 11, 28, 9, tzinfo=timezone.utc)
    assert (item.title, item.feed_title, item.language_hint, item.keywords) == ("T", "Courier", "de", ("a", "b"))


def test_gzip_is_inflated_whatever_the_name_and_a_bomb_is_refused():
    assert [i.url for i in read_source(gzip.compress(RSS), "feed.bin").items] == ["http://e.org/r"]
    assert read_source(gzip.compress(URLSET), "s.xml.gz").kind == SITEMAP
    bomb = gzip.compress(b"<urlset>" + b" " * (51 * 1024 * 1024))
    (dead,) = read_source(bomb, "bomb.gz").rejected
    assert dead.reason == "feed_too_large"


@given(keep=st.floats(min_value=0.0, max_value=1.0, exclude_max=True), as_sitemap=st.booleans())
@settings(max_examples=80, deadline=None)
def test_a_cut_gzip_list_of_lines_never_lists_its_cut_line_and_says_it_was_cut(keep, as_sitemap):
    """A list of URLs has no end mark: only its gzip stream shows the cut. Before, its last line, a URL cut short,
    was listed (and fetched, as a 404), and nothing said the list was incomplete."""
    urls = [f"http://e.org/2026/11/29/a-long-enough-story-slug-{n:04d}.html" for n in range(300)]
    packed = gzip.compress("".join(url + "\n" for url in urls).encode())
    source = "http://e.org/list.txt.gz"
    contents = read_source(packed[:max(20, int(keep * len(packed)))], source, as_sitemap=as_sitemap)
    read = [i.url for i in contents.items] if as_sitemap else list(contents.listed)
    assert read == urls[:len(read)]
    cut = [r.reason for r in contents.rejected if r.url == source]
    if contents.read:
        assert cut == [reasons.SITEMAP_TRUNCATED if as_sitemap else reasons.FEED_PARSE_ERROR]
    else:  # nothing whole, not even a URL: the source's one dead letter says what it is
        assert len(contents.rejected) == 1 and not read


def test_concatenated_gzip_members_are_one_document_and_a_bomb_across_them_is_refused():
    """`cat a.gz b.gz` is one gzip file to gzip(1); only the first member was read (the second list's URLs lost)."""
    lists = [b"http://e.org/a\nhttp://e.org/b\n", b"http://e.org/c\n", b"http://e.org/d\n"]
    body = b"".join(gzip.compress(part) for part in lists)
    assert read_source(body, "list.txt.gz").listed == ("http://e.org/a", "http://e.org/b", "http://e.org/c",
                                                       "http://e.org/d")
    assert read_source(body + b"\0" * 64, "padded.txt.gz").listed[-1] == "http://e.org/d"  # trailing junk ignored
    cut = read_source(body[:-10], "cut.txt.gz")  # inside the last member
    assert cut.listed == ("http://e.org/a", "http://e.org/b", "http://e.org/c")
    assert [r.reason for r in cut.rejected] == [reasons.FEED_PARSE_ERROR]
    half = gzip.compress(b"<urlset>" + b" " * (26 * 1024 * 1024))
    (dead,) = read_source(half + half, "bomb.gz").rejected
    assert dead.reason == "feed_too_large"


def test_json_feed_replaces_the_json_refusal_and_other_json_is_still_refused():
    feed = b'{"version": "https://jsonfeed.org/version/1", "items": [{"id": 1, "url": "http://e.org/j"}]}'
    contents = read_source(feed, "http://e.org/feed.json")
    assert contents.kind == JSON and [i.url for i in contents.items] == ["http://e.org/j"]
    assert read_source(b'{"a": 1}', "x.json").rejected[0].reason == "feed_not_a_feed"


def test_a_text_document_is_a_text_sitemap_only_when_reached_as_one():
    body = b"http://e.org/a\nhttp://e.org/b\n"
    assert read_source(body, "feeds.txt").listed == ("http://e.org/a", "http://e.org/b")
    as_sitemap = read_source(body, "http://e.org/s.txt", as_sitemap=True)
    assert as_sitemap.kind == SITEMAP and [i.url for i in as_sitemap.items] == ["http://e.org/a", "http://e.org/b"]


def test_an_index_is_read_afresh_and_its_sitemaps_planned_with_a_per_site_budget():
    outcome = read_document(FeedDocument(source="http://e.org/index.xml", body=INDEX), NOW)
    assert outcome.validator is None and outcome.index.url == "http://e.org/index.xml"
    assert outcome.sitemaps == (SubSitemap("http://e.org/s1.xml"),)
    first = (root_visit("http://e.org/i1.xml"), [SubSitemap(f"http://e.org/a{i}.xml") for i in range(3)])
    second = (root_visit("http://e.org/i2.xml"), [SubSitemap(f"http://e.org/b{i}.xml") for i in range(3)]
              + [SubSitemap("http://e.org/i2.xml")])
    plan = plan_sitemaps([second, first], 4, None, NOW)
    # parent order (i1 before i2), one budget for the site across both indexes, the loop a dead letter
    assert [r.url for r in plan.requests] == ["http://e.org/a0.xml", "http://e.org/a1.xml", "http://e.org/a2.xml",
                                              "http://e.org/b0.xml"]
    assert all(r.context.as_sitemap and r.context.sitemap_chain for r in plan.requests)
    assert [(d.reason, d.url) for d in plan.dead_letters] == [("sitemap_loop", "http://e.org/i2.xml")]
    assert dict(plan.counts)["sitemaps.over_budget"] == 2
    # a sitemap also given directly (or discovered) is read as such, not a second time
    again = plan_sitemaps([first], 4, None, NOW, given=frozenset({"http://e.org/a0.xml"}))
    assert [r.url for r in again.requests] == ["http://e.org/a1.xml", "http://e.org/a2.xml"]


def test_a_listed_sitemap_knows_its_chain_and_site():
    document = FeedDocument(source="http://e.org/s1.xml", body=b"", sitemap_chain=("http://e.org/index.xml",))
    visit = visit_of(document)
    assert (visit.depth, visit.site, visit.ancestors) == (1, "http://e.org", ("http://e.org/index.xml",))


def test_source_fetches_allow_a_50_mb_sitemap_without_a_second_fetch_context():
    """The larger cap travels with the request: the settings (and so the shared fetch context: per-host gates,
    robots.txt cache) stay the same for sources and articles."""
    from dataclasses import replace

    from newsbeam.fetching import FEED_ACCEPT, FetchContext, PoliteFetcher, feed_like
    from newsbeam.sample_site import SampleSite
    from newsbeam.schemas.records import FetchFailure, FetchRequest
    from newsbeam.transforms.sources import feed_request
    from tests.kinds_routes import kinds_routes

    assert feed_request("http://e.org/s.xml", 0, None).max_bytes == 50 * 1024 * 1024
    settings = replace(FAST, max_bytes=1000)
    with SampleSite(routes=kinds_routes()) as site:
        context = FetchContext(settings)
        fetcher = PoliteFetcher(context.client, context.gates, context.robots)
        page = fetcher.fetch(FetchRequest(site.url("/big/part-1.xml"), None), FEED_ACCEPT, feed_like)
        assert isinstance(page, FetchFailure) and page.reason == "too_large"
        page = fetcher.fetch(FetchRequest(site.url("/big/part-1.xml"), None, max_bytes=100), FEED_ACCEPT, feed_like)
        assert isinstance(page, FetchFailure)  # a request never lowers --max-bytes
        page = fetcher.fetch(feed_request(site.url("/big/part-1.xml"), 0, None), FEED_ACCEPT, feed_like)
        assert not isinstance(page, FetchFailure) and len(page.body) > 1000


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300), st.booleans(), st.booleans())
def test_read_source_never_raises_and_url_is_a_url_the_source_or_null(body, compressed, as_sitemap):
    source = "http://e.org/src"
    data = gzip.compress(body) if compressed else body
    for wrapped in (data, URLSET[:-9] + body + b"</urlset>", INDEX + body):
        contents = read_source(wrapped, source, as_sitemap=as_sitemap)
        for rejected in contents.rejected:
            assert rejected.url is None or rejected.url == source or is_http_url(rejected.url)
        assert all(is_http_url(item.url) for item in contents.items)


def test_a_language_hint_is_an_iso_639_1_code_or_nothing():
    from newsbeam.language import language_from_hint

    assert [language_from_hint(h) for h in ("FR", "zh-cn", "pt-BR", None, "", "english", "1a")] == [
        "fr", "zh", "pt", None, None, None, None]


def test_since_skips_the_sitemaps_an_index_dates_before_it(tmp_path):
    """Batch ReadFeeds over loopback: an index's sitemaps whose lastmod is before --since are not fetched."""
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    from newsbeam.sample_site import SampleSite
    from newsbeam.transforms.sources import ReadFeeds
    from tests.kinds_routes import EN, SITEMAPS, _serve, kinds_routes, urlset
    from tests.pipeline_helpers import fnapi_pipeline, run_and_count

    routes = {**kinds_routes(),
              "/old.xml": _serve(lambda b: urlset(b, EN[2:]), "application/xml"),
              "/dated-index.xml": _serve(lambda b: (
                  f'<sitemapindex xmlns="{SITEMAPS}"><sitemap><loc>{b}/kinds/sitemap.xml</loc><lastmod>2026-11-25'
                  f'</lastmod></sitemap><sitemap><loc>{b}/old.xml</loc><lastmod>2026-10-01</lastmod></sitemap>'
                  '</sitemapindex>').encode(), "application/xml")}
    with SampleSite(routes=routes) as site:
        pipeline = fnapi_pipeline()
        read = pipeline | beam.Create([site.url("/dated-index.xml")]) | ReadFeeds(
            FAST, since=datetime(2026, 11, 1, tzinfo=timezone.utc))
        base = site.base_url
        assert_that(read["items"] | beam.Map(lambda i: i.url.replace(base, "")), equal_to(EN[:2]))
        counters = run_and_count(pipeline)
        assert not site.requests("/old.xml")
    assert counters["sitemaps.not_modified"] == 1 and counters["sitemaps.planned"] == 1
