"""Sitemap parsing: time and peak memory of newsbeam's lxml parser, and of ultimate-sitemap-parser (usp, Media
Cloud's) fed the same bytes, on a 50,000-URL sitemap and on an index of 100 sitemaps.

Wall and CPU seconds are both given: on a shared machine CPU seconds are the steadier figure. Each measurement
runs in a fresh child process, which builds its input first and then reports its peak RSS
before and after the work (VmHWM), so one case cannot inherit another's heap. The parent writes the documents to a temporary folder first; a child
reads its document, then measures: "growth" is its peak RSS minus its resident size when the work starts, i.e.
the memory the parsing (and, for read_sitemap, the list of FeedItems it returns) added. usp is measured only when it is
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
import tempfile
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
    "lxml-index": "read_sitemap on an index of 100, then on each of its 100 sitemaps of 1,000 <url>s (gzip), "
                  "one at a time",
    "usp": "usp.tree.sitemap_from_str, 50,000 <url>s, then all_pages()",
    "usp-news": "usp.tree.sitemap_from_str, 50,000 Google News <url>s, then all_pages()",
}


def _maxrss_mb() -> float:
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child would report the
    # parent's peak (the parent holds every input while it starts the children)
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def write_inputs(folder: Path) -> None:
    """The documents, written once by the parent, so that no child's peak RSS comes from building its input."""
    sys.path.insert(0, str(ROOT))
    from tests.sitemap_documents import big_urlset, index_of

    plain = big_urlset(URLS)
    (folder / "urlset.xml").write_bytes(plain)
    (folder / "urlset.xml.gz").write_bytes(gzip.compress(plain))
    (folder / "news.xml").write_bytes(_news_urlset(URLS))
    subs = folder / "subs"
    subs.mkdir()
    names = [f"sitemap-{i}.xml.gz" for i in range(SUBSITEMAPS)]
    for name in names:
        (subs / name).write_bytes(gzip.compress(big_urlset(URLS_PER_SUBSITEMAP)))
    (folder / "index.xml").write_bytes(index_of(f"https://news.example.com/{name}" for name in names))


def _child(case: str, folder: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from newsbeam.sitemaps import iter_sitemap, read_sitemap

    name = {"lxml-read-gz": "urlset.xml.gz", "lxml-index": "index.xml"}.get(
        case, "news.xml" if case.endswith("news") else "urlset.xml")
    body = (folder / name).read_bytes()
    text = body.decode() if case.startswith("usp") else None
    if text is not None:
        from usp.tree import sitemap_from_str
    gc.collect()
    before = _rss_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    if case == "lxml-iter":
        count = sum(1 for _ in iter_sitemap(body, SOURCE))
    elif case in ("lxml-read", "lxml-read-gz", "lxml-news"):
        count = len(read_sitemap(body, SOURCE).items)
    elif case == "lxml-index":
        count = sum(len(read_sitemap((folder / "subs" / sub.url.rsplit("/", 1)[1]).read_bytes(), sub.url).items)
                    for sub in read_sitemap(body, SOURCE).sources)
    else:
        count = sum(1 for _ in sitemap_from_str(text).all_pages())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"case": case, "urls": count, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "input_mb": round(len(body) / 2**20, 2), "rss_before_mb": round(before, 1),
            "rss_peak_mb": round(_maxrss_mb(), 1), "rss_growth_mb": round(max(0.0, _maxrss_mb() - before), 1)}


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
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, Path(args.inputs))))
        return
    with tempfile.TemporaryDirectory(prefix="bench-sitemaps-") as folder:
        write_inputs(Path(folder))
        _measure(args, Path(folder))


def _measure(args, folder: Path) -> None:
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
            out = subprocess.run([sys.executable, __file__, "--child", case, "--inputs", str(folder)], check=True,
                                 capture_output=True, text=True, cwd=ROOT)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        best = min(results, key=lambda r: r["cpu_seconds"])
        growth = max(r["rss_growth_mb"] for r in results)
        print(f"{case:14} {best['urls']:>7} {best['seconds']:>7.2f} {best['cpu_seconds']:>6.2f} {best['input_mb']:>8.1f} "
              f"{best['rss_before_mb']:>10.1f} {best['rss_peak_mb']:>8.1f} {growth:>7.1f}   {CASES[case]}")


if __name__ == "__main__":
    main()
