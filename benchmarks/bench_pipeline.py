"""End-to-end throughput benchmark of the ingest pipeline, against its own CPU floor.

    /work/venv/bin/python benchmarks/bench_pipeline.py --pages 1000
    /work/venv/bin/python benchmarks/bench_pipeline.py --pages 1000 --latency-ms 200
    /work/venv/bin/python benchmarks/bench_pipeline.py --pages 10000
    /work/venv/bin/python benchmarks/bench_pipeline.py --pages 1000 --profile    # + py-spy of the 1-worker run

What it does, in one run:
1. generates N article pages (benchmarks/corpus.py: the sample site's page furniture, a new body per page) and
   serves them from a separate process on `--hosts` loopback ports (origins), each request delayed by
   `--latency-ms`; a URL list names them all;
2. FLOOR: fetches every page once (not timed), then does the same extract + language work the pipeline does
   (newsbeam.extraction.decode_html / extract_page, content_hash, word_count, LanguageDetector.detect) in a
   plain loop, and in a multiprocessing.Pool with one process per core (forked, and again spawned);
3. runs the real pipeline (`newsbeam.pipelines.ingest.run`) end to end, each mode in a fresh child process: `multi`
   (--direct_num_workers 2 --direct_running_mode multi_processing) and `single` (in-process, one worker);
4. prints articles/s, wall and CPU seconds per article, the pipeline's own per-stage timings (`stage_us.*`
   counters: wall microseconds summed over workers), the fetch window seen by the server, peak memory of the
   process tree, and the pipeline/floor ratios.

The pipeline is run with `--host-delay 0 --host-concurrency 8 --max-connections 32` (politeness off: this is a
throughput test of our own server). Nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import corpus, server  # noqa: E402

try:
    import psutil
except ImportError:  # optional: without it, memory is the largest single process (getrusage)
    psutil = None

PIPELINE_FLAGS = ["--host-delay", "0", "--host-concurrency", "8", "--max-connections", "32",
                  "--allow-private-addresses"]  # the benchmark server is on 127.0.0.1
MODES = {
    "multi": ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"],
    "single": ["--direct_num_workers", "1"],
}
EXTRA_FLAGS: List[str] = []  # --pipeline-flags: added to every run


# ---------------------------------------------------------------------------------------------- corpus + server

def real_pages(count: int, directory: Path, corpora: Path) -> List[str]:
    """The trafilatura evaluation set's real pages (mean ~170 KB of HTML), repeated under distinct URLs
    (`/r<copy>/...`, the server strips the prefix) until there are `count`; returns the URL paths."""
    import tarfile

    bodies = {}
    with tarfile.open(corpora / "trafilatura-eval.tar.xz", "r|xz") as archive:  # a stream: xz cannot seek back
        for member in archive:
            if member.isfile() and member.name.endswith(".html"):
                bodies[member.name] = archive.extractfile(member).read()
    directory.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(sorted(bodies)):
        (directory / f"eval-{index}.html").write_bytes(bodies[name])
    return [f"/r{n // len(bodies)}/eval-{n % len(bodies)}.html" if n >= len(bodies) else
            f"/eval-{n}.html" for n in range(count)]


def corpora_dir() -> Path:
    """The shared corpora: NEWSBEAM_CORPORA, else next to the repository, else /work/shared (from a worktree)."""
    corpora = Path(os.environ.get("NEWSBEAM_CORPORA") or REPO.parent / "shared" / "corpora")
    return corpora if (corpora / "trafilatura-eval.tar.xz").exists() else Path("/work/shared/corpora")


def corpus_pages(name: str, count: int, directory: Path) -> List[str]:
    """`count` pages of corpus `name` ('synthetic' or 'trafilatura-eval') written under `directory`; their URL
    paths."""
    if name == "synthetic":
        return generate_pages(count, directory)
    return real_pages(count, directory, corpora_dir())


def generate_pages(count: int, directory: Path) -> List[str]:
    templates, pools = corpus.load_templates()
    paths = []
    for number in range(count):
        path = corpus.page_path(number)
        target = directory / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(corpus.render_page(number, path, templates, pools), encoding="utf-8")
        paths.append(path)
    return paths


class PageServer:
    def __init__(self, page_dir: Path, hosts: int, latency_ms: float, nodelay: bool = True):
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=server.serve, args=(str(page_dir), hosts, latency_ms, child, nodelay),
                                        daemon=True, name="bench-server")
        self._process.start()
        child.close()
        if not self._conn.poll(300):
            raise RuntimeError("benchmark server did not start")
        hello = self._conn.recv()
        self.ports: List[int] = hello["ports"]
        self.pid: int = hello["pid"]
        self.pages: int = hello["pages"]

    def call(self, command: str):
        self._conn.send(command)
        return self._conn.recv()

    def stop(self):
        try:
            self._conn.send("stop")
        except OSError:
            pass
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)


# ---------------------------------------------------------------------------------------------- the floor

_DETECTOR = None
_TAGGER = None
FLOOR_BATCH = 32  # pages per floor task; also the entity stage's nlp.pipe batch, as in the pipeline


def _floor_init(with_entities: bool = False):
    global _DETECTOR, _TAGGER
    from newsbeam.language import LanguageDetector

    _DETECTOR = LanguageDetector()
    if with_entities:
        from newsbeam.entities import EntityTagger

        _TAGGER = EntityTagger()
        _TAGGER.load_all()  # set-up, not work: the tagger loads each model on first use


def floor_batch(pages: List[Tuple[str, bytes, Optional[str]]]) -> List[Tuple[str, float, float, float]]:
    """What the pipeline's extract and language steps (and, when set up, the entity step) do for these pages:
    (language or 'empty', s extract, s language, s entities) per page."""
    from newsbeam.extraction import EmptyText, ExtractionSettings, content_hash, decode_html, extract_page, word_count

    out, texts = [], []
    for url, body, charset in pages:
        started = time.perf_counter()
        try:
            decoded = decode_html(body, charset)
            content = extract_page(decoded.text, url, ExtractionSettings(), datetime.now(timezone.utc))
            content_hash(content.text)
            word_count(content.text)
        except EmptyText:
            out.append(["empty", time.perf_counter() - started, 0.0, 0.0])
            continue
        extracted = time.perf_counter()
        language, _ = _DETECTOR.detect(content.text)
        out.append([language, extracted - started, time.perf_counter() - extracted, 0.0])
        texts.append((len(out) - 1, content.text, language))
    if _TAGGER is not None and texts:
        started = time.perf_counter()
        _TAGGER.tag_many([(text, language) for _, text, language in texts])
        share = (time.perf_counter() - started) / len(texts)
        for index, _, _ in texts:
            out[index][3] = share
    return [tuple(o) for o in out]


def _batches(pages, size: int = FLOOR_BATCH):
    return [pages[i:i + size] for i in range(0, len(pages), size)]


def _pid(_):
    return os.getpid()


def _pool_cpu(pids) -> float:
    if psutil is None:
        return 0.0
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def _foreign(busy_before: Optional[float], own_cpu: float) -> Optional[float]:
    """CPU seconds other programs on the machine used since `busy_before` (own_cpu: ours meanwhile)."""
    busy_after = busy_cpu()
    if busy_before is None or busy_after is None:
        return None
    return max(0.0, busy_after - busy_before - own_cpu)


def fetch_once(urls: List[str]) -> List[Tuple[str, bytes, Optional[str]]]:
    def get(url):
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept-Encoding": "identity"}),
                                    timeout=60) as answer:
            return url, answer.read(), answer.headers.get_content_charset()

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        return list(pool.map(get, urls))


def measure_floor(pages, processes: int, with_entities: bool, methods=("fork", "spawn")) -> Dict[str, Dict]:
    results = {}
    # fork is Python's default on Linux: the pool's processes start as copies of this one, sharing its imported
    # modules' memory. spawn starts every process from scratch, as Beam starts its workers, so its set-up (imports,
    # models, gazetteer) is the same work a pipeline worker's set-up is, and its processes share nothing. The pools
    # come first: forked from a process that has not loaded the libraries and models yet, they pay their own
    # set-up (their "+set-up" rows), as the pipeline's workers do.
    for name, method in (("pool", "fork"), ("pool-spawn", "spawn")):
        if method not in methods or method not in multiprocessing.get_all_start_methods():
            continue
        results[name] = _measure_pool(multiprocessing.get_context(method), pages, processes, with_entities)
    setup_started = time.perf_counter()
    _floor_init(with_entities)
    setup_seconds = time.perf_counter() - setup_started
    floor_batch(pages[:2])  # warm
    cpu0, busy0 = _cpu_self(), busy_cpu()
    started = time.perf_counter()
    outcomes = [o for batch in _batches(pages) for o in floor_batch(batch)]
    wall = time.perf_counter() - started
    cpu = _cpu_self() - cpu0
    results["loop"] = _floor_figures(outcomes, wall, cpu, 1, _foreign(busy0, cpu), setup_seconds)
    return {name: results[name] for name in ("loop", "pool", "pool-spawn") if name in results}


def _measure_pool(context, pages, processes: int, with_entities: bool) -> Dict:
    before_children = _cpu_children()
    started = time.perf_counter()
    with context.Pool(processes, initializer=_floor_init, initargs=(with_entities,)) as pool:
        pool.map(_pid, range(processes * 4), chunksize=1)  # every worker up and set up
        pids = [worker.pid for worker in pool._pool]  # noqa: SLF001 - only way to know the workers' pids
        pool.map(floor_batch, [pages[i:i + 2] for i in range(0, processes * 4, 2)], chunksize=1)  # and warm
        ready = time.perf_counter()
        cpu0, busy0 = _pool_cpu(set(pids)), busy_cpu()
        outcomes = [o for batch in pool.map(floor_batch, _batches(pages), chunksize=1) for o in batch]
        done = time.perf_counter()
        cpu_total = _pool_cpu(set(pids))  # start-up and warm-up included
        cpu = cpu_total - cpu0
        foreign = _foreign(busy0, cpu)
        pool.close()
        pool.join()
    if not cpu:
        cpu = cpu_total = _cpu_children() - before_children  # without psutil: includes start-up and warm-up
    figures = _floor_figures(outcomes, done - ready, cpu, processes, foreign, ready - started)
    figures["setup_cpu"] = cpu_total - cpu
    return figures


def _floor_figures(outcomes, wall, cpu, processes, foreign, setup_seconds) -> Dict:
    return {
        "wall": wall, "cpu": cpu, "processes": processes, "foreign_cpu": foreign, "setup": setup_seconds,
        "pages": len(outcomes), "articles": sum(1 for o in outcomes if o[0] != "empty"),
        "extract": sum(o[1] for o in outcomes), "language": sum(o[2] for o in outcomes),
        "entities": sum(o[3] for o in outcomes), "languages": dict(Counter(o[0] for o in outcomes)),
    }


# ---------------------------------------------------------------------------------------------- trafilatura's CLI

# Our extraction settings in the CLI's terms (newsbeam.extraction.ExtractionSettings: favor precision, no fallback
# extractors, no comments, metadata); 'default' is the CLI as installed (fallback extractors on: slower).
TRAFILATURA_CLI = {
    "same": ["--precision", "--fast", "--no-comments", "--with-metadata"],
    "default": [],
}


def run_trafilatura_cli(setting: str, urls_file: Path, workdir: Path, parallel: int) -> Dict:
    """trafilatura's own command line on the same URLs: its fetching (a thread pool of `--parallel` downloads, one
    URL per host at a time, SLEEP_TIME apart: set to 0 here, as the pipeline runs without politeness delays) and
    its extraction, in its one process. Articles = the files it wrote."""
    import trafilatura

    config = workdir / "trafilatura-cli.cfg"
    text = (Path(trafilatura.__file__).parent / "settings.cfg").read_text()
    # the benchmark server is on 127.0.0.1, as for the pipeline's --allow-private-addresses
    text = re.sub(r"(?m)^SSRF_PROTECTION\s*=.*$", "SSRF_PROTECTION = off", text)
    config.write_text(re.sub(r"(?m)^SLEEP_TIME\s*=.*$", "SLEEP_TIME = 0", text))
    out = workdir / f"trafilatura-cli-{setting}"
    shutil.rmtree(out, ignore_errors=True)
    command = [str(Path(sys.executable).parent / "trafilatura"), "--input-file", str(urls_file), "--output-dir",
               str(out), "--parallel", str(parallel), "--config-file", str(config), "--output-format", "json",
               *TRAFILATURA_CLI[setting]]
    children0, busy0, self0 = _cpu_children(), busy_cpu(), _cpu_self()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=str(workdir), capture_output=True, text=True)
    wall = time.perf_counter() - started
    cpu = _cpu_children() - children0
    if done.returncode not in (0, 1):  # 1: some URLs gave nothing
        raise RuntimeError(f"trafilatura CLI failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    articles = sum(1 for f in out.rglob("*") if f.is_file()) if out.exists() else 0
    return {"name": f"trafilatura CLI ({setting})", "articles": articles, "wall": wall, "cpu": cpu,
            "foreign_cpu": _foreign(busy0, cpu + _cpu_self() - self0),
            "command": ["trafilatura", *command[1:]], "config": "its settings.cfg with SLEEP_TIME = 0, SSRF_PROTECTION = off"}


# ---------------------------------------------------------------------------------------------- pipeline runs

def busy_cpu() -> Optional[float]:
    """CPU seconds the whole machine spent busy so far (all cores, all processes), from /proc/stat; None elsewhere.

    The benchmark subtracts its own CPU from the difference to tell how much other programs took meanwhile:
    on a shared 2-core machine that is what makes a figure trustworthy or not."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait: float, threshold: float = 0.25) -> Optional[float]:
    """Waits (up to `max_wait` s) until other programs leave the machine idle: busy CPU below `threshold` cores
    for 3 s in a row. Returns the seconds waited, or None when it gave up."""
    if max_wait <= 0 or busy_cpu() is None:
        return 0.0
    started = time.monotonic()
    quiet = 0
    while time.monotonic() - started < max_wait:
        before = busy_cpu()
        time.sleep(1.0)
        quiet = quiet + 1 if busy_cpu() - before < threshold else 0
        if quiet >= 3:
            return time.monotonic() - started
    return None


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class TreeSampler:
    """Peak summed RSS and CPU of a process and all its descendants, sampled every `interval` seconds."""

    def __init__(self, pid: int, exclude=(), interval: float = 0.2):
        self._pid = pid
        self._exclude = set(exclude)
        self._interval = interval
        self._stop = threading.Event()
        self.peak_rss = 0
        self.peak_processes = 0
        self.cpu: Dict[int, float] = {}
        self.names: Dict[int, str] = {}
        self.peak_by_pid: Dict[int, int] = {}
        # (time, summed RSS, summed CPU s so far): memory and CPU against the stage timeline
        self.series: List[Tuple[float, int, float]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            try:
                root = psutil.Process(self._pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            total, count = 0, 0
            for process in tree:
                if process.pid in self._exclude:
                    continue
                try:
                    rss = process.memory_info().rss
                    total += rss
                    self.peak_by_pid[process.pid] = max(self.peak_by_pid.get(process.pid, 0), rss)
                    times = process.cpu_times()
                    self.cpu[process.pid] = times.user + times.system
                    if process.pid not in self.names:
                        self.names[process.pid] = _role(process.cmdline())
                    count += 1
                except psutil.Error:
                    continue
            self.peak_rss = max(self.peak_rss, total)
            self.series.append((time.time(), total, sum(self.cpu.values())))
            self.peak_processes = max(self.peak_processes, count)
            self._stop.wait(self._interval)


def _role(cmdline: List[str]) -> str:
    text = " ".join(cmdline)
    if "_child" in text:
        return "driver+runner"
    if "sdk_worker" in text or "SdkHarness" in text:
        return "sdk worker"
    if "py-spy" in text:
        return "py-spy"
    if "child_main" in text or "--multiprocessing-fork" in text:
        return "extraction watchdog"
    return (cmdline[-1] if cmdline else "?")[-40:]


def run_pipeline(mode: str, urls_file: Path, workdir: Path, page_server: PageServer, profile: Optional[str],
                 profile_gil: bool) -> Dict:
    out = workdir / f"out-{mode}"
    shutil.rmtree(out, ignore_errors=True)
    argv = ["--urls", str(urls_file), "--output", str(out), "--run-id", f"bench-{mode}", *PIPELINE_FLAGS,
            *EXTRA_FLAGS, *MODES[mode]]
    result_file = workdir / f"result-{mode}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "_child", json.dumps(argv), str(result_file)]
    profile_file = None
    if profile:
        profile_file = workdir / f"profile-{mode}.txt"
        command = [profile, "record", "--format", "raw", "-r", "100", "-o", str(profile_file), "--subprocesses",
                   *(["--gil"] if profile_gil else []), "--", *command]
    page_server.call("reset")
    server_cpu0 = page_server.call("stats")["cpu_seconds"]
    children_cpu0 = _cpu_children()
    busy0, self0 = busy_cpu(), _cpu_self()
    started = time.time()
    process = subprocess.Popen(command, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = TreeSampler(process.pid, exclude={page_server.pid}) if psutil else None
    if sampler:
        with sampler:
            output, _ = process.communicate()
    else:
        output, _ = process.communicate()
    elapsed = time.time() - started
    if process.returncode != 0 or not result_file.exists():
        raise RuntimeError(f"pipeline run {mode} failed (exit {process.returncode}):\n{output[-6000:]}")
    child = json.loads(result_file.read_text())
    stats = page_server.call("stats")
    # CPU of the run itself: the child's own (after its imports) plus every descendant it waited for; the sampler
    # also sees worker processes that were never waited for
    cpu = child["cpu_run"]
    if sampler and sampler.cpu:
        cpu = max(cpu, sum(sampler.cpu.values()) - child["cpu_start"])
    tree_total = _cpu_children() - children_cpu0
    if sampler and sampler.cpu:
        tree_total = max(tree_total, sum(sampler.cpu.values()))
    own = tree_total + (stats["cpu_seconds"] - server_cpu0) + (_cpu_self() - self0)
    by_process = []
    if sampler:
        by_process = sorted(((sampler.names.get(pid, "?"), round(value - (child["cpu_start"] if
                              sampler.names.get(pid) == "driver+runner" else 0), 1))
                             for pid, value in sampler.cpu.items()), key=lambda item: -item[1])
        child["rss_series"] = sampler.series
        child["rss_by_process"] = sorted(((sampler.names.get(pid, "?"), value) for pid, value in
                                          sampler.peak_by_pid.items()), key=lambda item: -item[1])
    child.update(mode=mode, process_seconds=elapsed, cpu=cpu, cpu_tree_total=tree_total, cpu_by_process=by_process,
                 foreign_cpu=_foreign(busy0, own), server=stats,
                 server_cpu=stats["cpu_seconds"] - server_cpu0, output_dir=str(out),
                 peak_rss=(sampler.peak_rss if sampler else child["maxrss_self"]),
                 peak_processes=(sampler.peak_processes if sampler else None),
                 profile_file=str(profile_file) if profile_file else None, log_tail=output[-3000:])
    return child


def _record_stage_timeline() -> List[Tuple[str, float, float]]:
    """(fused stage, start, end) of every bundle the FnApiRunner executes, by wrapping its _execute_bundle in
    this benchmark process only: shows where a run's wall time goes (set-up, fetch+CPU stage, writer, state)."""
    timeline: List[Tuple[str, float, float]] = []
    try:
        from apache_beam.runners.portability.fn_api_runner import fn_runner
    except ImportError:
        return timeline
    original = fn_runner.FnApiRunner._execute_bundle

    def execute_bundle(self, runner_execution_context, bundle_context_manager, bundle_input):
        started = time.time()
        try:
            return original(self, runner_execution_context, bundle_context_manager, bundle_input)
        finally:
            timeline.append((bundle_context_manager.stage.name, started, time.time()))

    fn_runner.FnApiRunner._execute_bundle = execute_bundle
    return timeline


def stage_label(name: str) -> str:
    """A fused stage's name lists its transforms; keep the distinct top-level step labels."""
    labels = []
    for label in re.findall(r"ref_AppliedPTransform_([A-Za-z0-9_\-]+?)_\d+", name) or [name[:60]]:
        top = "/".join(label.split("-")[:2])
        if top not in labels:
            labels.append(top)
    return "+".join(labels)[:110]


def child_main(argv_json: str, result_file: str) -> int:
    """Runs one ingest in this (fresh) process and writes what the parent needs to `result_file`."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("root").addFilter(lambda r: "apitools" not in r.getMessage())
    import newsbeam.pipelines.ingest as ingest

    argv = json.loads(argv_json)
    timeline = _record_stage_timeline()
    cpu_start = _cpu_self() + _cpu_children()  # imports done: start-up of this interpreter is not counted
    started = time.time()
    outcome = ingest.run(argv)
    ended = time.time()
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    Path(result_file).write_text(json.dumps({
        "status": outcome.status, "error": outcome.error, "seconds": outcome.seconds, "counters": outcome.counters,
        "started": started, "ended": ended, "cpu_start": cpu_start, "timeline": timeline,
        "cpu_run": _cpu_self() + _cpu_children() - cpu_start,
        "maxrss_self": own.ru_maxrss * 1024, "maxrss_children": children.ru_maxrss * 1024,
    }))
    return 0 if outcome.status == "succeeded" else 1


# ---------------------------------------------------------------------------------------------- profile summary

_OUR_FRAME = re.compile(r"\((transforms|newsbeam|schemas)/")
_CODER_FRAME = re.compile(r"apache_beam/coders/|pickle|cloudpickle|dill")


def attribute(frames: List[str]) -> str:
    """Where one stack sample belongs: the pipeline step (our outermost DoFn / transform frame), imports, Beam's
    coders, or the rest of Beam's runner."""
    if any("importlib" in frame for frame in frames):
        return "start-up: imports"
    ours = [frame for frame in frames if _OUR_FRAME.search(frame)]
    if ours:
        step = ours[0]
        return "step: " + step.split(" (")[0] + " (" + step.split(" (", 1)[1].split(":")[0] + ")"
    if any(_CODER_FRAME.search(frame) for frame in frames):
        return "beam: coders / pickling between steps"
    if any("apache_beam" in frame or "grpc" in frame for frame in frames):
        return "beam: runner, bundles, data plane"
    return "other: interpreter, threads, stdlib"


def summarize_profile(path: Path, top: int = 20) -> str:
    """Samples per pipeline step and the functions with the most self samples, from py-spy's raw output."""
    leaf, steps, processes = Counter(), Counter(), Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        parts = stack.split(";")
        frames = [f for f in parts if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples = int(count)
        total += samples
        leaf[frames[-1]] += samples
        steps[attribute(frames)] += samples
        # py-spy --subprocesses names the processes from the root down: `process PID:"command line"`; the last
        # is the one sampled
        process = next((f for f in reversed(parts) if f.startswith("process ")), "")
        processes[f"{process.split(':', 1)[0]} {_role(process.split(':', 1)[-1].strip(chr(34)).split())}"] += samples
    lines = [f"py-spy samples: {total}", "", "share by process:"]
    for label, samples in processes.most_common(8):
        lines.append(f"  {100 * samples / max(total, 1):5.1f} %  {label}")
    lines += ["", "share by pipeline step (inclusive):"]
    for label, samples in steps.most_common(25):
        lines.append(f"  {100 * samples / max(total, 1):5.1f} %  {label}")
    lines += ["", f"top {top} functions by self samples:"]
    for frame, samples in leaf.most_common(top):
        lines.append(f"  {100 * samples / max(total, 1):5.1f} %  {frame[:150]}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- report

def _fmt_bytes(value: Optional[float]) -> str:
    return "-" if not value else f"{value / 2**20:,.0f} MB"


def _fmt_cpu(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.1f}"


def report(args, pages: int, floor: Optional[Dict], runs: List[Dict], setup: Dict, clis: List[Dict] = ()) -> str:
    lines = []
    add = lines.append
    add("")
    add(f"newsbeam pipeline benchmark: {pages} pages, {args.hosts} host(s), latency {args.latency_ms:g} ms, "
        f"server {'with Nagle (--server-nagle)' if getattr(args, 'server_nagle', False) else 'TCP_NODELAY'}, "
        f"{os.cpu_count()} cores, python {sys.version.split()[0]}")
    add(f"corpus: {args.corpus}, {setup['files']} distinct files, {setup['bytes'] / setup['files'] / 1024:.1f} KB of HTML a page on average; "
        f"prepared in {setup['generate']:.1f} s; extra flags {' '.join(EXTRA_FLAGS) or 'none'}; runs: "
        + "; ".join(f"{name} = {' '.join(flags)}" for name, flags in MODES.items()))
    add(f"load average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    if floor:
        add(f"floor: measured on {floor['loop']['pages']} of the pages (fetched once beforehand in "
            f"{setup.get('prefetch', 0):.1f} s); entity tagger {setup.get('floor_entities')}; set-up (not timed): "
            + ", ".join(f"{name} {data['setup']:.1f} s" for name, data in floor.items()))
    add("")
    header = (f"{'run':<24}{'articles':>9}{'wall s':>8}{'art/s':>8}{'CPU s':>8}{'CPU ms/art':>11}"
              f"{'peak RSS':>10}{'others CPU s':>13}")
    add(header)
    add("-" * len(header))
    rates = {}
    if floor:
        for name, data in floor.items():
            rate = data["articles"] / data["wall"]
            rates[name] = rate
            add(f"{'floor: ' + name + ' (' + str(data['processes']) + 'p)':<24}{data['articles']:>9}"
                f"{data['wall']:>8.2f}{rate:>8.1f}{data['cpu']:>8.1f}{1000 * data['cpu'] / max(data['articles'], 1):>11.2f}"
                f"{'-':>10}{_fmt_cpu(data.get('foreign_cpu')):>13}")
        for name in ("pool", "pool-spawn"):
            if name not in floor:
                continue
            # the pool's start-up (its workers' model loading; spawned: their imports too) plus this run's pages
            # at its rate: a bare-library script measured end to end, paying its set-up as the pipeline does
            pool = floor[name]
            wall = pool["setup"] + pages / rates[name]
            rates[f"{name}+setup"] = pages / wall
            add(f"{'floor: ' + name + '+set-up':<24}{pages:>9}{wall:>8.2f}{rates[name + '+setup']:>8.1f}"
                f"{pool['cpu'] * pages / max(pool['articles'], 1) + pool['setup_cpu']:>8.1f}{'':>11}{'-':>10}{'':>13}")
    for cli in clis:
        rate = cli["articles"] / cli["wall"]
        rates[cli["name"]] = rate
        add(f"{cli['name']:<24}{cli['articles']:>9}{cli['wall']:>8.2f}{rate:>8.1f}{cli['cpu']:>8.1f}"
            f"{1000 * cli['cpu'] / max(cli['articles'], 1):>11.2f}{'-':>10}{_fmt_cpu(cli.get('foreign_cpu')):>13}")
    for run in runs:
        written = run["counters"].get("articles.written", 0)
        rate = written / run["seconds"] if run["seconds"] else 0
        rates[run["mode"]] = rate
        add(f"{'pipeline: ' + run['mode']:<24}{written:>9}{run['seconds']:>8.2f}{rate:>8.1f}{run['cpu']:>8.1f}"
            f"{1000 * run['cpu'] / max(written, 1):>11.2f}{_fmt_bytes(run['peak_rss']):>10}"
            f"{_fmt_cpu(run.get('foreign_cpu')):>13}")
    add("- wall s (pipeline): newsbeam.pipelines.ingest.run's own timing, from PipelineOptions to the final manifest "
        "(Beam's worker start-up included, interpreter start-up not).")
    add("- CPU s: user+system of the process tree (pipeline workers included; page server and start-up "
        "imports excluded). Peak RSS: summed over the tree (psutil, every 0.2 s).")
    add("- others CPU s: CPU that other programs on this machine used meanwhile; more than a few seconds "
        "means the figures of that row are disturbed.")
    if floor:
        add("- floor pool: forked processes (Python's default on Linux), which share this process's imported "
            "modules; pool-spawn: processes started from scratch, as Beam starts its workers; +set-up: "
            "that pool's own start-up (imports, models, gazetteer) plus this run's pages at its rate, i.e. a "
            "bare-library script measured end to end.")

    add("")
    add("per article, ms: the pipeline's stage_us.* counters (wall time inside each DoFn, summed over workers) "
        "against the floor's timings of the same calls:")
    header = f"{'':<24}{'extract':>9}{'language':>10}{'entities':>10}{'write':>8}{'CPU':>8}{'CPU over floor loop':>21}"
    add(header)
    loop_cpu = (1000 * floor["loop"]["cpu"] / max(floor["loop"]["articles"], 1)) if floor else None
    if floor:
        for name, data in floor.items():
            n = max(data["articles"], 1)
            add(f"{'floor: ' + name:<24}{1000 * data['extract'] / n:>9.2f}{1000 * data['language'] / n:>10.2f}"
                f"{1000 * data['entities'] / n:>10.2f}{'-':>8}{1000 * data['cpu'] / n:>8.2f}{'':>21}")
    main_stages = ("extract", "language", "entities", "write")
    for run in runs:
        counters = run["counters"]
        n = max(counters.get("articles.written", 0), 1)
        stage = {s: counters.get(f"stage_us.{s}", 0) / 1000 / n for s in main_stages}
        cpu = 1000 * run["cpu"] / n
        over = f"{cpu - loop_cpu:+.2f}" if loop_cpu is not None else "-"
        add(f"{'pipeline: ' + run['mode']:<24}{stage['extract']:>9.2f}{stage['language']:>10.2f}"
            f"{stage['entities']:>10.2f}{stage['write']:>8.2f}{cpu:>8.2f}{over:>21}")
    extra = sorted({name for run in runs for name in run["counters"] if name.startswith("stage_us.")}
                   - {f"stage_us.{s}" for s in main_stages})
    for run in runs:
        if extra:
            n = max(run["counters"].get("articles.written", 0), 1)
            add(f"  {run['mode']}: other timed stages, ms/article: " + ", ".join(
                f"{name.split('.', 1)[1]} {run['counters'].get(name, 0) / 1000 / n:.2f}" for name in extra))
    add("- 'CPU over floor loop' is what the pipeline spends per article beyond the floor's work: fetching (HTTP client threads), Beam's per-element work and coders between stages, GroupByKey, "
        "writing, state, worker start-up.")

    add("")
    add("fetching, as seen by the server:")
    for run in runs:
        stats = run["server"]
        if stats["first_start"] and stats["last_end"]:
            window = stats["last_end"] - stats["first_start"]
            add(f"  {run['mode']:<7} {stats['pages']} pages in a {window:.2f} s window, "
                f"{stats['pages'] / max(window, 1e-9):.0f} pages/s (from {stats['first_start'] - run['started']:.2f} s "
                f"to {stats['last_end'] - run['started']:.2f} s of a {run['ended'] - run['started']:.2f} s run); "
                f"at most {stats['max_in_flight']} requests in flight; server CPU {run['server_cpu']:.1f} s")
            tenths = tenth_rates(stats.get("page_times") or [])
            if tenths:
                add(f"  {run['mode']:<7} pages/s by tenth of the pages served (steady or slowing down?): "
                    + " ".join(f"{rate:.0f}" for rate in tenths))
    for run in runs:
        if run.get("peak_processes"):
            add(f"  {run['mode']:<7} peak {run['peak_processes']} process(es) in the tree; largest single process "
                f"{_fmt_bytes(max(run['maxrss_self'], run['maxrss_children']))}; CPU s by process: "
                + ", ".join(f"{name} {value:.1f}" for name, value in run.get("cpu_by_process", [])[:6])
                + "; peak RSS by process: "
                + ", ".join(f"{name} {_fmt_bytes(value)}" for name, value in run.get("rss_by_process", [])[:4]))

    for run in runs:
        timeline = run.get("timeline") or []
        if timeline:
            # ingest.run's own `seconds` end with the manifest; the spool's removal and the lock's release follow
            first, last = min(begin for _, begin, _ in timeline), max(end for _, _, end in timeline)
            add(f"  {run['mode']:<7} serial ends: {first - run['started']:.2f} s before the first bundle (options, "
                f"graph, runner), {run['ended'] - last:.2f} s after the last one (workers' shutdown, manifest, spool "
                f"removal); ingest.run returned after {run['ended'] - run['started']:.2f} s")
    for run in runs:
        spans = defaultdict(float)
        for name, begin, end in run.get("timeline", []):
            spans[stage_label(name)] += end - begin
        if spans:
            covered = sum(spans.values())
            add(f"  {run['mode']:<7} wall s, CPU s and peak RSS (summed over the tree) by fused stage (bundles run "
                f"one after another; {covered:.1f} s of {run['seconds']:.1f} s, the rest is graph construction, "
                f"start-up and the manifest; CPU from samples every 0.2 s):")
            peaks = stage_memory(run.get("timeline", []), run.get("rss_series", []))
            cpus = stage_cpu(run.get("timeline", []), run.get("rss_series", []))
            for label, seconds in spans.items():  # in the order the stages first ran
                if seconds >= 0.1 or label in peaks:
                    add(f"            {seconds:7.2f} s {cpus.get(label, 0):7.2f} s CPU {_fmt_bytes(peaks.get(label)):>9}"
                        f"  {label}")
            # the stage that runs the pages' fetch step (the one before it only ends in its input)
            fetch = sorted((label for label in spans if "Core/Fetch" in label), key=lambda label: -spans[label])
            if fetch:
                written = max(run["counters"].get("pages.fetched", 0), 1)
                add(f"  {run['mode']:<7} fetch stage ({fetch[0][:60]}...): {spans[fetch[0]]:.2f} s, "
                    f"{1000 * spans[fetch[0]] / written:.2f} ms wall and {1000 * cpus.get(fetch[0], 0) / written:.2f} ms "
                    f"CPU (whole tree, runner included) a fetched page")

    if (floor or clis) and runs:
        add("")
        add("pipeline / baseline throughput (articles/s ratio; 1.0 = as fast as the bare per-article work of the "
            "floor, or as trafilatura's own CLI):")
        for run in runs:
            add(f"  {run['mode']:<7} " + ", ".join(
                f"{rates[run['mode']] / rates[name]:.2f} x {name if name.startswith('trafilatura') else 'floor ' + name}"
                for name in rates if name not in MODES))
    for cli in clis:
        add(f"{cli['name']}: {' '.join(cli['command'])} (config: {cli['config']})")
        if "pool" in rates:
            add(f"  target: >= 0.85 x floor pool (fork, Python's default on Linux) = {0.85 * rates['pool']:.1f} "
                f"articles/s")
    for run in runs:
        if run["status"] != "succeeded":
            add(f"WARNING: run {run['mode']} ended with status {run['status']}: {run['error']}")
        written = run["counters"].get("articles.written", 0)
        if written != pages:
            dead = {k: v for k, v in run["counters"].items() if k.startswith("dead_letters.reason.")}
            add(f"WARNING: run {run['mode']} wrote {written} of {pages} articles; dead letters: {dead}")
    return "\n".join(lines)


def stage_memory(timeline, series) -> Dict[str, int]:
    """The highest summed RSS of the process tree seen while each fused stage ran."""
    peaks: Dict[str, int] = {}
    for name, begin, end in timeline:
        seen = [sample[1] for sample in series if begin <= sample[0] <= end]
        if seen:
            label = stage_label(name)
            peaks[label] = max(peaks.get(label, 0), max(seen))
    return peaks


def stage_cpu(timeline, series) -> Dict[str, float]:
    """CPU seconds the process tree used while each fused stage ran (the sampled total, interpolated at the
    bundles' start and end)."""
    samples = [(sample[0], sample[2]) for sample in series if len(sample) > 2]
    if len(samples) < 2:
        return {}

    def at(moment: float) -> float:
        for (t0, c0), (t1, c1) in zip(samples, samples[1:]):
            if t0 <= moment <= t1:
                return c0 + (c1 - c0) * (moment - t0) / max(t1 - t0, 1e-9)
        return samples[0][1] if moment < samples[0][0] else samples[-1][1]

    used: Dict[str, float] = defaultdict(float)
    for name, begin, end in timeline:
        used[stage_label(name)] += at(end) - at(begin)
    return dict(used)


def tenth_rates(times: List[float]) -> List[float]:
    """Pages per second in each tenth of the pages, in the order they were served."""
    times = sorted(times)
    if len(times) < 20:
        return []
    step = len(times) // 10
    return [step / max(times[min(i + step, len(times) - 1)] - times[i], 1e-9) for i in range(0, step * 10, step)]


def _quiet(max_wait: float) -> None:
    if max_wait > 0:
        waited = wait_for_quiet(max_wait)
        print("  machine busy with other programs: measuring anyway" if waited is None
              else f"  machine quiet after {waited:.0f} s", flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_child":
        return child_main(argv[1], argv[2])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=1000, help="article pages to generate and ingest")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="server delay before each answer")
    parser.add_argument("--hosts", type=int, default=8, help="origins (loopback ports) the pages are spread over")
    parser.add_argument("--corpus", choices=("synthetic", "trafilatura-eval"), default="synthetic",
                        help="synthetic: pages built from the sample site (~13 KB); trafilatura-eval: the 990 real "
                             "pages of trafilatura's evaluation set (~170 KB), repeated under distinct URLs to "
                             "reach --pages (needs the shared corpora; NEWSBEAM_CORPORA overrides where)")
    parser.add_argument("--pipeline-flags", default="", metavar="FLAGS",
                        help="extra ingest flags for every run, e.g. '--entities off'")
    parser.add_argument("--compare", action="append", default=[], metavar="LABEL=FLAGS",
                        help="one more run, labelled LABEL: the multi mode plus FLAGS (e.g. "
                             "'base=--redistribute off'), so a lever and its baseline are measured in one run; "
                             "repeatable")
    parser.add_argument("--modes", default=None,
                        help="pipeline runs, comma-separated: multi, single (default: both up to 2000 pages, "
                             "multi only above, to stay within ~10 minutes on 2 cores)")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor measurement")
    parser.add_argument("--floor-pages", type=int, default=None,
                        help="pages the floor is measured on (default: all, at most 1000; its cost per page "
                             "does not depend on the count)")
    parser.add_argument("--floor-entities", choices=("on", "off"), default="on",
                        help="include the entity tagger in the floor, as the pipeline's entity stage does")
    parser.add_argument("--floor-processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--trafilatura-cli", action="append", default=[], choices=sorted(TRAFILATURA_CLI),
                        help="also run trafilatura's own CLI on the same URLs (fetching and extracting): 'same' at "
                             "our extraction settings, 'default' as installed; repeatable")
    parser.add_argument("--profile", action="store_true",
                        help="run the single-worker pipeline under py-spy (all threads) and summarise it")
    parser.add_argument("--profile-gil", action="store_true", help="py-spy --gil: only samples holding the GIL")
    parser.add_argument("--profile-mode", default="single", metavar="MODE",
                        help="the run --profile samples (default single: one worker; multi: the whole process tree)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                        help="before each measurement, wait up to S seconds for other programs to leave the "
                             "machine idle (useful on a shared machine)")
    parser.add_argument("--server-nagle", action="store_true",
                        help="the page server as before 2026-11-30: Nagle's algorithm on, each answer waits ~40 ms "
                             "for the client's delayed ACK of its headers (caps one host at ~180 pages/s)")
    parser.add_argument("--workdir", default=None, help="keep pages, outputs and profiles here")
    parser.add_argument("--json", default=None, help="also write the raw figures to this file")
    args = parser.parse_args(argv)
    if args.modes is None:
        args.modes = "multi,single" if args.pages <= 2000 else "multi"
    modes = [m for m in args.modes.split(",") if m]
    EXTRA_FLAGS[:] = args.pipeline_flags.split()
    for spec in args.compare:
        label, _, flags = spec.partition("=")
        if not label or label in MODES:
            parser.error(f"--compare {spec!r}: give a new LABEL=FLAGS")
        MODES[label] = MODES["multi"] + flags.split()
        modes.insert(0, label)
    for mode in modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r}")
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="newsbeam-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    profiler = None
    if args.profile:
        profiler = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(profiler).exists():
            parser.error("--profile needs py-spy (pip install py-spy)")

    setup = {}
    started = time.perf_counter()
    page_dir = workdir / "pages"
    shutil.rmtree(page_dir, ignore_errors=True)
    paths = corpus_pages(args.corpus, args.pages, page_dir)
    setup["generate"] = time.perf_counter() - started
    files = list(page_dir.rglob("*.html"))
    setup["bytes"], setup["files"] = sum(f.stat().st_size for f in files), len(files)
    page_server = PageServer(page_dir, args.hosts, args.latency_ms, nodelay=not args.server_nagle)
    runs, floor, profiled, clis = [], None, None, []
    try:
        urls = [server.url_for(page_server.ports, n, path) for n, path in enumerate(paths)]
        urls_file = workdir / "urls.txt"
        urls_file.write_text("".join(u + "\n" for u in urls))
        print(f"{len(urls)} pages on {args.hosts} host(s) at latency {args.latency_ms:g} ms; workdir {workdir}",
              flush=True)
        if not args.no_floor:
            sample = urls[:args.floor_pages or min(len(urls), 1000)]
            started = time.perf_counter()
            fetched = fetch_once(sample)
            setup["prefetch"] = time.perf_counter() - started
            with_entities = args.floor_entities == "on"
            setup["floor_entities"] = "included" if with_entities else "off"
            _quiet(args.wait_quiet)
            print(f"floor: plain loop and process pool on {len(sample)} pages, entities {setup['floor_entities']} ...",
                  flush=True)
            floor = measure_floor(fetched, args.floor_processes, with_entities)
            del fetched
        for setting in args.trafilatura_cli:
            _quiet(args.wait_quiet)
            print(f"trafilatura CLI ({setting}) ...", flush=True)
            page_server.call("reset")
            clis.append(run_trafilatura_cli(setting, urls_file, workdir, args.floor_processes))
        for mode in modes:
            _quiet(args.wait_quiet)
            print(f"pipeline: {mode} ...", flush=True)
            runs.append(run_pipeline(mode, urls_file, workdir, page_server, None, False))
        if profiler:  # a separate run: the sampler's own cost must not show in the table
            print(f"pipeline: {args.profile_mode}, under py-spy ...", flush=True)
            profiled = run_pipeline(args.profile_mode, urls_file, workdir, page_server, profiler, args.profile_gil)
    finally:
        page_server.stop()
    text = report(args, args.pages, floor, runs, setup, clis)
    print(text)
    if profiled and Path(profiled["profile_file"]).exists():
        written = profiled["counters"].get("articles.written", 0)
        print(f"\nprofile of the {args.profile_mode} pipeline run (py-spy, {'GIL holders only' if args.profile_gil else 'all non-idle threads'}; "
              f"{written} articles in {profiled['seconds']:.1f} s under the sampler; raw stacks in "
              f"{profiled['profile_file']}):\n{summarize_profile(Path(profiled['profile_file']))}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "setup": setup, "floor": floor, "trafilatura_cli": clis, "runs": [
            {k: v for k, v in r.items() if k != "log_tail"} for r in runs]}, indent=2, default=str))
    if not args.workdir and not profiled:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(r["status"] == "succeeded" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
