"""What newsbeam's date finder costs a page over an earlier version of it, both timed interleaved on the same parsed
pages (htmldate's labelled set, trafilatura's metadata computed once beforehand), so that machine load cancels out:

    git show 17813db:newsbeam/dates.py > /tmp/dates_before.py
    python -m benchmarks.cost_dates --htmldate-tests /path/to/htmldate/tests --baseline /tmp/dates_before.py
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from trafilatura.metadata import extract_metadata
from trafilatura.utils import load_html

from benchmarks.eval_dates import FETCHED, load_pages
from newsbeam import dates
from newsbeam.extraction import ExtractionSettings, _date_params


def _load(path: Path):
    spec = importlib.util.spec_from_file_location("dates_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--htmldate-tests", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, required=True, help="an earlier newsbeam/dates.py")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    versions = {"baseline": _load(args.baseline).find_publication_date, "now": dates.find_publication_date}
    prepared = []
    for page in load_pages(args.htmldate_tests):
        tree = load_html(page.html)
        if tree is not None:
            meta = extract_metadata(tree, page.url, _date_params(ExtractionSettings(timeout=0), FETCHED), True)
            prepared.append((tree, meta.url or page.url, meta.date))
    spent = dict.fromkeys(versions, 0.0)
    for round_ in range(args.rounds):
        order = list(versions) if round_ % 2 == 0 else list(reversed(versions))
        for tree, url, value in prepared:
            for name in order:
                started = time.perf_counter()
                versions[name](tree, url, value, FETCHED)
                spent[name] += time.perf_counter() - started
    calls = args.rounds * len(prepared)
    for name, seconds in spent.items():
        print(f"find_publication_date {name:8} {1000 * seconds / calls:6.2f} ms/page")
    print(f"extra cost {1000 * (spent['now'] - spent['baseline']) / calls:+.2f} ms/page over {len(prepared)} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
