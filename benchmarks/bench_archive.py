"""What the WARC archive costs, and how fast `--warc` input runs, on loopback only, on real-size pages.

    .venv/bin/python benchmarks/bench_archive.py --part archive --hosts 1 --repeats 3
    .venv/bin/python benchmarks/bench_archive.py --part archive --hosts 8 --repeats 2 --pages 600
    .venv/bin/python benchmarks/bench_archive.py --part warc-input --repeats 1
    .venv/bin/python benchmarks/bench_archive.py --part write --pages 300   # WarcFileWriter alone

Corpus: trafilatura's 990-page evaluation set (bench_pipeline.corpus_pages, ~141 KB of HTML a page; `--corpus
synthetic` for the 13 KB generated pages), served by bench_pipeline's loopback server without latency.

`--part archive`, for each `--hosts` count: ingests every page `--repeats` times with `--archive off` and with
`--archive all`, interleaved (off, all, off, all, ...), each run in a fresh process (bench_pipeline's child, one
in-process worker by default); reports per configuration the median and best wall time, articles/s and CPU per
article, the median of the paired ratios (each `all` run against the `off` run just before it: load drifts
slowly on a shared machine, so neighbours are the fairest comparison), and the archive's bytes per article
against the Parquet articles'.

`--part write`: WarcFileWriter alone on these pages (gzip-encoded as served), CPU and bytes per entry, with
compressed bodies stored and with every member deflated at level 6.

`--part warc-input`: fetches every page once, writes them into one WARC file with warcio (response records, as a
crawler would), then `--repeats` times: the bare-library floor (the same extract + language work in a plain
loop and in a forked `multiprocessing.Pool(2)`, bench_pipeline.measure_floor, timed after their set-up; and the
script a user would write instead, run fresh and timed end to end: warcio reads the file and feeds a forked
Pool(2) that imports the libraries and loads the models itself) and `ingest --warc` over that file
with 2 workers (no network at all); reports the whole run (with start-up) and its processing stages (from the
first bundle of the stages that read and extract to the last) against the floor.

Entities are off in every run and in the floor (`--entities on` to include them in both), so that the
comparison is of the same work.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import bench_pipeline, server  # noqa: E402

# the stages that read the WARC files, extract and detect the language (bench_pipeline's stage timeline)
_WARC_STAGES = ("ReadWarc", "WarcCore")


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


def load() -> str:
    with open("/proc/loadavg") as file:
        return " ".join(file.read().split()[:3])


# ---------------------------------------------------------------------------------------------- archive cost

def measure_archive(args, page_dir: Path, paths: List[str], hosts: int, flags: List[str]) -> Dict[str, List[Dict]]:
    workdir = Path(args.workdir)
    page_server = bench_pipeline.PageServer(page_dir, hosts=hosts, latency_ms=0)
    runs: Dict[str, List[Dict]] = {"off": [], "all": []}
    try:
        urls = [server.url_for(page_server.ports, number, path) for number, path in enumerate(paths)]
        urls_file = workdir / f"urls-{hosts}.txt"
        urls_file.write_text("\n".join(urls) + "\n")
        for repeat in range(args.repeats):
            for archive in ("off", "all"):
                out = workdir / f"out-{archive}"
                shutil.rmtree(out, ignore_errors=True)
                bench_pipeline._quiet(args.wait_quiet)
                before = load()
                child = run_child(["--urls", str(urls_file), "--output", str(out), "--run-id", f"b{repeat}",
                                   "--archive", archive, *flags, "--direct_num_workers", str(args.workers),
                                   *(["--direct_running_mode", "multi_processing"] if args.workers > 1 else [])],
                                  workdir, archive)
                child["load"] = f"{before} -> {load()}"
                child["articles"] = child["counters"].get("articles.written", 0)
                child["warc_bytes"] = size_of(out / "warc", ".warc.gz")
                child["parquet_bytes"] = size_of(out / "articles", ".parquet")
                runs[archive].append(child)
                print(f"  hosts {hosts} repeat {repeat} --archive {archive}: {child['seconds']:.1f} s, "
                      f"{1000 * child['cpu_run'] / max(1, child['articles']):.1f} CPU ms/article, load {child['load']}",
                      flush=True)
    finally:
        page_server.stop()
    return runs


def report_archive(args, hosts: int, runs: Dict[str, List[Dict]]) -> str:
    def rate(run):
        return run["articles"] / run["seconds"]

    def cpu(run):
        return 1000 * run["cpu_run"] / max(1, run["articles"])

    lines = [f"### {hosts} host(s): {args.corpus}, {runs['off'][0]['articles']} articles, {args.repeats} interleaved "
             f"repeats, {args.workers} worker(s), entities {args.entities}", "",
             "| run | median wall s | best wall s | median art/s | best art/s | median CPU ms/art | "
             "least CPU ms/art | all walls s |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    summary = {}
    for key in ("off", "all"):
        group = runs[key]
        summary[key] = {"wall": statistics.median(r["seconds"] for r in group),
                        "best": min(r["seconds"] for r in group),
                        "rate": statistics.median(rate(r) for r in group), "best_rate": max(rate(r) for r in group),
                        "cpu": statistics.median(cpu(r) for r in group), "least_cpu": min(cpu(r) for r in group)}
        s = summary[key]
        lines.append(f"| `--archive {key}` | {s['wall']:.1f} | {s['best']:.1f} | {s['rate']:.2f} | "
                     f"{s['best_rate']:.2f} | {s['cpu']:.1f} | {s['least_cpu']:.1f} | "
                     f"{', '.join(format(r['seconds'], '.1f') for r in group)} |")
    paired_rate = statistics.median(rate(b) / rate(a) for a, b in zip(runs["off"], runs["all"]))
    paired_cpu = statistics.median(cpu(b) / cpu(a) for a, b in zip(runs["off"], runs["all"]))
    on = runs["all"][-1]
    lines += [
        "",
        f"- throughput with the archive against without (negative: slower): median of paired runs "
        f"**{100 * (paired_rate - 1):+.1f} %**; medians {100 * (summary['all']['rate'] / summary['off']['rate'] - 1):+.1f} %; "
        f"bests {100 * (summary['all']['best_rate'] / summary['off']['best_rate'] - 1):+.1f} %",
        f"- CPU per article: median of paired runs {100 * (paired_cpu - 1):+.1f} %; "
        f"medians {100 * (summary['all']['cpu'] / summary['off']['cpu'] - 1):+.1f} %; "
        f"least {100 * (summary['all']['least_cpu'] / summary['off']['least_cpu'] - 1):+.1f} %",
        f"- bytes per article: WARC {on['warc_bytes'] / max(1, on['articles']):,.0f}, Parquet articles "
        f"{on['parquet_bytes'] / max(1, on['articles']):,.0f} (ratio {on['warc_bytes'] / max(1, on['parquet_bytes']):.1f}x)",
        f"- load average before -> after each run: {'; '.join(r['load'] for pair in zip(runs['off'], runs['all']) for r in pair)}",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- WARC input

def write_warc(pages, target: Path) -> None:
    """The fetched pages as response records of one gzip-per-record WARC file, as a crawler writes them."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for url, body, charset in pages:
            content_type = f"text/html; charset={charset}" if charset else "text/html"
            http = StatusAndHeaders("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))],
                                    protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=BytesIO(body), length=len(body),
                                                          http_headers=http))


