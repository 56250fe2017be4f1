"""`--max-articles` ranks an item dated in the future (a wrong clock, a scheduled post) as undated, through the
real CLI: it no longer takes the cap from the items really published last, and stays eligible for a later run."""
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pyarrow.dataset as ds

from newsbeam.sample_site import SampleSite
from newsbeam.schemas.records import FeedItem
from newsbeam.seen import UNKNOWN, WRITTEN, load_seen, url_key
from newsbeam.sitemap_plan import select_items
from newsbeam.transforms.backfill import newest_first
from newsbeam.urls import canonicalize_url

NEWSBEAM = [sys.executable, "-m", "newsbeam.pipelines.cli"]
FLAGS = ["--host-delay", "0", "--read-timeout", "2", "--deadline", "10", "--allow-private-addresses",
         "--entities", "off", "--progress", "off"]
PAGES = {  # sample page -> its feed date, relative to now (None: undated)
    "/articles/en-returnees-trial-brussels.html": timedelta(days=30),  # far future: ranks as undated
    "/articles/en-hol-camp-repatriation-flight.html": timedelta(minutes=20),  # within the clock-skew allowance
    "/articles/en-hasakah-detention-facility.html": -timedelta(hours=1),
    "/articles/en-gaziantep-border-crossing.html": -timedelta(hours=2),
    "/articles/en-raqqa-reconstruction.html": None,
}


def _feed(site, now):
    items = "".join(
        f"<item><title>{path}</title><link>{site.url(path)}</link>"
        + (f"<pubDate>{format_datetime(now + offset)}</pubDate>" if offset is not None else "") + "</item>"
        for path, offset in PAGES.items())
    body = f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode()

    def route(handler):
        handler.send_body(200, body, "application/rss+xml")
    return route


def _run(site, out, run_id):
    done = subprocess.run([*NEWSBEAM, "ingest", "--feeds", site.url("/cap/feed.rss"), "--output", str(out),
                           "--run-id", run_id, "--max-articles", "3", *FLAGS],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    table = ds.dataset(out / "articles", format="parquet", partitioning="hive").to_table()
    return {url.split("/articles/")[1] for url, run in zip(table["url"].to_pylist(), table["run_id"].to_pylist())
            if run == run_id}


def test_a_future_date_does_not_take_the_cap(tmp_path):
    """Regression: the item dated 30 days ahead sorted first and took one of the 3 places."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with SampleSite() as site:
        site.routes["/cap/feed.rss"] = _feed(site, now)
        out = tmp_path / "out"
        first = _run(site, out, "r1")
        assert first == {"en-hol-camp-repatriation-flight.html", "en-hasakah-detention-facility.html",
                         "en-gaziantep-border-crossing.html"}
        counters = json.loads((out / "_runs" / "r1.json").read_text())["counters"]
        assert counters["items.skipped.over_limit"] == 2
        # not lost: left over, not marked as seen, so the next run takes it (with the undated item)
        index = load_seen(str(out), "r2", now)
        future = url_key(canonicalize_url(site.url("/articles/en-returnees-trial-brussels.html")))
        assert index.status(future) == UNKNOWN
        assert index.status(url_key(canonicalize_url(site.url("/articles/en-gaziantep-border-crossing.html")))) \
            == WRITTEN


def test_cap_order_with_a_clock():
    now = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    items = [FeedItem(url=f"http://e/{name}", canonical_url=f"http://e/{name}", published_at=moment)
             for name, moment in (("future", now + timedelta(days=1)), ("skewed", now + timedelta(minutes=59)),
                                  ("recent", now - timedelta(hours=1)), ("a-undated", None))]
    assert [i.url[9:] for i in newest_first(items, now)] == ["skewed", "recent", "a-undated", "future"]
    assert [i.url[9:] for i in newest_first(items)] == ["future", "skewed", "recent", "a-undated"]  # no clock
    assert [i.url[9:] for i in select_items(items, limit=2, now=now).items] == ["skewed", "recent"]


def test_the_window_does_not_believe_a_future_date_either():
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    from newsbeam.transforms.backfill import ItemsInWindow, Window

    now = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    items = [FeedItem(url=f"http://e/{name}", canonical_url=f"http://e/{name}", published_at=moment)
             for name, moment in (("future", now + timedelta(days=40)), ("old", now - timedelta(days=40)),
                                  ("recent", now - timedelta(days=1)))]
    with beam.Pipeline() as pipeline:
        kept = (pipeline | beam.Create(items)
                | ItemsInWindow(Window(since=now - timedelta(days=7), until=now - timedelta(hours=12)), now)
                | beam.Map(lambda item: item.url))
        assert_that(kept, equal_to(["http://e/future", "http://e/recent"]))
