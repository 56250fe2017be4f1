"""The fetch stage's CPU per page, by part, outside Beam: what the worker that fetches a one-host run spends.

    python benchmarks/bench_fetch.py --pages 2000
    python benchmarks/bench_fetch.py --pages 2000 --parts http,split,spool,archive --repeats 3

Serves the trafilatura evaluation set's real pages (benchmarks/server.py, its own process, gzip as real sites send
them) on one loopback origin and runs, in this process, what the pipeline's fetch stage runs per page, cumulatively:

- `http`: `ConcurrentFetcher` (16 lanes' worth of threads, the host gate, robots.txt, urllib3, gzip decoding,
  the raw exchange kept for the archive), with the benchmark's pipeline flags (`--host-concurrency 8
  --max-connections 32 --host-delay 0`);
- `split`: `split_for_archive` (the archive entry and the page without its raw bytes);
- `spool`: the page packed (pickle + zstd level 1) and written to the spool: `transforms/spool.py`'s DoFn, called
  as Beam would, one bundle;
- `archive`: the archive entry stored for the WARC writer: `transforms/archive.py`'s KeyByFile step (on code
  before 2026-11-30, where it was a lambda around `RecordStore(compress=False).put`, that call).

Each part's figure is the CPU of the process (all threads, user + system) per page over the run with that part
and those before it, minus the run without it: the parts' costs by subtraction, in one invocation, the runs
interleaved over `--repeats` rounds (medians). Beam's own per-element work in the stage is not included (the
pipeline's `stage_us.fetch` and py-spy show it). Nothing leaves 127.0.0.1.

`--ops` times, instead, the single operations of a page one at a time, in this thread, on the corpus's first 400
pages (gzip level 6, as the server sends them): decoding, packing, a spool file created against one appended,
the robots.txt check, the URL helpers.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_pipeline import PageServer, corpora_dir, real_pages  # noqa: E402

PARTS = ("http", "split", "spool", "archive")


def _settings():
    from newsbeam.http import FetchSettings

    return FetchSettings(host_delay=0.0, host_concurrency=8, max_connections=32, allow_private_addresses=True)


def run_once(urls: List[str], parts: int, spool: Path) -> Dict[str, float]:
    """Fetches every URL with the first `parts` parts; CPU s and wall s of the whole run."""
    from newsbeam.fetching import HTML_ACCEPT, ConcurrentFetcher, FetchContext, html_only
    from newsbeam.recordstore import RecordStore
    from newsbeam.schemas.records import FeedItem, FetchedPage, FetchRequest
    from newsbeam.transforms import archive
    from newsbeam.transforms.fetch import split_for_archive
    from newsbeam.transforms.spool import _SpoolFn
    from newsbeam.warc import ROLE_ARTICLE

    shutil.rmtree(spool, ignore_errors=True)
    spool.mkdir(parents=True)
    store = RecordStore(str(spool / "archive"), compress=False)
    spooler = _SpoolFn(str(spool / "pages"))
    if hasattr(archive, "_KeyByFileFn"):
        keyer = archive._KeyByFileFn(1, store)
    else:  # the code before 2026-11-30: a Map of this
        keyer = None
    for step in (spooler, keyer):
        if step is not None:
            getattr(step, "setup", lambda: None)()
            getattr(step, "start_bundle", lambda: None)()
    requests = [FetchRequest(url=url, context=FeedItem(url=url, canonical_url=url)) for url in urls]
    fetcher = ConcurrentFetcher(FetchContext(_settings()))
    fetched = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    fetcher.submit(requests, HTML_ACCEPT, html_only, None)
    for _, outcome in fetcher.drain():
        if parts >= 2:
            entry, outcome = split_for_archive(outcome, ROLE_ARTICLE)
        if parts >= 3 and isinstance(outcome, FetchedPage):
            list(spooler.process(outcome))
        if parts >= 4 and entry is not None:
            if keyer is not None:
                list(keyer.process(entry))
            else:
                (archive.bucket_of(entry.url, 1), (archive._entry_order(entry), store.put(entry)))
        fetched += isinstance(outcome, FetchedPage)
    for step in (spooler, keyer):
        if step is not None:
            list(getattr(step, "finish_bundle", lambda: ())() or ())
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    fetcher.close()
    if fetched != len(urls):
        raise RuntimeError(f"fetched {fetched} of {len(urls)} pages")
    return {"cpu": cpu, "wall": wall}


def _enter(context) -> None:
    with context:
        pass


def time_ops(directory: Path) -> None:
    import gzip
    import pickle
    import resource
    import uuid
    import zlib

    from newsbeam.fetching import HostGates
    from newsbeam.packing import pack
    from newsbeam.recordstore import RecordStore
    from newsbeam.robots import parse_robots, robots_allows
    from newsbeam.urls import host_key, is_http_url

    bodies = [path.read_bytes() for path in sorted((directory / "pages").glob("*.html"))[:400]]
    gzipped = [gzip.compress(body, 6, mtime=0) for body in bodies]
    packed = [pack({"body": body}) for body in bodies]
    rules = parse_robots(b"User-agent: *\nAllow: /\n")
    urls = [f"http://127.0.0.1:4321/r1/eval-{n}.html" for n in range(len(bodies))]
    spool = directory / "ops"
    spool.mkdir(exist_ok=True)
    appended = open(spool / "appended", "wb")
    store = RecordStore(str(spool / "store"), compress=False)
    gates = HostGates(_settings())

    def created(n):
        with open(spool / uuid.uuid4().hex, "wb") as file:
            file.write(packed[n])

    ops = [
        ("gunzip a body (zlib, as received)", lambda n: zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(gzipped[n])),
        ("pickle a body", lambda n: pickle.dumps({"body": bodies[n]}, protocol=pickle.HIGHEST_PROTOCOL)),
        ("pack a body (pickle + zstd 1)", lambda n: pack({"body": bodies[n]})),
        ("a new spool file of the packed body", created),
        ("the packed body appended to an open file", lambda n: appended.write(packed[n])),
        ("RecordStore.put, a new content-named file", lambda n: store.put({"body": bodies[n], "n": n})),
        ("robots.txt check (robots_allows)", lambda n: robots_allows(rules, urls[n], "newsbeam")),
        ("host_key + is_http_url", lambda n: (host_key(urls[n]), is_http_url(urls[n]))),
        ("the host gate's slot (no delay)", lambda n: _enter(gates.slot("http://127.0.0.1:4321"))),
    ]
    print(f"{len(bodies)} pages: {sum(map(len, bodies)) / len(bodies) / 1024:.0f} KB of HTML, "
          f"{sum(map(len, gzipped)) / len(gzipped) / 1024:.0f} KB gzip, {sum(map(len, packed)) / len(packed) / 1024:.0f}"
          f" KB packed on average; load average {os.getloadavg()[0]:.1f}")
    print(f"{'operation':<44} {'user ms':>8} {'sys ms':>8} {'wall ms':>8}")
    for label, op in ops:
        before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for n in range(len(bodies)):
            op(n)
        after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall
        count = len(bodies)
        print(f"{label:<44} {1000 * (after.ru_utime - before.ru_utime) / count:>8.3f} "
              f"{1000 * (after.ru_stime - before.ru_stime) / count:>8.3f} {1000 * wall / count:>8.3f}")
    appended.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated prefix of {','.join(PARTS)}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--server-nagle", action="store_true", help="the page server with Nagle's algorithm on, as "
                        "before 2026-11-30 (each answer waits ~40 ms for the client's delayed ACK)")
    parser.add_argument("--ops", action="store_true", help="time the single operations of a page instead")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    chosen = args.parts.split(",")
    if chosen != list(PARTS[:len(chosen)]):
        parser.error(f"--parts must be a prefix of {','.join(PARTS)}")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-fetch-"))
    paths = real_pages(args.pages, workdir / "pages", corpora_dir())
    if args.ops:
        time_ops(workdir)
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        return 0
    server = PageServer(workdir / "pages", 1, 0.0, nodelay=not args.server_nagle)
    try:
        base = f"http://127.0.0.1:{server.ports[0]}"
        urls = [base + path for path in paths]
        run_once(urls[:50], len(chosen), workdir / "spool")  # imports and first connections: not measured
        results: Dict[int, List[Dict[str, float]]] = {n: [] for n in range(1, len(chosen) + 1)}
        for _ in range(args.repeats):
            for n in results:
                results[n].append(run_once(urls, n, workdir / "spool"))
    finally:
        server.stop()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    load = os.getloadavg()
    print(f"{args.pages} real pages, 1 host, loopback; medians of {args.repeats} interleaved runs; "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{'parts':<28} {'CPU ms/page':>11} {'part ms/page':>12} {'wall s':>7} {'pages/s':>8}")
    previous = 0.0
    for n, runs in results.items():
        cpu = statistics.median(r["cpu"] for r in runs) * 1000 / args.pages
        wall = statistics.median(r["wall"] for r in runs)
        print(f"{'+'.join(PARTS[:n]):<28} {cpu:>11.3f} {cpu - previous:>12.3f} {wall:>7.2f} {args.pages / wall:>8.0f}")
        previous = cpu
    return 0


if __name__ == "__main__":
    sys.exit(main())
