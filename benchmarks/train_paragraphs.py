"""Trains the `learned` strategy's paragraph models (newsbeam/paragraph_model.json) on trafilatura's evaluation set,
and scores them by k-fold cross-validation by page against the `guarded` rules.

    python -m benchmarks.train_paragraphs            # write newsbeam/paragraph_model.json (trained on all 990 pages)
    python -m benchmarks.train_paragraphs --check    # retrain; exit 1 unless it gives the shipped file byte for byte
    python -m benchmarks.train_paragraphs --cv       # cross-validated dev F of the rules and of the models
    python -m benchmarks.train_paragraphs --held-out-cv   # the held-out half's F by CV: the shipped models' honest F
    git show <commit>:newsbeam/paragraphs.py > /tmp/paragraphs_before.py
    python -m benchmarks.train_paragraphs --cost /tmp/paragraphs_before.py   # CPU of `decide`, against that version

The hyper-parameters and thresholds were chosen on the development half (crc32(url) even) alone, by `--cv`; the
held-out half was scored with models trained on the dev half only until `--held-out-cv` showed that its labels
help (benchmarks/RESULTS.md, Extraction): the shipped models are trained on both halves with those same choices
(`--train-on dev`: the dev half alone, as before), so a held-out figure of the shipped models is honest only as
`--held-out-cv`'s (each fold decided by models that did not see it).
Two models: `add` decides the paragraphs only resiliparse found, `drop` those fast mode keeps by the vote (by their
place in the page's DOM, mostly). Labels: a candidate paragraph that holds more `with` segments than `without` ones
is to keep, the other way round to drop, else it is not used. Each extractor's text per page is cached in --work
(the first run takes ~2 minutes a half, later ones seconds). Needs scikit-learn (the `test` extra); the shipped
inference is plain Python.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import pickle
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from trafilatura.utils import load_html

from benchmarks import eval_extraction as ev
from newsbeam import extraction as ex
from newsbeam import paragraphs as pg
from newsbeam.jsonld import article_objects

OUT = ev.REPO / "newsbeam" / pg.MODEL_FILE
# chosen by cross-validation on the dev half (benchmarks/RESULTS.md, Extraction): the figures were flat between
# 0.5 and 0.7, and fast mode's own paragraphs are better left to the vote (the model decides only resiliparse's)
TREES, DEPTH, MIN_LEAF, LEARNING_RATE, KEEP_ABOVE = 100, 3, 20, 0.1, 0.6
# the `drop` model over the paragraphs fast mode keeps by the vote: conservative (it drops a paragraph whose
# probability to be kept is under 0.3: ~2 % of them), small and shallow (40 trees of depth 2: they are scored on
# every page), chosen by the same cross-validation (0.3 and 0.4 alike, over three fold assignments)
DROP_TREES, DROP_DEPTH, DROP_MIN_LEAF, DROP_LEARNING_RATE, DROP_BELOW = 40, 2, 10, 0.25, 0.3
FOLDS = 5


def page_texts(work: Path, corpora: Path, split: str = "dev") -> Dict[str, dict]:
    """Per page of the half `split` (`ev.split_of`): fast mode's text, resiliparse's, standard mode's with fallbacks
    (used where fast mode is doubtful), the JSON-LD articleBody, and the segments; cached in `work`."""
    cache = work / ("paragraph-texts.pickle" if split == "dev" else f"paragraph-texts-{split}.pickle")
    if cache.exists():
        with cache.open("rb") as f:
            return pickle.load(f)
    top = ev.unpack(corpora / ev.TRAFILATURA_ARCHIVE, work)
    settings = ex.ExtractionSettings(timeout=0)
    out = {}
    for page in ev.load_trafilatura_set(top):
        if ev.split_of(page.url) != split:
            continue
        tree = load_html(page.html)
        if tree is None:
            out[page.url] = dict(fast="", res="", bal="", body=None, with_=page.with_, without=page.without)
            continue
        fast = ex._run_mode(tree, page.url, settings, fast=True, precision=False)
        res = ex.resiliparse_text(page.html)
        doubtful = len(fast) < settings.doubt_below_share * len(res)
        out[page.url] = dict(fast=fast, res=res, body=ex.article_body(article_objects(tree)), with_=page.with_,
                             without=page.without,
                             bal=ex._run_mode(tree, page.url, settings, fast=False, precision=False) if doubtful else "")
    work.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as f:
        pickle.dump(out, f)
    return out


def htmls_of(work: Path, corpora: Path, urls) -> Dict[str, str]:
    top = ev.unpack(corpora / ev.TRAFILATURA_ARCHIVE, work)
    return {page.url: page.html for page in ev.load_trafilatura_set(top, set(urls))}


def _label(text: str, texts: dict) -> int:
    """1: the paragraph holds more `with` segments than `without` ones (keep); 0: the other way round (drop); -1:
    neither (not used)."""
    keep = sum(s in text for s in texts["with_"]) - sum(s in text for s in texts["without"])
    return 1 if keep > 0 else 0 if keep < 0 else -1


def labelled_pages(work: Path, corpora: Path, split: str) -> List["Page"]:
    """The half `split`'s pages, sorted by URL, with their candidates, rows and labels."""
    texts = page_texts(work, corpora, split)
    htmls = htmls_of(work, corpora, texts)
    return [Page(url, texts[url], htmls.get(url)) for url in sorted(texts)]


