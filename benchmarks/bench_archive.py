"""What the WARC archive costs, and how fast `--warc` input runs, on loopback only.

    .venv/bin/python benchmarks/bench_archive.py --pages 1000 --repeats 4 --wait-quiet 30

One run:
1. generates N pages and serves them (bench_pipeline's corpus and server, 8 origins, no latency);
2. ingests them `--repeats` times with `--archive off` and with `--archive all`, alternating, each in a fresh
   process (bench_pipeline's child, one in-process worker), and compares the best articles/s and the CPU per
   article of each (best of the repeats: the machine is shared);
3. reports the archive's bytes per article against the Parquet articles' bytes per article;
4. measures the bare-library floor (extract + language in a plain loop and in a forked pool of one process per
   core, bench_pipeline.measure_floor) and then `ingest --warc` over the archive just written, with 2 workers
   (no network at all), and compares their pages/s.

Entities are off in every run and in the floor, so that the comparison is of the same work.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import bench_pipeline, server  # noqa: E402

FLAGS = [*bench_pipeline.PIPELINE_FLAGS, "--entities", "off"]


def run_child(argv: List[str], workdir: Path, name: str) -> Dict:
    result = workdir / f"result-{name}.json"
    command = [sys.executable, str(REPO / "benchmarks" / "bench_pipeline.py"), "_child", json.dumps(argv), str(result)]
    started = time.time()
    done = subprocess.run(command, cwd=str(REPO), capture_output=True, text=True)
    if done.returncode != 0 or not result.exists():
        raise RuntimeError(f"{name} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    child = json.loads(result.read_text())
    child["process_seconds"] = time.time() - started
    return child


def size_of(folder: Path, suffix: str) -> int:
    return sum(path.stat().st_size for path in folder.rglob(f"*{suffix}")) if folder.exists() else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--warc-input-only", action="store_true",
                        help="One archived run (to have an archive), then only the floor and the --warc input run.")
    parser.add_argument("--wait-quiet", type=float, default=0.0,
                        help="Wait up to this many seconds for an idle machine before each measurement.")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-archive-"))
    page_dir = workdir / "pages"
    paths = bench_pipeline.generate_pages(args.pages, page_dir)
    page_server = bench_pipeline.PageServer(page_dir, hosts=8, latency_ms=0)
    try:
        urls = [server.url_for(page_server.ports, number, path) for number, path in enumerate(paths)]
        urls_file = workdir / "urls.txt"
        urls_file.write_text("\n".join(urls) + "\n")
        runs: Dict[str, List[Dict]] = {"off": [], "all": []}
        for repeat in range(args.repeats):
            for archive in (("all",) if args.warc_input_only else ("off", "all")):
                out = workdir / f"out-{archive}"
                shutil.rmtree(out, ignore_errors=True)
                bench_pipeline._quiet(args.wait_quiet)
                child = run_child(["--urls", str(urls_file), "--output", str(out), "--run-id", f"b{repeat}",
                                   "--archive", archive, *FLAGS, "--direct_num_workers", "1"], workdir, archive)
                child["articles"] = child["counters"].get("articles.written", 0)
                child["warc_bytes"] = size_of(out / "warc", ".warc.gz")
                child["parquet_bytes"] = size_of(out / "articles", ".parquet")
                runs[archive].append(child)
        pages = bench_pipeline.fetch_once(urls)
        bench_pipeline._quiet(args.wait_quiet)
        floor = bench_pipeline.measure_floor(pages, os.cpu_count() or 2, with_entities=False)
        warc_out = workdir / "out-warc-input"
        shutil.rmtree(warc_out, ignore_errors=True)
        bench_pipeline._quiet(args.wait_quiet)
        warc_in = run_child(["--warc", str(workdir / "out-all" / "warc" / "*" / "*.warc.gz"), "--output",
                             str(warc_out), "--run-id", "w", *FLAGS, "--direct_num_workers", "2",
                             "--direct_running_mode", "multi_processing"], workdir, "warc-input")
    finally:
        page_server.stop()
    print(report(args, runs, floor, warc_in))
    return 0


def report(args, runs, floor, warc_in) -> str:
    def best(archive):
        return min(runs[archive], key=lambda r: r["seconds"])

    def least_cpu(archive):
        return min(r["cpu_run"] / max(1, r["articles"]) for r in runs[archive])

    if not runs["off"]:  # --warc-input-only
        runs["off"] = runs["all"]
    off, on = best("off"), best("all")
    rate = {name: r["articles"] / r["seconds"] for name, r in (("off", off), ("all", on))}
    lines = [f"pages: {args.pages}, repeats: {args.repeats} (best of each), entities off, 1 in-process worker", "",
             "| run | articles | best wall s | articles/s | least CPU ms/article | all walls s |",
             "|---|---:|---:|---:|---:|---|"]
    for name, r in (("--archive off", off), ("--archive all", on)):
        key = name.split()[-1]
        walls = ", ".join(f"{x['seconds']:.1f}" for x in runs[key])
        lines.append(f"| `{name}` | {r['articles']} | {r['seconds']:.1f} | {rate[key]:.1f} | "
                     f"{1000 * least_cpu(key):.1f} | {walls} |")
    lines += ["", f"throughput cost of archiving: {100 * (1 - rate['all'] / rate['off']):.1f} % "
                  f"(CPU per article: {100 * (least_cpu('all') / least_cpu('off') - 1):+.1f} %)",
              f"bytes per article: WARC {on['warc_bytes'] / max(1, on['articles']):,.0f}, Parquet articles "
              f"{on['parquet_bytes'] / max(1, on['articles']):,.0f} "
              f"(ratio {on['warc_bytes'] / max(1, on['parquet_bytes']):.1f}x)"]
    warc_rate = warc_in["counters"].get("items.to_fetch", 0) / warc_in["seconds"]
    lines += ["", "| bare-library floor / WARC input | pages | wall s | pages/s |", "|---|---:|---:|---:|"]
    for name, figures in floor.items():
        lines.append(f"| floor `{name}` ({figures['processes']} process(es)) | {figures['pages']} | "
                     f"{figures['wall']:.1f} | {figures['pages'] / figures['wall']:.1f} |")
    lines.append(f"| `ingest --warc` (2 workers, whole run incl. start-up and writing) | "
                 f"{warc_in['counters'].get('items.to_fetch', 0)} | {warc_in['seconds']:.1f} | {warc_rate:.1f} |")
    # the bundles of the fused stages that read the WARC files and extract (bench_pipeline's stage timeline)
    reading = [(start, end) for name, start, end in warc_in["timeline"] if "WarcCore" in name or "ReadWarc" in name]
    if reading:
        window = max(end for _, end in reading) - min(start for start, _ in reading)
        lines.append(f"| `ingest --warc`, read + extract + language stages only | "
                     f"{warc_in['counters'].get('items.to_fetch', 0)} | {window:.1f} | "
                     f"{warc_in['counters'].get('items.to_fetch', 0) / window:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
