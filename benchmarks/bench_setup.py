"""Per-worker set-up CPU (issue 16): the extraction watchdog's child start-up and the entity tagger's loading.

    python -m benchmarks.bench_setup [--repeats 3] [--part all|process]

Each figure is the CPU (user + system) of fresh processes, median of `--repeats`:
- watchdog child, from a process whose main module imports Beam's SDK harness as a Beam worker's does
  (`apache_beam.runners.worker.sdk_worker_main`): started with `multiprocessing`'s spawn (how newsbeam.watchdog
  did it before: spawn re-runs the parent's main module in the child) against `subprocess` (how it does now), each
  until the child has imported `newsbeam.article` and answered;
- entity tagger: everything loaded at set-up as before (gazetteer from its cache, both spaCy models, the French
  regex compiled) against the lazy tagger with the compiled-regex cache, when English and French texts arrive and
  when only English ones do;
- extraction of 99 real pages (every tenth of trafilatura's evaluation set) in a fresh process, with dateparser's
  per-locale expressions compiled as the pages need them (before) against loaded from the disk cache (now);
- per process (`--part process` measures only this): a fresh driver's CLI start-up to its first answer (it imports
  Beam and the pipeline to build its parser), and a fresh worker's imports (Beam's SDK harness, the steps'
  modules), language profiles and gazetteer (from its cache), each phase's CPU. Run it in two checkouts to compare
  commits.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_WATCHDOG = """
import json, resource, sys, time
import apache_beam.runners.worker.sdk_worker_main  # noqa: F401 - what a worker's main module has loaded
from newsbeam.article import extract_article

def cpu_children():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

if __name__ == "__main__":
    how = sys.argv[1]
    before, started = cpu_children(), time.perf_counter()
    if how == "spawn":
        import multiprocessing
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=_ready, args=(child, extract_article))
        process.start()
        parent.recv()
        parent.close()
        process.join()
    else:
        from newsbeam.watchdog import Watchdog
        watchdog = Watchdog(extract_article, 30)
        watchdog._start()
        watchdog.close()
    print(json.dumps({"cpu": cpu_children() - before, "wall": time.perf_counter() - started}))
"""

_READY = """
def _ready(connection, function):
    connection.send("ready")
"""

_TAGGER = """
import json, sys, time
from newsbeam.entities import EntitySettings, EntityTagger
how, directory = sys.argv[1], sys.argv[2]
if how == "eager":  # as before: no regex cache read or written
    from newsbeam.entities import compiled_patterns
    compiled_patterns.remember = lambda *args: None
started = time.process_time()
tagger = EntityTagger(EntitySettings(gazetteer_cache=directory))
if how == "eager":
    tagger.load_all()
docs = [("Judge Helen Carter spoke in Raqqa.", "en")]
if how != "lazy-en":
    docs.append(("Combats à Raqqa, selon Emmanuel Macron.", "fr"))
tagger.tag_many(docs)
print(json.dumps({"cpu": time.process_time() - started, "loaded": tagger.loaded_languages()}))
"""


_DATES = """
import json, os, sys, time
from datetime import datetime, timezone
os.environ["NEWSBEAM_CACHE_DIR"] = sys.argv[2]
from newsbeam import dateparser_cache
from newsbeam.article import extract_article
from newsbeam.extraction import ExtractionSettings
from newsbeam.schemas.records import FeedItem, FetchedPage, FetchRequest
pages = sorted(os.listdir(sys.argv[3]))[::10][:100]
settings, fetched_at = ExtractionSettings(), datetime(2026, 11, 1, tzinfo=timezone.utc)
started = time.process_time()
warm = dateparser_cache.Warm(dateparser_cache.default_directory())
warm.load()
for index, name in enumerate(pages):
    url = f"http://x/{index}"
    page = FetchedPage(request=FetchRequest(url=url, context=FeedItem(url=url, canonical_url=url)), final_url=url,
                       status=200, content_type="text/html", header_charset=None,
                       body=open(os.path.join(sys.argv[3], name), "rb").read(), fetched_at=fetched_at, attempts=1)
    try:
        extract_article(page, settings)
    except Exception:
        pass
if sys.argv[1] == "save":
    warm.save_if_grown()
print(json.dumps({"cpu": time.process_time() - started}))
"""


_PROCESS = """
import json, sys, time
# what a Beam worker process sets up: the SDK harness, the modules of the pipeline's steps, the language profiles,
# the gazetteer (cache filled: sys.argv[2]); or the driver: the CLI's parser (it imports Beam and the pipeline)
import os
os.environ["NEWSBEAM_CACHE_DIR"] = sys.argv[2]
phases, started = {}, time.process_time()

def phase(name):
    global started
    now = time.process_time()
    phases[name] = now - started
    started = now

