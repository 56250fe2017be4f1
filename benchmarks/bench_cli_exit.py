"""How long a finished `newsbeam` command takes to end: from its summary line on stdout to the process's exit.

    python -m benchmarks.bench_cli_exit [--repeats 3]

A small ingest of the bundled sample site's `/feeds/levant.rss` (served on 127.0.0.1; spaCy NER on, the default),
as a fresh process each time. Arms, interleaved: `teardown` ends as `sys.exit(main())` does (Python frees every
module, model and cache before the process ends: how the command ended before), `exit_now` is the command as
installed (`newsbeam.pipelines.cli:entry`).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARMS = {
    "teardown": [sys.executable, "-c", "import sys; from newsbeam.pipelines.cli import main; sys.exit(main())"],
    "exit_now": [sys.executable, "-m", "newsbeam.pipelines.cli"],
}


def _sample(command, feed: str, output: Path) -> tuple:
    started = time.perf_counter()
    process = subprocess.Popen([*command, "ingest", "--feeds", feed, "--host-delay", "0", "--allow-private-addresses",
                                "--output", str(output)], cwd=str(REPO), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    summary = time.perf_counter() - started
    if process.wait() != 0 or "succeeded" not in line:
        raise RuntimeError(f"the run failed: {line!r}")
    return summary, time.perf_counter() - started


def main(argv=None) -> int:
    from newsbeam.sample_site import SampleSite

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f}")
    samples = {arm: [] for arm in ARMS}
    with SampleSite() as site, tempfile.TemporaryDirectory() as work:
        for repeat in range(args.repeats):  # interleaved: the machine's load drifts
            for arm, command in ARMS.items():
                samples[arm].append(_sample(command, site.url("/feeds/levant.rss"), Path(work) / f"{arm}-{repeat}"))
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| end | summary -> exit s (median) | whole command s (median) | summary -> exit s, each |")
    print("|---|---:|---:|---|")
    for arm, rows in samples.items():
        print(f"| {arm} | {statistics.median(e - s for s, e in rows):.2f} | {statistics.median(e for _, e in rows):.1f} "
              f"| {', '.join(format(e - s, '.2f') for s, e in rows)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
