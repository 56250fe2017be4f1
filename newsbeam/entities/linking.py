"""From a text, its language and its model entities to linked mentions (pure, given a built Gazetteer).

1. Scan: the Aho–Corasick automaton runs over the text's key (see normalise.py). A hit counts only on token
   boundaries, with two exceptions: an Arabic one-letter clitic may precede the name inside its word ('وداعش',
   'بدمشق'; names of 4+ letters, or 3+ for curated ones: 'لقسد'), and in German a genitive -s may follow it
   ('Syriens'). Offsets go back to the original text through the token map; a dropped Latin article stays in the
   mention ('al-Hol camp').
2. Spelling filters, per alias of a hit:
   - a name of several words does not run across punctuation ('camp.\nAl-Hol' is not 'camp al-Hol');
   - abbreviations match letter for letter in capitals ('IS', not 'Is'), and not inside shouting (an all-capitals
     word next to it: 'WHAT IS LEFT');
   - in cased scripts the text needs a capital letter where the name has one ('nice' is never Nice), and a word
     spelt with an umlaut only matches spellings with one ('Türen' is not Turen, an alternate name of Turin);
   - short article-bound names need their article ('al-Hol', not 'Hol'); in Arabic the article must agree both
     ways ('جديدة' is not El Jadida, الجديدة; 'السلطات', 'the authorities', is not Settat, سلطات).
3. Context filters for places:
   - place names that are also people's names are dropped next to another capitalised name word or after an
     honorific ('Jordan Matthews', 'Paris Hilton'), and any place inside a longer model PERSON entity;
   - in English and French, a one-word place followed by a capitalised word that is not a designator ('Province')
     is the start of a longer name ('Salem Haddad').
4. Support: ambiguous names (listed common words, stop words, names of one or two letters, short Arabic
   alternates, per-language ambiguous abbreviations) and, where a model reads the language, one-word places at a
   sentence start are linked only with support: an overlapping model entity of a compatible type, a cue word ('in
   Nice', 'مدينة الباب', Turkish 'Van'da', 'IS fighters'), or, where a capital letter means something (a cased
   script, not a sentence start, not German), the same entity or the city's country named unambiguously elsewhere.
5. Choice among entities that share a spelling: the one already named, then the one whose country the text names
   ('Tripoli' next to 'Lebanon'), then curated over country over city, a primary name over an alternate, the larger
   population.
6. Overlaps: linked mentions beat unlinked model entities, longer beats shorter, earlier beats later.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Set, Tuple

from newsbeam.entities import ner as ner_labels
from newsbeam.entities.gazetteer import (UMLAUTS, AMBIGUOUS, ANY_CASE, ARABIC, GIVEN_NAME, HAS_ARTICLE, KIND_RANK,
                                         NEEDS_ARTICLE, PRIMARY, UMLAUT, Alias, Entity, Gazetteer, plain)
from newsbeam.entities.normalise import TOKEN, NormalisedText, normalise, original_offset_after, script_of

_BREAKS = re.compile(r"[.,;:!?()\[\]{}\"«»“”/|\n\t]")
ARABIC_CLITICS = frozenset({"و", "ف", "ب", "ل", "ك", "وب", "ول", "فب", "فل", "وك"})
_APOSTROPHES = "'’"
_ADJACENT = frozenset(" \u00A0")


@dataclass(frozen=True)
class Hit:
    start: int  # original offsets
    end: int
    group: int
    first: int  # token indices in NormalisedText.tokens
    last: int


@dataclass(frozen=True)
class Linked:
    start: int
    end: int
    entity: Optional[Entity]
    label: str


def scan(gazetteer: Gazetteer, norm: NormalisedText, language: str) -> List[Hit]:
    """Every alias occurrence on token boundaries (overlapping ones included)."""
    if not norm.key or not len(gazetteer):
        return []
    tokens = norm.tokens
    starts = {token.key_start: index for index, token in enumerate(tokens)}
    ends = {token.key_end: index for index, token in enumerate(tokens)}
    key_starts = [token.key_start for token in tokens]
    key = norm.key
    hits: List[Hit] = []
    for end_index, group in gazetteer.automaton.iter(key):
        key_end = end_index + 1
        key_start = key_end - len(gazetteer.keys[group])
        first = starts.get(key_start)
        if first is not None:
            start = tokens[first].article_start  # the mention keeps its article: 'al-Hol camp', not 'Hol camp'
        else:
            first = bisect_right(key_starts, key_start) - 1
            if first < 0 or key_start >= tokens[first].key_end:
                continue
            token = tokens[first]
            prefix = key[token.key_start:key_start]
            shortest = 3 if group in gazetteer.curated_groups else 4
            if prefix not in ARABIC_CLITICS or key_end - key_start < shortest or script_of(prefix) != "arabic":
                continue
            start = token.start + original_offset_after(norm.original[token.start:token.end], len(prefix))
        last = ends.get(key_end)
        if last is not None:
            end = tokens[last].end
        else:
            last = bisect_right(key_starts, key_end - 1) - 1
            token = tokens[last]
            if not (language == "de" and token.key_end == key_end + 1 and key[key_end] == "s"
                    and norm.original[token.end - 1] in "sS"):
                continue
            end = token.end - 1
        hits.append(Hit(start, end, group, first, last))
    return hits


class _Context:
    """Words of the original text around a hit, and what the model said about the text."""

    def __init__(self, text: str, language: str, gazetteer: Gazetteer, ner: Sequence[ner_labels.NerSpan]):
        self.text = text
        self.language = language
        self.words = gazetteer.words
        # model entities do not overlap one another, so sorted by start they are sorted by end too
        self.ner = sorted(ner, key=lambda span: span.start)
        self.ner_ends = [span.end for span in self.ner]
        self.spans = [(m.start(), m.end()) for m in TOKEN.finditer(text)]
        self.span_starts = [start for start, _ in self.spans]
        self.span_ends = [end for _, end in self.spans]

    def previous(self, start: int) -> Optional[Tuple[str, str]]:
        """(word, gap between it and start) for the word just before `start`."""
        index = bisect_right(self.span_ends, start) - 1
        if index < 0:
            return None
        word_start, word_end = self.spans[index]
        return self.text[word_start:word_end], self.text[word_end:start]

    def following(self, end: int) -> Optional[Tuple[str, str]]:
        index = bisect_left(self.span_starts, end)
        if index >= len(self.spans):
            return None
        word_start, word_end = self.spans[index]
        return self.text[word_start:word_end], self.text[end:word_start]

    def cue(self, lists, word_gap: Optional[Tuple[str, str]], gap_ok: str = "") -> bool:
        if word_gap is None:
            return False
        word, gap = word_gap
        if any(ch not in _ADJACENT and ch not in gap_ok for ch in gap) or len(gap) > 2:
            return False
        return plain(word) in lists.get(self.language, lists["und"])

    def cased(self, hit: Hit) -> bool:
        return script_of(self.text[hit.start:hit.end]) in ("latin", "cyrillic")

    def capital_informative(self, hit: Hit) -> bool:
        """Does the capital letter of this hit say 'name'? Not in uncased scripts, not at a sentence start, and
        not in German, which capitalises every noun ('Dach', 'Essen')."""
        return self.cased(hit) and self.language != "de" and not self.sentence_initial(hit.start)

    def sentence_initial(self, start: int) -> bool:
        before = self.text[max(0, start - 40):start].rstrip(" \u00A0\t\"'«»“”‘’(")
        return not before or before[-1] in ".!?:;\n"

    def ner_around(self, hit: Hit):
        """Model entities overlapping the hit."""
        index = bisect_right(self.ner_ends, hit.start)
        while index < len(self.ner) and self.ner[index].start < hit.end:
            yield self.ner[index]
            index += 1

    def ner_overlaps(self, hit: Hit, accept) -> bool:
        return any(accept(span.label) for span in self.ner_around(hit))


def _is_place(entity: Entity) -> bool:
    return entity.kind != "curated" or entity.label in ("GPE", "LOC")


def _capitalised(text: str, norm: NormalisedText, hit: Hit) -> bool:
    return any(text[norm.tokens[index].start].isupper() for index in range(hit.first, hit.last + 1))


def _shouting(context: _Context, hit: Hit, abbreviations: Set[Tuple[int, int]]) -> bool:
    """An all-capitals word right next to the abbreviation that is not itself a known abbreviation."""
    for word_gap, position in ((context.previous(hit.start), "before"), (context.following(hit.end), "after")):
        if word_gap is None:
            continue
        word, gap = word_gap
        if "\n" in gap or any(ch in ".!?;:" for ch in gap):
            continue
        if len(word) >= 2 and word.isalpha() and word.isupper():
            start = hit.start - len(gap) - len(word) if position == "before" else hit.end + len(gap)
            if not any(a_start <= start < a_end for a_start, a_end in abbreviations):
                return True
    return False


def _person_next_to(context: _Context, hit: Hit, hit_starts: Set[int], hit_ends: Set[int]) -> bool:
    """A capitalised name word or an honorific right next to a place that is also a person's name (a word that is
    itself a gazetteer hit does not count: 'Syria Jordan' is two places)."""
    words = context.words
    before = context.previous(hit.start)
    if before is not None:
        word, gap = before
        if plain(word) in words.honorifics and len(gap) <= 2 and all(ch in " .\u00A0" for ch in gap):
            return True
        if gap == " " and word[:1].isupper() and plain(word) not in words.stop_words \
                and hit.start - 1 not in hit_ends:
            return True
    after = context.following(hit.end)
    if after is not None and context.language != "de":  # German capitalises every noun
        word, gap = after
        if gap == " " and word[:1].isupper() and plain(word) not in words.stop_words \
                and hit.end + 1 not in hit_starts:
            return True
    return False


def _name_continues(context: _Context, hit: Hit, hit_starts: Set[int]) -> bool:
    """English or French: a one-word place followed by a capitalised word that is neither a stop word, a designator
    ('Province') nor another hit is the first half of a longer name, usually a person's ('Salem Haddad')."""
    after = context.following(hit.end)
    if after is None or not context.cased(hit):
        return False
    word, gap = after
    if gap != " " or not word[:1].isupper() or word.isupper():
        return False
    if plain(word) in context.words.stop_words or plain(word) in context.words.designators:
        return False
    return hit.end + 1 not in hit_starts


