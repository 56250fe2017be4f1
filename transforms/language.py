"""Language tagging with langdetect, profiles loaded once per worker process."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.utils import shared

from newsbeam.language import UNDETERMINED, LanguageDetector, LanguageSettings, language_from_hint
from newsbeam.runtime import freeze_set_up_heap
from newsbeam.schemas.records import Article, ExtractedArticle
from newsbeam.transforms.common import acquire_shared, counter, timed

# One detector per process and settings, for every DoFn instance (and the warm-up step, transforms/warmup).
_DETECTORS = shared.Shared()


def shared_detector(settings: LanguageSettings) -> LanguageDetector:
    return acquire_shared(_DETECTORS, lambda: LanguageDetector(settings), settings)


class _DetectLanguageFn(beam.DoFn):
    def __init__(self, settings: LanguageSettings):
        self._settings = settings
        self._undetermined = counter("language.und")
        self._from_hint = counter("language.from_hint")
        self._time = counter("stage_us.language")

    def setup(self):
        # taken with the first article, not here: fused with the fetch (transforms/share.ShareAsListed) a set-up
        # that waited for the profiles would hold back the first request
        self._detector = None

    def process(self, article: ExtractedArticle):
        if self._detector is None:
            self._detector = shared_detector(self._settings)
            freeze_set_up_heap()
        with timed(self._time):
            language, score = self._detector.detect(article.text)
        if language == UNDETERMINED:
            # the listing's hint (news sitemap, JSON Feed) stands in for a text too short or mixed to tell
            hinted = language_from_hint(article.item.language_hint)
            if hinted is not None:
                language = hinted
                self._from_hint.inc()
            else:
                self._undetermined.inc()
        yield Article(extracted=article, language=language, language_score=score)


class DetectLanguage(beam.PTransform):
    """ExtractedArticle -> Article (ISO 639-1 code or 'und', with its probability)."""

    def __init__(self, settings: LanguageSettings):
        super().__init__()
        self._settings = settings

    def expand(self, articles):
        return articles | "Detect" >> beam.ParDo(_DetectLanguageFn(self._settings))
