"""Text F1 on pages newsbeam was never developed on: Zyte's (formerly Scrapinghub's) article-extraction benchmark,
181 news pages in many languages with their article body (https://github.com/scrapinghub/article-extraction-benchmark,
`html/*.html.gz` and `ground-truth.json`). It is not in this repository and it is **held out**: no rule, threshold
or model of newsbeam is chosen by it (development uses trafilatura's and Readability's sets, `eval_extraction`);
it only says how the choices made there carry over. Issue 13's goal (F1 >= 0.970, the best published figure) is
stated on it.

    python -m benchmarks.eval_unseen --benchmark /path/to/article-extraction-benchmark

Scored as the benchmark's own `evaluate.py` scores: the `\\w+` tokens of each text in 4-word shingles (with their
counts), each page's true positives, false positives and false negatives normalised to sum to 1, precision and
recall averaged over the pages, F1 of the two means; `±` is the standard deviation over 1,000 bootstrap resamples of
the pages (a fixed seed). newsbeam's text is the pipeline's (`decode_html` + `extract_page` with the default
settings); a page newsbeam declares `empty_text` counts as an empty text (a lost article). Plain trafilatura is the
benchmark's own trafilatura runner (`trafilatura.extract(html, include_comments=False)`), in the same run.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Sequence, Tuple

import trafilatura

from newsbeam.extraction import EmptyText, ExtractionSettings, decode_html, extract_page

FETCHED = datetime(2026, 11, 30, tzinfo=timezone.utc)  # fixed: dates play no part in the text, but stay the same
_TOKEN = re.compile(r"\w+")
Counts = Tuple[float, float, float]  # one page's normalised true positives, false positives, false negatives


class Page(NamedTuple):
    key: str
    url: str
    body: bytes
    truth: str


def load_pages(root: Path) -> List[Page]:
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        with gzip.open(root / "html" / f"{key}.html.gz", "rb") as stream:
            pages.append(Page(key, truth[key].get("url", ""), stream.read(), truth[key].get("articleBody") or ""))
    return pages


def _shingles(text: str) -> Counter:
    tokens = _TOKEN.findall(text)
    return Counter(tuple(tokens[i:i + 4]) for i in range(max(1, len(tokens) - 3)) if tokens[i:i + 4])


def page_counts(truth: str, predicted: str) -> Counts:
    """One page's shingle matches, normalised so that a long article weighs no more than a short one."""
    true, found = _shingles(truth), _shingles(predicted)
    tp = sum(min(true[key], found[key]) for key in true.keys() | found.keys())
    fp, fn = sum(found.values()) - tp, sum(true.values()) - tp
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    return 1.0 if fp == fn == 0 else (0.0 if tp == fp == 0 else tp / (tp + fp))


def _recall(tp: float, fp: float, fn: float) -> float:
    return 1.0 if fp == fn == 0 else (0.0 if tp == fn == 0 else tp / (tp + fn))


def scores(counts: Sequence[Counts]) -> Tuple[float, float, float]:
    """(F1, precision, recall): precision over the pages that predicted something, recall over those with text."""
    precision = statistics.mean(_precision(*c) for c in counts if c[0] + c[1] > 0)
    recall = statistics.mean(_recall(*c) for c in counts if c[0] + c[2] > 0)
    return 2 * precision * recall / (precision + recall), precision, recall


def bootstrap_std(counts: Sequence[Counts], rounds: int = 1000, seed: int = 13) -> Tuple[float, float, float]:
    rng = random.Random(seed)
    samples = [scores([counts[rng.randrange(len(counts))] for _ in counts]) for _ in range(rounds)]
    return tuple(statistics.stdev(column) for column in zip(*samples))  # type: ignore[return-value]


def newsbeam_text(page: Page) -> str:
    decoded = decode_html(page.body, None)
    try:
        return extract_page(decoded.text, page.url, ExtractionSettings(), FETCHED).text
    except EmptyText:
        return ""


def trafilatura_text(page: Page) -> str:
    return trafilatura.extract(page.body.decode("utf-8", "replace"), include_comments=False) or ""


SYSTEMS: Dict[str, Callable[[Page], str]] = {"newsbeam": newsbeam_text, "trafilatura": trafilatura_text}


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", type=Path, required=True,
                        help="a checkout of the benchmark (its html/ folder and ground-truth.json)")
    args = parser.parse_args(list(argv) or None)
    pages = load_pages(args.benchmark)
    print(f"{len(pages)} pages")
    print(f"{'system':<12} {'F1':>13} {'precision':>13} {'recall':>13} {'empty':>6} {'CPU ms/page':>12}")
    for name, system in SYSTEMS.items():
        started = time.process_time()
        texts = [system(page) for page in pages]
        cpu = (time.process_time() - started) * 1000 / len(pages)
        counts = [page_counts(page.truth, text) for page, text in zip(pages, texts)]
        (f1, precision, recall), spread = scores(counts), bootstrap_std(counts)
        print(f"{name:<12} {f1:.3f} ± {spread[0]:.3f} {precision:.3f} ± {spread[1]:.3f} "
              f"{recall:.3f} ± {spread[2]:.3f} {sum(not text for text in texts):>6} {cpu:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