def _warc_batches(path: Path, size: int):
    """The response records of a WARC file as the floor's batches of (url, body, charset), read with warcio."""
    from warcio.archiveiterator import ArchiveIterator

    batch = []
    with open(path, "rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type != "response":
                continue
            content_type = record.http_headers.get_header("Content-Type") or ""
            charset = content_type.partition("charset=")[2].strip() or None
            batch.append((record.rec_headers.get_header("WARC-Target-URI"), record.content_stream().read(), charset))
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


def warc_floor_main(warc: str, processes: int, with_entities: bool, result_file: str) -> None:
    """The script a user would write instead of `ingest --warc`, run in a fresh interpreter and timed end to end:
    a forked Pool whose processes import the libraries and load the models themselves, fed batches read from the
    WARC file with warcio by this process while they work."""
    import multiprocessing

    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    with context.Pool(processes, initializer=bench_pipeline._floor_init, initargs=(with_entities,)) as pool:
        outcomes = [o for batch in pool.imap(bench_pipeline.floor_batch,
                                             _warc_batches(Path(warc), bench_pipeline.FLOOR_BATCH))
                    for o in batch]
        pool.close()
        pool.join()
    wall = time.perf_counter() - started
    Path(result_file).write_text(json.dumps({"wall": wall, "pages": len(outcomes),
                                             "articles": sum(1 for o in outcomes if o[0] != "empty")}))


def measure_warc_floor(warc: Path, processes: int, with_entities: bool, workdir: Path) -> Dict:
    """warc_floor_main in a fresh interpreter: wall time as it measures it, CPU of its whole process tree."""
    result = workdir / "result-warc-floor.json"
    before = bench_pipeline._cpu_children()
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "_warc_floor", str(warc), str(processes),
                    "on" if with_entities else "off", str(result)], cwd=str(REPO), check=True)
    figures = json.loads(result.read_text())
    figures["cpu"] = bench_pipeline._cpu_children() - before
    return figures