if sys.argv[1] == "driver":
    from newsbeam.pipelines import cli
    assert cli.main(["inspect", os.path.join(sys.argv[2], "not-an-output")]) == 2
    phase("driver: CLI start-up to its first answer")
else:
    import apache_beam.runners.worker.sdk_worker_main  # noqa: F401
    import newsbeam.transforms.core, newsbeam.transforms.entities, newsbeam.transforms.incremental  # noqa: F401
    import newsbeam.transforms.write  # noqa: F401
    phase("worker: imports (Beam's harness, the steps' modules)")
    from newsbeam.language import LanguageDetector
    LanguageDetector()
    phase("worker: language profiles")
    from newsbeam.entities import EntitySettings, EntityTagger
    EntityTagger(EntitySettings())
    phase("worker: entity tagger set-up (gazetteer from its cache)")
print(json.dumps(phases))
"""


def _eval_pages(directory: Path) -> Path:
    import tarfile

    from benchmarks.bench_pipeline import corpora_dir

    with tarfile.open(corpora_dir() / "trafilatura-eval.tar.xz", "r|xz") as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".html"):
                (directory / Path(member.name).name).write_bytes(archive.extractfile(member).read())
    return directory


def run_child(args, env=None, timeout: float = 600) -> dict:
    """A fresh interpreter's measurement: `python ARGS` from the repository, the JSON object it prints last."""
    done = subprocess.run([sys.executable, *args], cwd=str(REPO), capture_output=True, text=True, env=env,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--part", choices=("all", "process"), default="all")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="newsbeam-bench-setup-") as work:
        work = Path(work)
        rows = _per_process(work, args.repeats)
        if args.part == "all":
            _set_up_steps(work, args.repeats, rows)
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| set-up step | CPU s (median) | runs |")
    print("|---|---:|---|")
    for label, values in rows.items():
        print(f"| {label} | {statistics.median(values):.2f} | {', '.join(f'{v:.2f}' for v in values)} |")
    return 0


def _per_process(work: Path, repeats: int) -> dict:
    cache = work / "process-cache"
    cache.mkdir(mode=0o700)
    script = work / "process.py"
    script.write_text(_PROCESS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    run_child([str(script), "worker", str(cache)], env)  # fills the gazetteer cache
    rows: dict = {}
    for _ in range(repeats):  # interleaved: the machine's load drifts
        for how in ("driver", "worker"):
            for label, seconds in run_child([str(script), how, str(cache)], env).items():
                rows.setdefault(label, []).append(seconds)
    phases = [rows[label] for label in list(rows) if label.startswith("worker:")]
    rows["worker: the three together"] = [sum(values) for values in zip(*phases)]
    return rows


def _set_up_steps(work: Path, repeats: int, rows: dict) -> None:
    module = work / "worker_like.py"
    module.write_text(_READY + _WATCHDOG)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(work), str(REPO), os.environ.get("PYTHONPATH", "")]))
    for _ in range(repeats):  # interleaved: the machine's load drifts
        for how in ("spawn", "subprocess"):
            rows.setdefault(f"watchdog child: {how}", []).append(run_child(["-m", "worker_like", how], env)["cpu"])
    cache = work / "cache"
    cache.mkdir(mode=0o700)
    no_regex = work / "cache-no-regex"
    no_regex.mkdir(mode=0o700)
    tagger = work / "tagger.py"
    tagger.write_text(_TAGGER)
    run_child([str(tagger), "lazy", str(cache)])  # fills the gazetteer and regex caches
    for name in os.listdir(cache):  # the same gazetteer without the regex file: the set-up as before
        if name.startswith("gazetteer-"):
            os.link(cache / name, no_regex / name)
    for _ in range(repeats):
        rows.setdefault("tagger: eager, no regex cache (before)", []).append(
            run_child([str(tagger), "eager", str(no_regex)])["cpu"])
        rows.setdefault("tagger: lazy + regex cache, en and fr texts", []).append(
            run_child([str(tagger), "lazy", str(cache)])["cpu"])
        rows.setdefault("tagger: lazy, en texts only", []).append(run_child([str(tagger), "lazy-en", str(cache)])["cpu"])
    (work / "pages").mkdir()
    pages = _eval_pages(work / "pages")
    dates = work / "dates.py"
    dates.write_text(_DATES)
    filled, empty = work / "dates-filled", work / "dates-empty"
    filled.mkdir(mode=0o700)
    run_child([str(dates), "save", str(filled), str(pages)])  # fills the dateparser cache
    for _ in range(repeats):
        empty.mkdir(mode=0o700)
        rows.setdefault("extraction, first 99 pages: no dateparser cache (before)", []).append(
            run_child([str(dates), "none", str(empty), str(pages)])["cpu"])
        empty.rmdir()
        rows.setdefault("extraction, first 99 pages: dateparser cache loaded", []).append(
            run_child([str(dates), "none", str(filled), str(pages)])["cpu"])


if __name__ == "__main__":
    sys.exit(main())
