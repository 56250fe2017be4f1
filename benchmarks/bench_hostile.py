"""How long fetching takes to give up on each slow-server attack, and what the deadline watchdog costs per exchange.

    python -m benchmarks.bench_hostile                          # --deadline 10 --read-timeout 5, 1 byte/s
    python -m benchmarks.bench_hostile --deadline 3 --read-timeout 1 --interval 0.5
    python -m benchmarks.bench_hostile --urls ../shared/corpora/trafilatura-eval.tar.xz   # URL forms only

Each attack runs on its own loopback raw-socket server (tests/faults.py), all at once; every byte arrives
within the read timeout, so only the deadline can end the exchange.
"""
from __future__ import annotations

import argparse
import json
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor

from newsbeam.fetching import HTML_ACCEPT, FetchContext, PoliteFetcher, html_only
from newsbeam.http import FetchSettings, _Watch
from newsbeam.schemas.records import FetchRequest
from newsbeam.urls import canonicalize_url, fetch_url, is_http_url
from tests.faults import SLOW_ATTACKS, RawServer


def give_up_time(attack: str, settings: FetchSettings, interval: float):
    with RawServer(SLOW_ATTACKS[attack], interval=interval) as server:
        context = FetchContext(settings)
        fetcher = PoliteFetcher(context.client, context.gates, context.robots)
        started = time.monotonic()
        outcome = fetcher.fetch(FetchRequest(server.base_url + "/story.html", None), HTML_ACCEPT, html_only)
        return attack, time.monotonic() - started, getattr(outcome, "reason", "fetched")


def watchdog_cost(count: int) -> float:
    """Mean seconds to arm and disarm the per-exchange deadline watchdog (one timer thread)."""
    started = time.monotonic()
    for _ in range(count):
        _Watch(60.0).stop()
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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=float, default=10.0)
    parser.add_argument("--read-timeout", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between dripped bytes")
    parser.add_argument("--arms", type=int, default=2000, help="watchdog arm/disarm cycles for the per-request cost")
    parser.add_argument("--urls", metavar="ARCHIVE", help="only the URL figures, from trafilatura-eval.tar.xz")
    args = parser.parse_args(argv)
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
