"""What each poll of `newsbeam stream` costs on the in-process runner (its default), models kept between polls or not.

    python -m benchmarks.bench_stream_polls [--repeats 3] [--cycles 4] [--feed /feeds/levant.rss]

Each sample is a fresh interpreter that serves the bundled sample site on 127.0.0.1 and runs the stream driver
(`newsbeam.pipelines.stream.run_stream`, spaCy entities, `--max-cycles`) in-process over one feed: the first poll
writes its articles, the later ones find nothing new, as most polls of a real stream do. It reports each poll's
CPU (`time.process_time`, every thread of the process) and wall time. Arms, interleaved: `kept` (now: the driver
keeps the language profiles, spaCy models and gazetteer loaded between polls, `transforms.warmup.keep_models_loaded`)
and `reloaded` (before: `polls_in_process` answers False, so each poll's stages load them again).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_SAMPLE = """
import json, sys, tempfile, time
from pathlib import Path
from newsbeam.pipelines import stream
from newsbeam.sample_site import SampleSite

arm, feed, cycles = sys.argv[1], sys.argv[2], int(sys.argv[3])
if arm == "reloaded":
    stream.polls_in_process = lambda options: False
polls = []
mark = [time.process_time(), time.perf_counter()]
def on_cycle(outcome):
    now = [time.process_time(), time.perf_counter()]
    polls.append({"cpu": now[0] - mark[0], "wall": now[1] - mark[1], "status": outcome.status,
                  "articles": outcome.counters.get("articles.written", 0)})
    mark[:] = [time.process_time(), time.perf_counter()]
with SampleSite() as site, tempfile.TemporaryDirectory() as work:
    code = stream.run_stream(["--feeds", site.url(feed), "--host-delay", "0", "--allow-private-addresses",
                              "--output", str(Path(work) / "out"), "--max-cycles", str(cycles),
                              "--poll-interval", "0.1"], on_cycle=on_cycle)
print(json.dumps({"code": code, "polls": polls}))
"""


def _sample(arm: str, feed: str, cycles: int) -> dict:
    done = subprocess.run([sys.executable, "-c", _SAMPLE, arm, feed, str(cycles)], cwd=str(REPO),
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["code"] != 0 or len(result["polls"]) != cycles:
        raise RuntimeError(f"the stream did not end well: {result}")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=4, help="polls per sample (default: %(default)s)")
    parser.add_argument("--feed", default="/feeds/levant.rss", help="a feed of the sample site (default: %(default)s)")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f}")
    samples = {"kept": [], "reloaded": []}
    for _ in range(args.repeats):  # interleaved: the machine's load drifts
        for arm in samples:
            samples[arm].append(_sample(arm, args.feed, args.cycles))
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| arm | first poll CPU s | later polls CPU s (median) | later polls wall s (median) | articles "
          "(first, later) | later polls' CPU s, each |")
    print("|---|---:|---:|---:|---|---|")
    for arm, rows in samples.items():
        first = [row["polls"][0] for row in rows]
        later = [poll for row in rows for poll in row["polls"][1:]]
        print(f"| {arm} | {statistics.median(p['cpu'] for p in first):.2f} | "
              f"{statistics.median(p['cpu'] for p in later):.2f} | {statistics.median(p['wall'] for p in later):.2f} | "
              f"{first[0]['articles']}, {sum(p['articles'] for p in later)} | "
              f"{', '.join(format(p['cpu'], '.2f') for p in later)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
