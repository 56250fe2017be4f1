"""`ingest --warc` of two trees over one WARC file, interleaved (A, B, A, B ...), each run in a fresh process on 2
workers: whole run, reading to the end of extraction, the extraction stage, CPU and the phases outside the stage.

    git -C /work/main archive main | tar -x -C /tmp/warcfuse-base
    flock /work/wt/bench.lock .venv/bin/python benchmarks/bench_warc_ab.py --base /tmp/warcfuse-base \
        --warc /tmp/warcfuse-bench/base/input/corpus.warc.gz --repeats 2

The WARC file is the one `bench_archive.py --part warc-input` writes (`WORKDIR/input/corpus.warc.gz`). The base
tree runs with this venv: a `sitecustomize` on its PYTHONPATH points the editable install of newsbeam at it (its
worker processes inherit it), so both trees run the same libraries. Ratios of neighbouring runs are what count.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_archive import _WARC_STAGES, _window, load, run_phases  # noqa: E402

_SHIM = """try:
    import __editable___newsbeam_0_1_0_finder as finder
    finder.MAPPING.update({{k: v.replace({repo!r}, {tree!r}) for k, v in finder.MAPPING.items()}})
except ImportError:
    pass
"""


def run_once(tree: Path, env: dict, warc: str, out: Path, result: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    argv = ["--warc", warc, "--output", str(out), "--run-id", "ab", "--entities", "off",
            "--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
    subprocess.run([sys.executable, str(tree / "benchmarks" / "bench_pipeline.py"), "_child", json.dumps(argv),
                    str(result)], cwd=str(tree), env={**os.environ, **env}, check=True, capture_output=True)
    return json.loads(result.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="a snapshot of the base tree (git archive)")
    parser.add_argument("--warc", required=True)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="warc-ab-") as scratch:
        shim = Path(scratch) / "shim"
        shim.mkdir()
        (shim / "sitecustomize.py").write_text(_SHIM.format(repo=str(REPO), tree=str(Path(args.base).resolve())))
        trees = {"base": (Path(args.base).resolve(), {"PYTHONPATH": str(shim)}), "branch": (REPO, {})}
        for repeat in range(args.repeats):
            for name, (tree, env) in trees.items():
                before = load()
                run = run_once(tree, env, args.warc, Path(scratch) / f"out-{name}", Path(scratch) / "result.json")
                print(f"{name} {repeat}: whole {run['seconds']:.1f} s, read..extract "
                      f"{_window(run['timeline'], _WARC_STAGES):.1f} s, stage {_window(run['timeline'], ('WarcCore',)):.1f} s, "
                      f"cpu {run['cpu_run']:.1f} s, articles {run['counters'].get('articles.extracted')}, "
                      f"load {before} -> {load()}", flush=True)
                print("   phases: " + ", ".join(f"{label} {s:.2f}" for label, s in run_phases(run)[:9]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
