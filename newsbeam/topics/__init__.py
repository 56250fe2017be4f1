"""Topic watchlists: multilingual terms per topic, matched with Aho–Corasick over the entity key (pure Python).

A topics file (YAML) maps topic ids to terms per language:

    version: 1
    topics:
      returnees:
        label: Returnees
        terms:
          en: [returnee*, returning fighter*]
          de: [Rückkehrer*]

Terms are keyed with `newsbeam.entities.normalise_key`, the same transliteration-tolerant key the entity tagger uses,
so case, accents, hyphens, Arabic articles and spelling variants do not matter. A `*` at the end of a word makes it
a prefix ('Rückkehrer*' also matches 'Rückkehrerinnen'); every other word must match whole. Matches start on a word
boundary (in Arabic, also after a one-letter clitic: 'والمقاتلين'). All terms of all languages apply to every text:
an article quoting an English term in German still counts.

One automaton holds the first word of every term; the rest of a term is checked word by word from there.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from importlib import resources
from typing import Dict, List, Mapping, Optional, Tuple

import ahocorasick
import yaml

from newsbeam.entities.normalise import NormalisedText, normalise, normalise_key, script_of

_TOPIC_ID = re.compile(r"[a-z][a-z0-9_]*")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_BREAKS = re.compile(r"[.,;:!?()\[\]{}\"«»“”/|\n\t]")
_ARABIC_CLITICS = frozenset({"و", "ف", "ب", "ل", "ك", "وب", "ول", "فب", "فل", "وك"})


@dataclass(frozen=True)
class _Word:
    key: str
    prefix: bool


@dataclass(frozen=True)
class _Term:
    topic: str
    words: Tuple[_Word, ...]


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a watchlist with a topic defined twice is a mistake."""


def _mapping_without_duplicates(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ValueError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _parse_term(term, where: str) -> Tuple[_Word, ...]:
    if not isinstance(term, str) or not term.strip():
        raise ValueError(f"{where}: a term must be a non-empty string, got {term!r}")
    words = []
    for raw in term.split():
        prefix = raw.endswith("*")
        body = raw.rstrip("*")
        if "*" in body:
            raise ValueError(f"{where}: term {term!r}: '*' may only end a word")
        key = normalise_key(body)
        if not key:
            if prefix:
                raise ValueError(f"{where}: term {term!r}: '*' needs letters before it")
            continue  # a dropped article ('al') or punctuation
        for part in key.split(" ")[:-1]:  # 'IS-Rückkehrer*' is two words
            words.append(_Word(part, False))
        words.append(_Word(key.split(" ")[-1], prefix))
    if not words:
        raise ValueError(f"{where}: term {term!r} has no letters")
    return tuple(words)


def parse_topics(data, source: str = "topics file") -> Tuple[Dict[str, str], List[_Term]]:
    """Validate a loaded topics document; returns ({topic id: label}, terms). Raises ValueError naming the problem."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: expected a mapping with a 'topics' key, got {type(data).__name__}")
    topics = data.get("topics")
    if not isinstance(topics, Mapping) or not topics:
        raise ValueError(f"{source}: 'topics' must be a non-empty mapping of topic ids to definitions")
    labels: Dict[str, str] = {}
    terms: List[_Term] = []
    for topic, definition in topics.items():
        where = f"{source}: topic {topic!r}"
        if not isinstance(topic, str) or not _TOPIC_ID.fullmatch(topic):
            raise ValueError(f"{where}: ids are lower-case letters, digits and '_', starting with a letter")
        if not isinstance(definition, Mapping):
            raise ValueError(f"{where}: expected a mapping with 'terms', got {type(definition).__name__}")
        unknown = set(definition) - {"label", "description", "terms"}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        by_language = definition.get("terms")
        if not isinstance(by_language, Mapping) or not by_language:
            raise ValueError(f"{where}: 'terms' must map language codes to lists of terms")
        for language, items in by_language.items():
            if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
                raise ValueError(f"{where}: {language!r} is not a language code (ISO 639-1, e.g. 'en')")
            if not isinstance(items, list) or not items:
                raise ValueError(f"{where}: terms for {language!r} must be a non-empty list")
            for term in items:
                terms.append(_Term(topic, _parse_term(term, f"{where} ({language})")))
        labels[topic] = str(definition.get("label") or topic)
    return labels, terms


def load_topics(path: Optional[str] = None) -> Tuple[Dict[str, str], List[_Term]]:
    source = path or "default_topics.yaml"
    try:
        if path is None:
            text = resources.files("newsbeam.topics").joinpath("default_topics.yaml").read_text(encoding="utf-8")
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        raise ValueError(f"{source}: not valid YAML: {error}") from error
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from error
    return parse_topics(data, source)


class TopicMatcher:
    """Topic ids whose terms occur in a text. Build once (it parses the file and builds an automaton); `match` is
    cheap and keeps no state."""

    def __init__(self, path: Optional[str] = None):
        self.labels, terms = load_topics(path)
        self._terms = terms
        self._automaton = ahocorasick.Automaton()
        first_words: Dict[str, List[int]] = {}
        for index, term in enumerate(terms):
            first_words.setdefault(term.words[0].key, []).append(index)
        for key, indexes in first_words.items():
            self._automaton.add_word(key, (len(key), tuple(indexes)))
        self._automaton.make_automaton()

    @property
    def topics(self) -> List[str]:
        return sorted(self.labels)

    def match(self, text: str, norm: Optional[NormalisedText] = None) -> List[str]:
        """Sorted ids of the topics with at least one term in `text`. `norm`: `normalise(text)`, when the caller
        has it."""
        if norm is None:
            norm = normalise(text or "")
        if not norm.key:
            return []
        tokens = norm.tokens
        key = norm.key
        key_starts = [token.key_start for token in tokens]
        found = set()
        for end_index, (length, indexes) in self._automaton.iter(key):
            start = end_index + 1 - length
            first = bisect_right(key_starts, start) - 1
            if first < 0 or start >= tokens[first].key_end:
                continue
            if start != key_starts[first]:
                prefix = key[key_starts[first]:start]  # an Arabic clitic glued to the word: 'والمقاتلين'
                if length < 4 or prefix not in _ARABIC_CLITICS or script_of(prefix) != "arabic":
                    continue
            for index in indexes:
                term = self._terms[index]
                if term.topic not in found and self._rest_matches(norm, first, end_index + 1, term):
                    found.add(term.topic)
        return sorted(found)

    @staticmethod
    def _rest_matches(norm, first: int, end: int, term: _Term) -> bool:
        tokens, key = norm.tokens, norm.key
        if not term.words[0].prefix and end != tokens[first].key_end:
            return False
        last = first + len(term.words) - 1
        if last >= len(tokens):
            return False
        for offset, word in enumerate(term.words[1:], start=1):
            token = tokens[first + offset]
            text_word = key[token.key_start:token.key_end]
            if not (text_word.startswith(word.key) if word.prefix else text_word == word.key):
                return False
        # a term does not run across a sentence or a list: 'fighters. Foreign ...' is no 'foreign fighters'
        return last == first or not _BREAKS.search(norm.original[tokens[first].end:tokens[last].start])
