"""Loading the models of the stages after fetching while the pages are still being fetched.

The language profiles, spaCy models and gazetteer take seconds to load per worker process (~9 s in all). Left to
the stages that use them (they take them with their first article), that happens only once the fetched pages
reach those stages, on every worker. `WarmUp` is a pass-through step fused with fetching: its `setup()`
starts building them in a background thread, through the same per-process handles the later stages acquire
(`apache_beam.utils.shared`), so those stages find them ready, or wait for the build already under way instead of
starting a second one. Beam's local runner sets up a stage on every worker, even a worker given no element of it,
so the workers that fetch nothing (all but one in a one-host run) load while the others fetch. Where a barrier
follows the fetch, a worker that fetches loads once its fetching ends, or meanwhile if it lasts (below); where the
workers extract while the pages are fetched (transforms/share.ShareAsListed), every worker loads at once.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, List, Optional

import apache_beam as beam

from newsbeam.language import LanguageSettings
from newsbeam.runtime import freeze_set_up_heap
from newsbeam.transforms.entities import EntityStageSettings, shared_tagger, shared_topics
from newsbeam.transforms.language import shared_detector

LOG = logging.getLogger(__name__)


def _loaders(language: Optional[LanguageSettings], entities: Optional[EntityStageSettings],
             topics: bool = True) -> List[Callable]:
    loaders: List[Callable] = []
    if language is not None:
        loaders.append(lambda: shared_detector(language))
    if entities is not None:
        if topics:
            loaders.append(lambda: shared_topics(entities.topics_path))
        loaders.append(lambda: _with_models(shared_tagger(entities.tagger)))  # the long one: spaCy models, gazetteer
    return loaders


def _load_all(loaders: List[Callable], held: List[object]) -> bool:
    """Adds what each loader builds to `held`; False at the first failure, which is left to the stage that needs
    the object (it builds it again and reports the error)."""
    for load in loaders:
        try:
            held.append(load())
        except Exception:  # noqa: BLE001 - reported by the stage that uses it
            LOG.debug("loading ahead failed; the stage that uses it will load it", exc_info=True)
            return False
    return True


def _with_models(tagger):
    # the tagger loads a language's model on its first text; warming up means loading them all now
    tagger.load_all()
    return tagger


# With a barrier after the fetch, a worker that fetches waits before it loads: fetching is then the run's serial
# phase (the stages after it start when it ends), and the loading thread would take the GIL from its fetch threads.
# A worker that gets no page within IDLE_GRACE s (nothing to fetch, or a polite first request) loads at once; a
# fetching worker loads when its fetching ends, or meanwhile as soon as fetching leaves its process mostly idle: a
# window of BUSY_WINDOW s in which the process used under BUSY_SHARE of a core (a fetch held back by politeness
# delays, minutes long, leaves it time; one bound by the CPU does not, and the worker's late start in the next stage
# is made up for there by the workers sharing out the pages, transforms/spool).
IDLE_GRACE = 0.5
BUSY_WINDOW = 1.0
BUSY_SHARE = 0.5


class _WarmUpFn(beam.DoFn):
    def __init__(self, language: Optional[LanguageSettings], entities: Optional[EntityStageSettings],
                 defer: bool = True, idle_grace: float = IDLE_GRACE, busy_window: float = BUSY_WINDOW):
        self._language = language
        self._entities = entities
        self._defer = defer
        self._idle_grace = idle_grace
        self._busy_window = busy_window

    def setup(self):
        # the handles keep a weak reference only: this DoFn holds what it built until the later stages hold it too
        self._held: List[object] = []
        self._fetching = threading.Event()  # a page came through: this worker fetches
        self._fetched = threading.Event()  # its fetching bundle ended
        self._thread = threading.Thread(target=self._load, name="newsbeam-warmup", daemon=True)
        self._thread.start()

    def _load(self):
        if self._defer and self._fetching.wait(self._idle_grace):
            self._wait_for_spare_cpu()
        if _load_all(_loaders(self._language, self._entities), self._held):
            freeze_set_up_heap()  # what was loaded lives as long as the process (newsbeam.runtime)

    def _wait_for_spare_cpu(self):
        used = time.process_time()  # every thread of the process: the fetch threads, Beam's own
        while not self._fetched.wait(self._busy_window):
            now = time.process_time()
            if now - used < BUSY_SHARE * self._busy_window:
                return
            used = now

    def process(self, element):
        self._fetching.set()
        yield element

    def finish_bundle(self):
        self._fetched.set()

    def teardown(self):
        self._fetched.set()
        self._held = []


def keep_models_loaded(language: Optional[LanguageSettings],
                       entities: Optional[EntityStageSettings]) -> List[object]:
    """For a driver whose runs execute in its own process (the stream driver's polls on the in-process runner):
    loads the language profiles and the entity tagger's models and gazetteer in a background thread, through the
    same per-process handles as the stages, into the list returned. While the caller holds that list they outlive
    each run, so later polls find them loaded (the handles keep only a weak reference: without it every poll loaded
    them again, seconds each time). A first poll under way meanwhile waits for the build, not starting a second.
    Watchlist topics are not kept: each poll reads its file again, so an edited watchlist applies at the next poll."""
    held: List[object] = []
    threading.Thread(target=_load_all, args=(_loaders(language, entities, topics=False), held),
                     name="newsbeam-keep-models", daemon=True).start()
    return held


class WarmUp(beam.PTransform):
    """Elements unchanged; each worker starts loading the language detector and (with `entities`) the entity
    tagger and topic watchlists in the background when this step is set up. `defer`: a worker given elements
    (pages: it fetches) waits until its fetching ends or leaves it idle; False where the stages after the fetch
    run while it fetches (nothing is gained by a fetch that ends sooner)."""

    def __init__(self, language: Optional[LanguageSettings], entities: Optional[EntityStageSettings],
                 defer: bool = True):
        super().__init__()
        self._language = language
        self._entities = entities
        self._defer = defer

    def expand(self, elements):
        return elements | "Load" >> beam.ParDo(_WarmUpFn(self._language, self._entities, self._defer))
