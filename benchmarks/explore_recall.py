"""Where the `learned` strategy loses text that plain trafilatura keeps, and recall guards against it, on the
development corpora only (issue 13; Zyte's benchmark, `eval_unseen`, is not read here).

    python -m benchmarks.explore_recall --work W --dev-models W/model-dev.json

`--dev-models`: paragraph models trained on the dev half alone (`python -m benchmarks.train_paragraphs --train-on
dev --out W/model-dev.json`), so that the held-out half of trafilatura's set is scored by models that never saw it
(the shipped models are trained on both halves). Measures: trafilatura's set by its segments (pooled over pages, as
`eval_extraction`), Mozilla Readability's 130 pages (never trained on) by Zyte's measure (`eval_unseen`: 4-word
shingles, per-page normalised counts, F1 of the mean precision and recall) against the expected text. Each page's
extractor texts are computed once and cached in --work; every variant is then scored from the cache.
"""
from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import trafilatura
from trafilatura.utils import load_html

from benchmarks import eval_extraction as ev
from benchmarks.eval_unseen import page_counts, scores
from newsbeam import extraction as ex
from newsbeam import paragraphs as pg
from newsbeam.jsonld import article_objects

SETTINGS = ex.ExtractionSettings(timeout=0)


def _components(html: str, url: str) -> dict:
    tree = load_html(html)
    if tree is None:
        return dict(fast="", res="", bal="", plain="", body=None)
    return dict(
        fast=ex._run_mode(tree, url, SETTINGS, fast=True, precision=False),
        res=ex.resiliparse_text(html),
        bal=ex._run_mode(tree, url, SETTINGS, fast=False, precision=False),
        # Zyte's trafilatura runner (eval_unseen.trafilatura_text)
        plain=trafilatura.extract(html, include_comments=False) or "",
        body=ex.article_body(article_objects(tree)))


def cached_pages(work: Path, corpora: Path) -> List[dict]:
    cache = work / "recall-components.pickle"
    if cache.exists():
        with cache.open("rb") as f:
            return pickle.load(f)
    pages = []
    top = ev.unpack(corpora / ev.TRAFILATURA_ARCHIVE, work)
    for page in ev.load_trafilatura_set(top):
        pages.append(dict(corpus="traf", split=ev.split_of(page.url), url=page.url, html=page.html,
                          with_=page.with_, without=page.without, **_components(page.html, page.url)))
    top = ev.unpack(corpora / ev.READABILITY_ARCHIVE, work)
    for page in ev.load_readability_set(top):
        url = f"http://fakehost/{page.name}/"
        pages.append(dict(corpus="read", split="read", url=url, html=page.html, expected=page.expected_text,
                          **_components(page.html, url)))
    with cache.open("wb") as f:
        pickle.dump(pages, f)
    return pages


def learned(page: dict, models: pg.Models, doubt: float = SETTINGS.doubt_below_share) -> str:
    """`main_text`'s `learned` path from the cached texts (standard mode's text where fast mode is doubtful)."""
    if not page["res"]:
        return ex.guard_text(page["fast"], page["body"], SETTINGS)
    base = page["bal"] if len(page["fast"]) < doubt * len(page["res"]) else page["fast"]
    tree = load_html(page["html"])
    text = pg.decide(base, ex.normalize_paragraphs(page["res"]), page["body"], tree, models)
    return ex.guard_text(text, page["body"], SETTINGS)


def _words(text: str) -> Counter:
    return Counter(ev._WORD.findall(text.lower()))


def contained(short: str, long: str) -> float:
    """The share of `short`'s words (with their counts) that `long` has."""
    a, b = _words(short), _words(long)
    total = sum(a.values())
    return sum((a & b).values()) / total if total else 1.0


def score(pages: Sequence[dict], texts: Sequence[str]) -> Dict[str, tuple]:
    out = {}
    for split in ("dev", "held-out", "read"):
        # Readability's synthetic pages with under `min_text_chars` of expected text are `empty_text` by design
        chosen = [(p, t) for p, t in zip(pages, texts)
                  if p["split"] == split and len(p.get("expected", "x" * SETTINGS.min_text_chars).strip())
                  >= SETTINGS.min_text_chars]
        if not chosen:
            continue
        if split == "read":
            counts = [page_counts(p["expected"], t) for p, t in chosen]
            out[split] = scores(counts)
            continue
        tp = sum(s in t for p, t in chosen for s in p["with_"])
        fn = sum(s not in t for p, t in chosen for s in p["with_"])
        fp = sum(s in t for p, t in chosen for s in p["without"])
        prec, rec = (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)
        out[split] = (2 * prec * rec / (prec + rec) if prec + rec else 0.0, prec, rec)
    return out


