"""Worker processes leave what their set-up loaded out of later garbage collections (newsbeam.runtime)."""
import gc

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from newsbeam import runtime
from newsbeam.sample_site import SITE_DIR
from newsbeam.schemas.records import FeedItem, FetchedPage, FetchRequest
from newsbeam.transforms.core import CoreSettings, ProcessPages


def _frozen(_article) -> bool:
    return gc.get_freeze_count() > 0


def _pages():
    from datetime import datetime, timezone

    fetched_at = datetime(2026, 1, 2, tzinfo=timezone.utc)
    pages = []
    for path in sorted((SITE_DIR / "articles").glob("*.html"))[:2]:
        url = f"http://news.example/articles/{path.name}"
        item = FeedItem(url=url, canonical_url=url, feed_url=None)
        pages.append(FetchedPage(request=FetchRequest(url=url, context=item), final_url=url, status=200,
                                 content_type="text/html", header_charset="utf-8", body=path.read_bytes(),
                                 fetched_at=fetched_at, attempts=1))
    return pages


def test_a_worker_process_freezes_its_set_up_heap():
    options = PipelineOptions(["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"])
    pipeline = test_pipeline.TestPipeline(runner="FnApiRunner", options=options)
    articles = pipeline | beam.Create(_pages()) | ProcessPages(CoreSettings(entities=None))
    # in the stage that extracted them, after the extraction and language steps set up
    assert_that(articles["articles"] | beam.Map(_frozen), equal_to([True, True]))
    pipeline.run().wait_until_finish()


def test_a_process_that_drives_pipelines_freezes_nothing(monkeypatch):
    # the in-process runner, `stream`'s polls and tests: a frozen cycle of a finished run would never be reclaimed
    monkeypatch.delenv(runtime.WORKER_ENV, raising=False)
    before = gc.get_freeze_count()
    pipeline = test_pipeline.TestPipeline(runner="FnApiRunner")
    articles = pipeline | beam.Create(_pages()) | ProcessPages(CoreSettings(entities=None))
    assert_that(articles["articles"] | beam.Map(lambda a: 1), equal_to([1, 1]))
    pipeline.run().wait_until_finish()
    assert runtime.freeze_set_up_heap() is False
    assert gc.get_freeze_count() == before