def _window(timeline, labels) -> float:
    """Seconds from the first bundle of the stages named by `labels` to the end of their last one."""
    spans = [(start, end) for name, start, end in timeline if any(label in name for label in labels)]
    return (max(end for _, end in spans) - min(start for start, _ in spans)) if spans else None


def measure_warc_input(args, page_dir: Path, paths: List[str], flags: List[str]) -> Dict:
    workdir = Path(args.workdir)
    page_server = bench_pipeline.PageServer(page_dir, hosts=1, latency_ms=0)
    try:
        pages = bench_pipeline.fetch_once([server.url_for(page_server.ports, n, p) for n, p in enumerate(paths)])
    finally:
        page_server.stop()
    warc = workdir / "input" / "corpus.warc.gz"
    write_warc(pages, warc)
    result = {"warc_bytes": warc.stat().st_size, "floors": [], "runs": []}
    for repeat in range(args.repeats):
        bench_pipeline._quiet(args.wait_quiet)
        before = load()
        floor = bench_pipeline.measure_floor(pages, 2, with_entities=args.entities == "on", methods=("fork",))
        floor["load"] = f"{before} -> {load()}"
        floor["warcio-pool"] = measure_warc_floor(warc, 2, args.entities == "on", workdir)
        result["floors"].append(floor)
        out = workdir / "out-warc-input"
        shutil.rmtree(out, ignore_errors=True)
        bench_pipeline._quiet(args.wait_quiet)
        before = load()
        child = run_child(["--warc", str(warc), "--output", str(out), "--run-id", f"w{repeat}", *flags,
                           "--direct_num_workers", "2", "--direct_running_mode", "multi_processing"],
                          workdir, "warc-input")
        child["load"] = f"{before} -> {load()}"
        child["window"] = _window(child["timeline"], _WARC_STAGES)
        child["core_window"] = _window(child["timeline"], ("WarcCore",))
        result["runs"].append(child)
        print(f"  repeat {repeat}: floor loop {floor['loop']['wall']:.1f} s, pool {floor['pool']['wall']:.1f} s; "
              f"--warc {child['seconds']:.1f} s (stages {child['window'] or 0:.1f} s), load {child['load']}",
              flush=True)
    return result


def run_phases(run: Dict) -> List[Tuple[str, float]]:
    """A run's wall time in phases: Beam's start-up before its first bundle, the stages before the core, the
    core's window, each stage after it (its bundles' seconds: the serial tail) and what follows the last bundle."""
    timeline = run["timeline"]
    if not timeline:
        return []
    core = [(start, end) for name, start, end in timeline if "WarcCore" in name]
    core_start, core_end = min(start for start, _ in core), max(end for _, end in core)
    phases = [("start-up", min(start for _, start, _ in timeline) - run["started"]),
              ("before the core", sum(end - start for name, start, end in timeline if end <= core_start)),
              ("core", core_end - core_start)]
    after: Dict[str, float] = {}
    for name, start, end in timeline:
        if start >= core_end:
            label = bench_pipeline.stage_label(name).split("+")[0]
            after[label] = after.get(label, 0.0) + end - start
    phases += sorted(after.items(), key=lambda item: -item[1])
    phases.append(("after the last bundle", run["ended"] - max(end for _, _, end in timeline)))
    return phases


