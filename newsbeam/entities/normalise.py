"""Transliteration-tolerant matching keys, with a map from key positions back to the original text (pure).

The same function keys gazetteer aliases and article text, so two spellings match when their keys are equal. Keys are
built token by token (a token is a run of letters, digits and combining marks; hyphens, apostrophes and other
punctuation separate tokens) and joined with single spaces:

- Case, diacritics and script quirks: Turkish ı/İ -> i, ş -> sh and ç -> ch (so 'Qamişli' meets 'Qamishli'), ß -> ss,
  then casefold and drop every combining mark (Latin accents and Arabic harakat alike).
- Arabic: alef and hamza forms -> ا, ة -> ه, ى -> ي, Persian ک/ی -> ك/ي, tatweel removed, and a leading definite
  article ال (also after a one-letter clitic: وال، بال، فال، كال، لل) stripped.
- Latin transliterations of Arabic: an article token (al, el, ar, as, ad, az, ez, es, ...) before another word is
  dropped, so 'Deir ez-Zor', 'Deir al-Zour' and 'Dayr az Zawr' lose the article the same way. Vowel and spelling
  variants are folded in one pass: q -> k, dsch/dj -> j, sch -> sh, ou/oo/ue/oe/aw/au/o -> u, ee -> i, ae -> a,
  ay/ai/ey -> ei; then doubled letters -> one and final ah/eh -> a. The folding is lossy on purpose; collisions
  are rare among names and the gazetteer resolves the remaining ones.
- Cyrillic: one common case ending is stripped from tokens of 5+ letters ('Москве' and 'Москва' -> 'москв').

A token whose article was dropped (Latin article token before it, or Arabic ال) is flagged, because a few short
aliases only make sense with their article: 'al-Hol' is the camp, 'Hol' alone is not.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import List, NamedTuple, Tuple

# Letters, digits and the combining marks and tatweel that belong inside a word (Python's \w leaves marks out),
# and the invisible soft hyphen and zero-width (non-)joiner, which web pages put inside words ('Ra&shy;kka').
_MARKS = "\u00AD\u200C\u200D\u0300-\u036F\u0483-\u0489\u0591-\u05C7\u0610-\u061A\u0640\u064B-\u065F\u0670" \
         "\u06D6-\u06ED\u1AB0-\u1AFF\u1DC0-\u1DFF\u20D0-\u20FF\uFE20-\uFE2F"
TOKEN = re.compile(rf"(?:[^\W_]|[{_MARKS}])+")
# What may stand between an article token and its word for the article to be dropped ('al-Hol', 'al Hol').
_ARTICLE_GAP = re.compile(r"[ \t\u00A0\-\u2010\u2011\u2012\u2013]{1,2}")

LATIN_ARTICLES = frozenset({"al", "el", "ar", "as", "ad", "az", "ez", "es", "at", "ash", "adh", "ath", "ed", "er",
                            "ul", "an"})
# Only these, or an article joined by a hyphen, count as "this name had its article": 'at Bab' is English.
_STRONG_ARTICLES = frozenset({"al", "el"})

_SPECIAL = str.maketrans({
    "ı": "i", "İ": "i", "ş": "sh", "Ş": "sh", "ç": "ch", "Ç": "ch", "ß": "ss", "ẞ": "ss", "ø": "o", "Ø": "o",
    "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "đ": "d", "Đ": "d", "ł": "l", "Ł": "l", "ð": "d", "þ": "th",
    "\u00AD": None, "\u200C": None, "\u200D": None,  # invisible inside a word
    # transliteration marks for ayn and hamza carry no letter
    "ʿ": None, "ʾ": None, "ʼ": None, "ʻ": None, "ʽ": None, "`": None, "´": None,
    # Arabic letter variants
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ؤ": "و", "ئ": "ي", "ء": None, "ـ": None,
    "ک": "ك", "ی": "ي", "ۀ": "ه", "ە": "ه", "ڤ": "ف", "پ": "ب", "گ": "ك", "چ": "ج",
    "ё": "е", "Ё": "е",
})
_ARABIC_ARTICLE = re.compile(r"^(?:[وف]?(?:[بك]?ال|لل))(?=\S{2})")
# One left-to-right pass (longest spelling first), then doubled letters and the final -ah/-eh.
_FOLD_MAP = {"q": "k", "dsch": "j", "tsch": "ch", "sch": "sh", "dj": "j", "ou": "u", "oo": "u", "ue": "u", "oe": "u",
             "ee": "i", "ae": "a", "aw": "u", "au": "u", "ay": "ei", "ai": "ei", "ey": "ei", "o": "u"}
_FOLD = re.compile("|".join(sorted(_FOLD_MAP, key=len, reverse=True)))
_DOUBLE = re.compile(r"([a-z])\1+")
_DOUBLE_ANY = re.compile(r"(.)\1+")
_FINAL_AH = re.compile("(?<=..)[ae]h$")
_CYRILLIC_ENDINGS = re.compile(
    r"(?:ами|ями|ого|его|ому|ему|ыми|ими|ой|ей|ий|ый|ая|яя|ое|ее|ом|ем|ах|ях|ам|ям|ию|ия|ии|ие|а|я|у|ю|е|и|ы|о|ь)$")


# Every combining mark in the Basic Multilingual Plane, deleted with one str.translate (much faster than asking
# unicodedata per character).
DROP_MARKS = {code: None for code in range(0x10000) if unicodedata.category(chr(code)) == "Mn"}


def _is_mark(ch: str) -> bool:
    return ord(ch) in DROP_MARKS


@lru_cache(maxsize=262144)
def token_key(token: str) -> Tuple[str, bool]:
    """(key, article_stripped) for one token; cached because news text repeats its words."""
    folded = unicodedata.normalize("NFKD", token.translate(_SPECIAL).casefold())
    key = folded.translate(DROP_MARKS).translate(_SPECIAL)
    if not key:
        return "", False
    first = key[0]
    if "\u0600" <= first <= "\u06FF":
        stripped = _ARABIC_ARTICLE.sub("", key)
        return stripped, stripped != key
    if key.isascii():
        key = _FOLD.sub(lambda match: _FOLD_MAP[match.group()], key)
        return _FINAL_AH.sub("a", _DOUBLE.sub(r"\1", key)), False
    if "\u0400" <= first <= "\u04FF":
        if len(key) >= 5:
            key = _CYRILLIC_ENDINGS.sub("", key, count=1)
        return _DOUBLE_ANY.sub(r"\1", key), False
    return key, False


def script_of(token: str) -> str:
    """'latin', 'arabic', 'cyrillic' or 'other', judged by the first letter."""
    for ch in token:
        if ch.isalpha():
            if ch < "\u0250" or "\u1E00" <= ch <= "\u1EFF":
                return "latin"
            if "\u0600" <= ch <= "\u06FF" or "\u0750" <= ch <= "\u077F" or "\uFB50" <= ch <= "\uFEFF":
                return "arabic"
            if "\u0400" <= ch <= "\u04FF":
                return "cyrillic"
            return "other"
    return "other"


class Token(NamedTuple):  # a NamedTuple: hundreds of thousands are made while the gazetteer is built
    start: int  # offsets into the original text
    end: int
    key_start: int  # offsets into NormalisedText.key
    key_end: int
    article: bool  # an article was dropped before or inside this token
    article_start: int  # original start of a dropped Latin article token ('al' in 'al-Hol'), else the token's start


class NormalisedText(NamedTuple):
    """The key of a text and, per kept token, where it came from."""

    original: str
    key: str
    tokens: Tuple[Token, ...]


def normalise(text: str) -> NormalisedText:
    """Key a whole text; each token's key keeps the original token's offsets."""
    raw: List[Tuple[int, int, str]] = [(m.start(), m.end(), m.group()) for m in TOKEN.finditer(text)]
    parts: List[str] = []
    tokens: List[Token] = []
    position = 0
    pending_article = False
    article_start = -1
    for index, (start, end, surface) in enumerate(raw):
        key, arabic_article = token_key(surface)
        if not key:
            continue
        if key in LATIN_ARTICLES and index + 1 < len(raw) and surface.isascii() and len(surface) <= 3:
            gap = text[end:raw[index + 1][0]]
            if _ARTICLE_GAP.fullmatch(gap):
                pending_article = key in _STRONG_ARTICLES or "-" in gap or "\u2010" <= gap[0] <= "\u2013"
                article_start = start if pending_article else -1
                continue
        if parts:
            position += 1
        tokens.append(Token(start, end, position, position + len(key), pending_article or arabic_article,
                            article_start if pending_article else start))
        parts.append(key)
        position += len(key)
        pending_article = False
        article_start = -1
    return NormalisedText(text, " ".join(parts), tuple(tokens))


def normalise_key(text: str) -> str:
    """The matching key of a name or phrase: normalise_key('Deir ez-Zor') == normalise_key('Dayr az Zawr')."""
    return normalise(text).key


def original_offset_after(token: str, letters: int) -> int:
    """Offset in token just after its first `letters` base letters (skipping combining marks and tatweel).

    Used to start an Arabic mention after a one-letter clitic: in 'وداعش' the mention is 'داعش'.
    """
    seen = 0
    for offset, ch in enumerate(token):
        if _is_mark(ch) or ch == "ـ":
            continue
        if seen == letters:
            return offset
        seen += 1
    return len(token)
