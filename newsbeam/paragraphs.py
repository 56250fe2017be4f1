"""Per-paragraph keep/drop decision over two extractors' texts (pure): candidates, features, a small learned model.

The candidates are the union of trafilatura fast mode's paragraphs and resiliparse's, in document order; each gets
cheap features (its length, whether the other extractor has it, punctuation, chrome words, the page's JSON-LD
`articleBody`, its neighbours, how much the two extractors agree on the page) and a gradient-boosted tree ensemble
trained on the development half of trafilatura's evaluation set (`benchmarks/train_paragraphs.py`) decides.
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import List, Optional, Sequence, Tuple

# paragraphs of consent banners, subscription walls and newsletter boxes (the languages of our sources)
BOILERPLATE = re.compile(
    r"cookie|newsletter|subscri|sign up|inbox|consent|privacy|abonn|inscri|partenaires|Datenschutz|Einwilligung|"
    r"anmelden|Abo\b|الاشتراك|النشرة", re.I)
# short paragraphs of page furniture that extractors let through: share/comment/related bars, copyright lines
CHROME = re.compile(
    r"cookie|newsletter|subscri|sign up|inbox|consent|abonn|inscri|Datenschutz|Einwilligung|anmelden|read more|"
    r"weiterlesen|lire la suite|comments?\b|kommentar|share|teilen|related|verwandte|copyright|©|all rights reserved|"
    r"alle rechte", re.I)
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_SPACE = re.compile(r"\s+")
_WORDS = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?。！？…:;\"'”»)]$")
_SEPARATORS = re.compile(r"[|•»›·/]")
_BULLET = re.compile(r"^[-*•–·>]\s")
_DATE = re.compile(r"\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b|\b(19|20)\d\d\b")

VOTE_BELOW_CHARS = 30  # fast mode's shorter paragraphs are kept only if resiliparse has them too
MODEL_VERSION = 1
MODEL_FILE = "paragraph_model.json"

FEATURES = (
    "in_fast", "in_other", "log_chars", "words", "sentence_end", "digit_share", "upper_share", "punct_share",
    "chrome_hits", "boilerplate_hits", "has_body", "in_body", "position", "page_ratio", "page_agreement",
    "page_candidates", "prev_in_other", "prev_in_fast", "next_in_other", "next_in_fast", "prev_log_chars",
    "next_log_chars", "title_case_share", "separators", "ends_colon", "bullet", "date", "page_log_chars",
    "long_distance", "before_long", "after_long", "question", "other_only_share",
)


def folded(text: str) -> str:
    """Casefolded words only: the two extractors break lines and punctuate alike only at word level."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFC", text).casefold()).strip()


@dataclass(frozen=True)
class Candidate:
    text: str
    in_fast: bool
    in_other: bool


