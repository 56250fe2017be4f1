"""EntityTagger: statistical NER where a model exists, gazetteer linking in every language, one output type."""
from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from newsbeam.entities import cache as gazetteer_cache
from newsbeam.entities import gazetteer as gazetteer_module
from newsbeam.entities import linking, ner
from newsbeam.entities.normalise import NormalisedText
from newsbeam.schemas.columns import entity_ids
from newsbeam.schemas.records import EntityMention

__all__ = ["EntityMention", "EntitySettings", "EntityTagger", "entity_ids"]  # the mention type and its ids column

# Countries of the conflicts this project follows and their neighbours: every GeoNames city of 15,000+ people is
# matched there. Elsewhere only cities of `min_population`+, so the thousands of small towns whose names are also
# words ('Lage', 'Wetter', 'Police') stay out; the curated file adds the small places that matter (Vilvoorde, Lunel).
FOCUS_COUNTRIES = ("SY", "IQ", "TR", "LB", "JO", "IL", "PS", "EG", "LY", "TN", "DZ", "MA", "YE", "SA", "IR", "AF",
                   "PK", "KW", "QA", "AE", "BH", "OM", "SO", "ML", "NE", "NG", "TD", "BF", "MR", "SD", "GE", "AZ",
                   "AM", "TJ", "UZ", "KG")


@dataclass(frozen=True)
class EntitySettings:
    models: Tuple[ner.ModelSpec, ...] = ner.DEFAULT_MODELS  # languages with a statistical model
    use_ner: bool = True  # False: gazetteer only, in every language
    batch_size: int = 32  # texts per nlp.pipe batch
    max_chars: int = 100_000  # longer texts are tagged on this prefix only (offsets stay valid)
    focus_countries: Tuple[str, ...] = FOCUS_COUNTRIES
    min_population_focus: int = 15_000
    min_population: int = 100_000
    min_alternate_chars: int = 4  # GeoNames alternate spellings shorter than this (as keys) are not matched
    gazetteer_path: Optional[str] = None  # None: the bundled data/gazetteer.yaml
    # where the built gazetteer is cached: 'auto' ($NEWSBEAM_CACHE_DIR or ~/.cache/newsbeam), a directory, or None
    gazetteer_cache: Optional[str] = gazetteer_cache.AUTO


class EntityTagger:
    """Loads the NER models and builds the gazetteer (several seconds, ~200 MB): build one per worker process,
    in `DoFn.setup()`. `tag` and `tag_many` are then fast and keep no state between calls.

    Pickling sends only the settings; unpickling rebuilds everything (so a tagger captured by accident in a Beam
    closure costs a rebuild on the worker, not a multi-hundred-megabyte pickle)."""

    def __init__(self, settings: EntitySettings = EntitySettings()):
        self._settings = settings
        options = gazetteer_module.BuildOptions(
            focus_countries=frozenset(settings.focus_countries),
            min_population_focus=settings.min_population_focus,
            min_population=settings.min_population,
            min_alternate_chars=settings.min_alternate_chars,
            curated_path=settings.gazetteer_path,
        )
        self._cache_directory = gazetteer_cache.resolve_directory(settings.gazetteer_cache)
        self._gazetteer = gazetteer_cache.load_or_build(options, lambda: gazetteer_module.build(options),
                                                        self._cache_directory)
        # each model loads when the first text of its language arrives (a worker that never sees French does not
        # pay the French model's ~2.5 s); a missing or mismatched package is still refused here, at set-up
        self._specs: Dict[str, ner.ModelSpec] = {spec.language: spec for spec in settings.models} \
            if settings.use_ner else {}
        for spec in self._specs.values():
            ner.check_installed(spec)
        self._models: Dict[str, object] = {}
        self._loading = threading.Lock()  # DoFn instances on several threads share one tagger

    def __getstate__(self):
        return {"settings": self._settings}

    def __setstate__(self, state):
        self.__init__(state["settings"])

    @property
    def settings(self) -> EntitySettings:
        return self._settings

    @property
    def gazetteer(self) -> gazetteer_module.Gazetteer:
        return self._gazetteer

    def model(self, language: str):
        """The spaCy pipeline for an ISO 639-1 code, loaded on first use; None where there is no model."""
        spec = self._specs.get(language)
        if spec is None:
            return None
        model = self._models.get(language)
        if model is None:
            with self._loading:
                model = self._models.get(language)
                if model is None:
                    model = self._models[language] = ner.load_model(spec, self._cache_directory)
        return model

    def loaded_languages(self) -> Tuple[str, ...]:
        """The languages whose model is loaded so far."""
        return tuple(sorted(self._models))

    def load_all(self) -> Dict[str, object]:
        """Every model now (benchmarks, and callers that want no load later)."""
        return {language: self.model(language) for language in self._specs}

    def tag(self, text: str, language: str) -> List[EntityMention]:
        """Mentions in `text`, sorted by start. `language` is ISO 639-1 or 'und' (no model: gazetteer only)."""
        return self.tag_many([(text, language)])[0]

    def tag_many(self, docs: Sequence[Tuple[str, str]],
                 norms: Optional[Sequence[NormalisedText]] = None) -> List[List[EntityMention]]:
        """Like `tag` for each (text, language); texts of one language go through the model in batches. `norms`:
        `normalise(text)` of each whole text, when the caller needs them too (the topic watchlists): a text is
        keyed once, not twice (~3 ms an article)."""
        results: List[Optional[List[EntityMention]]] = [None] * len(docs)
        by_language: Dict[str, List[int]] = defaultdict(list)
        for index, (_, language) in enumerate(docs):
            by_language[_language_code(language)].append(index)
        for language, indexes in by_language.items():
            texts = [(docs[index][0] or "")[: self._settings.max_chars] for index in indexes]
            model = self.model(language)
            if model is not None:
                spans = ner.run(model, texts, language, self._settings.batch_size)
            else:
                spans = [[] for _ in texts]
            for index, text, text_spans in zip(indexes, texts, spans):
                # a text cut at max_chars is keyed as cut
                norm = norms[index] if norms is not None and len(norms[index].original) == len(text) else None
                links = linking.link(self._gazetteer, text, language, text_spans, has_model=model is not None,
                                     norm=norm)
                results[index] = [_mention(text, linked) for linked in links]
        return results  # type: ignore[return-value]


def _language_code(language: Optional[str]) -> str:
    code = (language or "und").strip().lower().replace("_", "-").split("-")[0]
    return code or "und"


def _mention(text: str, linked: linking.Linked) -> EntityMention:
    entity = linked.entity
    return EntityMention(text[linked.start:linked.end], linked.label, linked.start, linked.end,
                         entity.id if entity else None, entity.name if entity else None)
