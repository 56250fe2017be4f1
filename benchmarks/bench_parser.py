"""`extract_page`'s CPU a page with the tree parsed by trafilatura's `load_html` (lxml.html's element classes looked
up by a Python method) against `newsbeam.htmltree.parse_html` (the same classes, looked up in C).

    python -m benchmarks.bench_parser --subset 300 --rounds 4

The two parsers take turns on each page (which goes first alternates from page to page and round to round), so
the machine's drift, large on this shared machine, falls on both alike; each round prints both arms' CPU ms a page
and their ratio, then the median ratio. Every page's `extract_page` result is compared between the arms: any
difference is reported and the exit status is 1. Corpora as in `benchmarks/eval_extraction.py` (trafilatura's
evaluation set, the first `--subset` pages by crc32 of their URL).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, List

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from trafilatura.utils import load_html  # noqa: E402

from benchmarks import eval_extraction as ev  # noqa: E402
from newsbeam import extraction  # noqa: E402
from newsbeam.htmltree import parse_html  # noqa: E402

FETCHED = datetime(2030, 1, 1, tzinfo=timezone.utc)


def _extract(page, settings):
    try:
        return extraction.extract_page(page.html, page.url, settings, FETCHED)
    except extraction.EmptyText as error:
        return f"EmptyText: {error}"


def _timed(page, parser: Callable, settings):
    extraction.parse_html = parser  # the name extract_page calls
    started = time.process_time()
    result = _extract(page, settings)
    return time.process_time() - started, result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subset", type=int, default=300, help="pages of trafilatura's set")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--work", default=None, help="where the corpus is unpacked (default: a temporary folder)")
    args = parser.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-parser-"))
    top = ev.unpack(ev.CORPORA / ev.TRAFILATURA_ARCHIVE, work)
    pages = ev.trafilatura_subset(top, args.subset)
    settings = extraction.ExtractionSettings(timeout=0)  # in this process: the watchdog child would hide the CPU
    arms = {"load_html": load_html, "parse_html": parse_html}
    for page in pages[:20]:  # one-off compilations (dateparser's locales) are no page's cost
        for arm in arms.values():
            _timed(page, arm, settings)
    ratios: List[float] = []
    differing = set()
    try:
        for round_number in range(args.rounds):
            spent = dict.fromkeys(arms, 0.0)
            for position, page in enumerate(pages):
                order = list(arms) if (position + round_number) % 2 else list(arms)[::-1]
                results = {}
                for name in order:
                    seconds, results[name] = _timed(page, arms[name], settings)
                    spent[name] += seconds
                if results["load_html"] != results["parse_html"]:
                    differing.add(page.url)
            ratio = spent["parse_html"] / spent["load_html"]
            ratios.append(ratio)
            print(f"round {round_number + 1}: load_html {1000 * spent['load_html'] / len(pages):.2f} ms a page, "
                  f"parse_html {1000 * spent['parse_html'] / len(pages):.2f} ms, ratio {ratio:.4f}", flush=True)
    finally:
        extraction.parse_html = parse_html
    print(f"{len(pages)} pages, {args.rounds} rounds: median ratio parse_html / load_html {statistics.median(ratios):.4f}"
          f" (rounds {min(ratios):.4f}-{max(ratios):.4f}); pages whose result differs: {len(differing)}")
    for url in sorted(differing)[:10]:
        print(f"  differs: {url}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