class Page:
    """One labelled page as `main_text` decides it: its candidates (fast mode's paragraphs, or standard mode's with its
    fallbacks where fast mode is doubtful, and resiliparse's), the `add` rows of those only resiliparse found and
    the `drop` rows of those the vote keeps (DOM features from `html`), and their labels (`label`: by the trafilatura
    set's segments; another corpus brings its own)."""

    def __init__(self, url: str, texts: dict, html: Optional[str] = None,
                 label: Callable[[str, dict], int] = _label):
        self.url, self.texts = url, texts
        settings = ex.ExtractionSettings(timeout=0)
        self.decided = bool(texts["res"])
        doubtful = self.decided and len(texts["fast"]) < settings.doubt_below_share * len(texts["res"])
        base = texts["bal"] if doubtful else texts["fast"]
        self.cands = pg.candidates(base, ex.normalize_paragraphs(texts["res"])) if self.decided else []
        self.extra = [i for i, c in enumerate(self.cands) if not c.in_fast]
        self.rows = pg.features(self.cands, texts["body"], self.extra)
        self.labels = [label(self.cands[i].text, texts) for i in self.extra]
        self.kept = [i for i, c in enumerate(self.cands) if pg.fast_vote(c)]
        self.kept_labels = [label(self.cands[i].text, texts) for i in self.kept]
        self.tree = load_html(html) if html is not None and self.kept else None
        # no tree (unparsable), nothing dropped: as `decide` does
        self.kept_rows = pg.drop_rows(self.cands, texts["body"], self.kept, self.tree) if self.tree is not None else []

    def text(self, added: Sequence[bool], kept: Optional[Sequence[bool]] = None) -> str:
        """The page's text as `main_text` makes it, with these decisions on resiliparse's own paragraphs (`added`)
        and on those the vote keeps (`kept`; all kept when None or when the page has no DOM rows)."""
        settings = ex.ExtractionSettings(timeout=0)
        texts = self.texts
        if not self.decided:
            return ex.guard_text(texts["fast"], texts["body"], settings)
        keep = {i for i, add in zip(self.extra, added) if add}
        if kept is None or not self.kept_rows:
            kept = [True] * len(self.kept)
        keep.update(i for i, k in zip(self.kept, kept) if k)
        return ex.guard_text("\n".join(c.text for i, c in enumerate(self.cands) if i in keep), texts["body"], settings)


def segment_f(pages: Sequence[Page], decisions: Sequence[Sequence[bool]],
              kept: Optional[Sequence[Optional[Sequence[bool]]]] = None) -> tuple:
    tp = fn = fp = 0
    for page, added, keep in zip(pages, decisions, kept or [None] * len(pages)):
        text = page.text(added, keep)
        found = sum(s in text for s in page.texts["with_"])
        tp, fn = tp + found, fn + len(page.texts["with_"]) - found
        fp += sum(s in text for s in page.texts["without"])
    p, r = tp / (tp + fp), tp / (tp + fn)
    return 2 * p * r / (p + r), p, r


def _fit(rows, labels, trees: int, depth: int, leaf: int, rate: float):
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(n_estimators=trees, max_depth=depth, min_samples_leaf=leaf,
                                      learning_rate=rate, random_state=0).fit(rows, labels)


