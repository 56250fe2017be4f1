"""The cost of the extraction time limit on real pages (trafilatura's 990-page evaluation set): every page is
extracted in-process, and the pages the watchdog guards (bodies of `timeout_min_bytes` and more) also through the
watchdog's child process, alternating. Reports the whole run's overhead, the guarded pages' overhead, and the
slowest unguarded page.

    python -m benchmarks.bench_watchdog                 # all 990 pages
    python -m benchmarks.bench_watchdog --subset 300
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Sequence

from benchmarks.eval_extraction import CORPORA, TRAFILATURA_ARCHIVE, subset, unpack
from newsbeam.article import extract_article
from newsbeam.extraction import ExtractionSettings
from newsbeam.schemas.records import FeedItem, FetchedPage, FetchRequest
from newsbeam.watchdog import Watchdog

FETCHED = datetime(2030, 1, 1, tzinfo=timezone.utc)


def corpus_pages(work: Path, n: Optional[int]):
    top = unpack(CORPORA / TRAFILATURA_ARCHIVE, work)
    data = json.loads((top / "evaldata.json").read_text(encoding="utf-8"))
    pages = []
    for url, entry in sorted(data.items()):
        item = FeedItem(url=url, canonical_url=url)
        pages.append(FetchedPage(request=FetchRequest(url=url, context=item), final_url=url, status=200,
                                 content_type="text/html", header_charset=None,
                                 body=(top / "pages" / entry["file"]).read_bytes(), fetched_at=FETCHED, attempts=1))
    return subset(pages, n, lambda p: p.final_url)


def _one(call, page, settings) -> float:
    started = time.perf_counter()
    try:
        call(page, settings)
    except ValueError:  # empty_text and the like cost the same either way
        pass
    return time.perf_counter() - started


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsbeam-eval"))
    parser.add_argument("--subset", type=int, default=None)
    args = parser.parse_args(argv)
    settings = ExtractionSettings()
    pages = corpus_pages(args.work, args.subset)
    watchdog = Watchdog(extract_article, settings.timeout)
    inline_total = guarded_total = 0.0
    large_inline = large_guarded = 0.0
    slowest_small, large = (0.0, ""), 0
    try:
        watchdog.call(pages[0], settings)  # start-up is paid once per worker, not per page
        for page in pages:
            spent = _one(extract_article, page, settings)
            inline_total += spent
            if len(page.body) >= settings.timeout_min_bytes:
                large += 1
                guarded = _one(watchdog.call, page, settings)
                large_inline, large_guarded = large_inline + spent, large_guarded + guarded
                guarded_total += guarded
            else:
                guarded_total += spent
                slowest_small = max(slowest_small, (spent, page.final_url))
    finally:
        watchdog.close()
    print(f"{len(pages)} pages, {large} of them >= {settings.timeout_min_bytes // 1024} KB (guarded)")
    print(f"whole run: in-process {inline_total:.2f} s, as configured {guarded_total:.2f} s "
          f"({100 * (guarded_total - inline_total) / inline_total:+.1f} %)")
    if large:
        print(f"guarded pages: in-process {large_inline:.2f} s, through the watchdog {large_guarded:.2f} s "
              f"({100 * (large_guarded - large_inline) / large_inline:+.1f} %)")
    print(f"slowest unguarded page: {slowest_small[0] * 1000:.0f} ms ({slowest_small[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
