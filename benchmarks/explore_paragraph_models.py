"""More labelled data, more signals and stronger regularisation for the `learned` decision's two paragraph models
(issue 13, goal 2; extract6), measured on the development half only by 5-fold cross-validation by page, each
variant under three assignments of pages to folds (page i in fold i % 5, and two seeded shuffles) to see past the
folds' noise (one assignment's F moves by ~0.002 between variants that do not differ).

    python -m benchmarks.explore_paragraph_models     # the table of benchmarks/RESULTS.md (~10 min after train_paragraphs)
    python -m benchmarks.explore_paragraph_models --readability-halves   # bag F of the default on each half

Variants, each against the shipped models (paragraph model version 2) in the same run:
- Mozilla Readability's test pages as more labelled pages: the crc32(folder name) even half only (the odd half
  stays unseen for Readability's check), labelled by `readability_label` against the expected text;
- the resiliparse-only paragraphs' DOM rows as more training rows for the `drop` model (labelled as for `add`);
- unlabelled rows as weak labels (fast mode's kept paragraphs: keep; resiliparse's own: drop) at a small weight;
- new signals for the `drop` model (`signals`): the paragraph's word overlap with the page's title and
  descriptions, how often its text repeats in the candidates and in the DOM, its neighbours' DOM place;
- fewer / shallower trees, larger leaves, subsampling.

Same texts (the cache of `benchmarks.train_paragraphs` in --work), labels and scoring as `train_paragraphs --cv`;
Readability's pages' texts are cached in --work too. Needs scikit-learn (the `test` extra).
"""
from __future__ import annotations

import argparse
import copy
import pickle
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from trafilatura.utils import load_html

from benchmarks import eval_extraction as ev
from benchmarks import train_paragraphs as tp
from newsbeam import extraction as ex
from newsbeam import paragraphs as pg
from newsbeam.jsonld import article_objects

_WORDS = re.compile(r"\w+", re.UNICODE)
SIGNALS = ("title_overlap", "repeat_candidates", "repeat_dom", "prev_link_density", "next_link_density", "prev_in_h",
           "next_in_h", "prev_log_chars", "next_log_chars", "prev_in_a", "next_in_a")
SIGNAL_SETS = {"title": (0,), "repeats": (1, 2), "neighbours": tuple(range(3, 11)), "all": tuple(range(11))}
_DESCRIPTIONS = ("//title/text() | //meta[@property='og:title' or @name='description' or @property='og:description'"
                 " or @name='twitter:description']/@content")
SHORT_WORDS = 3  # a candidate of up to this many words is labelled keep only if it is a whole line of the expected text
DROP_BELOW_SHARE = 0.3  # a candidate with under this share of its words in the expected text is labelled drop


def readability_label(expected: str) -> Callable[[str], int]:
    """Labels of candidate paragraphs against Readability's expected text (folded as the candidates are): 1 (keep)
    when the whole candidate is in it (for a candidate of up to `SHORT_WORDS` words: when it is one of its lines,
    since a short text such as "Share" turns up inside long paragraphs by chance); 0 (drop) when under
    `DROP_BELOW_SHARE` of its words are in it at all; -1 (a partial overlap: not used) otherwise."""
    lines = [line for line in (pg.folded(raw) for raw in expected.splitlines()) if line]
    whole = f" {' '.join(lines)} "
    known, words = set(lines), set(whole.split())

    def label(text: str) -> int:
        folded = pg.folded(text)
        tokens = folded.split()
        if not tokens:
            return -1
        if folded in known if len(tokens) <= SHORT_WORDS else f" {folded} " in whole:
            return 1
        return 0 if sum(token in words for token in tokens) < DROP_BELOW_SHARE * len(tokens) else -1

    return label


def _terms(text: str) -> List[str]:
    return [word for word in _WORDS.findall(text.casefold()) if len(word) > 2]