def report_warc_input(args, result: Dict) -> str:
    pages = result["floors"][0]["loop"]["pages"]
    lines = [f"### WARC input: {args.corpus}, {pages} pages in one {result['warc_bytes'] / 1e6:.1f} MB WARC file, "
             f"{args.repeats} repeats, entities {args.entities}", "",
             "| | median s | best s | median pages/s | best pages/s | CPU ms/page (median) | all s |",
             "|---|---:|---:|---:|---:|---:|---|"]

    def row(name, seconds, cpu):
        lines.append(f"| {name} | {statistics.median(seconds):.1f} | {min(seconds):.1f} | "
                     f"{pages / statistics.median(seconds):.1f} | {pages / min(seconds):.1f} | "
                     f"{1000 * statistics.median(cpu) / pages:.1f} | {', '.join(f'{s:.1f}' for s in seconds)} |")

    for key, name in (("loop", "floor: plain loop (1 process)"), ("pool", "floor: forked Pool(2)")):
        row(name, [f[key]["wall"] for f in result["floors"]], [f[key]["cpu"] for f in result["floors"]])
    # the same pool with its own start-up (its processes' imports, models), as a script pays it
    row("floor: forked Pool(2) + its set-up", [f["pool"]["wall"] + f["pool"]["setup"] for f in result["floors"]],
        [f["pool"]["cpu"] + f["pool"]["setup_cpu"] for f in result["floors"]])
    row("floor: warcio read + forked Pool(2), end to end (a fresh script)",
        [f["warcio-pool"]["wall"] for f in result["floors"]], [f["warcio-pool"]["cpu"] for f in result["floors"]])
    runs = result["runs"]
    row("`ingest --warc`, 2 workers: whole run (start-up, writing, state)", [r["seconds"] for r in runs],
        [r["cpu_run"] for r in runs])
    if all(r["window"] for r in runs):
        row("`ingest --warc`, 2 workers: read + extract + language stages", [r["window"] for r in runs],
            [r["cpu_run"] for r in runs])
    if all(r["core_window"] for r in runs):
        row("`ingest --warc`, 2 workers: the extract + language stage alone", [r["core_window"] for r in runs],
            [r["cpu_run"] for r in runs])
    pool = statistics.median(f["pool"]["wall"] for f in result["floors"])
    loop = statistics.median(f["loop"]["wall"] for f in result["floors"])
    whole = statistics.median(r["seconds"] for r in runs)
    script = statistics.median(f["warcio-pool"]["wall"] for f in result["floors"])
    lines += ["", f"- whole run against the forked pool: x{pool / whole:.2f} of its pages/s; against the loop: "
                  f"x{loop / whole:.2f} (median of each)",
              f"- whole run against the end-to-end script (warcio + Pool(2), its start-up and reading included): "
              f"x{script / whole:.2f}"]
    if all(r["window"] for r in runs):
        window = statistics.median(r["window"] for r in runs)
        lines.append(f"- processing stages against the forked pool: x{pool / window:.2f}; against the loop: "
                     f"x{loop / window:.2f}")
    # ru_maxrss of the process that ran the pipeline (driver and runner: the runner holds what crosses a barrier)
    # and of its largest child (a worker)
    lines.append("- peak RSS, driver+runner / largest worker (MB): " + "; ".join(
        f"{r['maxrss_self'] / 2**20:.0f} / {r['maxrss_children'] / 2**20:.0f}" for r in runs))
    lines.append("- where each run's wall time goes outside the extract + language stage, s: " + "; ".join(
        ", ".join(f"{label} {seconds:.2f}" for label, seconds in run_phases(r)) for r in runs))
    stage = runs[-1]["counters"]
    lines.append("- last run's stage_us (s, summed over workers): " + ", ".join(
        f"{name[len('stage_us.'):]} {value / 1e6:.1f}" for name, value in sorted(stage.items())
        if name.startswith("stage_us.")))
    lines.append("- load average before -> after: " + "; ".join(
        f"floor {f['load']}, run {r['load']}" for f, r in zip(result["floors"], runs)))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- writing alone

