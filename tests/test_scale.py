"""Scale: a run over one site still spreads its CPU work over every worker."""
import os

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.sample_site import SITE_DIR
from newsbeam.schemas.records import FeedItem
from newsbeam.transforms.core import CoreSettings, ProcessArticles
from newsbeam.urls import canonicalize_url
from tests.conftest import FAST
from tests.pipeline_helpers import run_and_count


def _extracting_pid(_article) -> int:
    return os.getpid()


def _two_worker_pipeline() -> TestPipeline:
    options = PipelineOptions(["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"])
    return TestPipeline(runner="FnApiRunner", options=options)


def test_one_host_run_extracts_on_both_workers(site):
    # 32 article pages, all from one host: fetching keeps them in one group, the extraction after it must not
    urls = [site.url(f"/articles/{page.name}") for page in sorted((SITE_DIR / "articles").glob("*.html"))]
    items = [FeedItem(url=url, canonical_url=canonicalize_url(url), feed_url=None) for url in urls]
    pipeline = _two_worker_pipeline()
    result = pipeline | beam.Create(items) | ProcessArticles(CoreSettings(fetch=FAST, entities=None))
    # the pid is taken in the fused stage that extracts: a Map right after it has no barrier in between
    pids = result["articles"] | "Pid" >> beam.Map(_extracting_pid) | beam.Distinct() | beam.combiners.Count.Globally()
    assert_that(pids, equal_to([2]))
    counters = run_and_count(pipeline)
    assert counters["pages.hosts"] == 1
    assert counters["articles.extracted"] + counters.get("articles.extract_failed", 0) == len(urls)
