"""Local streaming, measured: latency from a feed to readable Parquet, and memory over hundreds of polls.

    python benchmarks/bench_stream.py latency [--poll-interval 10] [--duration 180] [--items 24]
    python benchmarks/bench_stream.py memory [--cycles 300] [--poll-interval 0.1]

latency: articles appear in a loopback feed at seeded random times while the driver polls; a watcher reads the
output every 0.2 s and notes when each article first becomes readable in Parquet. The baseline, measured in the
same run, is the poll interval itself (the wait for the next poll averages half of it; the target is
p95 <= poll interval + 5 s) and the duration of a poll that finds nothing new (the fixed cost of a cycle).

memory: the feed gains a new article on every poll, for N polls. Resident memory is read after every cycle;
the baseline is the resident memory after the warm-up (cycle 20), and the slope after it should be ~0.
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List

import pyarrow.parquet as pq

from newsbeam.sample_site import SITE_DIR, SampleSite, article_paths
from newsbeam.pipelines.stream import run_stream

PAGES = [p for p in article_paths() if "subscribers" not in p and "abonnes" not in p]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class ScheduledFeed:
    """Lists article i from `publish_at[i]` (monotonic seconds) on; article i is a sample page under a new URL."""

    def __init__(self, publish_at: List[float]):
        self.publish_at = publish_at

    def route(self, handler) -> None:
        site = handler.server.site
        now = time.monotonic()
        items = "".join(f"<item><title>story {i}</title><link>{site.url(f'/story/{i}.html')}</link></item>"
                        for i, at in enumerate(self.publish_at) if at <= now)
        body = f"<rss version='2.0'><channel><title>live</title>{items}</channel></rss>".encode()
        handler.send_body(200, body, "application/rss+xml")


def story_route(handler) -> None:
    """/story/<i>.html: sample page i (cycling), with the number in the title so every story differs."""
    index = int(handler.path.rsplit("/", 1)[-1].split(".")[0])
    page = (SITE_DIR / PAGES[index % len(PAGES)].lstrip("/")).read_text(encoding="utf-8")
    # a story of its own: numbered title and paragraph, and no rel=canonical pointing back at the sample page
    page = re.sub(r"<link rel=\"canonical\"[^>]*>", "", page)
    body = page.replace("<h1>", f"<h1>[{index}] ", 1).replace("</article>", f"<p>Update number {index}.</p></article>")
    handler.send_body(200, body.encode("utf-8"), "text/html; charset=utf-8")


def watch(output: Path, seen: Dict[str, float], stop: threading.Event) -> None:
    known_files = set()
    while not stop.is_set():
        for path in sorted((output / "articles").rglob("part-*.parquet")) if (output / "articles").exists() else []:
            if path in known_files:
                continue
            known_files.add(path)
            now = time.monotonic()
            for url in pq.read_table(path, columns=["url"]).column("url").to_pylist():
                seen.setdefault(url, now)
        stop.wait(0.2)


def latency(args) -> None:
    rng = random.Random(3)
    start = time.monotonic() + 5
    publish_at = sorted(start + rng.uniform(0, args.duration - 2 * args.poll_interval) for _ in range(args.items))
    feed = ScheduledFeed(publish_at)
    routes = {"/live.rss": feed.route, "/story/*": story_route}
    seen: Dict[str, float] = {}
    cycles: List[float] = []
    idle: List[float] = []
    with tempfile.TemporaryDirectory() as folder, SampleSite(routes=routes) as site:
        output = Path(folder)
        stop = threading.Event()
        watcher = threading.Thread(target=watch, args=(output, seen, stop), daemon=True)
        watcher.start()

        def on_cycle(outcome):
            cycles.append(outcome.seconds)
            if not outcome.counters.get("items.to_fetch"):
                idle.append(outcome.seconds)

        run_stream(["--feeds", site.url("/live.rss"), "--output", str(output), "--host-delay", "0.05",
                    "--allow-private-addresses",
                    "--poll-interval", str(args.poll_interval), "--duration", str(args.duration)], on_cycle=on_cycle)
        time.sleep(1)
        stop.set()
        watcher.join()
        written = pq.read_table(output / "articles").column("url").to_pylist() if seen else []
    delays = sorted(seen[site.url(f"/story/{i}.html")] - at for i, at in enumerate(publish_at)
                    if site.url(f"/story/{i}.html") in seen)
    p50 = statistics.median(delays)
    p95 = delays[min(len(delays) - 1, int(round(0.95 * (len(delays) - 1))))]
    idle_cycle = statistics.median(idle) if idle else float("nan")
    print(f"streaming latency, feed -> readable Parquet: {len(delays)}/{len(publish_at)} articles seen, "
          f"{len(written)} rows written ({len(set(written))} distinct), {len(cycles)} polls")
    print(f"  poll interval (baseline)   {args.poll_interval:6.1f} s")
    print(f"  idle poll (fixed cost)     {idle_cycle:6.1f} s")
    print(f"  p50 latency                {p50:6.1f} s   = {p50 / args.poll_interval:4.2f} x poll interval")
    print(f"  p95 latency                {p95:6.1f} s   = {p95 / (args.poll_interval + 5):4.2f} x target "
          f"(poll interval + 5 s = {args.poll_interval + 5:.0f} s)")
    print(f"  max latency                {delays[-1]:6.1f} s")


def memory(args) -> None:
    counter = {"n": 0}

    def growing_feed(handler):  # one more story on every request: every poll finds exactly one new article
        counter["n"] += 1
        site = handler.server.site
        items = "".join(f"<item><title>story {i}</title><link>{site.url(f'/story/{i}.html')}</link></item>"
                        for i in range(max(0, counter["n"] - 20), counter["n"]))
        handler.send_body(200, f"<rss version='2.0'><channel><title>g</title>{items}</channel></rss>".encode(),
                          "application/rss+xml")

    samples: List[float] = []
    with tempfile.TemporaryDirectory() as folder, SampleSite(routes={"/grow.rss": growing_feed, "/story/*": story_route}) as site:
        started = time.monotonic()
        run_stream(["--feeds", site.url("/grow.rss"), "--output", folder, "--host-delay", "0",
                    "--allow-private-addresses",
                    "--poll-interval", str(args.poll_interval), "--max-cycles", str(args.cycles)],
                   on_cycle=lambda outcome: samples.append(rss_mb()))
        seconds = time.monotonic() - started
        rows = pq.read_table(Path(folder) / "articles").num_rows
    warm = samples[min(19, len(samples) - 1)]
    print(f"streaming memory: {len(samples)} polls in {seconds:.0f} s, {rows} articles written")
    for cycle in sorted({1, 10, 20, 50, 100, 200, len(samples)} & set(range(1, len(samples) + 1))):
        print(f"  after poll {cycle:4d}: RSS {samples[cycle - 1]:7.1f} MB   = {samples[cycle - 1] / warm:4.2f} x poll 20")
    tail = samples[19:]
    if len(tail) > 1:
        slope = (statistics.linear_regression(range(len(tail)), tail).slope * 100) if hasattr(
            statistics, "linear_regression") else float("nan")
        print(f"  slope after poll 20: {slope:+.2f} MB per 100 polls")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    lat = modes.add_parser("latency")
    lat.add_argument("--poll-interval", type=float, default=10.0)
    lat.add_argument("--duration", type=float, default=180.0)
    lat.add_argument("--items", type=int, default=24)
    mem = modes.add_parser("memory")
    mem.add_argument("--cycles", type=int, default=300)
    mem.add_argument("--poll-interval", type=float, default=0.1)
    args = parser.parse_args()
    latency(args) if args.mode == "latency" else memory(args)


if __name__ == "__main__":
    main()
