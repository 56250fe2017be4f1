"""Entity tagging and topic watchlists, models and gazetteers loaded once per worker process."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import List, Optional

import apache_beam as beam
from apache_beam.utils import shared

from newsbeam.entities import EntitySettings, EntityTagger
from newsbeam.entities.normalise import normalise
from newsbeam.runtime import freeze_set_up_heap
from newsbeam.topics import TopicMatcher
from newsbeam.schemas.records import Article
from newsbeam.transforms.common import acquire_shared, counter, timed

# Module-level handles: every DoFn instance of a process (and every pipeline an in-process runner runs there)
# shares one tagger (~9 s and ~200 MB to build) and one topic matcher.
_TAGGERS = shared.Shared()
_TOPICS = shared.Shared()


@dataclass(frozen=True)
class EntityStageSettings:
    tagger: EntitySettings = EntitySettings()
    topics_path: Optional[str] = None  # None: the bundled watchlists
    batch_size: int = 32  # articles per nlp.pipe call


def shared_tagger(settings: EntitySettings) -> EntityTagger:
    return acquire_shared(_TAGGERS, lambda: EntityTagger(settings), settings)


def shared_topics(path: Optional[str]) -> TopicMatcher:
    return acquire_shared(_TOPICS, lambda: TopicMatcher(path), path)


class _TagBatchFn(beam.DoFn):
    def __init__(self, settings: EntityStageSettings):
        self._settings = settings
        self._mentions = counter("entities.mentions")
        self._linked = counter("entities.linked")
        self._topics_matched = counter("topics.matched")
        self._time = counter("stage_us.entities")
        self._batches = counter("entities.batches")  # articles tagged / this = the mean nlp.pipe batch

    def setup(self):
        # taken with the first batch, as the language detector (transforms/language)
        self._tagger = None

    def process(self, batch: List[Article]):
        if self._tagger is None:
            self._tagger = shared_tagger(self._settings.tagger)
            self._topics = shared_topics(self._settings.topics_path)
            self._models = len(self._tagger.loaded_languages())
            freeze_set_up_heap()
        self._batches.inc()
        with timed(self._time):
            # each text keyed once, for the gazetteer and the watchlists alike
            norms = [normalise(a.extracted.text or "") for a in batch]
            mentions = self._tagger.tag_many([(a.extracted.text, a.language) for a in batch], norms)
            topics = [self._topics.match(a.extracted.text, norm) for a, norm in zip(batch, norms)]
        if len(self._tagger.loaded_languages()) != self._models:  # a language's model loaded on its first text
            self._models = len(self._tagger.loaded_languages())
            freeze_set_up_heap()
        for article, found, matched in zip(batch, mentions, topics):
            self._mentions.inc(len(found))
            self._linked.inc(sum(1 for m in found if m.entity_id))
            self._topics_matched.inc(len(matched))
            yield replace(article, entities=tuple(found), topics=tuple(matched))


class TagEntities(beam.PTransform):
    """Article -> Article with `entities` (linked to canonical ids) and watchlist `topics`, in batches so that
    spaCy's nlp.pipe sees many texts of a language at once."""

    def __init__(self, settings: EntityStageSettings):
        super().__init__()
        self._settings = settings

    def expand(self, articles):
        return (
            articles
            | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self._settings.batch_size)
            | "Tag" >> beam.ParDo(_TagBatchFn(self._settings))
        )