def _row(name: str, result: Dict[str, tuple], extra: str = "") -> str:
    cells = [f"{result[s][0]:.4f} ({result[s][1]:.3f}/{result[s][2]:.3f})" if s in result else "-"
             for s in ("dev", "held-out", "read")]
    return f"{name:<58} " + "  ".join(f"{c:<24}" for c in cells) + extra


def _label(page: dict, text: str) -> str:
    """Whether a paragraph belongs to the article: trafilatura's set by its segments, Readability's by the share of
    its words in the expected text."""
    if page["corpus"] == "traf":
        good = sum(s in text for s in page["with_"]) - sum(s in text for s in page["without"])
        return "article" if good > 0 else "boilerplate" if good < 0 else "unlabelled"
    share = contained(text, page["expected"])
    return "article" if share >= 0.8 else "boilerplate" if share < 0.3 else "unlabelled"


def _print_counts(title: str, stats: Dict[str, Counter], out) -> None:
    print(f"\n{title} (article / boilerplate / unlabelled):", file=out)
    for key in sorted(stats):
        c = stats[key]
        print(f"  {key:<62} {c['article']:>5} {c['boilerplate']:>5} {c['unlabelled']:>6}", file=out)


def loss_report(pages: Sequence[dict], base: Sequence[str], out=sys.stdout) -> None:
    """Question 1: the paragraphs of plain trafilatura's text that `learned` lacks, by where they were lost and
    what they are."""
    stats: Dict[str, Counter] = {}
    short_pages = Counter()
    for page, text in zip(pages, base):
        corpus = page["corpus"]
        mine, fast, res = (f" {pg.folded(t)} " for t in (text, page["fast"], page["res"]))
        lines = ex.normalize_paragraphs(page["plain"]).splitlines()
        for i, line in enumerate(lines):
            key = pg.folded(line)
            if not key or f" {key} " in mine:
                continue
            stage = ("in fast mode's text" if f" {key} " in fast else
                     "resiliparse only (add model said no)" if f" {key} " in res else
                     "neither (trafilatura's fallbacks)")
            kind = ("list item" if line.startswith("- ") else "table row" if "|" in line else
                    "under 30 chars" if len(line) < 30 else "30-99 chars" if len(line) < 100 else "100+ chars")
            where = "first" if i == 0 else "last" if i == len(lines) - 1 else "middle"
            for facet in (f"stage: {stage}", f"kind: {kind}", f"place: {where}"):
                stats.setdefault(f"{corpus} {facet}", Counter())[_label(page, line)] += 1
        if len(text) < 0.7 * len(ex.normalize_paragraphs(page["plain"])):
            short_pages[corpus] += 1
    _print_counts("paragraphs of plain trafilatura's text that `learned` lacks", stats, out)
    print(f"pages where `learned` keeps under 70 % of plain trafilatura's text: {dict(short_pages)}", file=out)


def stage_report(pages: Sequence[dict], models_of: Callable[[dict], pg.Models], out=sys.stdout) -> None:
    """Which step drops the paragraphs of the decision's base text (fast mode's, or standard mode's where doubtful):
    the vote (short, resiliparse lacks it), the `drop` model, or the guard's furniture filter."""
    stats: Dict[str, Counter] = {}
    for page in pages:
        if not page["res"]:
            continue
        base = page["bal"] if len(page["fast"]) < SETTINGS.doubt_below_share * len(page["res"]) else page["fast"]
        cands = pg.candidates(base, ex.normalize_paragraphs(page["res"]))
        voted = [i for i, cand in enumerate(cands) if pg.fast_vote(cand)]
        rows = pg.drop_rows(cands, page["body"], voted, load_html(page["html"])) if voted else []
        kept = {i for i, row in zip(voted, rows) if models_of(page).drop.keep(row)}
        for i, cand in enumerate(cands):
            if not cand.in_fast:
                continue
            stage = ("the vote" if i not in voted else "the drop model" if i not in kept else
                     "the furniture guard" if not ex.guard_text(cand.text, None, _NO_MINIMUM) else None)
            if stage:
                stats.setdefault(f"{page['corpus']} dropped by {stage}", Counter())[_label(page, cand.text)] += 1
    _print_counts("paragraphs of the decision's base text that `learned` drops, by step", stats, out)


_NO_MINIMUM = ex.ExtractionSettings(timeout=0, min_text_chars=0)


