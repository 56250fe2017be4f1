"""Scale: a run over one site still spreads its CPU work over every worker."""
import os
from dataclasses import replace

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.sample_site import SITE_DIR, SampleSite
from newsbeam.schemas.records import FeedItem
from newsbeam.transforms.core import CoreSettings, ProcessArticles
from newsbeam.urls import canonicalize_url
from tests.conftest import FAST
from tests.pipeline_helpers import run_and_count


def _extracting_pid(_article) -> int:
    return os.getpid()


def _two_worker_pipeline() -> test_pipeline.TestPipeline:
    options = PipelineOptions(["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"])
    return test_pipeline.TestPipeline(runner="FnApiRunner", options=options)


def test_one_host_run_extracts_on_both_workers_and_stays_polite():
    # 32 article pages, all from one host: fetching keeps them in one group, the extraction after it must not;
    # the host's gate (one request at a time, 50 ms apart, one robots.txt) must hold all the same
    settings = replace(FAST, host_concurrency=1, host_delay=0.05)
    paths = [f"/articles/{page.name}" for page in sorted((SITE_DIR / "articles").glob("*.html"))]
    with SampleSite() as site:
        items = [FeedItem(url=site.url(p), canonical_url=canonicalize_url(site.url(p)), feed_url=None) for p in paths]
        pipeline = _two_worker_pipeline()
        result = pipeline | beam.Create(items) | ProcessArticles(CoreSettings(fetch=settings, entities=None))
        # the pid is taken in the fused stage that extracts: a Map right after it has no barrier in between
        pids = (result["articles"] | "Pid" >> beam.Map(_extracting_pid) | beam.Distinct()
                | beam.combiners.Count.Globally())
        assert_that(pids, equal_to([2]))
        counters = run_and_count(pipeline)
        times = sorted(t for p in paths for t in site.request_times(p))
        robots = site.requests("/robots.txt")
    assert counters["pages.hosts"] == 1
    assert counters["articles.extracted"] + counters.get("articles.extract_failed", 0) == len(paths)
    assert len(times) == len(paths) and len(robots) == 1
    assert all(b - a >= 0.05 - 0.01 for a, b in zip(times, times[1:])), times


def test_spooled_redistribution_gives_back_every_page_unchanged(tmp_path):
    from datetime import datetime, timezone

    from newsbeam.schemas.records import FetchedPage, FetchRequest
    from newsbeam.transforms.spool import RedistributePages
    from tests.pipeline_helpers import fnapi_pipeline

    fetched_at = datetime(2026, 1, 2, tzinfo=timezone.utc)
    pages = [FetchedPage(request=FetchRequest(url=f"http://a.example/{n}", context=None),
                         final_url=f"http://a.example/{n}", status=200, content_type="text/html",
                         header_charset=None, body=f"<p>page {n}</p>".encode() * 500, fetched_at=fetched_at, attempts=1)
             for n in range(20)]
    spool = tmp_path / "spool"
    pipeline = fnapi_pipeline()
    assert_that(pipeline | beam.Create(pages) | RedistributePages(str(spool)), equal_to(pages))
    counters = run_and_count(pipeline)
    assert len(list(spool.iterdir())) == 20  # what crossed the barrier were paths; the caller removes the files
    assert 0 < counters["spool.bytes"] < sum(len(p.body) for p in pages)