def signals(cands: Sequence[pg.Candidate], only: Sequence[int], tree, rows: Sequence[Sequence[float]]
            ) -> List[Tuple[float, ...]]:
    """`SIGNALS` of the candidates of the indexes `only`, whose `drop` rows (`pg.drop_rows`) are `rows`: the share
    of the paragraph's words in the page's title and descriptions (-1: the page has none), how many candidates have
    its folded text, how many of the DOM's text nodes begin as it does, and the previous / next row's link density,
    heading, length and link."""
    terms = {word for part in tree.xpath(_DESCRIPTIONS) for word in _terms(part)}
    folded = [pg.folded(cand.text) for cand in cands]
    same: Dict[str, int] = {}
    for text in folded:
        same[text] = same.get(text, 0) + 1
    keys = {cands[i].text[:20] for i in only}
    in_dom: Dict[str, int] = {}
    for node in tree.iter(pg.Element):
        for raw in (node.text, node.tail):
            if raw and not raw.isspace():
                key = " ".join(raw.split())[:20]
                if key in keys:
                    in_dom[key] = in_dom.get(key, 0) + 1
    at = {name: pg.DROP_FEATURES.index(name) for name in ("link_density", "in_h", "log_chars", "in_a")}
    out = []
    for k, i in enumerate(only):
        words = _terms(cands[i].text)
        overlap = (sum(word in terms for word in words) / len(words) if words else 0.0) if terms else -1.0
        prev, nxt = (rows[k - 1] if k else None), (rows[k + 1] if k + 1 < len(rows) else None)
        out.append((overlap, float(same[folded[i]]), float(in_dom.get(cands[i].text[:20], 0)),
                    *(row[at[name]] if row is not None else -1.0 for name in ("link_density",) for row in (prev, nxt)),
                    *(row[at[name]] if row is not None else -1.0 for name in ("in_h",) for row in (prev, nxt)),
                    *(row[at[name]] if row is not None else -1.0 for name in ("log_chars",) for row in (prev, nxt)),
                    *(row[at[name]] if row is not None else -1.0 for name in ("in_a",) for row in (prev, nxt))))
    return out


class Page(tp.Page):
    """A page as `train_paragraphs` sees it, plus the `drop` rows of its resiliparse-only paragraphs (`extra_rows`)
    and the `signals` of both kinds of rows (`kept_signals`, `extra_signals`)."""

    def __init__(self, url: str, texts: dict, html: Optional[str], label=tp._label, even: bool = True):
        super().__init__(url, texts, html, label)
        self.even = even
        tree = load_html(html) if html is not None and self.cands else None
        self.extra_rows = pg.drop_rows(self.cands, texts["body"], self.extra, tree) if tree is not None else []
        self.kept_signals = signals(self.cands, self.kept, tree, self.kept_rows) if self.kept_rows else []
        self.extra_signals = signals(self.cands, self.extra, tree, self.extra_rows) if self.extra_rows else []
        self.tree = None  # (pickled; not needed any more)


def readability_pages(work: Path, corpora: Path) -> List[Page]:
    """Readability's 130 pages with the texts `main_text` decides over, labelled by `readability_label`; `even`:
    crc32(folder name) even (the half trained on)."""
    cache = work / "paragraph-texts-readability.pickle"
    if cache.exists():
        with cache.open("rb") as f:
            texts = pickle.load(f)
    else:
        settings = ex.ExtractionSettings(timeout=0)
        texts = {}
        for page in ev.load_readability_set(ev.unpack(corpora / ev.READABILITY_ARCHIVE, work)):
            url, tree = f"http://fakehost/{page.name}/", load_html(page.html)
            if tree is None:
                continue
            fast, res = ex._run_mode(tree, url, settings, fast=True, precision=False), ex.resiliparse_text(page.html)
            doubtful = len(fast) < settings.doubt_below_share * len(res)
            texts[page.name] = dict(
                fast=fast, res=res, body=ex.article_body(article_objects(tree)), with_=(), without=(),
                bal=ex._run_mode(tree, url, settings, fast=False, precision=False) if doubtful else "",
                expected=page.expected_text, html=page.html)
        with cache.open("wb") as f:
            pickle.dump(texts, f)
    return [Page(name, t, t["html"], lambda text, _, labels=readability_label(t["expected"]): labels(text),
                 ev.split_of(name) == "dev") for name, t in sorted(texts.items())]


