"""The source transforms of batch (ReadFeeds, ReadUrlLists) and of the unbounded graph (PollFeeds) on the loopback
site: both call the one source core, so the same inputs give the same items and dead letters."""
import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.sample_site import SampleSite
from newsbeam.transforms.common import DEAD_LETTERS
from newsbeam.transforms.sources import ReadFeeds, ReadUrlLists
from newsbeam.transforms.streaming import PollFeeds
from tests.conftest import FAST
from tests.faults import _html, _redirect, fault_routes
from tests.pipeline_helpers import fnapi_pipeline, run_and_count

RELATIVE = (b"<rss version='2.0'><channel><title>r</title><item><link>/news/a.html</link></item>"
            b"<item><link>//other.example/b.html</link></item></channel></rss>")
EMPTY = b"<rss version='2.0'><channel><title>quiet</title></channel></rss>"


@pytest.fixture
def sources_site():
    routes = {
        **fault_routes(),
        "/moved/feed.rss": _redirect("/final/feed.rss", 301),
        "/final/feed.rss": _html(200, RELATIVE, "application/rss+xml"),
        "/quiet.rss": _html(200, EMPTY, "application/rss+xml"),
    }
    with SampleSite(routes=routes) as running:
        yield running


def keys(dead_letters, base):
    return dead_letters | "Keys" >> beam.Map(lambda d: (d.stage, d.reason, (d.url or "").replace(base, ""), d.detail))


def test_batch_reads_every_source_kind_once(sources_site, tmp_path):
    site = sources_site
    opml = tmp_path / "list.opml"
    opml.write_text(f'<opml version="2.0"><body><outline xmlUrl="{site.url("/feeds/world.rss")}"/>'
                    f'<outline xmlUrl="{site.url("/quiet.rss")}"/>'
                    f'<outline type="include" url="{site.url("/feeds/subscriptions.opml")}"/></body></opml>')
    listing = tmp_path / "feeds.txt"
    listing.write_bytes(f"\ufeff{site.url('/moved/feed.rss')}  # moved\nnot a feed url\n".encode())
    pipeline = fnapi_pipeline()
    read = pipeline | beam.Create([str(opml), str(listing), site.url("/feeds/world.rss")]) | ReadFeeds(FAST)
    relative = read["items"] | beam.Map(lambda i: i.url) | beam.Filter(lambda u: "/news/" in u or "other." in u)
    assert_that(relative,
                equal_to([site.url("/news/a.html"), "http://other.example/b.html"]), label="RelativeLinks")
    assert_that(read["items"] | beam.combiners.Count.Globally(), equal_to([19 + 2]), label="Items")
    assert_that(keys(read[DEAD_LETTERS], site.base_url), equal_to([
        ("source", "invalid_url", "", f"line 2 of {listing} is not an http(s) URL: 'not a feed url'"),
        ("source", "nested_list_ignored", "/feeds/subscriptions.opml",
         f"an outline of type include/link/source in {opml}: lists inside lists are not followed; give it with "
         "--feeds"),
    ]), label="DeadLetters")
    counters = run_and_count(pipeline)
    assert len(site.requests("/feeds/world.rss")) == 1  # given directly and listed: fetched once
    assert counters["sources.listed_also_given"] == 1
    assert counters["feeds.empty"] == 1 and counters["feeds.parsed"] == 3


def test_url_lists_report_each_bad_line(tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_bytes("\ufeffhttp://e.org/a  # first\nnot a url\nhttp://e.org/b#part\n".encode())
    pipeline = fnapi_pipeline()
    read = pipeline | beam.Create([str(listing)]) | ReadUrlLists()
    assert_that(read["items"] | beam.Map(lambda i: i.url), equal_to(["http://e.org/a", "http://e.org/b#part"]),
                label="Items")
    assert_that(read[DEAD_LETTERS] | beam.Map(lambda d: (d.reason, d.url, d.detail)),
                equal_to([("invalid_url", None, f"line 2 of {listing} is not an http(s) URL: 'not a url'")]),
                label="DeadLetters")
    run_and_count(pipeline)


def test_streaming_polls_a_feed_given_and_listed_once(sources_site, tmp_path):
    site = sources_site
    opml = tmp_path / "list.opml"
    opml.write_text(f'<opml version="2.0"><body><outline xmlUrl="{site.url("/feeds/world.rss")}"/>'
                    f'<outline xmlUrl="{site.url("/quiet.rss")}"/></body></opml>')
    given = [str(opml), site.url("/feeds/world.rss")]
    pipeline = fnapi_pipeline()
    polled = (pipeline | beam.Create([(source, "") for source in given])
              | PollFeeds(FAST, given=given))
    assert_that(polled["items"] | beam.combiners.Count.Globally(), equal_to([19]), label="Items")
    assert_that(polled[DEAD_LETTERS], equal_to([]), label="NoDeadLetters")
    counters = run_and_count(pipeline)
    assert len(site.requests("/feeds/world.rss")) == 1
    assert counters["feeds.empty"] == 1 and counters["sources.listed_also_given"] == 1