def fit(pages: Sequence[Page]):
    """The `add` model, on the labelled rows of resiliparse's own paragraphs."""
    rows = [row for page in pages for row, y in zip(page.rows, page.labels) if y >= 0]
    labels = [y for page in pages for y in page.labels if y >= 0]
    return _fit(rows, labels, TREES, DEPTH, MIN_LEAF, LEARNING_RATE)


def fit_drop(pages: Sequence[Page]):
    """The `drop` model, on the labelled rows of the paragraphs the vote keeps."""
    rows = [row for page in pages for row, y in zip(page.kept_rows, page.kept_labels) if y >= 0]
    labels = [y for page in pages for row, y in zip(page.kept_rows, page.kept_labels) if y >= 0]
    return _fit(rows, labels, DROP_TREES, DROP_DEPTH, DROP_MIN_LEAF, DROP_LEARNING_RATE)


def export(model, features: Sequence[str] = pg.FEATURES, keep_above: float = KEEP_ABOVE) -> dict:
    """A fitted ensemble as `newsbeam.paragraphs.Model` reads it: log-odds = base + sum of leaf values."""
    trees = []
    for (estimator,) in model.estimators_:
        t = estimator.tree_
        trees.append({"feature": [int(f) if f >= 0 else -1 for f in t.feature],
                      "threshold": [round(float(x), 9) for x in t.threshold],
                      "left": [int(x) for x in t.children_left], "right": [int(x) for x in t.children_right],
                      "value": [round(float(v[0][0]) * model.learning_rate, 9) for v in t.value]})
    prior = model.init_.class_prior_[1]
    return {"features": list(features), "base": round(math.log(prior / (1 - prior)), 9),
            "threshold": round(math.log(keep_above / (1 - keep_above)), 9), "trees": trees}


TRAINED_ON = {
    "all": "trafilatura evaluation set, all {} pages: both crc32(url) halves (benchmarks/train_paragraphs.py)",
    "dev": "trafilatura evaluation set, crc32(url) even half, {} pages (benchmarks/train_paragraphs.py --train-on dev)",
}


def export_models(add, drop, trained_on: str) -> dict:
    """Both fitted models as `newsbeam.paragraphs.models_from` reads them; `trained_on` says on what."""
    return {"version": pg.MODEL_VERSION, "add": export(add), "drop": export(drop, pg.DROP_FEATURES, DROP_BELOW),
            "trained_on": trained_on}


def serialise(spec: dict) -> str:
    return json.dumps(spec, separators=(",", ":"), sort_keys=True) + "\n"


def cross_validate(pages: List[Page], out=sys.stdout) -> None:
    """k-fold by page: each fold's pages decided by models trained on the other folds."""
    none = [[False] * len(p.extra) for p in pages]
    rule = segment_f(pages, none)
    print(f"the vote alone (fast mode's paragraphs, standard mode's with its fallbacks on doubtful pages; none of "
          f"resiliparse's): F {rule[0]:.4f} (P {rule[1]:.3f} / R {rule[2]:.3f})", file=out)
    probs: List[List[float]] = [[] for _ in pages]
    kept_probs: List[List[float]] = [[] for _ in pages]
    for fold in range(FOLDS):
        train = [p for i, p in enumerate(pages) if i % FOLDS != fold]
        model, drop = fit(train), fit_drop(train)
        for i, page in enumerate(pages):
            if i % FOLDS == fold:
                probs[i] = list(model.predict_proba(page.rows)[:, 1]) if page.rows else []
                kept_probs[i] = list(drop.predict_proba(page.kept_rows)[:, 1]) if page.kept_rows else []
    for threshold in (0.4, 0.5, 0.6, 0.7, 0.8):
        f, p, r = segment_f(pages, [[x > threshold for x in prob] for prob in probs])
        print(f"add model alone, keep above {threshold}: F {f:.4f} (P {p:.3f} / R {r:.3f})", file=out)
    added = [[x > KEEP_ABOVE for x in prob] for prob in probs]
    for below in (0.1, 0.2, 0.3, 0.4, 0.5):
        kept = [[x > below for x in prob] for prob in kept_probs]
        f, p, r = segment_f(pages, added, kept)
        dropped = sum(k.count(False) for k in kept)
        print(f"add above {KEEP_ABOVE}, drop below {below}: F {f:.4f} (P {p:.3f} / R {r:.3f}), {dropped} dropped"
              f"{' <- shipped' if below == DROP_BELOW else ''}", file=out)


