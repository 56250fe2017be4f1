"""Trains the `learned` strategy's paragraph model (newsbeam/paragraph_model.json) on the development half of
trafilatura's evaluation set, and scores it by k-fold cross-validation by page against the `guarded` rules.

    python -m benchmarks.train_paragraphs            # write newsbeam/paragraph_model.json
    python -m benchmarks.train_paragraphs --cv       # cross-validated dev F of the rules and of the model
    git show <commit>:newsbeam/paragraphs.py > /tmp/paragraphs_before.py
    python -m benchmarks.train_paragraphs --cost /tmp/paragraphs_before.py   # CPU of `decide`, against that version

Only the development half (crc32(url) even) is read: the held-out half is for `benchmarks.eval_extraction`.
Labels: a candidate paragraph that holds more `with` segments than `without` ones is to keep, the other way round
to drop, else it is not used. Each extractor's text per page is cached in --work (the first run takes ~2 minutes,
later ones seconds). Needs scikit-learn (the `test` extra); the shipped inference is plain Python.
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
from typing import Dict, List, Optional, Sequence

from trafilatura.utils import load_html

from benchmarks import eval_extraction as ev
from newsbeam import extraction as ex
from newsbeam import paragraphs as pg
from newsbeam.jsonld import article_objects

OUT = ev.REPO / "newsbeam" / pg.MODEL_FILE
# chosen by cross-validation on the dev half (benchmarks/RESULTS.md, Extraction): the figures were flat between
# 0.5 and 0.7, and fast mode's own paragraphs are better left to the vote (the model decides only resiliparse's)
TREES, DEPTH, MIN_LEAF, LEARNING_RATE, KEEP_ABOVE = 100, 3, 20, 0.1, 0.6
FOLDS = 5


def page_texts(work: Path, corpora: Path) -> Dict[str, dict]:
    """Per dev page: fast mode's text, resiliparse's, standard mode's with fallbacks (used where fast mode is
    doubtful), the JSON-LD articleBody, and the segments; cached in `work`."""
    cache = work / "paragraph-texts.pickle"
    if cache.exists():
        with cache.open("rb") as f:
            return pickle.load(f)
    top = ev.unpack(corpora / ev.TRAFILATURA_ARCHIVE, work)
    settings = ex.ExtractionSettings(timeout=0)
    out = {}
    for page in ev.load_trafilatura_set(top):
        if ev.split_of(page.url) != "dev":
            continue
        tree = load_html(page.html)
        if tree is None:
            out[page.url] = dict(fast="", res="", bal="", body=None, with_=page.with_, without=page.without)
            continue
        fast = ex._run_mode(tree, page.url, settings, fast=True, precision=False)
        res = ex.resiliparse_text(page.html)
        doubtful = len(fast) < settings.doubt_below_share * len(res)
        out[page.url] = dict(fast=fast, res=res, body=ex.article_body(article_objects(tree)), with_=page.with_,
                             without=page.without, bal=ex._run_mode(tree, page.url, settings, fast=False, precision=False) if doubtful
                             else "")
    work.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as f:
        pickle.dump(out, f)
    return out


class Page:
    """One dev page's candidates, the feature rows of those only resiliparse found, and their labels."""

    def __init__(self, url: str, texts: dict):
        self.url, self.texts = url, texts
        settings = ex.ExtractionSettings(timeout=0)
        self.decided = bool(texts["res"]) and len(texts["fast"]) >= settings.doubt_below_share * len(texts["res"])
        self.cands = pg.candidates(texts["fast"], ex.normalize_paragraphs(texts["res"])) if self.decided else []
        self.extra = [i for i, c in enumerate(self.cands) if not c.in_fast]
        self.rows = pg.features(self.cands, texts["body"], self.extra)
        self.labels = []
        for i in self.extra:
            text = self.cands[i].text
            keep = sum(s in text for s in texts["with_"]) - sum(s in text for s in texts["without"])
            self.labels.append(1 if keep > 0 else 0 if keep < 0 else -1)

    def text(self, added: Sequence[bool]) -> str:
        """The page's text as `main_text` makes it, with these decisions on resiliparse's own paragraphs."""
        settings = ex.ExtractionSettings(timeout=0)
        texts = self.texts
        if not texts["res"]:
            return ex.guard_text(texts["fast"], texts["body"], settings)
        if not self.decided:
            return ex.guard_text(texts["bal"], texts["body"], settings)
        keep = {i for i, add in zip(self.extra, added) if add}
        return ex.guard_text("\n".join(c.text for i, c in enumerate(self.cands) if pg.fast_vote(c) or i in keep),
                             texts["body"], settings)


def segment_f(pages: Sequence[Page], decisions: Sequence[Sequence[bool]]) -> tuple:
    tp = fn = fp = 0
    for page, added in zip(pages, decisions):
        text = page.text(added)
        found = sum(s in text for s in page.texts["with_"])
        tp, fn = tp + found, fn + len(page.texts["with_"]) - found
        fp += sum(s in text for s in page.texts["without"])
    p, r = tp / (tp + fp), tp / (tp + fn)
    return 2 * p * r / (p + r), p, r


def fit(pages: Sequence[Page]):
    from sklearn.ensemble import GradientBoostingClassifier

    rows = [row for page in pages for row, y in zip(page.rows, page.labels) if y >= 0]
    labels = [y for page in pages for y in page.labels if y >= 0]
    return GradientBoostingClassifier(n_estimators=TREES, max_depth=DEPTH, min_samples_leaf=MIN_LEAF,
                                      learning_rate=LEARNING_RATE, random_state=0).fit(rows, labels)


