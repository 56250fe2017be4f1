"""What newsbeam's date finder costs a page over an earlier version of it, both timed interleaved on the same parsed
pages (htmldate's labelled set, trafilatura's metadata computed once beforehand), so that machine load cancels out:

    git show 9274d17:newsbeam/dates.py > /tmp/dates_before.py
    git show 9274d17:newsbeam/shown_dates.py > /tmp/shown_dates_before.py
    python -m benchmarks.cost_dates --htmldate-tests /path/to/htmldate/tests --baseline /tmp/dates_before.py \
        --baseline-shown-dates /tmp/shown_dates_before.py

`--baseline-shown-dates` gives the earlier version its own `newsbeam/shown_dates.py` (else it uses today's).
"""
from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path
from typing import Optional, Sequence, Tuple

from trafilatura.metadata import extract_metadata
from trafilatura.utils import load_html

from benchmarks.eval_dates import FETCHED, load_pages
from newsbeam import dates
from newsbeam.extraction import ExtractionSettings, _date_params


def _load(path: Path, name: str, replace: Optional[Tuple[str, str]] = None):
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # dataclasses look their module up
    source = path.read_text(encoding="utf-8")
    exec(compile(source.replace(*replace) if replace else source, str(path), "exec"), module.__dict__)
    return module


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--htmldate-tests", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, required=True, help="an earlier newsbeam/dates.py")
    parser.add_argument("--baseline-shown-dates", type=Path, help="the earlier newsbeam/shown_dates.py it imports")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    replace = None
    if args.baseline_shown_dates:
        _load(args.baseline_shown_dates, "shown_dates_baseline")
        replace = ("from newsbeam.shown_dates import", "from shown_dates_baseline import")
    versions = {"baseline": _load(args.baseline, "dates_baseline", replace).find_publication_date,
                "now": dates.find_publication_date}
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