def _needs_model_confirmation(context: _Context, hit: Hit, entity: Entity, has_model: bool) -> bool:
    """Where a model reads the language, a one-word place at the start of a sentence (where every word has a
    capital) needs support like an ambiguous name: 'Salt and bread...', 'Reading the verdict...'."""
    return (has_model and hit.first == hit.last and _is_place(entity) and context.cased(hit)
            and context.sentence_initial(hit.start))


def _ambiguous_here(alias: Alias, language: str) -> bool:
    return bool(alias.flags & AMBIGUOUS) and (alias.ambiguous_in is None or language in alias.ambiguous_in
                                              or language not in ("en", "fr", "de", "tr", "ar", "ru"))


def _supported(context: _Context, hit: Hit, alias: Alias, entity: Entity, known_ids: Set[str],
               known_countries: Set[str]) -> bool:
    words = context.words
    # The same entity named unambiguously elsewhere supports an abbreviation in capitals ('Islamic State ... IS')
    # or a capitalised name where capitals mean something; not an ordinary word ('Dach' in a text about Daech).
    if entity.id in known_ids and (alias.exact is not None or context.capital_informative(hit)):
        return True
    if _is_place(entity):
        if context.ner_overlaps(hit, ner_labels.place_like):
            return True
        if plain(context.text[hit.start:hit.end]) in words.place_before["und"]:
            return False  # a cue word is no place: 'جنوب مدينة الموصل' ('south of the city of Mosul')
        if context.cue(words.place_before, context.previous(hit.start), gap_ok=_APOSTROPHES):
            return True
        if context.cue(words.place_after, context.following(hit.end)):
            return True
        if context.language in ("tr", "und") and context.text[hit.end:hit.end + 1] in _APOSTROPHES \
                and context.text[hit.end + 1:hit.end + 2].isalpha():
            return True  # Turkish writes case endings after an apostrophe on proper nouns only: 'Van'da'
        # A city whose country the text names: only worth something where capitals carry meaning ('Ordu
        # birlikleri...' at a sentence start is the army, whatever else the text says about Turkey).
        return entity.kind == "city" and entity.country in known_countries and context.capital_informative(hit)
    if context.ner_overlaps(hit, ner_labels.group_like):
        return True
    return context.cue(words.group_before, context.previous(hit.start)) or \
        context.cue(words.group_after, context.following(hit.end), gap_ok="-‐")


