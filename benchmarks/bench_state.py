"""Cost of the cross-run seen index at scale: build, memory and lookups at N article URLs.

    python benchmarks/bench_state.py [--ids 1000000]

Figures are printed against a baseline measured in the same run: a Python set of the same 64-bit keys (the
simplest in-memory alternative, which could not be shared with a streaming job and costs more memory).
"""
from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa

from newsbeam.seen import SEEN_SCHEMA, load_seen, seen_table


def synthetic_segments(output: str, ids: int, runs: int) -> None:
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 2**63, size=ids, dtype=np.uint64)
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    table = seen_table(output)
    for run, chunk in enumerate(np.array_split(keys, runs)):
        n = len(chunk)
        table.write_segment(f"run{run:03d}", pa.table({
            "key": chunk, "run_id": [f"run{run:03d}"] * n, "written": np.ones(n, dtype=bool),
            "url": pa.nulls(n, pa.string()), "feed_url": pa.nulls(n, pa.string()), "reason": pa.nulls(n, pa.string()),
            "at": pa.array([at + timedelta(minutes=15 * run)] * n, pa.timestamp("us", tz="UTC")),
        }, schema=SEEN_SCHEMA))
    return keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40, help="state segments the ids are spread over")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as output:
        keys = synthetic_segments(output, args.ids, args.runs)
        size = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(output) for f in files)
        now = datetime(2026, 12, 1, tzinfo=timezone.utc)

        tracemalloc.start()
        started = time.perf_counter()
        index = load_seen(output, "current", now)
        load_seconds = time.perf_counter() - started
        retained_bytes, index_bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        tracemalloc.start()
        started = time.perf_counter()
        baseline = set(int(k) for k in keys)
        set_seconds = time.perf_counter() - started
        set_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

        rng = np.random.default_rng(11)
        probes = np.concatenate([rng.choice(keys, 50_000), rng.integers(0, 2**63, 50_000, dtype=np.uint64)])
        probe_list = [int(k) for k in probes]
        started = time.perf_counter()
        hits = sum(index.status(k) == 0 for k in probe_list)
        scalar_ns = (time.perf_counter() - started) / len(probes) * 1e9
        started = time.perf_counter()
        set_hits = sum(k in baseline for k in probe_list)
        set_ns = (time.perf_counter() - started) / len(probes) * 1e9
        assert hits == set_hits

    print(f"seen index at {args.ids:,} ids in {args.runs} segments ({size / 1e6:.1f} MB of Parquet state)")
    print(f"  load (read + index)   {load_seconds:8.2f} s      python set build {set_seconds:6.2f} s   ratio {load_seconds / set_seconds:5.2f}")
    print(f"  memory, peak traced   {index_bytes / 1e6:8.1f} MB     python set       {set_bytes / 1e6:6.1f} MB  ratio {index_bytes / set_bytes:5.2f}")
    print(f"  memory, retained      {retained_bytes / 1e6:8.1f} MB     ({retained_bytes / args.ids:.1f} bytes an id)")
    print(f"  lookup, one at a time {scalar_ns:8.0f} ns     python set       {set_ns:6.0f} ns  ratio {scalar_ns / set_ns:5.2f}")
    print(f"  max RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
