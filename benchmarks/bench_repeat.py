"""Repeats `bench_pipeline.py` and reports the median of each throughput ratio.

On this shared 2-core machine the same code runs 15-35 % faster or slower from one run to the next, and a single
run's pipeline/floor ratio moves by about 0.1 (benchmarks/RESULTS.md, Scale). A target is better judged on the
median of repeats, each of which measures its baselines (the floor, trafilatura's CLI) and the pipeline back to
back, as one `bench_pipeline.py` run does:

    python -m benchmarks.bench_repeat --repeats 3 -- --corpus trafilatura-eval --pages 1000 --hosts 1 \\
        --modes multi --floor-pages 1000

Everything after `--` goes to `bench_pipeline.py` unchanged (each repeat is a fresh process: it keeps its modes in
module state). Each repeat's full report is printed as it ends; the summary gives, per pipeline run and baseline,
the ratio of articles a second in every repeat and their median, and the CPU other programs used meanwhile.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

BENCH = Path(__file__).resolve().parent / "bench_pipeline.py"


def rates(figures: Dict) -> Dict[str, float]:
    """Articles a second of every baseline and pipeline run in one `bench_pipeline.py --json` file."""
    found = {}
    for name, data in (figures.get("floor") or {}).items():
        if data.get("wall"):
            found[f"floor {name}"] = data["articles"] / data["wall"]
    for cli in figures.get("trafilatura_cli") or ():
        if cli.get("wall"):
            found[cli["name"]] = cli["articles"] / cli["wall"]
    for run in figures.get("runs") or ():
        if run.get("seconds"):
            found[f"pipeline {run['mode']}"] = run["counters"].get("articles.written", 0) / run["seconds"]
    return found


def others(figures: Dict) -> float:
    """CPU seconds other programs used during the repeat's measured rows (None counted as 0)."""
    rows = list((figures.get("floor") or {}).values()) + list(figures.get("trafilatura_cli") or ())
    rows += list(figures.get("runs") or ())
    return sum(row.get("foreign_cpu") or 0.0 for row in rows)


def summary(repeats: List[Dict]) -> str:
    """Per pipeline run, its ratio to each baseline in every repeat and the median."""
    all_rates = [rates(figures) for figures in repeats]
    names = sorted({name for found in all_rates for name in found})
    pipelines = [name for name in names if name.startswith("pipeline ")]
    baselines = [name for name in names if not name.startswith("pipeline ")]
    lines = [f"{len(repeats)} repeats; CPU s other programs used during each: "
             + ", ".join(f"{others(figures):.1f}" for figures in repeats)]
    for pipeline in pipelines:
        for baseline in baselines:
            ratios = [found[pipeline] / found[baseline] for found in all_rates
                      if found.get(pipeline) and found.get(baseline)]
            if ratios:
                lines.append(f"{pipeline} / {baseline}: median {statistics.median(ratios):.2f} x "
                             f"({', '.join(f'{r:.2f}' for r in ratios)})")
    for name in names:
        values = [found[name] for found in all_rates if name in found]
        lines.append(f"{name}: median {statistics.median(values):.1f} articles/s "
                     f"({', '.join(f'{v:.1f}' for v in values)})")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ours, rest = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write every repeat's figures to this file")
    args = parser.parse_args(ours)
    if "--json" in rest:
        parser.error("give --json before `--` (each repeat writes its own)")
    repeats = []
    with tempfile.TemporaryDirectory(prefix="newsbeam-repeat-") as scratch:
        for n in range(args.repeats):
            path = Path(scratch) / f"repeat-{n}.json"
            print(f"repeat {n + 1} of {args.repeats} ...", flush=True)
            done = subprocess.run([sys.executable, str(BENCH), *rest, "--json", str(path)])
            if done.returncode != 0 or not path.exists():
                print(f"repeat {n + 1} failed (exit {done.returncode})", file=sys.stderr)
                return 1
            repeats.append(json.loads(path.read_text()))
    print("\n" + summary(repeats))
    if args.json:
        Path(args.json).write_text(json.dumps(repeats, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