def _decisions(pages: Sequence[Page], add, drop) -> tuple:
    """The `add` and `drop` decisions of scikit-learn models at the shipped thresholds."""
    added = [[x > KEEP_ABOVE for x in add.predict_proba(p.rows)[:, 1]] if p.rows else [] for p in pages]
    kept = [[x > DROP_BELOW for x in drop.predict_proba(p.kept_rows)[:, 1]] if p.kept_rows else [] for p in pages]
    return added, kept


def held_out_cv(dev: Sequence[Page], held: List[Page], extra: Sequence[Page] = (), out=sys.stdout) -> dict:
    """Do the models generalise better with more labelled pages? The held-out half in 5 folds by page (page i of
    the sorted URLs in fold i % 5); each fold decided by models trained on the dev half, the other 4 folds (and
    `extra`, other labelled pages) with the hyper-parameters and thresholds chosen on the dev half, against the
    models trained on the dev half alone (`--train-on dev`'s, shipped until both halves were) on the same pages;
    it also counts the held-out rows the shipped models decide otherwise than the dev half's. Returns {fold or
    "all": (F dev-only, F more)}."""
    base = _decisions(held, fit(list(dev)), fit_drop(list(dev)))
    more: tuple = ([[] for _ in held], [[] for _ in held])
    for fold in range(FOLDS):
        train = list(dev) + list(extra) + [p for i, p in enumerate(held) if i % FOLDS != fold]
        mine = [i for i in range(len(held)) if i % FOLDS == fold]
        added, kept = _decisions([held[i] for i in mine], fit(train), fit_drop(train))
        for k, i in enumerate(mine):
            more[0][i], more[1][i] = added[k], kept[k]
    shipped = pg.default_models()
    differ = sum(shipped.add.keep(row) != d for p, ds in zip(held, base[0]) for row, d in zip(p.rows, ds)) + sum(
        shipped.drop.keep(row) != d for p, ds in zip(held, base[1]) for row, d in zip(p.kept_rows, ds))
    print(f"held-out half, {len(held)} pages in {FOLDS} folds by page; trained on the dev half ({len(dev)} pages)"
          f"{f' and {len(extra)} other pages' if extra else ''}: alone / + the other 4 folds (the shipped models "
          f"decide {differ} of the {sum(len(p.rows) + len(p.kept_rows) for p in held)} held-out rows otherwise than "
          f"the dev half's alone)", file=out)
    figures = {}
    for fold in list(range(FOLDS)) + ["all"]:
        mine = [i for i in range(len(held)) if fold == "all" or i % FOLDS == fold]
        pages = [held[i] for i in mine]
        a = segment_f(pages, [base[0][i] for i in mine], [base[1][i] for i in mine])
        b = segment_f(pages, [more[0][i] for i in mine], [more[1][i] for i in mine])
        figures[fold] = (a[0], b[0])
        print(f"{'fold ' + str(fold) if fold != 'all' else 'all':7} ({len(pages):3} pages): F {a[0]:.4f} (P {a[1]:.3f} "
              f"/ R {a[2]:.3f}) -> {b[0]:.4f} (P {b[1]:.3f} / R {b[2]:.3f}), {b[0] - a[0]:+.4f}", file=out)
    return figures