@dataclass(frozen=True)
class Trees:
    trees: int
    depth: int
    leaf: int
    rate: float
    subsample: float = 1.0

    def fit(self, rows, labels, weights):
        from sklearn.ensemble import GradientBoostingClassifier

        return GradientBoostingClassifier(n_estimators=self.trees, max_depth=self.depth, min_samples_leaf=self.leaf,
                                          learning_rate=self.rate, subsample=self.subsample, random_state=0
                                          ).fit(rows, labels, sample_weight=weights)


SHIPPED_ADD = Trees(tp.TREES, tp.DEPTH, tp.MIN_LEAF, tp.LEARNING_RATE)
SHIPPED_DROP = Trees(tp.DROP_TREES, tp.DROP_DEPTH, tp.DROP_MIN_LEAF, tp.DROP_LEARNING_RATE)


@dataclass(frozen=True)
class Variant:
    name: str
    add: Trees = SHIPPED_ADD
    drop: Trees = SHIPPED_DROP
    readability_add: float = 0.0  # weight of Readability's even half's rows in the `add` model's training (0: none)
    readability_drop: float = 0.0  # ... in the `drop` model's
    extra_rows: float = 0.0  # weight of the resiliparse-only paragraphs' DOM rows in the `drop` model's training
    weak_keep: float = 0.0  # weight of fast mode's unlabelled kept paragraphs, as keep, in the `drop` model's
    weak_drop: float = 0.0  # weight of the unlabelled resiliparse-only paragraphs, as drop, in the `add` model's
    signals: Tuple[int, ...] = ()  # indexes of `SIGNALS` added to the `drop` model's rows
    # (n, m): in training, a `without` segment under n characters does not count in a paragraph of m characters or
    # more (short generic segments such as "Wohnen" label whole paragraphs of the article drop); () as shipped
    clean: Tuple[int, ...] = ()
    drop_below: Tuple[float, ...] = (0.2, 0.3, 0.4)
    keep_above: float = tp.KEEP_ABOVE
    extra: Dict = field(default_factory=dict)


def _rows(page: Page, kind: str, variant: Variant, weight: float, weak: float, weak_label: int):
    if kind == "add":
        parts = [(page.rows, page.labels, [()] * len(page.rows), weight)]
    else:
        parts = [(page.kept_rows, page.kept_labels, page.kept_signals, weight)]
        if variant.extra_rows:
            parts.append((page.extra_rows, page.labels, page.extra_signals, weight * variant.extra_rows))
    for rows, labels, extra, w in parts:
        for row, y, more in zip(rows, labels, extra):
            if y < 0 and not weak:
                continue
            yield list(row) + [more[c] for c in variant.signals if kind == "drop"], (weak_label if y < 0 else y), (
                weak if y < 0 else w)


def _train(kind: str, variant: Variant, pages: Sequence[Page], readability: Sequence[Page]):
    weak, weak_label = (variant.weak_drop, 0) if kind == "add" else (variant.weak_keep, 1)
    read_weight = variant.readability_add if kind == "add" else variant.readability_drop
    rows, labels, weights = [], [], []
    for page, w, wk in [(p, 1.0, weak) for p in pages] + [(p, read_weight, 0.0) for p in readability if read_weight]:
        for row, y, weight in _rows(page, kind, variant, w, wk, weak_label):
            rows.append(row)
            labels.append(y)
            weights.append(weight)
    return (variant.add if kind == "add" else variant.drop).fit(rows, labels, weights)


def assignments(n: int) -> List[List[int]]:
    """Three assignments of n pages to 5 folds: i % 5 (as `train_paragraphs --cv`), and two seeded shuffles."""
    out = [[i % tp.FOLDS for i in range(n)]]
    for seed in (1, 2):
        order = list(range(n))
        random.Random(seed).shuffle(order)
        fold = [0] * n
        for k, i in enumerate(order):
            fold[i] = k % tp.FOLDS
        out.append(fold)
    return out


