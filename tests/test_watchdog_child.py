"""The extraction watchdog's child is cheap to start and started once (issue 16): a fresh interpreter that imports
only the function's module (not the parent's `__main__`, which in a Beam worker is Beam's SDK harness)."""
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import apache_beam  # noqa: F401 - the parent has Beam loaded, as a worker has

from newsbeam.extraction import ExtractionSettings
from newsbeam.sample_site import SITE_DIR
from newsbeam.schemas.records import ExtractedArticle, FeedItem, FetchedPage, FetchRequest
from newsbeam.transforms.extract import _ExtractFn
from newsbeam.watchdog import Watchdog
from tests.watchdog_helpers import environment, imported, mark

ROOT = Path(__file__).resolve().parents[1]


def test_the_child_imports_neither_the_parents_main_module_nor_beam():
    watchdog = Watchdog(imported, timeout=60)
    try:
        assert watchdog.call("tests.watchdog_helpers") is True
        assert watchdog.call("apache_beam") is False
    finally:
        watchdog.close()


def test_the_child_of_a_worker_like_process_does_not_rerun_its_main_module():
    # a Beam worker runs as `python -m apache_beam.runners.worker.sdk_worker_main`; multiprocessing's spawn re-ran
    # that module in the child (~1.1 s of CPU per child)
    done = subprocess.run([sys.executable, "-m", "tests.watchdog_parent", "apache_beam", "tests.watchdog_parent"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""


def test_one_child_serves_every_large_page_of_a_worker():
    html = (SITE_DIR / "articles" / "en-hague-court-ruling.html").read_bytes()
    fn = _ExtractFn(ExtractionSettings(timeout=60, timeout_min_bytes=1))  # every page goes to the child
    fn.setup()
    try:
        for n in range(3):
            url = f"http://x/{n}"
            page = FetchedPage(request=FetchRequest(url=url, context=FeedItem(url=url, canonical_url=url)),
                               final_url=url, status=200, content_type="text/html", header_charset="utf-8",
                               body=html, fetched_at=datetime(2026, 11, 21, tzinfo=timezone.utc), attempts=1)
            (article,) = list(fn.process(page))
            assert isinstance(article, ExtractedArticle)
        assert fn._watchdog.starts == 1
    finally:
        fn.teardown()
    assert fn._watchdog._process is None  # teardown ended it


def test_the_initializer_runs_in_the_child_before_the_first_call():
    watchdog = Watchdog(environment, timeout=60, initializer=mark)
    try:
        assert watchdog.call("NEWSBEAM_WATCHDOG_MARK") == "initialised"
    finally:
        watchdog.close()


def test_a_process_that_extracts_html_pages_does_not_load_the_pdf_library():
    """pypdfium2 is imported on the first PDF: the workers and each watchdog child import newsbeam.article to
    extract pages, and most never meet a PDF (its import was ~8 % of a child's start)."""
    code = ("import sys\n"
            "from datetime import datetime, timezone\n"
            "from newsbeam.article import extract_article\n"
            "from newsbeam.extraction import ExtractionSettings\n"
            "from newsbeam.schemas.records import FeedItem, FetchedPage, FetchRequest\n"
            "body = ('<html><head><title>A day</title></head><body><article><h1>A day</h1>'\n"
            "        + '<p>' + 'Words of a sentence about the day. ' * 40 + '</p></article></body></html>').encode()\n"
            "item = FeedItem(url='http://x/a', canonical_url='http://x/a')\n"
            "page = FetchedPage(request=FetchRequest(url=item.url, context=item), final_url=item.url, status=200,\n"
            "                   content_type='text/html', header_charset='utf-8', body=body,\n"
            "                   fetched_at=datetime(2026, 1, 1, tzinfo=timezone.utc), attempts=1)\n"
            "assert extract_article(page, ExtractionSettings()).text\n"
            "print('pypdfium2' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