def _load(path: Path):
    spec = importlib.util.spec_from_file_location("paragraphs_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def decision_cost(pages: Sequence[Page], baseline: Path, rounds: int = 6, out=sys.stdout) -> None:
    """CPU time of `decide` a page (the dev pages `main_text` decides, their texts cached, their trees parsed
    beforehand as the pipeline has them), this version against `baseline` (an earlier newsbeam/paragraphs.py,
    called as it was: without the tree before model version 2), interleaved round by round so that machine load
    cancels out; prints how many pages the two decide differently (none, for a change meant only to be faster)."""
    old, models = _load(baseline), pg.default_models()
    inputs = [(p.texts["fast"] if not p.texts["bal"] else p.texts["bal"], ex.normalize_paragraphs(p.texts["res"]),
               p.texts["body"], p.tree) for p in pages if p.decided]
    if hasattr(old, "default_models"):  # model version 2 on: the tree, and both models
        old_models = old.default_models()
        calls = {"baseline": lambda fast, other, body, tree: old.decide(fast, other, body, tree, old_models)}
    else:
        old_model = old.default_model()
        calls = {"baseline": lambda fast, other, body, tree: old.decide(fast, other, body, old_model)}
    calls["now"] = lambda fast, other, body, tree: pg.decide(fast, other, body, tree, models)
    differ = sum(calls["baseline"](*page) != calls["now"](*page) for page in inputs)
    spent = dict.fromkeys(calls, 0.0)
    for round_ in range(rounds):
        for name in list(calls) if round_ % 2 == 0 else list(reversed(calls)):
            decide = calls[name]
            started = time.process_time()
            for page in inputs:
                decide(*page)
            spent[name] += time.process_time() - started
    count = rounds * len(inputs)
    for name, seconds in spent.items():
        print(f"decide {name:8} {1000 * seconds / count:6.3f} CPU ms/page", file=out)
    print(f"difference {1000 * (spent['now'] - spent['baseline']) / count:+.3f} CPU ms/page over {len(inputs)} "
          f"pages; {differ} pages decided differently", file=out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsbeam-eval"))
    parser.add_argument("--corpora", type=Path, default=ev.CORPORA)
    parser.add_argument("--cv", action="store_true", help="only the cross-validated figures, no model written")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 unless retraining gives --out byte for byte")
    parser.add_argument("--train-on", choices=sorted(TRAINED_ON), default="all",
                        help="the pages the written (or --check'ed) models learn from: both halves (the shipped "
                             "models) or the dev half alone (the models before)")
    parser.add_argument("--held-out-cv", action="store_true",
                        help="only the held-out half's F by 5-fold CV, trained on the dev half and the other folds, "
                             "against the dev half alone; no model written")
    parser.add_argument("--readability", action="store_true",
                        help="with --held-out-cv: Mozilla Readability's 130 pages as more training pages")
    parser.add_argument("--cost", type=Path, metavar="BASELINE",
                        help="only the CPU time of the decision against BASELINE, an earlier newsbeam/paragraphs.py")
    args = parser.parse_args(argv)
    pages = labelled_pages(args.work, args.corpora, "dev")
    labels = [y for p in pages for y in p.labels]
    kept = [y for p in pages for y in p.kept_labels]
    print(f"{len(pages)} dev pages; resiliparse-only paragraphs: {labels.count(1)} to keep, {labels.count(0)} to drop, "
          f"{labels.count(-1)} unlabelled; kept by the vote: {kept.count(1)} to keep, {kept.count(0)} to drop, "
          f"{kept.count(-1)} unlabelled")
    if args.cost:
        decision_cost(pages, args.cost)
        return 0
    if args.cv:
        cross_validate(pages)
        return 0
    if args.held_out_cv:
        extra: List[Page] = []
        if args.readability:
            from benchmarks.explore_paragraph_models import readability_pages  # (it imports this module)

            extra = readability_pages(args.work, args.corpora)
        held_out_cv(pages, labelled_pages(args.work, args.corpora, "held-out"), extra)
        return 0
    if args.train_on == "all":
        pages = pages + labelled_pages(args.work, args.corpora, "held-out")
    add, drop = fit(pages), fit_drop(pages)
    spec = export_models(add, drop, TRAINED_ON[args.train_on].format(len(pages)))
    shipped = pg.models_from(spec)
    # the plain-Python inference must decide as scikit-learn does
    for name, model, ours, rows, above in (
            ("add", add, shipped.add, [row for p in pages for row in p.rows], KEEP_ABOVE),
            ("drop", drop, shipped.drop, [row for p in pages for row in p.kept_rows], DROP_BELOW)):
        theirs = [x > above for x in model.predict_proba(rows)[:, 1]]
        disagree = sum(ours.keep(row) != keep for row, keep in zip(rows, theirs))
        if disagree:
            raise SystemExit(f"the exported {name} model disagrees with scikit-learn on {disagree} of {len(rows)} rows")
    text = serialise(spec)
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        print(f"{args.out}: {'the same, byte for byte' if same else 'DIFFERS from what the training gives'}")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    added = [[shipped.add.keep(r) for r in p.rows] for p in pages]
    kept_now = [[shipped.drop.keep(r) for r in p.kept_rows] for p in pages]
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(spec['add']['trees'])} + "
          f"{len(spec['drop']['trees'])} trees); F on the {len(pages)} training pages (not cross-validated): "
          f"{segment_f(pages, added, kept_now)[0]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
