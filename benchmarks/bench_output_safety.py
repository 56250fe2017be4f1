"""What output safety costs a run: taking and releasing the run lock, sweeping dead runs' temporary files, and
checking the state files' footers before a run starts.

    python -m benchmarks.bench_output_safety [--segments 48] [--ids 1000000] [--repeat 200]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from benchmarks.bench_state import synthetic_segments
from newsbeam.runlock import RunLock, sweep_leftovers
from newsbeam.state import check_state


def timed(function, repeat: int) -> float:
    """Median seconds of `repeat` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=48)
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as output:
        def lock_cycle():
            lock = RunLock(output, "bench")
            lock.acquire()
            lock.release()

        print(f"run lock, acquire + release (local disk): {timed(lock_cycle, args.repeat) * 1e3:.2f} ms")
        synthetic_segments(output, args.ids, args.segments)
        files = check_state(output)
        print(f"check_state over {files} seen segments ({args.ids:,} URL keys): "
              f"{timed(lambda: check_state(output), 20) * 1e3:.1f} ms")
        print(f"sweep_leftovers over the same folder: {timed(lambda: sweep_leftovers(output, 0), 20) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
