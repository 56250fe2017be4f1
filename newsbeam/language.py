"""Language identification with langdetect, deterministic and bounded (pure, apart from loading profiles)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import version
from typing import Dict, List, Optional, Tuple

from langdetect.detector import Detector
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException
from langdetect.utils.ngram import NGram

from newsbeam.runtime import collector_paused

UNDETERMINED = "und"
# Letters of Sorani Kurdish's Arabic script that Persian, Arabic and Urdu never write (ڕ ڵ ێ): langdetect has no
# Kurdish profile and takes Sorani for Persian with a high probability (0.86)
_KURDISH_ONLY = frozenset("\u0695\u06b5\u06ce")
_KURDISH_SHARE = 0.01
# langdetect releases whose `Detector.append`, `_extract_ngrams` and `_update_lang_prob` `_FasterDetector` was
# checked against (langdetect has had no release since 2021); on others the library's own methods run
CHECKED_LANGDETECT = ("1.0.9",)
_SPACES = re.compile(" {2,}")


@dataclass(frozen=True)
class LanguageSettings:
    seed: int = 0  # langdetect samples at random: a fixed seed makes the same text give the same answer
    max_chars: int = 3000  # a prefix is enough and keeps long pages cheap
    min_chars: int = 40  # below this the guess is noise: 'und'
    # langdetect averages 7 random trials: a language it has no profile for (Kurdish, Latin) or a page of two
    # languages gets a guess at 4/7 or 5/7; real one-language pages score over 0.95 (1,084 of 1,113 corpus pages)
    min_probability: float = 0.8


class LanguageDetector:
    """Holds the loaded langdetect profiles (about 0.5 s of CPU to load); build once per worker process."""

    def __init__(self, settings: LanguageSettings = LanguageSettings()):
        self._settings = settings
        self._factory = DetectorFactory()
        with collector_paused():
            self._factory.load_profile(PROFILES_DIRECTORY)
        self._factory.set_seed(settings.seed)
        self._normalised = NormalisedChars()
        self._faster = version("langdetect") in CHECKED_LANGDETECT

    def detect(self, text: str) -> Tuple[str, float]:
        """ISO 639-1 code and its probability, or ('und', 0.0)."""
        sample = text[: self._settings.max_chars]
        if sum(map(str.isalpha, sample)) < self._settings.min_chars:
            return UNDETERMINED, 0.0
        detector = _FasterDetector(self._factory, self._normalised) if self._faster else self._factory.create()
        detector.append(sample)
        try:
            best = detector.get_probabilities()[0]
        except (LangDetectException, IndexError):
            return UNDETERMINED, 0.0
        if best.prob < self._settings.min_probability or _kurdish_in_arabic_script(best.lang, sample):
            return UNDETERMINED, 0.0  # the schema's language_score is the probability of `language`: 0 for 'und'
        return iso639_1(best.lang), round(best.prob, 4)


def _kurdish_in_arabic_script(guess: str, sample: str) -> bool:
    """Whether a text guessed as Persian or Arabic is written in Sorani Kurdish's letters (then: 'und')."""
    if guess not in ("fa", "ar", "ur"):
        return False
    letters = sum(map(str.isalpha, sample))
    return sum(ch in _KURDISH_ONLY for ch in sample) >= _KURDISH_SHARE * letters


class NormalisedChars(dict):
    """langdetect's `NGram.normalize` of each character, computed once per character (it depends on nothing else)."""

    def __missing__(self, ch: str) -> str:
        normalised = self[ch] = NGram.normalize(ch)
        return normalised


def extract_ngrams(text: str, known, normalised: Dict[str, str]) -> List[str]:
    """The n-grams langdetect's `Detector._extract_ngrams` gives for `text`, in the same order, as one loop with
    plain locals instead of `NGram.add_char`'s method call, class lookups and length checks per character (two thirds
    of langdetect's time on news texts). Its state machine: a word starts after a space with the window ' ' + its
    first letter, then the window is the last three characters; within a run of capitals, after the first, no
    n-gram is taken."""
    result: List[str] = []
    add = result.append
    grams, capital = " ", False
    for ch in text:
        ch = normalised[ch]
        last = grams[-1]
        if last == " ":
            capital = False
            if ch == " ":
                continue  # langdetect keeps the lone space, which gives no n-gram
            grams = " " + ch
            if ch in known:
                add(ch)
            if grams in known:
                add(grams)
            continue
        grams = grams[-2:] + ch  # after a word's first letter the window is always three characters
        if ch.isupper():
            if last.isupper():
                capital = True
            if capital:
                continue
        else:
            capital = False
        if ch != " " and ch in known:
            add(ch)
        if grams[1:] in known:
            add(grams[1:])
        if grams in known:
            add(grams)
    return result


class _FasterDetector(Detector):
    """langdetect's `Detector` with its two per-character loops and its probability update written faster, same
    results (tests compare them with the library's on generated and real texts); the random trials, their
    convergence test and the final probabilities are the library's own code."""

    def __init__(self, factory: DetectorFactory, normalised: NormalisedChars):
        super().__init__(factory)
        self._normalised = normalised

    def append(self, text: str) -> None:
        text = NGram.normalize_vi(self.MAIL_RE.sub(" ", self.URL_RE.sub(" ", text)))
        self.text += _SPACES.sub(" ", text[: self.max_text_length])  # the library drops a space after a space

    def _extract_ngrams(self) -> List[str]:
        return extract_ngrams(self.text, self.word_lang_prob_map, self._normalised)

    def _update_lang_prob(self, prob: List[float], word: str, alpha: float) -> bool:
        # the library's update (each language's probability times its weighted n-gram frequency, the same
        # floating-point operations in the same order) as one comprehension instead of an indexed loop
        found = self.word_lang_prob_map.get(word) if word is not None else None
        if found is None:
            return False
        weight = alpha / self.BASE_FREQ
        prob[:] = [p * (weight + q) for p, q in zip(prob, found)]
        return True


def language_from_hint(hint: Optional[str]) -> Optional[str]:
    """The ISO 639-1 code of a listing's language hint (a Google News sitemap's `news:language`, a JSON Feed's
    `language`: 'en', 'zh-cn', 'pt-BR'), or None when it is not one. Used only when detection is undetermined."""
    if not hint:
        return None
    code = iso639_1(hint.strip())
    return code if len(code) == 2 and code.isascii() and code.isalpha() else None


def iso639_1(code: str) -> str:
    """langdetect says 'zh-cn' / 'zh-tw'; the partition key is the bare ISO 639-1 code."""
    return code.split("-")[0].lower()
