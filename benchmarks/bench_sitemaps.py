"""Sitemap parsing: time and peak memory of newsbeam's lxml parser, and of ultimate-sitemap-parser (usp, Media
Cloud's) fed the same bytes, on a 50,000-URL sitemap and on an index of 100 sitemaps.

Wall and CPU seconds are both given: on a shared machine CPU seconds are the steadier figure. Each measurement
runs in a fresh child process, which builds its input first and then reports its peak RSS
before and after the work (`ru_maxrss`), so one case cannot inherit another's heap. "growth" is the peak RSS minus the resident size when the work
starts (input built): at most what the parsing itself added (the peak may date from building the input). usp is measured only when it is
installed (`pip install ultimate-sitemap-parser==1.8.1`; it is not a newsbeam dependency).

    python benchmarks/bench_sitemaps.py                 # every case, 3 runs each, the run with least CPU reported
    python benchmarks/bench_sitemaps.py --runs 1 --cases lxml-read,usp
"""
from __future__ import annotations

import argparse
import gc
import gzip
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
URLS = 50_000
SUBSITEMAPS = 100
URLS_PER_SUBSITEMAP = 1_000
SOURCE = "https://news.example.com/sitemap.xml"

CASES = {
    "lxml-iter": "iter_sitemap over 50,000 <url>s (entries only, nothing kept)",
    "lxml-read": "read_sitemap, 50,000 <url>s -> 50,000 FeedItems (canonical URLs included)",
    "lxml-read-gz": "read_sitemap on the same sitemap gzip-compressed",
    "lxml-news": "read_sitemap, 50,000 Google News <url>s (title, date, keywords, language)",
    "lxml-index": "read_sitemap on an index of 100, then on each of its 100 sitemaps of 1,000 <url>s (gzip)",
    "usp": "usp.tree.sitemap_from_str, 50,000 <url>s, then all_pages()",
    "usp-news": "usp.tree.sitemap_from_str, 50,000 Google News <url>s, then all_pages()",
}


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _child(case: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from newsbeam.sitemaps import iter_sitemap, read_sitemap
    from tests.sitemap_documents import big_urlset, index_of

    news = case.endswith("news")
    body = _news_urlset(URLS) if news else big_urlset(URLS)
    if case == "lxml-read-gz":
        body = gzip.compress(body)
    subs = {}
    if case == "lxml-index":
        subs = {f"https://news.example.com/sitemap-{i}.xml.gz": gzip.compress(big_urlset(URLS_PER_SUBSITEMAP))
                for i in range(SUBSITEMAPS)}
        body = index_of(subs)
    text = body.decode() if case.startswith("usp") else None
    if text is not None:
        from usp.tree import sitemap_from_str
    gc.collect()
    before = _rss_mb()  # resident now, input built; the peak so far may be higher (building the input)
    started, cpu_started = time.perf_counter(), time.process_time()
    if case == "lxml-iter":
        count = sum(1 for _ in iter_sitemap(body, SOURCE))
    elif case in ("lxml-read", "lxml-read-gz", "lxml-news"):
        count = len(read_sitemap(body, SOURCE).items)
    elif case == "lxml-index":
        count = sum(len(read_sitemap(subs[url], url).items) for url in read_sitemap(body, SOURCE).sources)
    else:
        count = sum(1 for _ in sitemap_from_str(text).all_pages())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"case": case, "urls": count, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "input_mb": round(len(body) / 2**20, 2),
            "rss_before_mb": round(before, 1), "rss_peak_mb": round(_maxrss_mb(), 1),
            "rss_growth_mb": round(max(0.0, _maxrss_mb() - before), 1)}


def _news_urlset(count: int) -> bytes:
    rows = "".join(
        f"<url><loc>https://news.example.com/2026/11/story-{i:06d}.html</loc><news:news><news:publication>"
        f"<news:name>Example News</news:name><news:language>en</news:language></news:publication>"
        f"<news:publication_date>2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00+01:00</news:publication_date>"
        f"<news:title>Story number {i} &amp; its headline</news:title>"
        f"<news:keywords>politics, economy, story {i % 50}</news:keywords></news:news></url>\n"
        for i in range(count)
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n{rows}</urlset>\n').encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child)))
        return
    try:
        import usp  # noqa: F401
        have_usp = True
    except ImportError:
        have_usp = False
    print(f"{'case':14} {'urls':>7} {'wall s':>7} {'CPU s':>6} {'input MB':>8} {'RSS before':>10} {'RSS peak':>8} "
          f"{'growth':>7}")
    for case in args.cases.split(","):
        if case.startswith("usp") and not have_usp:
            print(f"{case:14} skipped: ultimate-sitemap-parser is not installed")
            continue
        results = []
        for _ in range(args.runs):
            out = subprocess.run([sys.executable, __file__, "--child", case], check=True, capture_output=True,
                                 text=True, cwd=ROOT)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        best = min(results, key=lambda r: r["cpu_seconds"])
        growth = max(r["rss_growth_mb"] for r in results)
        print(f"{case:14} {best['urls']:>7} {best['seconds']:>7.2f} {best['cpu_seconds']:>6.2f} {best['input_mb']:>8.1f} "
              f"{best['rss_before_mb']:>10.1f} {best['rss_peak_mb']:>8.1f} {growth:>7.1f}   {CASES[case]}")


if __name__ == "__main__":
    main()
