"""Worker processes leave what their set-up loaded out of later garbage collections, and end without freeing it
(newsbeam.runtime)."""
import gc
import os
import subprocess
import sys

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


_PROCESS = """
import atexit, logging, sys
from newsbeam import runtime


def witness(path=sys.argv[2]):  # registered before the freeze, as a worker's other exit handlers are
    with open(path, "w") as file:
        file.write("ran")


atexit.register(witness)
logging.basicConfig(filename=sys.argv[1], level=logging.INFO)
print("froze" if runtime.freeze_set_up_heap() else "did not freeze", end="")  # left in the buffer
logging.getLogger("work").info("last words")
if sys.argv[3] == "fail":
    raise RuntimeError("the work failed")
"""


def _end_of(tmp_path, worker: bool, outcome: str = "ok"):
    env = {key: value for key, value in os.environ.items() if key != runtime.WORKER_ENV}
    if worker:
        env[runtime.WORKER_ENV] = "localhost:1"
    log, ran = tmp_path / f"log-{worker}-{outcome}", tmp_path / f"ran-{worker}-{outcome}"
    done = subprocess.run([sys.executable, "-c", _PROCESS, str(log), str(ran), outcome], env=env,
                          capture_output=True, text=True, timeout=120)
    return done, log.read_text(), ran.exists()


def test_a_worker_process_ends_in_its_first_exit_handler_and_loses_no_output(tmp_path):
    done, log, ran = _end_of(tmp_path, worker=True)
    assert (done.returncode, done.stdout) == (0, "froze"), done.stderr
    assert "last words" in log  # the logs are flushed
    assert not ran  # the process ended in its first exit handler: nothing after it ran


def test_a_worker_that_fails_still_exits_with_an_error(tmp_path):
    done, log, ran = _end_of(tmp_path, worker=True, outcome="fail")
    assert done.returncode == 1 and "RuntimeError: the work failed" in done.stderr
    assert "last words" in log and not ran


def test_a_process_that_drives_pipelines_ends_as_python_does(tmp_path):
    done, log, ran = _end_of(tmp_path, worker=False)
    assert (done.returncode, done.stdout) == (0, "did not freeze")
    assert "last words" in log and ran
