"""Publication-day accuracy on htmldate's own labelled evaluation set (~1,000 pages), not in this repository.

The set is the `tests/` folder of https://github.com/adbar/htmldate: `eval_default.json` (800 pages, mostly
German-language news sites and blogs, in `cache/` and `eval/`) and `eval_mediacloud_2020.json` (200 news pages
from around the world collected by Media Cloud, in `test_set/`), each URL with the page file and its day (995 labelled;
five pages labelled NaN are left out). Point
`--htmldate-tests` at that folder of a checkout (or an unpacked `git archive HEAD tests`):

    python -m benchmarks.eval_dates --htmldate-tests /path/to/htmldate/tests

`--half even` (or `odd`) scores the pages whose crc32(url) is even (odd) only: rules are chosen on the even half
and checked on the odd one. `--per-page` prints every page a system gets wrong or leaves undated (label, answer,
URL), for failure tables.

Every system gets the page and its URL, as a pipeline has them. Scored per page: right day, dated (coverage),
and dated after the fetch (never allowed). newsbeam's figure is its date finder as the pipeline runs it
(`newsbeam.dates.find_publication_date` over trafilatura's metadata), whether the page later becomes an article
or an `empty_text` dead letter. newsbeam's date rules were chosen on the
even half of this set and checked on the odd half; htmldate was tuned on all of it, so plain htmldate's figures
here are, if anything, optimistic.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

from htmldate import find_date
from trafilatura.metadata import extract_metadata
from trafilatura.utils import load_html

from newsbeam.dates import find_publication_date
from newsbeam.extraction import ExtractionSettings, _date_params, decode_html

# a fixed fetch time (the day these figures were first taken), so that the figures never drift with the clock;
# every labelled day of the set lies before it
FETCHED = datetime(2026, 11, 29, tzinfo=timezone.utc)
SUBSETS = (("mediacloud", "eval_mediacloud_2020.json"), ("default", "eval_default.json"))
FOLDERS = ("test_set", "cache", "eval")


class DatedPage(NamedTuple):
    subset: str
    url: str
    html: str
    day: str


def load_pages(tests: Path) -> List[DatedPage]:
    pages = []
    for subset, name in SUBSETS:
        for url, entry in sorted(json.loads((tests / name).read_text(encoding="utf-8")).items()):
            if not isinstance(entry.get("date"), str):  # 5 pages are labelled NaN: no day to score against
                continue
            path = next((tests / folder / entry["file"] for folder in FOLDERS
                         if (tests / folder / entry["file"]).is_file()), None)
            if path is None:
                raise SystemExit(f"{entry['file']} (for {url}) is in none of {FOLDERS} under {tests}")
            # the pipeline's own decoding: no header here, so BOM, UTF-8, <meta charset>, detection
            pages.append(DatedPage(subset, url, decode_html(path.read_bytes(), None).text, entry["date"][:10]))
    return pages


def in_half(page: DatedPage, half: str) -> bool:
    """Whether `page` belongs to the `even` or `odd` crc32(url) half (`all`: every page)."""
    return half == "all" or zlib.crc32(page.url.encode("utf-8")) % 2 == (half == "odd")


def _newsbeam(settings: ExtractionSettings) -> Callable[[DatedPage], Optional[str]]:
    extensive = settings.date_search_extensive

    def run(page: DatedPage) -> Optional[str]:
        tree = load_html(page.html)
        if tree is None:
            return None
        meta = extract_metadata(tree, page.url, _date_params(settings, FETCHED), extensive)
        found = find_publication_date(tree, meta.url or page.url, meta.date, FETCHED)
        return found.local_date.isoformat() if found else None
    return run


def _htmldate(extensive: bool) -> Callable[[DatedPage], Optional[str]]:
    def run(page: DatedPage) -> Optional[str]:
        return find_date(page.html, url=page.url, original_date=True, extensive_search=extensive,
                         max_date=FETCHED.strftime("%Y-%m-%d"))
    return run


def _trafilatura(page: DatedPage) -> Optional[str]:
    meta = extract_metadata(load_html(page.html), page.url, {"original_date": True,
                                                             "max_date": FETCHED.strftime("%Y-%m-%d")})
    return meta.date[:10] if meta is not None and meta.date else None


SYSTEMS: Dict[str, Callable[[DatedPage], Optional[str]]] = {
    "newsbeam": _newsbeam(ExtractionSettings(timeout=0)),  # the pipeline's default
    "newsbeam-no-extensive": _newsbeam(ExtractionSettings(date_search_extensive=False, timeout=0)),
    "htmldate-fast": _htmldate(False),
    "htmldate-extensive": _htmldate(True),
    "trafilatura-metadata": _trafilatura,
}


def score(pages: Sequence[DatedPage], systems: Sequence[str], out=sys.stdout,
          per_page: bool = False) -> Dict[str, Dict[str, Counter]]:
    figures: Dict[str, Dict[str, Counter]] = {}
    print(f"{'system':22} {'subset':11} {'pages':>5} {'right':>6} {'dated':>6} {'right/dated':>11} {'future':>6} "
          f"{'ms/page':>7}", file=out)
    for name in systems:
        system = SYSTEMS[name]
        counts: Dict[str, Counter] = {"all": Counter()}
        for page in pages:
            started = time.perf_counter()
            day = system(page)
            spent = time.perf_counter() - started
            if per_page and day != page.day:
                print(f"  {name} wrong: label {page.day} answer {day} {page.url}", file=out)
            for key in ("all", page.subset):
                c = counts.setdefault(key, Counter())
                c["pages"] += 1
                c["dated"] += day is not None
                c["right"] += day == page.day
                c["future"] += day is not None and day > FETCHED.date().isoformat()
                c["us"] += int(spent * 1e6)
        figures[name] = counts
        subsets = [key for key in counts if key != "all"]
        for key in subsets + ["all"] if len(subsets) > 1 else subsets:
            c = counts[key]
            print(f"{name:22} {key:11} {c['pages']:5} {c['right'] / c['pages']:6.3f} {c['dated'] / c['pages']:6.3f} "
                  f"{c['right'] / max(c['dated'], 1):11.3f} {c['future']:6} {c['us'] / 1000 / c['pages']:7.1f}",
                  file=out)
    return figures


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--htmldate-tests", type=Path, required=True,
                        help="the tests/ folder of an htmldate checkout (eval_*.json, cache/, eval/, test_set/)")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=sorted(SYSTEMS))
    parser.add_argument("--half", choices=("all", "even", "odd"), default="all",
                        help="score only the pages whose crc32(url) is even (the dev half) or odd (the check half)")
    parser.add_argument("--per-page", action="store_true", help="print every page a system gets wrong or leaves undated")
    args = parser.parse_args(argv)
    pages = [page for page in load_pages(args.htmldate_tests) if in_half(page, args.half)]
    print(f"{len(pages)} labelled pages ({args.half}); fetch time taken as {FETCHED.isoformat()}")
    score(pages, args.systems, per_page=args.per_page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
