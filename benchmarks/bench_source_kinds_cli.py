"""End to end through the `newsbeam ingest` command over loopback: time and peak memory of reading a 50,000-URL
sitemap and an index of 100 sitemaps with `--max-articles 0` (sources read, nothing fetched), against a 2-URL
sitemap as the pipeline's fixed cost.

    .venv/bin/python benchmarks/bench_source_kinds_cli.py
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsbeam.sample_site import SampleSite  # noqa: E402
from tests.kinds_routes import kinds_routes  # noqa: E402
from tests.test_cli import FAST_FLAGS  # noqa: E402

CASES = {
    "2-URL sitemap (fixed cost)": ["/kinds/sitemap.xml"],
    "50,000-URL sitemap": ["/big/sitemap-50k.xml"],
    "index of 100 sitemaps x 100 URLs": ["/big/index-100.xml"],
    "both (the test)": ["/big/sitemap-50k.xml", "/big/index-100.xml"],
}


def measure(site: SampleSite, paths) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        feeds = [arg for path in paths for arg in ("--feeds", site.url(path))]
        # /usr/bin/time would need GNU time; wait4 gives the child's own peak RSS
        started = time.monotonic()
        child = subprocess.Popen([sys.executable, "-m", "newsbeam.pipelines.cli", "ingest", *feeds, "--max-articles",
                                  "0", *FAST_FLAGS, "--output", tmp + "/out", "--run-id", "bench"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = __import__("os").wait4(child.pid, 0)
        wall = time.monotonic() - started
        manifest = json.loads(Path(tmp, "out", "_runs", "bench.json").read_text())
    return {"exit": status >> 8, "wall_s": round(wall, 1), "pipeline_s": manifest["seconds"],
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "items": manifest["counters"].get("items.unique", 0)}


def main() -> None:
    with SampleSite(routes=kinds_routes()) as site:
        print("| case | items | exit | wall s | pipeline s | CPU s (driver) | peak RSS MB (driver) |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, paths in CASES.items():
            r = measure(site, paths)
            print(f"| {name} | {r['items']:,} | {r['exit']} | {r['wall_s']} | {r['pipeline_s']} | {r['cpu_s']} | "
                  f"{r['peak_rss_mb']} |", flush=True)


if __name__ == "__main__":
    main()
