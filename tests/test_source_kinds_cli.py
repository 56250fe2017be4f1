"""End to end through the `newsbeam` command over loopback: JSON Feed, sitemaps (plain, gzip, index with a loop and
a nested index, text, Google News), a 50,000-URL sitemap, an index of 100 sitemaps, and `--sites` discovery."""
import json
import resource
import time

import pyarrow.dataset as ds
import pytest
from warcio.archiveiterator import ArchiveIterator

from newsbeam.sample_site import SampleSite
from tests.faults import fault_routes
from tests.kinds_routes import FR, kinds_routes
from tests.test_cli import FAST_FLAGS, GAZETTEER_ONLY, newsbeam


@pytest.fixture
def kinds_site():
    with SampleSite(routes={**fault_routes(), **kinds_routes()}) as running:
        yield running


def manifest(out, run_id):
    return json.loads((out / "_runs" / f"{run_id}.json").read_text())


def dead_letters(out, base):
    rows = ds.dataset(out / "dead_letters", format="parquet", partitioning="hive").to_table().to_pylist()
    return sorted((r["stage"], r["reason"], (r["url"] or "").replace(base, ""), r["feed_url"].replace(base, "")
                   if r["feed_url"] else None) for r in rows)


def test_json_feed_and_every_sitemap_kind_end_to_end(kinds_site, tmp_path):
    site, out = kinds_site, tmp_path / "out"
    done = newsbeam("ingest", "--feeds", site.url("/kinds/feed.json"), "--feeds", site.url("/kinds/index.xml"),
                    "--feeds", site.url("/kinds/sitemap.xml"), "--max-articles", "2", *FAST_FLAGS, *GAZETTEER_ONLY,
                    "--output", str(out), "--run-id", "k1")
    assert done.returncode == 0, done.stderr[-3000:]
    counters = manifest(out, "k1")["counters"]
    # JSON Feed 2, sitemap.xml 2, news 2, gzip 2, text sitemap 1: 9 items, 6 distinct articles
    assert counters["items.in"] == 9 and counters["items.unique"] == 6
    assert counters["sitemaps.indexes"] == 2 and counters["sitemaps.read"] == 4
    assert counters["feeds.json_feeds"] == 1 and counters["items.skipped.over_limit"] == 4
    # the cap takes the newest first: the news sitemap's publication dates win
    rows = ds.dataset(out / "articles", format="parquet", partitioning="hive").to_table().to_pylist()
    assert sorted(r["url"].replace(site.base_url, "") for r in rows) == sorted(FR)
    assert {r["feed_url"] for r in rows} == {site.url("/kinds/news-sitemap.xml")}
    assert dead_letters(out, site.base_url) == [
        ("feed", "invalid_url", "", "/kinds/feed.json"),  # javascript: item
        ("feed", "invalid_url", "", "/kinds/links.txt"),  # a line of the text sitemap; url null
        ("feed", "sitemap_loop", "/kinds/index.xml", "/kinds/index.xml"),
    ]
    assert len(site.requests("/kinds/index.xml")) == 1  # the loop is not fetched again
    assert len(site.requests("/kinds/sitemap.xml")) == 1  # given and listed by the index: read once, as given


def test_a_50000_url_sitemap_and_an_index_of_100_sitemaps(kinds_site, tmp_path):
    site, out = kinds_site, tmp_path / "out"
    started = time.monotonic()
    done = newsbeam("ingest", "--feeds", site.url("/big/sitemap-50k.xml"), "--feeds", site.url("/big/index-100.xml"),
                    "--max-articles", "0", *FAST_FLAGS, "--output", str(out), "--run-id", "big")
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    counters = manifest(out, "big")["counters"]
    assert counters["items.unique"] == 50_000 + 100 * 100
    assert counters["items.skipped.over_limit"] == 60_000
    assert counters["sitemaps.planned"] == 100
    assert sum(1 for path, _ in site.requests() if path.startswith("/big/part-")) == 100
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"50,000-URL sitemap + index of 100: {seconds:.1f} s, peak RSS of a child {peak_mb:.0f} MB")


def test_sites_discovery_in_the_stream_driver_is_recorded_and_reused(kinds_site, tmp_path):
    """`stream` runs one batch run per poll: the first discovers and records, the second polls what was recorded."""
    site, out = kinds_site, tmp_path / "out"
    sites = tmp_path / "sites.txt"
    sites.write_text(f"# homepages\n{site.base_url}/\nnot a site!\n")
    done = newsbeam("stream", "--sites", str(sites), "--max-articles", "0", "--max-cycles", "2", "--poll-interval",
                    "0.1", *FAST_FLAGS, "--output", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = sorted((out / "_runs").glob("*.json"))
    found = json.loads(first.read_text())["sources"]["discovered"][f"{site.base_url}/"]
    assert found["feeds"] == [site.url("/kinds/feed.json"), site.url("/feeds/world.rss")]  # no comments feed
    assert found["sitemaps"] == [site.url("/kinds/news-sitemap.xml")] and found["discovered_this_run"]
    counters = json.loads(first.read_text())["counters"]
    assert counters["feeds.json_feeds"] == 1 and counters["sitemaps.read"] == 1
    # the archive holds discovery's responses too (homepage, robots.txt, probed sitemaps), beside feeds and sitemaps
    assert counters["warc.entries"] == counters["warc.entries_written"]
    roles = {}
    for path in sorted((out / "warc").glob("ingest_date=*/*.warc.gz")):
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "metadata":
                    meta = json.loads(record.content_stream().read())
                    roles.setdefault(meta["role"], set()).add(record.rec_headers.get_header("WARC-Target-URI"))
    assert f"{site.base_url}/" in roles["discovery"] and site.url("/feeds/world.rss") in roles["feed"]
    again = json.loads(second.read_text())["sources"]["discovered"][f"{site.base_url}/"]
    assert not again["discovered_this_run"] and again["feeds"] == found["feeds"]
    assert len(site.requests("/")) == 1  # the second poll went to the recorded sources directly
    assert [row[:3] for row in dead_letters(out, site.base_url)].count(("source", "invalid_url", "")) == 2
    state = json.loads((out / "_state" / "discovery" / "sites.json").read_text())
    assert list(state["sites"]) == [f"{site.base_url}/"]