def export(model) -> dict:
    """The fitted ensemble as `newsbeam.paragraphs.Model` reads it: log-odds = base + sum of leaf values."""
    trees = []
    for (estimator,) in model.estimators_:
        t = estimator.tree_
        trees.append({"feature": [int(f) if f >= 0 else -1 for f in t.feature],
                      "threshold": [round(float(x), 9) for x in t.threshold],
                      "left": [int(x) for x in t.children_left], "right": [int(x) for x in t.children_right],
                      "value": [round(float(v[0][0]) * model.learning_rate, 9) for v in t.value]})
    prior = model.init_.class_prior_[1]
    return {"version": pg.MODEL_VERSION, "features": list(pg.FEATURES), "base": round(math.log(prior / (1 - prior)), 9),
            "threshold": round(math.log(KEEP_ABOVE / (1 - KEEP_ABOVE)), 9), "trees": trees,
            "trained_on": "trafilatura evaluation set, crc32(url) even half (benchmarks/train_paragraphs.py)"}


def cross_validate(pages: List[Page], out=sys.stdout) -> None:
    """k-fold by page: each fold's pages decided by a model trained on the other folds."""
    rule = segment_f(pages, [[False] * len(p.extra) for p in pages])
    print(f"guarded rules (fast mode's paragraphs by the vote, none of resiliparse's): F {rule[0]:.4f} "
          f"(P {rule[1]:.3f} / R {rule[2]:.3f})", file=out)
    probs: List[Optional[List[float]]] = [None] * len(pages)
    for fold in range(FOLDS):
        model = fit([p for i, p in enumerate(pages) if i % FOLDS != fold])
        for i, page in enumerate(pages):
            if i % FOLDS == fold:
                probs[i] = list(model.predict_proba(page.rows)[:, 1]) if page.rows else []
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        f, p, r = segment_f(pages, [[x > threshold for x in prob] for prob in probs])
        print(f"learned, keep above {threshold}: F {f:.4f} (P {p:.3f} / R {r:.3f}){' <- shipped' if threshold == KEEP_ABOVE else ''}",
              file=out)


def _load(path: Path):
    spec = importlib.util.spec_from_file_location("paragraphs_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def decision_cost(pages: Sequence[Page], baseline: Path, rounds: int = 6, out=sys.stdout) -> None:
    """CPU time of `decide` a page (the dev pages `main_text` decides, their texts cached), this version against
    `baseline` (an earlier newsbeam/paragraphs.py), interleaved round by round so that machine load cancels out;
    both must decide every page alike."""
    versions = {"baseline": _load(baseline), "now": pg}
    models = {name: module.default_model() for name, module in versions.items()}
    inputs = [(p.texts["fast"], ex.normalize_paragraphs(p.texts["res"]), p.texts["body"]) for p in pages if p.decided]
    differ = sum(versions["baseline"].decide(*page, models["baseline"]) != pg.decide(*page, models["now"])
                 for page in inputs)
    if differ:
        raise SystemExit(f"the two versions decide {differ} of {len(inputs)} pages differently")
    spent = dict.fromkeys(versions, 0.0)
    for round_ in range(rounds):
        for name in list(versions) if round_ % 2 == 0 else list(reversed(versions)):
            decide, model = versions[name].decide, models[name]
            started = time.process_time()
            for page in inputs:
                decide(*page, model)
            spent[name] += time.process_time() - started
    calls = rounds * len(inputs)
    for name, seconds in spent.items():
        print(f"decide {name:8} {1000 * seconds / calls:6.3f} CPU ms/page", file=out)
    print(f"difference {1000 * (spent['now'] - spent['baseline']) / calls:+.3f} CPU ms/page over {len(inputs)} "
          "pages, every page decided alike", file=out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsbeam-eval"))
    parser.add_argument("--corpora", type=Path, default=ev.CORPORA)
    parser.add_argument("--cv", action="store_true", help="only the cross-validated figures, no model written")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cost", type=Path, metavar="BASELINE",
                        help="only the CPU time of the decision against BASELINE, an earlier newsbeam/paragraphs.py")
    args = parser.parse_args(argv)
    texts = page_texts(args.work, args.corpora)
    pages = [Page(url, texts[url]) for url in sorted(texts)]
    labels = [y for p in pages for y in p.labels]
    print(f"{len(pages)} dev pages; resiliparse-only paragraphs: {labels.count(1)} to keep, {labels.count(0)} to drop, "
          f"{labels.count(-1)} unlabelled")
    if args.cost:
        decision_cost(pages, args.cost)
        return 0
    if args.cv:
        cross_validate(pages)
        return 0
    model = fit(pages)
    spec = export(model)
    shipped = pg.Model(spec)
    # the plain-Python inference must decide as scikit-learn does
    rows = [row for p in pages for row in p.rows]
    ours = [shipped.keep(row) for row in rows]
    theirs = [x > KEEP_ABOVE for x in model.predict_proba(rows)[:, 1]]
    disagree = sum(a != b for a, b in zip(ours, theirs))
    if disagree:
        raise SystemExit(f"the exported model disagrees with scikit-learn on {disagree} of {len(rows)} rows")
    args.out.write_text(json.dumps(spec, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(spec['trees'])} trees); dev F as trained "
          f"(not cross-validated): {segment_f(pages, [[shipped.keep(r) for r in p.rows] for p in pages])[0]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
