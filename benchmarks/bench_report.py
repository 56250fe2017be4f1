"""`newsbeam report` on a generated output of 100,000 articles: wall time, peak RSS and page size.

    .venv/bin/python benchmarks/bench_report.py [--articles 100000] [--folder /tmp/newsbeam-report-bench]

The output (articles over 60 days, 40 languages, 200 sources, 2,000 entities, 20,000 dead letters, 30 runs) is
generated once into --folder and reused. The report runs as its own process (`python -m newsbeam.pipelines.cli
report`), timed from start to exit, its peak RSS read from getrusage; the chart bundle cache is warmed first, and
a run with the cache off is measured too.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks.report_corpus import LANGUAGES_100, Corpus, write_output


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(folder: str, page: str, env: dict) -> tuple:
    """(wall seconds of the whole command, its CPU seconds, the seconds it reports for the report itself)."""
    started, cpu = time.perf_counter(), _cpu()
    done = subprocess.run([sys.executable, "-m", "newsbeam.pipelines.cli", "report", folder, "-o", page],
                          capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(done.stderr)
    inner = float(done.stdout.rsplit(", ", 1)[1].split(" s)")[0])  # "report: PATH (1.2 MB, 10 charts, 3.4 s)"
    return seconds, _cpu() - cpu, inner


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--folder", default=os.path.join(tempfile.gettempdir(), "newsbeam-report-bench"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = f"{args.folder}-{args.articles}"
    if not os.path.isdir(os.path.join(folder, "articles")):
        started = time.perf_counter()
        write_output(folder, Corpus(articles=args.articles, dead_letters=args.articles // 5, runs=30,
                                    languages=LANGUAGES_100[:40], sources=200, entities=2000, days=60))
        print(f"generated {args.articles:,} articles in {time.perf_counter() - started:.0f} s -> {folder}")
    files = sum(len(f) for _, _, f in os.walk(folder))
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs)
    print(f"output: {files} files, {size / 1e6:.0f} MB")
    page = os.path.join(folder, "report.html")
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        env["NEWSBEAM_CACHE_DIR"] = cache
        load = os.getloadavg()[0]
        cold = _run(folder, page, env)  # builds the chart bundle cache
        runs = [_run(folder, page, env) for _ in range(args.runs)]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    def median(i):
        return statistics.median(r[i] for r in runs)

    print(f"newsbeam report, median of {args.runs} runs: {median(0):.2f} s wall for the command "
          f"({median(2):.2f} s inside it, after Python and the CLI's imports), {median(1):.2f} s of CPU; "
          f"first run, building the chart bundle: {cold[0]:.2f} s wall, {cold[1]:.2f} s CPU; peak RSS {peak:.0f} MB; "
          f"page {os.path.getsize(page) / 1e6:.2f} MB; load average {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
