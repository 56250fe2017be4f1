"""Where the CPU time of newsbeam's extraction of a page goes: each part of `extract_page` (parsing, metadata and its
steps, the date finder, the main text and its steps), in CPU ms a page, against trafilatura's text-only fast mode run
on the same pages in the same loop (the issue's budget: 2 x fast mode).

    python -m benchmarks.profile_extraction --subset 300
    python -m benchmarks.profile_extraction --subset 300 --ref d0c1d17    # an earlier version of the code

Each part is timed by wrapping its function (a few microseconds a call); parts are inclusive: an indented row is a
share of the row above it. `--ref REF` exports REF's code (as `benchmarks.compare_outputs --baseline` does) and runs
this script on it in a child process.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Optional, Sequence

# (module, function, label, depth): wrapped when the module has the function (older code lacks some)
PARTS = (
    ("newsbeam.extraction", "load_html", "HTML parsing (lxml, once)", 0),
    ("newsbeam.extraction", "parse_html", "HTML parsing (lxml, once)", 0),
    ("newsbeam.extraction", "_CANONICAL_LINK", "canonical link", 0),
    ("newsbeam.extraction", "extract_metadata", "metadata (trafilatura's extract_metadata)", 0),
    ("newsbeam.extraction", "page_metadata", "metadata (newsbeam.metadata.page_metadata)", 0),
    ("trafilatura.metadata", "examine_meta", "meta tags", 1),
    ("newsbeam.metadata", "examine_meta", "meta tags", 1),
    ("trafilatura.metadata", "extract_meta_json", "JSON-LD (trafilatura)", 1),
    ("newsbeam.metadata", "extract_meta_json", "JSON-LD (trafilatura)", 1),
    ("trafilatura.metadata", "extract_title", "title in the markup", 1),
    ("newsbeam.metadata", "extract_title", "title in the markup", 1),
    ("trafilatura.metadata", "extract_author", "author in the markup (trafilatura: tree copy, regex XPath)", 1),
    ("newsbeam.metadata", "find_author", "author in the markup (newsbeam: one pass)", 1),
    ("trafilatura.metadata", "extract_url", "URL", 1),
    ("newsbeam.metadata", "extract_url", "URL", 1),
    ("trafilatura.metadata", "find_date", "htmldate (extensive search)", 1),
    ("newsbeam.metadata", "find_date", "htmldate (extensive search)", 1),
    ("trafilatura.metadata", "extract_catstags", "categories and tags", 1),
    ("newsbeam.metadata", "extract_catstags", "categories and tags", 1),
    ("newsbeam.metadata", "link_containers", "categories and tags: their containers, one pass", 1),
    ("newsbeam.metadata", "categories_or_tags", "categories and tags: links and values", 1),
    ("trafilatura.metadata", "extract_license", "license", 1),
    ("newsbeam.extraction", "article_objects", "JSON-LD objects (newsbeam)", 0),
    ("newsbeam.extraction", "find_publication_date", "publication date (newsbeam.dates)", 0),
    ("newsbeam.dates", "_stated", "stated dates", 1),
    ("newsbeam.dates", "_shown_instead", "shown-day rule", 1),
    ("newsbeam.dates", "_htmldate_source", "htmldate's source label", 1),
    ("newsbeam.extraction", "main_text", "main text", 0),
    ("newsbeam.extraction", "_run_mode", "trafilatura (fast mode; standard where doubted)", 1),
    ("trafilatura.core", "copy", "tree copies", 2),
    ("trafilatura.core", "html2txt", "whole-page text for the recall check", 2),
    ("newsbeam.extraction", "resiliparse_text", "resiliparse", 1),
    ("newsbeam.extraction", "normalize_paragraphs", "normalize_paragraphs", 1),
    ("newsbeam.extraction", "decide", "learned decision", 1),
    ("newsbeam.extraction", "guard_text", "guards", 1),
)


def _profile(work: Path, corpora: Path, n: Optional[int], out=sys.stdout) -> None:
    import importlib

    from benchmarks import eval_extraction as ev
    from newsbeam import extraction

    clock = time.process_time
    spent, calls, active = Counter(), Counter(), [False]

    def wrap(module, name, label):
        original = getattr(module, name)

        def timed(*args, **kwargs):
            if not active[0]:
                return original(*args, **kwargs)
            started = clock()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += clock() - started
                calls[label] += 1
        setattr(module, name, timed)

    rows = []
    for module_name, name, label, depth in PARTS:
        module = importlib.import_module(module_name)
        if hasattr(module, name):
            wrap(module, name, label)
            if (label, depth) not in rows:
                rows.append((label, depth))
    top = ev.unpack(corpora / ev.TRAFILATURA_ARCHIVE, work)
    pages = ev.trafilatura_subset(top, n)
    settings = extraction.ExtractionSettings(timeout=0)

    def newsbeam(page):
        try:
            extraction.extract_page(page.html, page.url, settings, ev.FETCHED)
        except extraction.EmptyText:
            pass

    for page in pages[:20]:  # dateparser's one-off compilation of its locales is not a page's cost
        newsbeam(page)
    total = fast = 0.0
    for page in pages:
        active[0] = True
        started = clock()
        newsbeam(page)
        total += clock() - started
        active[0] = False
        started = clock()
        ev.trafilatura_fast_extractor(page.html, page.url)
        fast += clock() - started
    k = len(pages)
    print(f"{extraction.__file__}: {k} pages, CPU ms a page", file=out)
    print("| part | ms/page | calls/page |\n|---|---|---|", file=out)
    print(f"| **newsbeam `extract_page`, default strategy** | **{1000 * total / k:.2f}** "
          f"({total / fast:.2f} x fast mode) | 1 |", file=out)
    for label, depth in rows:
        if calls[label]:
            print(f"| {'&nbsp;&nbsp;' * 2 * depth}{label} | {1000 * spent[label] / k:.2f} | {calls[label] / k:.2f} |",
                  file=out)
    top_level = sum(spent[label] for label, depth in rows if depth == 0)
    print(f"| rest (decoding the result, dataclasses, ...) | {1000 * (total - top_level) / k:.2f} | |", file=out)
    print(f"| trafilatura `fast=True` text alone (the budget's unit) | {1000 * fast / k:.2f} | |", file=out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    from benchmarks.eval_extraction import CORPORA

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subset", type=int, default=300)
    parser.add_argument("--ref", help="profile git revision REF's code instead of this tree's")
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsbeam-eval"), help="where corpora are unpacked")
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    if not args.ref:
        _profile(args.work, args.corpora, args.subset)
        return 0
    from benchmarks.compare_outputs import _export

    with tempfile.TemporaryDirectory(prefix="newsbeam-profile-") as folder:
        _export(args.ref, Path(folder))
        (Path(folder) / "benchmarks" / "profile_extraction.py").write_bytes(Path(__file__).read_bytes())
        command = [sys.executable, "-m", "benchmarks.profile_extraction", "--subset", str(args.subset), "--work",
                   str(args.work), "--corpora", str(args.corpora)]
        return subprocess.run(command, cwd=folder, env={**os.environ, "PYTHONPATH": folder}).returncode


if __name__ == "__main__":
    sys.exit(main())
