"""Fetched pages to extracted articles (trafilatura), with dead letters for pages without usable text."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from newsbeam import dateparser_cache, reasons
from newsbeam.article import extract_article
from newsbeam.extraction import EmptyText, ExtractionSettings, NotHtml
from newsbeam.fetching import utcnow
from newsbeam.pdf import PdfEncrypted, PdfError, PdfTooLarge
from newsbeam.runtime import freeze_set_up_heap, set_up_extraction_child
from newsbeam.schemas.records import DeadLetter, ExtractedArticle, FetchedPage
from newsbeam.transforms.common import DEAD_LETTERS, counter, timed
from newsbeam.watchdog import CallTimedOut, Watchdog


class _ExtractFn(beam.DoFn):
    def __init__(self, settings: ExtractionSettings):
        self._settings = settings
        self._extracted = counter("articles.extracted")
        self._failed = counter("articles.extract_failed")  # live progress: dead letters before the writer
        self._timeouts = counter("articles.extraction_timeouts")
        self._time = counter("stage_us.extract")

    def setup(self):
        # dateparser's per-locale expressions from the disk cache: ~1.6 s of CPU a process otherwise
        self._dates = dateparser_cache.Warm(dateparser_cache.default_directory())
        self._dates.load()
        # a page is given `timeout` seconds in a child process; 0 runs it here, unguarded
        self._watchdog = Watchdog(extract_article, self._settings.timeout,
                                  initializer=set_up_extraction_child) if self._settings.timeout else None
        freeze_set_up_heap()

    def finish_bundle(self):
        self._dates.save_if_grown()

    def teardown(self):
        if getattr(self, "_watchdog", None) is not None:
            self._watchdog.close()

    def _extract(self, page: FetchedPage) -> ExtractedArticle:
        if self._watchdog is None or len(page.body) < self._settings.timeout_min_bytes:
            return extract_article(page, self._settings)
        return self._watchdog.call(page, self._settings)

    def process(self, page: FetchedPage):
        try:
            with timed(self._time):
                article = self._extract(page)
        except CallTimedOut as exc:
            self._timeouts.inc()
            reason, detail = reasons.EXTRACTION_TIMEOUT, f"extraction stopped: {exc} (--extract-timeout)"
        except EmptyText as exc:
            reason, detail = reasons.EMPTY_TEXT, str(exc)
        except NotHtml as exc:
            reason, detail = reasons.NOT_HTML, str(exc)
        except PdfEncrypted as exc:
            reason, detail = reasons.PDF_ENCRYPTED, str(exc)
        except PdfError as exc:
            reason, detail = reasons.PDF_ERROR, str(exc)
        except PdfTooLarge as exc:
            reason, detail = reasons.TOO_LARGE, str(exc)
        except Exception as exc:  # trafilatura/lxml surprises on hostile markup cost one page, not the run
            reason, detail = reasons.EXTRACTION_ERROR, f"{type(exc).__name__}: {exc}"
        else:
            self._extracted.inc()
            yield article
            return
        self._failed.inc()
        item = page.request.context
        yield TaggedOutput(DEAD_LETTERS, DeadLetter(
            url=item.url, feed_url=item.feed_url, stage=reasons.STAGE_EXTRACT, reason=reason, detail=detail,
            failed_at=utcnow(), http_status=page.status, attempts=page.attempts, warc=page.warc))


class ExtractArticles(beam.PTransform):
    """FetchedPage -> ExtractedArticle (main) and DeadLetter (tag `dead_letters`)."""

    def __init__(self, settings: ExtractionSettings):
        super().__init__()
        self._settings = settings

    def expand(self, pages):
        return pages | "Extract" >> beam.ParDo(_ExtractFn(self._settings)).with_outputs(DEAD_LETTERS, main="articles")