def recall_guard(page: dict, text: str, longer: float, contains: float, resiliparse_agrees: bool) -> str:
    """Standard mode with its fallbacks (plain trafilatura's text, guarded) instead of `text` when `text` is under
    `longer` times its length and `contains` of its words lie in it (and resiliparse finds 0.8 of its length)."""
    other = ex.guard_text(page["bal"], page["body"], SETTINGS)
    take = (len(text) < longer * len(other) and contained(text, other) >= contains
            and (not resiliparse_agrees or len(page["res"]) >= 0.8 * len(other)))
    return other if take else text


def sandwiched(page: dict, models: pg.Models, min_chars: int, which: str) -> str:
    """`learned`, plus the candidates (`which`: any, resiliparse's only, fast mode's only) of `min_chars` or more
    between two kept ones."""
    if not page["res"]:
        return ex.guard_text(page["fast"], page["body"], SETTINGS)
    base = page["bal"] if len(page["fast"]) < SETTINGS.doubt_below_share * len(page["res"]) else page["fast"]
    cands = pg.candidates(base, ex.normalize_paragraphs(page["res"]))
    extra = [i for i, cand in enumerate(cands) if not cand.in_fast]
    keep = {i for i, row in zip(extra, pg.features(cands, page["body"], extra)) if models.add.keep(row)}
    voted = [i for i, cand in enumerate(cands) if pg.fast_vote(cand)]
    rows = pg.drop_rows(cands, page["body"], voted, load_html(page["html"])) if voted else []
    keep.update(i for i, row in zip(voted, rows) if models.drop.keep(row))
    keep |= {i for i, cand in enumerate(cands)
             if 0 < i < len(cands) - 1 and i not in keep and len(cand.text) >= min_chars and i - 1 in keep
             and i + 1 in keep and (which == "any" or cand.in_fast == (which == "fast"))}
    text = "\n".join(cand.text for i, cand in enumerate(cands) if i in keep)
    return ex.guard_text(text, page["body"], SETTINGS)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsbeam-eval"))
    parser.add_argument("--corpora", type=Path, default=ev.CORPORA)
    parser.add_argument("--dev-models", type=Path, required=True)
    args = parser.parse_args(argv)
    pages = cached_pages(args.work, args.corpora)
    dev_models = pg.models_from(json.loads(args.dev_models.read_text(encoding="utf-8")))
    shipped = pg.default_models()
    # dev-half models on trafilatura's set (the held-out half never seen by them), shipped ones on Readability's
    models_of: Callable[[dict], pg.Models] = lambda p: shipped if p["corpus"] == "read" else dev_models  # noqa: E731
    base = [learned(p, models_of(p)) for p in pages]
    print(f"{len(pages)} pages; F (P/R): dev half, held-out half (never seen by the dev models), Readability "
          f"(Zyte's measure; the 125 pages with {SETTINGS.min_text_chars}+ characters expected)")
    print(_row("plain trafilatura (extract, Zyte's runner)", score(pages, [p["plain"] for p in pages])))
    print(_row("standard mode + fallbacks, guarded", score(pages, [ex.guard_text(p["bal"], p["body"], SETTINGS)
                                                                  for p in pages])))
    print(_row("resiliparse alone", score(pages, [p["res"] for p in pages])))
    print(_row("learned", score(pages, base)))
    loss_report(pages, base)
    stage_report(pages, models_of)
    print()
    for doubt in (0.6, 0.7, 0.8, 0.9, 1.0, 99):
        texts = [learned(p, models_of(p), doubt) for p in pages]
        share = statistics.mean(len(p["fast"]) < doubt * len(p["res"]) for p in pages)
        print(_row(f"learned, doubtful below {doubt} x resiliparse", score(pages, texts), f" bal on {share:.1%}"))
    for longer in (0.3, 0.5, 0.7, 0.85):
        for contains in (0.8, 0.95):
            for agrees in (False, True):
                texts = [recall_guard(p, t, longer, contains, agrees) for p, t in zip(pages, base)]
                taken = sum(a != b for a, b in zip(texts, base))
                name = f"recall guard: < {longer} x, {contains} contained{', res agrees' if agrees else ''}"
                print(_row(name, score(pages, texts), f" {taken} pages changed"))
    for bar in (80, 100, 120, 150, 200):  # the guard's length limit for share/comment/related bars
        saved, ex._BAR_MAX_CHARS = ex._BAR_MAX_CHARS, bar
        try:
            print(_row(f"learned, furniture guard's bar limit {bar} chars", score(pages, [learned(p, models_of(p))
                                                                                         for p in pages])))
        finally:
            ex._BAR_MAX_CHARS = saved
    for min_chars, which in ((0, "any"), (30, "any"), (30, "other"), (30, "fast"), (80, "any")):
        texts = [sandwiched(p, models_of(p), min_chars, which) for p in pages]
        print(_row(f"sandwiched candidates kept ({which}, {min_chars}+ chars)", score(pages, texts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