def _rank(alias: Alias, entity: Entity, known_ids: Set[str], known_countries: Set[str]):
    return (entity.id in known_ids, entity.country in known_countries, KIND_RANK[entity.kind],
            bool(alias.flags & PRIMARY), entity.population)


def link(gazetteer: Gazetteer, text: str, language: str, ner: Sequence[ner_labels.NerSpan] = (),
         has_model: bool = False, norm: Optional[NormalisedText] = None) -> List[Linked]:
    """Linked gazetteer mentions plus the model's unlinked entities, without overlaps, sorted by start.

    `ner` holds the model's entities for the text and `has_model` says whether a model read it at all (an empty
    `ner` from a model is evidence; from no model it is not). `norm`: `normalise(text)`, when the caller has it."""
    if norm is None:
        norm = normalise(text)
    hits = scan(gazetteer, norm, language)
    context = _Context(text, language, gazetteer, ner)
    entities = gazetteer.entities
    hit_starts = {hit.start for hit in hits}
    hit_ends = {hit.end for hit in hits}

    # Aliases that pass the spelling filters, per hit
    viable: Dict[Hit, List[Alias]] = {}
    abbreviations: Set[Tuple[int, int]] = set()
    for hit in hits:
        surface = text[hit.start:hit.end]
        if hit.first != hit.last and _BREAKS.search(surface):
            # the key ignores punctuation, the name does not: 'camp.\nAl-Hol' is not 'camp al-Hol'
            if not all(alias.exact for alias in gazetteer.groups[hit.group]):  # 'U.N.' keeps its dots
                continue
        uncapitalised = script_of(surface) in ("latin", "cyrillic") and not _capitalised(text, norm, hit)
        umlaut = hit.first == hit.last and not UMLAUTS.isdisjoint(surface)
        letters = "".join(ch for ch in surface if ch.isalpha())
        article = norm.tokens[hit.first].article
        kept = []
        for alias in gazetteer.groups[hit.group]:
            if alias.exact is not None:
                if letters != alias.exact:
                    continue
            elif uncapitalised and not alias.flags & ANY_CASE:
                continue
            if alias.flags & NEEDS_ARTICLE and not article:
                continue
            if alias.flags & ARABIC and bool(alias.flags & HAS_ARTICLE) != article:
                continue
            if umlaut and not alias.flags & UMLAUT:
                continue
            kept.append(alias)
        if kept:
            viable[hit] = kept
            if any(alias.exact for alias in kept):
                abbreviations.add((hit.start, hit.end))

    # Context filters that need no knowledge of the rest of the text
    for hit in list(viable):
        kept = []
        for alias in viable[hit]:
            entity = entities[alias.entity]
            if alias.exact is not None and _shouting(context, hit, abbreviations):
                continue
            if _is_place(entity):
                if alias.flags & GIVEN_NAME and _person_next_to(context, hit, hit_starts, hit_ends):
                    continue
                if hit.first == hit.last and language in ("en", "fr") and _name_continues(context, hit, hit_starts):
                    continue
                if any(ner_labels.person_like(span.label) and span.start <= hit.start and hit.end <= span.end
                       and (span.end - span.start > hit.end - hit.start or alias.flags & GIVEN_NAME)
                       for span in context.ner_around(hit)):
                    continue
            kept.append(alias)
        if kept:
            viable[hit] = kept
        else:
            del viable[hit]

    # Pass 1: unambiguous hits tell what the text is about
    confident: Dict[Hit, List[Alias]] = {}
    pending: Dict[Hit, List[Alias]] = {}
    for hit, aliases in viable.items():
        sure = [alias for alias in aliases if not _ambiguous_here(alias, language)
                and not _needs_model_confirmation(context, hit, entities[alias.entity], has_model)]
        if sure:
            confident[hit] = sure
        else:
            pending[hit] = aliases
    known_ids: Set[str] = set()
    known_countries: Set[str] = set()
    for hit, aliases in confident.items():
        best = max(aliases, key=lambda alias: _rank(alias, entities[alias.entity], set(), set()))
        entity = entities[best.entity]
        known_ids.add(entity.id)
        if entity.kind == "country" or entity.kind == "city":
            known_countries.add(entity.country)

    # Pass 2: ambiguous hits need support
    for hit, aliases in pending.items():
        # a plain name held back only for its sentence start is confirmed by the same entity linked elsewhere
        # ('The governor of Aleppo spoke. Aleppo is calm.')
        supported = [alias for alias in aliases
                     if (not _ambiguous_here(alias, language) and entities[alias.entity].id in known_ids)
                     or _supported(context, hit, alias, entities[alias.entity], known_ids, known_countries)]
        if supported:
            confident[hit] = supported

    candidates: List[Linked] = []
    for hit, aliases in confident.items():
        best = max(aliases, key=lambda alias: _rank(alias, entities[alias.entity], known_ids, known_countries))
        entity = entities[best.entity]
        candidates.append(Linked(hit.start, hit.end, entity, entity.label))
    for span in ner:
        if span.mapped is not None:
            start = span.start
            if language == "en" and text.startswith(("the ", "The "), start) and span.end - start > 4:
                start += 4  # OntoNotes spans often include the article: 'the Syrian Democratic Forces'
            end = span.end
            if language == "en" and text.endswith(("'s", "\u2019s"), start, end) and end - start > 4:
                end -= 2  # and sometimes the possessive: "Abu Bakr al-Baghdadi's" is 'Abu Bakr al-Baghdadi'
            candidates.append(Linked(start, end, None, span.mapped))
    return _without_overlaps(candidates)


def _without_overlaps(candidates: List[Linked]) -> List[Linked]:
    chosen: List[Linked] = []
    starts: List[int] = []  # of the chosen, kept sorted; chosen intervals never overlap, so their ends sort too
    ends: List[int] = []
    for candidate in sorted(candidates, key=lambda c: (c.entity is None, -(c.end - c.start), c.start)):
        index = bisect_right(ends, candidate.start)  # the first chosen interval ending after this one starts
        if index < len(starts) and starts[index] < candidate.end:
            continue
        starts.insert(index, candidate.start)
        ends.insert(index, candidate.end)
        chosen.append(candidate)
    return sorted(chosen, key=lambda c: c.start)