def measure_write(page_dir: Path, count: int, repeats: int = 3) -> str:
    """CPU and bytes of WarcFileWriter per record for these pages served gzip-encoded, against every member
    deflated at GZIP_LEVEL (what it did before compressed bodies were stored)."""
    import gzip
    from datetime import datetime, timezone

    from newsbeam import warc
    from newsbeam.http import RawExchange

    entries = []
    for path in sorted(page_dir.rglob("*.html"))[:count]:
        body = gzip.compress(path.read_bytes(), 6, mtime=0)
        raw = RawExchange(url=f"http://example.test/{path.name}", request_headers=(("Accept-Encoding", "gzip"),),
                          requested_at=datetime(2026, 1, 1, tzinfo=timezone.utc), status=200, reason="OK",
                          http_version="HTTP/1.1", headers=(("Content-Type", "text/html"),
                                                            ("Content-Encoding", "gzip")), body=body)
        entries.append(warc.ArchiveEntry(role="article", url=raw.url, exchanges=(raw,),
                                         final_record_id=raw.record_id, context=()))
    policy = warc._member_level
    figures: Dict[str, List] = {"every member at level 6": [], "compressed bodies stored (current)": []}
    try:
        for _ in range(repeats):
            for name, level in zip(figures, (lambda raw: warc.GZIP_LEVEL, policy)):
                warc._member_level = level
                out = BytesIO()
                started = time.process_time()
                writer = warc.WarcFileWriter(out, "bench.warc.gz", "bench")
                for entry in entries:
                    writer.write_entry(entry)
                figures[name].append((time.process_time() - started, out.tell()))
    finally:
        warc._member_level = policy
    lines = [f"### Writing alone: {len(entries)} real pages, gzip-encoded as served, best of {repeats}", "",
             "| members | CPU ms per entry | bytes per entry |", "|---|---:|---:|"]
    for name, runs in figures.items():
        lines.append(f"| {name} | {1000 * min(c for c, _ in runs) / len(entries):.2f} | "
                     f"{runs[0][1] / len(entries):,.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("archive", "warc-input", "write", "all"), default="all")
    parser.add_argument("--corpus", choices=("synthetic", "trafilatura-eval"), default="trafilatura-eval")
    parser.add_argument("--pages", type=int, default=990)
    parser.add_argument("--hosts", default="1,8", help="comma-separated origin counts for --part archive")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="pipeline workers of the archive runs")
    parser.add_argument("--entities", choices=("on", "off"), default="off")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--wait-quiet", type=float, default=0.0,
                        help="Wait up to this many seconds for an idle machine before each measurement.")
    args = parser.parse_args()
    keep = args.workdir is not None
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="bench-archive-")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    page_dir = workdir / "pages"
    shutil.rmtree(page_dir, ignore_errors=True)
    paths = bench_pipeline.corpus_pages(args.corpus, args.pages, page_dir)
    flags = [*bench_pipeline.PIPELINE_FLAGS, *(["--entities", "off"] if args.entities == "off" else [])]
    reports = []
    try:
        if args.part in ("archive", "all"):
            for hosts in (int(h) for h in args.hosts.split(",")):
                runs = measure_archive(args, page_dir, paths, hosts, flags)
                reports.append(report_archive(args, hosts, runs))
                print(reports[-1], flush=True)
        if args.part in ("write", "all"):
            reports.append(measure_write(page_dir, args.pages))
        if args.part in ("warc-input", "all"):
            reports.append(report_warc_input(args, measure_warc_input(args, page_dir, paths, flags)))
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\n\n".join(reports))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["_warc_floor"]:
        warc_floor_main(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "on", sys.argv[5])
        sys.exit(0)
    sys.exit(main())
