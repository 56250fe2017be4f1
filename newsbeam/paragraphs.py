"""Per-paragraph keep/drop decision over two extractors' texts (pure): candidates, features, two small learned models.

The candidates are the union of trafilatura fast mode's paragraphs and resiliparse's, in document order. Those only
resiliparse found get cheap text features (their length, punctuation, chrome words, the page's JSON-LD
`articleBody`, their neighbours, how much the two extractors agree on the page) and the `add` model decides them;
those fast mode keeps by the two-extractor vote get signals of their place in the page's DOM (and a few of the text
features) and the `drop` model decides them. Both are gradient-boosted tree ensembles trained on the development
half of trafilatura's evaluation set (`benchmarks/train_paragraphs.py`).
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

from lxml.etree import Element

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
LONG_CHARS = 200  # a paragraph both extractors keep from this length on is the article's for sure
MODEL_VERSION = 2  # 2: the `add` model and the `drop` model (1: the `add` model alone)
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


def _agreement(cands: Sequence[Candidate], fast_chars: int) -> float:
    """The share of fast mode's text that resiliparse has too."""
    return _share(sum(len(c.text) for c in cands if c.in_fast and c.in_other), fast_chars)


def _long_at(cands: Sequence[Candidate]) -> Tuple[List[int], int, int]:
    """The indexes of the long paragraphs both extractors keep (the article's for sure), the first and the last."""
    long_at = [i for i, c in enumerate(cands) if c.in_fast and c.in_other and len(c.text) >= LONG_CHARS]
    return (long_at, long_at[0], long_at[-1]) if long_at else (long_at, len(cands), -1)


def features(cands: Sequence[Candidate], body: Optional[str],
             only: Optional[Sequence[int]] = None) -> List[Tuple[float, ...]]:
    """One feature vector per candidate (the order of `FEATURES`), or per candidate of the indexes `only`."""
    n = len(cands)
    fast_chars = sum(len(c.text) for c in cands if c.in_fast)
    other_chars = sum(len(c.text) for c in cands if c.in_other)
    page_ratio = min(fast_chars / other_chars, 10.0) if other_chars else 10.0
    agreement = _agreement(cands, fast_chars)
    page_log = math.log1p(fast_chars)
    long_at, first_long, last_long = _long_at(cands)
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
    """Gradient-boosted regression trees over `features` (a log-odds sum), as stored by the training script."""

    def __init__(self, spec: dict, features: Sequence[str] = FEATURES):
        if tuple(spec["features"]) != tuple(features):
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


@dataclass(frozen=True)
class Models:
    """The decision's two models: `add` keeps paragraphs only resiliparse found, `drop` keeps (or not) the
    paragraphs fast mode keeps by the vote."""

    add: Model
    drop: Model


def models_from(spec: dict) -> Models:
    """Both models from the file's contents (format `MODEL_VERSION`)."""
    if spec.get("version") != MODEL_VERSION:
        raise ValueError(f"paragraph model version {spec.get('version')!r}, this code reads {MODEL_VERSION}")
    return Models(Model(spec["add"], FEATURES), Model(spec["drop"], DROP_FEATURES))


@lru_cache(maxsize=1)
def default_models() -> Models:
    """The shipped models, read once per process."""
    return models_from(json.loads(resources.files("newsbeam").joinpath(MODEL_FILE).read_text(encoding="utf-8")))


def fast_vote(cand: Candidate) -> bool:
    """The `guarded` rule for fast mode's paragraphs: a very short one (a label, a byline, a "related" heading)
    needs both extractors' vote."""
    return cand.in_fast and (len(cand.text) >= VOTE_BELOW_CHARS or cand.in_other)


# --- the second model: which of the paragraphs fast mode keeps to drop, by their place in the page's DOM ---------

# the containers of the article's own text (class/id tokens); tokens of page furniture hardly tell the labels apart
# (trafilatura has already removed the elements they mark: benchmarks/RESULTS.md, Extraction)
_CONTENT_TOKENS = re.compile(r"article|content|body|entry|post|story|text|main|prose|richtext", re.I)
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_BLOCKS = frozenset(("p", "div", "li", "td", "section", "article", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
                     "dd", "figcaption", "pre"))