def clean_label(shorter: int, longer: int) -> Callable[[str, dict], int]:
    """`train_paragraphs`' label, where a `without` segment under `shorter` characters does not count in a
    paragraph of `longer` characters or more."""
    def label(text: str, texts: dict) -> int:
        keep = sum(s in text for s in texts["with_"]) - sum(
            s in text for s in texts["without"] if len(s) >= shorter or len(text) < longer)
        return 1 if keep > 0 else 0 if keep < 0 else -1

    return label


def relabelled(pages: Sequence[Page], label: Callable[[str, dict], int]) -> List[Page]:
    """Copies of `pages` with their labels by `label` (for training; the scoring stays by the segments)."""
    out = []
    for page in pages:
        page = copy.copy(page)
        page.labels = [label(page.cands[i].text, page.texts) for i in page.extra]
        page.kept_labels = [label(page.cands[i].text, page.texts) for i in page.kept]
        out.append(page)
    return out


def cross_validate(variant: Variant, pages: Sequence[Page], readability: Sequence[Page]) -> Dict[float, List[tuple]]:
    """For each threshold of `variant.drop_below`, the dev F (P, R) under each fold assignment."""
    training = relabelled(pages, clean_label(*variant.clean)) if variant.clean else pages
    train_read = [p for p in readability if p.even]
    out: Dict[float, List[tuple]] = {below: [] for below in variant.drop_below}
    for folds in assignments(len(pages)):
        add_probs: List[list] = [[] for _ in pages]
        drop_probs: List[list] = [[] for _ in pages]
        for fold in range(tp.FOLDS):
            train = [p for i, p in enumerate(training) if folds[i] != fold]
            add, drop = _train("add", variant, train, train_read), _train("drop", variant, train, train_read)
            for i, page in enumerate(pages):
                if folds[i] == fold:
                    add_probs[i] = list(add.predict_proba(page.rows)[:, 1]) if page.rows else []
                    rows = [list(r) + [s[c] for c in variant.signals] for r, s in zip(page.kept_rows,
                                                                                       page.kept_signals)]
                    drop_probs[i] = list(drop.predict_proba(rows)[:, 1]) if rows else []
        added = [[x > variant.keep_above for x in probs] for probs in add_probs]
        for below in variant.drop_below:
            out[below].append(tp.segment_f(pages, added, [[x > below for x in probs] for probs in drop_probs]))
    return out


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


VARIANTS = (
    Variant("shipped (paragraph model version 2)"),
    Variant("+ Readability's even half, `add` rows", readability_add=1.0),
    Variant("+ Readability's even half, `drop` rows", readability_drop=1.0),
    Variant("+ Readability's even half, both", readability_add=1.0, readability_drop=1.0),
    Variant("+ Readability's even half, both, weight 0.3", readability_add=0.3, readability_drop=0.3),
    Variant("+ resiliparse-only rows in the `drop` model, weight 0.5", extra_rows=0.5,
            drop_below=(0.15, 0.2, 0.25, 0.3)),
    Variant("+ resiliparse-only rows in the `drop` model, weight 1", extra_rows=1.0,
            drop_below=(0.1, 0.15, 0.2, 0.25, 0.3)),
    Variant("+ resiliparse-only rows in the `drop` model, weight 2", extra_rows=2.0, drop_below=(0.1, 0.15, 0.2)),
    Variant("+ the same and Readability's even half (both models)", extra_rows=1.0, readability_add=1.0,
            readability_drop=1.0, drop_below=(0.1, 0.15, 0.2, 0.25)),
    Variant("+ unlabelled kept paragraphs as keep, weight 0.05", weak_keep=0.05, drop_below=(0.3, 0.5, 0.7)),
    Variant("+ unlabelled resiliparse-only paragraphs as drop, weight 0.02", weak_drop=0.02),
    *(Variant(f"+ signals: {name}", signals=cols) for name, cols in SIGNAL_SETS.items()),
    *(Variant(f"+ resiliparse-only rows (weight 1) + signals: {name}", extra_rows=1.0, signals=cols,
              drop_below=(0.15, 0.2, 0.25)) for name, cols in SIGNAL_SETS.items()),
    Variant("`drop`: 20 trees", drop=Trees(20, 2, 10, 0.25)),
    Variant("`drop`: min. leaf 20", drop=Trees(40, 2, 20, 0.25)),
    Variant("`drop`: min. leaf 40", drop=Trees(40, 2, 40, 0.25)),
    Variant("`drop`: depth 1, 100 trees", drop=Trees(100, 1, 10, 0.25)),
    Variant("`drop`: 80 trees, rate 0.1", drop=Trees(80, 2, 10, 0.1)),
    Variant("`drop`: subsample 0.7", drop=Trees(40, 2, 10, 0.25, 0.7)),
    Variant("`add`: depth 2", add=Trees(100, 2, 20, 0.1), drop_below=(0.3,)),
    Variant("`add`: 50 trees", add=Trees(50, 3, 20, 0.1), drop_below=(0.3,)),
    Variant("`add`: min. leaf 40", add=Trees(100, 3, 40, 0.1), drop_below=(0.3,)),
    Variant("`add`: subsample 0.7", add=Trees(100, 3, 20, 0.1, 0.7), drop_below=(0.3,)),
    *(Variant(f"labels: a `without` segment under {n} characters ignored in paragraphs of {m} or more", clean=(n, m))
      for n, m in ((20, 200), (20, 150), (25, 100))),
    Variant("the same (20, 200), + resiliparse-only rows (weight 1)", clean=(20, 200), extra_rows=1.0,
            drop_below=(0.15, 0.2, 0.25)),
)


