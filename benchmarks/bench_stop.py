"""How fast and how cleanly `newsbeam ingest` stops on SIGINT/SIGTERM.

Starts the CLI against the bundled sample site (on 127.0.0.1, --host-delay 0.5: a slow fetch), sends the signal
once a few article pages were requested (or once the first output file appears, with --when write), and reports
the seconds from the signal to the exit, the exit code, the requests made after the signal, the worker processes
left alive, the lines on stderr and the manifest's status.

    python -m benchmarks.bench_stop --signal SIGINT --repeat 3
    python -m benchmarks.bench_stop --signal SIGINT --repeat 3 -- --direct_running_mode multi_processing --direct_num_workers 2
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from newsbeam.sample_site import SampleSite


def stop_once(sig: signal.Signals, when: str, extra: list) -> dict:
    with tempfile.TemporaryDirectory() as folder, SampleSite() as site:
        out = Path(folder) / "out"
        delay = "0.5" if when == "fetch" else "0"
        args = [sys.executable, "-m", "newsbeam.pipelines.cli", "ingest", "--feeds",
                site.url("/feeds/subscriptions.opml"), "--host-delay", delay, "--entities", "off", "--output", str(out),
                "--run-id", "stopped", "--buckets", "8", *extra]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            if when == "fetch" and len([p for p, _ in site.requests() if p.startswith("/articles/")]) >= 3:
                break
            if when == "write" and (out / "articles").exists() and any((out / "articles").rglob("*")):
                break
            time.sleep(0.005)
        workers = psutil.Process(process.pid).children(recursive=True)
        before = len(site.requests())
        started = time.monotonic()
        os.killpg(process.pid, sig)  # the whole group, as a terminal's Ctrl-C
        _, err = process.communicate(timeout=120)
        seconds = time.monotonic() - started
        time.sleep(1.0)
        _, alive = psutil.wait_procs(workers, timeout=1)
        status = json.loads((out / "_runs" / "stopped.json").read_text())["status"]
        return {"seconds": seconds, "code": process.returncode, "requests_after": len(site.requests()) - before,
                "workers": len(workers), "alive": len(alive), "stderr_lines": len(err.strip().splitlines()),
                "tracebacks": err.count("Traceback"), "status": status}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signal", default="SIGINT", choices=["SIGINT", "SIGTERM"])
    parser.add_argument("--when", default="fetch", choices=["fetch", "write"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="after --: more ingest options (e.g. Beam's)")
    args = parser.parse_args()
    runs = [stop_once(signal.Signals[args.signal], args.when, args.extra) for _ in range(args.repeat)]
    for run in runs:
        print(json.dumps(run))
    print(f"{args.signal} during {args.when} {' '.join(args.extra)}: median {statistics.median(r['seconds'] for r in runs):.2f} s "
          f"to exit (max {max(r['seconds'] for r in runs):.2f} s) over {len(runs)} runs")


if __name__ == "__main__":
    main()
