"""A page can no longer hold a worker: extraction runs under a per-page time limit (hardening item 7)."""
import time
from datetime import datetime, timezone

import pytest
from apache_beam.pvalue import TaggedOutput

from newsbeam import reasons
from newsbeam.extraction import ExtractionSettings
from newsbeam.sample_site import SITE_DIR
from newsbeam.schemas.records import ExtractedArticle, FeedItem, FetchedPage, FetchRequest
from newsbeam.transforms.extract import _ExtractFn
from newsbeam.watchdog import CallTimedOut, Watchdog
from tests.watchdog_helpers import fail, nap

FETCHED = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def quadratic_page(attributes: int) -> bytes:
    """libxml2 checks an element's attributes for duplicates pairwise: 80,000 take ~7 s idle, 150,000 ~30 s."""
    names = " ".join(f'data-a{i}="x"' for i in range(attributes))
    return f"<html><body><div {names}>x</div><p>{'word ' * 100}</p></body></html>".encode()


def fetched(url, body):
    item = FeedItem(url=url, canonical_url=url)
    return FetchedPage(request=FetchRequest(url=url, context=item), final_url=url, status=200,
                       content_type="text/html", header_charset="utf-8", body=body, fetched_at=FETCHED, attempts=1)


def test_watchdog_kills_an_overrunning_call_and_carries_on():
    watchdog = Watchdog(nap, timeout=1.0)
    try:
        assert watchdog.call(0.01) == 0.01
        started = time.monotonic()
        with pytest.raises(CallTimedOut):
            watchdog.call(60)
        assert time.monotonic() - started < 20  # killed, not waited for
        assert watchdog.call(0.02) == 0.02  # a fresh child
    finally:
        watchdog.close()


def test_watchdog_reraises_the_callees_exception():
    watchdog = Watchdog(fail, timeout=30)
    try:
        with pytest.raises(ValueError, match="inside the child"):
            watchdog.call()
    finally:
        watchdog.close()


def test_a_pathological_page_becomes_extraction_timeout_and_the_next_page_is_extracted():
    fn = _ExtractFn(ExtractionSettings(timeout=1.0))
    fn.setup()
    try:
        started = time.monotonic()
        (dead,) = list(fn.process(fetched("http://x/slow", quadratic_page(80_000))))
        assert isinstance(dead, TaggedOutput) and dead.value.reason == reasons.EXTRACTION_TIMEOUT
        assert dead.value.stage == reasons.STAGE_EXTRACT and "--extract-timeout" in dead.value.detail
        assert time.monotonic() - started < 60  # child start-up on a loaded machine plus the 1 s limit
        html = (SITE_DIR / "articles" / "en-hague-court-ruling.html").read_bytes()
        (article,) = list(fn.process(fetched("http://x/ok", html)))
        assert isinstance(article, ExtractedArticle) and article.word_count > 200
    finally:
        fn.teardown()