def readability_halves(work: Path, corpora: Path, extractors: Sequence[str] = ("newsbeam", "newsbeam-guarded"),
                       out=sys.stdout) -> None:
    """Readability's bag F (P / R) of `extractors` on the odd half (never trained on), the even half and all 130."""
    pages = ev.load_readability_set(ev.unpack(corpora / ev.READABILITY_ARCHIVE, work))
    odd = [p for p in pages if ev.split_of(p.name) == "held-out"]
    even = [p for p in pages if ev.split_of(p.name) == "dev"]
    for name in extractors:
        for half, group in (("odd", odd), ("even", even), ("all", pages)):
            score = ev.score_readability(group, ev.EXTRACTORS[name])
            print(f"{name:18} readability {half:4} ({score.pages:3} pages): bag F {score.f_sum / score.pages:.3f} "
                  f"(P {score.p_sum / score.pages:.3f} / R {score.r_sum / score.pages:.3f})", file=out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsbeam-eval"))
    parser.add_argument("--corpora", type=Path, default=ev.CORPORA)
    parser.add_argument("--only", type=int, nargs="*", help="indexes of the variants to run (default: all)")
    parser.add_argument("--readability-halves", action="store_true",
                        help="only Readability's bag F of the default (and `guarded`) on each half")
    args = parser.parse_args(argv)
    if args.readability_halves:
        readability_halves(args.work, args.corpora)
        return 0
    texts = tp.page_texts(args.work, args.corpora)
    htmls = tp.htmls_of(args.work, args.corpora, texts)
    pages = [Page(url, texts[url], htmls.get(url)) for url in sorted(texts)]
    readability = readability_pages(args.work, args.corpora)
    for name, group in (("trafilatura dev", pages), ("Readability even", [p for p in readability if p.even])):
        add = [y for p in group for y in p.labels]
        kept = [y for p in group for y in p.kept_labels]
        print(f"{name}: {len(group)} pages; resiliparse-only paragraphs {add.count(1)} keep / {add.count(0)} drop / "
              f"{add.count(-1)} unlabelled; kept by the vote {kept.count(1)} / {kept.count(0)} / {kept.count(-1)}")
    print("dev F, 5-fold CV by page: mean of three fold assignments (P / R), and the first assignment's alone "
          "(train_paragraphs --cv's)")
    for k, variant in enumerate(VARIANTS):
        if args.only and k not in args.only:
            continue
        scores = cross_validate(variant, pages, readability)
        cells = [f"{below}: {_mean([s[0] for s in runs]):.4f} ({_mean([s[1] for s in runs]):.3f} / "
                 f"{_mean([s[2] for s in runs]):.3f}; {runs[0][0]:.4f})" for below, runs in scores.items()]
        print(f"[{k}] {variant.name}, drop below " + " | ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
