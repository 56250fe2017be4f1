"""How long fetching takes to give up on each slow-server attack, and what the deadline watchdog costs per exchange.

    python -m benchmarks.bench_hostile                          # --deadline 10 --read-timeout 5, 1 byte/s
    python -m benchmarks.bench_hostile --deadline 3 --read-timeout 1 --interval 0.5
    python -m benchmarks.bench_hostile --urls ../shared/corpora/trafilatura-eval.tar.xz   # URL forms only
    python -m benchmarks.bench_hostile --bomb-and-lanes   # gzip bomb memory; hosts that hang vs a quick host

Each attack runs on its own loopback raw-socket server (tests/faults.py), all at once; every byte arrives
within the read timeout, so only the deadline can end the exchange.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import tarfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from newsbeam.fetching import HTML_ACCEPT, ConcurrentFetcher, FetchContext, PoliteFetcher, html_only
from newsbeam.http import FetchError, FetchSettings, HttpClient, _Deadlines, _Watch
from newsbeam.schemas.records import FetchRequest
from newsbeam.urls import canonicalize_url, fetch_url, is_http_url
from tests.faults import SLOW_ATTACKS, RawServer
from tests.hostile import HostileServer, answer, gzip_bomb, hang, page


def give_up_time(attack: str, settings: FetchSettings, interval: float):
    with RawServer(SLOW_ATTACKS[attack], interval=interval) as server:
        context = FetchContext(settings)
        fetcher = PoliteFetcher(context.client, context.gates, context.robots)
        started = time.monotonic()
        outcome = fetcher.fetch(FetchRequest(server.base_url + "/story.html", None), HTML_ACCEPT, html_only)
        return attack, time.monotonic() - started, getattr(outcome, "reason", "fetched")


def watchdog_cost(count: int) -> float:
    """Mean seconds to arm and disarm the per-exchange deadline watchdog (one timer thread)."""
    deadlines = _Deadlines()
    started = time.monotonic()
    for _ in range(count):
        _Watch(60.0, deadlines).stop()
    return (time.monotonic() - started) / count


def url_figures(archive: str) -> None:
    """On trafilatura's 990 evaluation URLs: how many the old clean-up (courlan) changed, how many the fetch URL
    changes, and whether any two share a dedup key."""
    from courlan import normalize_url

    with tarfile.open(archive) as tar:
        urls = [u for u in json.load(tar.extractfile("trafilatura-eval/evaldata.json")) if is_http_url(u)]
    print(f"{len(urls)} valid URLs; courlan changed {sum(normalize_url(u, strict=False) != u for u in urls)}; "
          f"fetch_url changed {sum(fetch_url(u) != u.partition('#')[0] for u in urls)}; "
          f"{len({canonicalize_url(u) for u in urls})} distinct canonical keys")


def bomb_and_lanes() -> None:
    """Peak memory of refusing a 1 GB gzip bomb with a 10 MiB cap; when a quick host's 4 pages are done behind
    8 hosts whose 6 requests each hang until the 1 s read timeout (16 threads, 2 per host)."""
    cap = 10 << 20
    with HostileServer({"/bomb": answer(body=gzip_bomb(1.0), headers=(("Content-Encoding", "gzip"),))}) as server:
        client = HttpClient(FetchSettings(max_bytes=cap, deadline=30, allow_private_addresses=True))
        tracemalloc.start()
        try:
            client.get(server.url("/bomb"))
            reason = "fetched"
        except FetchError as exc:
            reason = exc.reason
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(f"gzip bomb (1 GB of zeros, about 1 MB sent), cap {cap >> 20} MiB: {reason}, "
          f"peak {peak / 1e6:.0f} MB allocated")
    settings = FetchSettings(read_timeout=1.0, deadline=3, host_concurrency=2, max_connections=16, host_delay=0,
                             allow_private_addresses=True, obey_robots=False)
    with contextlib.ExitStack() as stack:
        slow = [stack.enter_context(HostileServer({f"/h{i}": hang for i in range(6)})) for _ in range(8)]
        quick = stack.enter_context(HostileServer({f"/q{i}": answer(body=page("quick")) for i in range(4)}))
        fetcher = ConcurrentFetcher(FetchContext(replace(settings)))
        started = time.monotonic()
        for server in slow:
            fetcher.submit([FetchRequest(server.url(f"/h{i}"), None) for i in range(6)], HTML_ACCEPT, html_only, 0)
        fetcher.submit([FetchRequest(quick.url(f"/q{i}"), None) for i in range(4)], HTML_ACCEPT, html_only, 1)
        done = [time.monotonic() - started for tag, _ in fetcher.drain() if tag == 1]
        total = time.monotonic() - started
        fetcher.close()
    print(f"quick host behind 8 hanging hosts: its 4 pages done after {max(done):.2f} s (all hosts {total:.2f} s)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=float, default=10.0)
    parser.add_argument("--read-timeout", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between dripped bytes")
    parser.add_argument("--arms", type=int, default=2000, help="watchdog arm/disarm cycles for the per-request cost")
    parser.add_argument("--urls", metavar="ARCHIVE", help="only the URL figures, from trafilatura-eval.tar.xz")
    parser.add_argument("--bomb-and-lanes", action="store_true", help="only the gzip bomb and head-of-line figures")
    args = parser.parse_args(argv)
    if args.bomb_and_lanes:
        bomb_and_lanes()
        return
    if args.urls:
        url_figures(args.urls)
        return
    settings = FetchSettings(deadline=args.deadline, read_timeout=args.read_timeout, connect_timeout=1.0,
                             allow_private_addresses=True, obey_robots=False)
    with ThreadPoolExecutor(len(SLOW_ATTACKS)) as pool:
        results = list(pool.map(lambda a: give_up_time(a, settings, args.interval), sorted(SLOW_ATTACKS)))
    print(f"deadline {args.deadline} s, read timeout {args.read_timeout} s, one byte every {args.interval} s")
    for attack, elapsed, reason in results:
        print(f"  {attack:16s} {reason:10s} gave up after {elapsed:6.2f} s")
    print(f"deadline watchdog, arm + disarm: {watchdog_cost(args.arms) * 1e6:.0f} us per exchange")


if __name__ == "__main__":
    main()