_NOT_TEXT = frozenset(("script", "style", "noscript", "template"))
# the place of a paragraph's element: bits of `_place`
_ARTICLE, _ARTICLE_BODY, _FIGURE, _LINK, _ITEM, _HEADING, _CONTENT = (1 << k for k in range(7))
_TAG_BITS = {"article": _ARTICLE, "figure": _FIGURE, "figcaption": _FIGURE, "a": _LINK, "li": _ITEM,
             **dict.fromkeys(_HEADINGS, _HEADING)}
# multilingual calls to action, "more" teasers, advertising and copyright notes; lowercase, matched against
# lowercased text (several times faster than the same expression with re.I)
CALL_TO_ACTION = re.compile(
    r"^(more|mehr|más|plus|weitere|lesen sie auch|lee también|le puede interesar|mira|read also|see also|also read|"
    r"related)\b|©|copyright|rights reserved|rechte vorbehalten|click|klick|haga clic|cliquez|follow (us|the|on)|"
    r"folgen sie|síguenos|suivez|download|herunterladen|descarg|télécharg|advertis|affiliate|commission|werbung|"
    r"anzeige|publicidad|publicité")
_CHROME_LOWER = re.compile(CHROME.pattern.lower())  # `CHROME` for lowercased text
# the text features of `FEATURES` the `drop` model reads (the cheap ones: no per-character counts)
DROP_TEXT_FEATURES = ("in_other", "log_chars", "words", "sentence_end", "chrome_hits", "position", "long_distance",
                      "prev_in_other", "next_in_other", "ends_colon", "question", "in_body", "page_agreement",
                      "before_long", "after_long")
DOM_FEATURES = ("dom_found", "in_article", "in_article_body", "in_figure", "in_a", "in_li", "in_h", "content_token",
                "link_density", "in_main", "in_long_ancestor", "long_sibling")


def _key(text: str) -> str:
    return text[:20]


def elements_of(tree, texts: Sequence[str]) -> List[object]:
    """The element whose text (or tail) begins as each of `texts` does (by its first 20 characters, else its first
    word; whitespace folded), the first such in document order; None where none does. One pass over the page's
    text nodes, comparing keys by set lookups."""
    keys = {_key(text) for text in texts}
    words = {"\0" + text.split(" ", 1)[0] for text in texts}
    found: dict = {}

    def see(raw: str, node, tail: bool) -> None:
        text = " ".join(raw.split())
        key, word = _key(text), "\0" + text.split(" ", 1)[0]
        if (key in keys and key not in found) or (word in words and word not in found):
            owner = node.getparent() if tail else node
            if owner is not None:
                found.setdefault(key, owner)
                found.setdefault(word, owner)

    for node in tree.iter(Element):  # elements only: no comments, no processing instructions
        if node.tag in _NOT_TEXT:
            continue  # (its tail too, as the models were trained: text right after a script is rare)
        raw = node.text
        if raw and not raw.isspace():
            see(raw, node, False)
        raw = node.tail
        if raw and not raw.isspace():
            see(raw, node, True)
    return [found.get(_key(text)) if _key(text) in found else found.get("\0" + text.split(" ", 1)[0])
            for text in texts]


def _place(element, memo: dict) -> int:
    """Bits of what the element lies in (itself included): `<article>`, an `itemprop=articleBody`, a figure, a link,
    a list item, a heading, a container named like the article's; each ancestor looked at once a page."""
    line = []
    node = element
    while node is not None and node not in memo:
        line.append(node)
        node = node.getparent()
    bits = memo[node] if node is not None else 0
    for node in reversed(line):
        tag = node.tag if isinstance(node.tag, str) else ""
        bits |= _TAG_BITS.get(tag, 0)
        attrib = node.attrib
        if "itemprop" in attrib and "articlebody" in attrib["itemprop"].lower():
            bits |= _ARTICLE_BODY
        names = f"{attrib.get('class', '')} {attrib.get('id', '')}"
        if names != " " and _CONTENT_TOKENS.search(names):
            bits |= _CONTENT
        memo[node] = bits
    return bits


def _link_density(element, memo: dict) -> float:
    """The share of the text of the paragraph's block (its nearest block-level element) that is in links."""
    block = element
    while block is not None and block.tag not in _BLOCKS:
        block = block.getparent()
    block = element if block is None else block
    if block not in memo:
        chars = len(block.text_content())
        linked = sum(len(a.text_content()) for a in block.iter("a"))
        memo[block] = linked / chars if chars else 0.0
    return memo[block]


