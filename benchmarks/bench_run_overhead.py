"""The fixed CPU of one small run: what a batch run or a stream poll costs before and around its pages.

    python -m benchmarks.bench_run_overhead [--repeats 5] [--feed /feeds/levant.rss] [--arms now,beam-introspection]

Each sample is a fresh interpreter that serves the bundled sample site on 127.0.0.1, runs one warm-up ingest of
`--feed` in-process (imports, gazetteer, models, caches), then a second one into a new output, and reports that
second run's CPU (`time.process_time`: every thread of the process, FnApiRunner's in-process workers included),
how many options views Beam built and how many signatures `inspect.signature` computed during it. Arms,
interleaved: `now` (newsbeam as it is); `beam-views` builds the run's options with Beam's `PipelineOptions` (a new
view and argparse parser on every `view_as`) instead of `newsbeam.pipelines.view_options.ViewCachingOptions`;
`beam-introspection` puts Beam's own `get_function_args_defaults` back in place of newsbeam's memoised one
(`newsbeam.beam_signatures`).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

from benchmarks.bench_setup import run_child

_SAMPLE = """
import json, sys, tempfile, time
from pathlib import Path
from apache_beam.options.pipeline_options import PipelineOptions
from newsbeam.pipelines import ingest
from newsbeam.sample_site import SampleSite

arm, feed = sys.argv[1], sys.argv[2]
if arm == "beam-views":
    ingest.ViewCachingOptions = PipelineOptions
if arm == "beam-introspection":
    from apache_beam.transforms import core
    core.get_function_args_defaults = core.get_function_args_defaults.original
import inspect
signatures = []
signature = inspect.signature
def counting_signature(*args, **kwargs):
    signatures.append(1)
    return signature(*args, **kwargs)
inspect.signature = counting_signature
views = []
original = PipelineOptions.__init__
def counting(self, *args, **kwargs):
    views.append(1)
    original(self, *args, **kwargs)
PipelineOptions.__init__ = counting
flags = ["--host-delay", "0", "--entities", "gazetteer", "--allow-private-addresses"]
with SampleSite() as site, tempfile.TemporaryDirectory() as work:
    for attempt in ("warm-up", "measured"):
        del views[:], signatures[:]
        cpu, wall = time.process_time(), time.perf_counter()
        done = ingest.run(["--feeds", site.url(feed), *flags, "--output", str(Path(work) / attempt)])
        assert done.status == "succeeded", done.error
    print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall, "views": len(views),
                      "signatures": len(signatures),
                      "articles": done.counters.get("articles.written", 0)}))
"""


def _sample(arm: str, feed: str) -> dict:
    return run_child(["-c", _SAMPLE, arm, feed], timeout=900)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--feed", default="/feeds/levant.rss", help="a feed of the sample site (default: %(default)s)")
    parser.add_argument("--arms", default="now,beam-introspection",
                        help="comma-separated: now, beam-views, beam-introspection (default: %(default)s)")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f}")
    samples = {arm: [] for arm in args.arms.split(",")}
    for _ in range(args.repeats):  # interleaved: the machine's load drifts
        for arm in samples:
            samples[arm].append(_sample(arm, args.feed))
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| arm | run CPU s (median) | wall s (median) | views built | signatures computed | articles | "
          "CPU s of each run |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for arm, rows in samples.items():
        print(f"| {arm} | {statistics.median(r['cpu'] for r in rows):.2f} | "
              f"{statistics.median(r['wall'] for r in rows):.2f} | {rows[0]['views']} | {rows[0]['signatures']} | "
              f"{rows[0]['articles']} | "
              f"{', '.join(format(r['cpu'], '.2f') for r in rows)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
