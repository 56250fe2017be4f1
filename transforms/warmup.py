"""Loading the models of the stages after fetching while the pages are still being fetched.

The language profiles, spaCy models and gazetteer take seconds to load per worker process (~9 s in all). Left to
the `setup()` of the stages that use them, that happens only once the fetched pages reach those stages, on every
worker, with nothing else to do meanwhile. `WarmUp` is a pass-through step fused with fetching: its `setup()`
starts building them in a background thread, through the same per-process handles the later stages acquire
(`apache_beam.utils.shared`), so those stages find them ready, or wait for the build already under way instead of
starting a second one. Beam's local runner sets up a stage on every worker, even a worker given no element of it,
so each worker starts loading when fetching starts, also the workers that fetch nothing (a one-host run).
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, List, Optional

import apache_beam as beam

from newsbeam.language import LanguageSettings
from newsbeam.transforms.entities import EntityStageSettings, shared_tagger, shared_topics
from newsbeam.transforms.language import shared_detector

LOG = logging.getLogger(__name__)


def _loaders(language: Optional[LanguageSettings], entities: Optional[EntityStageSettings]) -> List[Callable]:
    loaders: List[Callable] = []
    if language is not None:
        loaders.append(lambda: shared_detector(language))
    if entities is not None:
        loaders.append(lambda: shared_topics(entities.topics_path))
        loaders.append(lambda: _with_models(shared_tagger(entities.tagger)))  # the long one: spaCy models, gazetteer
    return loaders


def _with_models(tagger):
    # the tagger loads a language's model on its first text; warming up means loading them all now
    tagger.load_all()
    return tagger


class _WarmUpFn(beam.DoFn):
    def __init__(self, language: Optional[LanguageSettings], entities: Optional[EntityStageSettings]):
        self._language = language
        self._entities = entities

    def setup(self):
        # the handles keep a weak reference only: this DoFn holds what it built until the later stages hold it too
        self._held: List[object] = []
        self._thread = threading.Thread(target=self._load, name="newsbeam-warmup", daemon=True)
        self._thread.start()

    def _load(self):
        for load in _loaders(self._language, self._entities):
            try:
                self._held.append(load())
            except Exception:  # noqa: BLE001 - the stage that needs it builds it again and reports the error
                LOG.debug("warm-up: loading failed; the stage that uses it will load it", exc_info=True)
                return

    def process(self, element):
        yield element

    def teardown(self):
        self._held = []


class WarmUp(beam.PTransform):
    """Elements unchanged; each worker starts loading the language detector and (with `entities`) the entity
    tagger and topic watchlists in the background when this step is set up."""

    def __init__(self, language: Optional[LanguageSettings], entities: Optional[EntityStageSettings]):
        super().__init__()
        self._language = language
        self._entities = entities

    def expand(self, elements):
        return elements | "Load" >> beam.ParDo(_WarmUpFn(self._language, self._entities))