def dom_rows(tree, cands: Sequence[Candidate], only: Sequence[int]) -> List[Tuple[float, ...]]:
    """`DOM_FEATURES` of the candidates of the indexes `only`: where each lies in the page's DOM (`tree`, as parsed
    before extraction), against the long paragraphs both extractors keep; `dom_found` 0 and the others -1 where its
    text is not found in the DOM."""
    elements = elements_of(tree, [cand.text for cand in cands])
    longs = [element for cand, element in zip(cands, elements)
             if cand.in_fast and cand.in_other and len(cand.text) >= LONG_CHARS and element is not None]
    longest = max(range(len(cands)), key=lambda i: len(cands[i].text) if cands[i].in_fast else 0, default=None)
    main = elements[longest] if longest is not None else None
    for _ in range(2):  # the longest paragraph's grandparent: the article's container, roughly
        main = main.getparent() if main is not None and main.getparent() is not None else main
    common = None  # the lowest common ancestor of the long paragraphs
    if longs:
        line = [longs[0], *longs[0].iterancestors()]
        for element in longs[1:]:
            held = {element, *element.iterancestors()}
            line = [node for node in line if node in held]
        common = line[0] if line else None
    parents = {element.getparent() for element in longs}
    places: dict = {}
    densities: dict = {}
    rows = []
    for i in only:
        element = elements[i]
        if element is None:
            rows.append((0.0,) + (-1.0,) * (len(DOM_FEATURES) - 1))
            continue
        bits = _place(element, places)
        line = {element, *element.iterancestors()} if main is not None or common is not None else set()
        rows.append((
            1.0, float(bool(bits & _ARTICLE)), float(bool(bits & _ARTICLE_BODY)), float(bool(bits & _FIGURE)),
            float(bool(bits & _LINK)), float(bool(bits & _ITEM)), float(bool(bits & _HEADING)),
            float(bool(bits & _CONTENT)), _link_density(element, densities), float(main in line),
            float(common in line) if common is not None else -1.0,
            float(element.getparent() in parents or element in parents) if longs else -1.0,
        ))
    return rows


DROP_FEATURES = DROP_TEXT_FEATURES + DOM_FEATURES + ("call_to_action",)


def drop_rows(cands: Sequence[Candidate], body: Optional[str], only: Sequence[int], tree) -> List[Tuple[float, ...]]:
    """`DROP_FEATURES` of the candidates of the indexes `only` (`tree`: the page as parsed before extraction)."""
    n = len(cands)
    agreement = _agreement(cands, sum(len(c.text) for c in cands if c.in_fast))
    long_at, first_long, last_long = _long_at(cands)
    rows = []
    for i, dom in zip(only, dom_rows(tree, cands, only)):
        text = cands[i].text
        end, lower = text.rstrip(), text.lower()
        rows.append((
            float(cands[i].in_other), math.log1p(len(text)), float(len(_WORDS.findall(text))),
            float(bool(_SENTENCE_END.search(text))), float(len(_CHROME_LOWER.findall(lower))), _share(i, max(n - 1, 1)),
            float(min((abs(i - j) for j in long_at), default=99)),
            float(cands[i - 1].in_other) if i else -1.0, float(cands[i + 1].in_other) if i + 1 < n else -1.0,
            float(end.endswith(":")), float(end.endswith("?")),
            (float(_SPACE.sub(" ", text)[:60] in body) if body is not None else -1.0), agreement,
            float(i < first_long), float(i > last_long),
        ) + dom + (float(len(CALL_TO_ACTION.findall(lower))),))
    return rows


def decide(fast: str, other: str, body: Optional[str], tree=None, models: Optional[Models] = None) -> str:
    """Fast mode's paragraphs by the two-extractor vote, less those the `drop` model drops (by their place in the
    page's DOM, `tree`; none without it), and the paragraphs only resiliparse found that the `add` model keeps, in
    document order, one per line."""
    models = models or default_models()
    cands = candidates(fast, other)
    extra = [i for i, cand in enumerate(cands) if not cand.in_fast]
    keep = {i for i, row in zip(extra, features(cands, body, extra)) if models.add.keep(row)}
    kept = [i for i, cand in enumerate(cands) if fast_vote(cand)]
    if tree is not None and kept:
        keep.update(i for i, row in zip(kept, drop_rows(cands, body, kept, tree)) if models.drop.keep(row))
    else:
        keep.update(kept)
    return "\n".join(cand.text for i, cand in enumerate(cands) if i in keep)