def candidates(fast: str, other: str) -> List[Candidate]:
    """fast mode's paragraphs, with resiliparse's paragraphs that fast mode lacks inserted after the last fast
    paragraph seen before them (both extractors keep document order)."""
    fast_lines = [line for line in fast.splitlines() if line.strip()]
    other_lines = [line for line in other.splitlines() if line.strip()]
    # each distinct line folded once (most of resiliparse's text is lines fast mode has verbatim, and folding was
    # most of this function's cost); a text's folded form is its lines' joined by spaces (a line break is no word)
    keys = {line: f" {folded(line)} " for line in dict.fromkeys(fast_lines)}
    fast_folded = [keys[line] for line in fast_lines]
    other_folded = [keys.get(line) or f" {folded(line)} " for line in other_lines]
    in_fast_all = " ".join(key.strip() for key in fast_folded if key.strip()).join("  ")
    in_other_all = " ".join(key.strip() for key in other_folded if key.strip()).join("  ")
    extra: List[List[str]] = [[] for _ in range(len(fast_lines) + 1)]  # extra[i]: after fast line i-1
    anchor, seen, other_seen = 0, set(fast_lines), set(other_lines)
    # a line both texts have verbatim (a non-empty key) is in the other's folded text without searching it
    for line, key in zip(other_lines, other_folded):
        if key.strip() and (line in keys or key in in_fast_all):
            # continue after the fast paragraph that holds it (searching forward first: document order)
            hit = next((i for i in range(anchor, len(fast_lines)) if key in fast_folded[i]), None)
            if hit is None:
                hit = next((i for i in range(0, anchor) if key in fast_folded[i]), anchor - 1)
            anchor = hit + 1
        elif key.strip() and line not in seen:
            seen.add(line)
            extra[anchor].append(line)
    out = [Candidate(line, False, True) for line in extra[0]]
    for i, line in enumerate(fast_lines):
        key = fast_folded[i]
        out.append(Candidate(line, True, (line in other_seen and key != "  ") or key in in_other_all))
        out.extend(Candidate(extra_line, False, True) for extra_line in extra[i + 1])
    return out


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def features(cands: Sequence[Candidate], body: Optional[str],
             only: Optional[Sequence[int]] = None) -> List[Tuple[float, ...]]:
    """One feature vector per candidate (the order of `FEATURES`), or per candidate of the indexes `only`."""
    n = len(cands)
    fast_chars = sum(len(c.text) for c in cands if c.in_fast)
    other_chars = sum(len(c.text) for c in cands if c.in_other)
    both_chars = sum(len(c.text) for c in cands if c.in_fast and c.in_other)
    page_ratio = min(fast_chars / other_chars, 10.0) if other_chars else 10.0
    agreement = _share(both_chars, fast_chars)
    page_log = math.log1p(fast_chars)
    long_at = [i for i, c in enumerate(cands) if c.in_fast and c.in_other and len(c.text) >= 200]
    first_long, last_long = (long_at[0], long_at[-1]) if long_at else (n, -1)
    other_only = _share(sum(len(c.text) for c in cands if not c.in_fast), other_chars)
    rows = []
    for i in range(n) if only is None else only:
        cand = cands[i]
        text = cand.text
        chars = len(text)
        letters = sum(map(str.isalpha, text))
        words = _WORDS.findall(text)
        prev = cands[i - 1] if i else None
        nxt = cands[i + 1] if i + 1 < n else None
        rows.append((
            float(cand.in_fast), float(cand.in_other), math.log1p(chars), float(len(words)),
            float(bool(_SENTENCE_END.search(text))),
            _share(sum(map(str.isdigit, text)), chars), _share(sum(map(str.isupper, text)), letters),
            _share(chars - sum(map(str.isalnum, text)) - sum(map(str.isspace, text)), chars),
            float(len(CHROME.findall(text))), float(len(BOILERPLATE.findall(text))),
            float(body is not None), (float(_SPACE.sub(" ", text)[:60] in body) if body is not None else -1.0),
            _share(i, max(n - 1, 1)), page_ratio, agreement, float(n),
            float(prev.in_other) if prev else -1.0, float(prev.in_fast) if prev else -1.0,
            float(nxt.in_other) if nxt else -1.0, float(nxt.in_fast) if nxt else -1.0,
            math.log1p(len(prev.text)) if prev else -1.0, math.log1p(len(nxt.text)) if nxt else -1.0,
            _share(sum(w[0].isupper() for w in words), len(words)), float(len(_SEPARATORS.findall(text))),
            float(text.rstrip().endswith(":")), float(bool(_BULLET.match(text))), float(bool(_DATE.search(text))),
            page_log, float(min((abs(i - j) for j in long_at), default=99)),
            float(i < first_long), float(i > last_long), float(text.rstrip().endswith("?")), other_only,
        ))
    return rows


class Model:
    """Gradient-boosted regression trees over `FEATURES` (a log-odds sum), as stored by the training script."""

    def __init__(self, spec: dict):
        if spec.get("version") != MODEL_VERSION:
            raise ValueError(f"paragraph model version {spec.get('version')!r}, this code reads {MODEL_VERSION}")
        if tuple(spec["features"]) != FEATURES:
            raise ValueError("paragraph model features differ from this code's")
        self.base = float(spec["base"])
        self.threshold = float(spec["threshold"])
        # each tree: parallel lists (feature, threshold, left, right, value); feature -1 marks a leaf
        self.trees = [(t["feature"], t["threshold"], t["left"], t["right"], t["value"]) for t in spec["trees"]]

    def score(self, row: Sequence[float]) -> float:
        total = self.base
        for feature, threshold, left, right, value in self.trees:
            node = 0
            while feature[node] >= 0:
                node = left[node] if row[feature[node]] <= threshold[node] else right[node]
            total += value[node]
        return total

    def keep(self, row: Sequence[float]) -> bool:
        return self.score(row) > self.threshold


@lru_cache(maxsize=1)
def default_model() -> Model:
    """The shipped model, read once per process."""
    return Model(json.loads(resources.files("newsbeam").joinpath(MODEL_FILE).read_text(encoding="utf-8")))


def fast_vote(cand: Candidate) -> bool:
    """The `guarded` rule for fast mode's paragraphs: a very short one (a label, a byline, a "related" heading)
    needs both extractors' vote."""
    return cand.in_fast and (len(cand.text) >= VOTE_BELOW_CHARS or cand.in_other)


def decide(fast: str, other: str, body: Optional[str], model: Optional[Model] = None) -> str:
    """Fast mode's paragraphs by the two-extractor vote, and the paragraphs only resiliparse found that the model
    keeps, in document order, one per line. (Letting the model also drop fast mode's paragraphs did not help on
    the development half: the gain is in what fast mode misses; see benchmarks/RESULTS.md.)"""
    model = model or default_model()
    cands = candidates(fast, other)
    extra = [i for i, cand in enumerate(cands) if not cand.in_fast]
    added = {i for i, row in zip(extra, features(cands, body, extra)) if model.keep(row)}
    return "\n".join(cand.text for i, cand in enumerate(cands) if fast_vote(cand) or i in added)
