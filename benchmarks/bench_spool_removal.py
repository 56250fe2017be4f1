"""How long removing a run's spool takes: `shutil.rmtree` (one unlink at a time) against
`newsbeam.scratch.remove_tree` (several threads), on files that have reached the disk, as a run's spool has by
its end.

    .venv/bin/python benchmarks/bench_spool_removal.py --files 6000 --repeats 3

The files mimic a 1,000-page run's spool: a third of ~30 KB (pages, archived responses), the rest ~4 KB
(articles, rows) and 1 KB (MinHash signatures). Alternates the two ways; reports wall and CPU seconds of each.
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

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from newsbeam.scratch import remove_tree  # noqa: E402


def make_spool(parent: str, files: int) -> str:
    directory = tempfile.mkdtemp(prefix="bench-spool-", dir=parent)
    data = os.urandom(32_000)
    for n in range(files):
        size = (30_000, 4_000, 1_000)[n % 3]
        with open(os.path.join(directory, f"{n:032x}"), "wb") as handle:
            handle.write(data[:size])
    os.sync()  # on disk, as a run's spool is by the end of the run
    return directory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parent", default=None, help="where the spool goes (default: $TMPDIR)")
    args = parser.parse_args()
    ways = {"shutil.rmtree": lambda path: shutil.rmtree(path, ignore_errors=True), "remove_tree": remove_tree}
    figures = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, remove in ways.items():
            directory = make_spool(args.parent, args.files)
            wall, cpu = time.perf_counter(), time.process_time()
            remove(directory)
            figures[name].append((time.perf_counter() - wall, time.process_time() - cpu))
            assert not os.path.exists(directory)
    print(f"{args.files} files, {args.repeats} repeats, load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    for name, runs in figures.items():
        print(f"{name:<14} wall s median {statistics.median(w for w, _ in runs):.2f} "
              f"(all {', '.join(f'{w:.2f}' for w, _ in runs)}), CPU s median {statistics.median(c for _, c in runs):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
