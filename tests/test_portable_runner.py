"""The portable path: the real ingest on PortableRunner against Beam's own Python job service, on loopback.

This is the protocol Flink, Spark and Dataflow speak (Job API + Fn API), so it catches what the in-process
FnApiRunner hides: DoFns and settings that do not pickle, `setup()` that relies on driver state, module globals.
Two environments are checked:

- LOOPBACK: the SDK harness runs as threads of the submitting (test) process;
- EXTERNAL: a separate `worker_pool_main` process starts a fresh `python` SDK worker per job, so every DoFn is
  unpickled and set up in a process that never ran the driver code.

Each run must give the same rows and dead letters as the default FnApiRunner on the same inputs, and the runner
must hand back committed counters, since the run's accounting (and so its exit status) is computed from them.

Only Beam's Python services are used (no Prism, no job-server jars, no containers): nothing is downloaded.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

import newsbeam.pipelines.ingest as ingest
from newsbeam.sample_site import SampleSite
from tests.faults import fault_routes

# The same short limits as tests/test_cli.py, so that the fault routes take seconds.
FAST_FLAGS = ["--host-delay", "0", "--read-timeout", "1", "--deadline", "3", "--retry-backoff", "0.01",
              "--connect-timeout", "1", "--allow-private-addresses"]
FAULT_PATHS = ["/faults/missing.html", "/faults/500.html", "/faults/503-then-200.html", "/faults/hang.html",
               "/faults/redirect-1.html", "/faults/huge.html", "/faults/image.png", "/faults/wrong-charset.html"]

SERVICE_START_TIMEOUT = 60  # seconds for a Python gRPC service to come up (imports Beam: ~2 s here)
RUN_TIMEOUT = 150  # seconds for one ingest; a hung job service must fail the test, not hang it
ACCOUNTING_COUNTERS = ("items.in", "items.unique", "items.duplicate", "articles.written",
                       "dead_letters.written.fetch", "dead_letters.written.extract")


# ---------------------------------------------------------------------------------------------------- services

def _service_env():
    # worker_pool_main starts its SDK workers as plain `python -c ...`, found on PATH: it must be this venv's
    # python, or the workers cannot import Beam and newsbeam.
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONSTARTUP", None)
    return env


def _start(args, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "wb")
    try:
        # its own session: the worker pool's SDK worker children are in the same process group and end with it
        return subprocess.Popen([sys.executable, "-m", *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=_service_env(), start_new_session=True)
    finally:
        log.close()


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group of a service this module started, then SIGKILL if it lingers."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    try:  # children (SDK workers) may outlive a leader that exited
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "<no log>"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + SERVICE_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited with {process.returncode}:\n{_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"service not listening on port {port} after {SERVICE_START_TIMEOUT} s:\n{_tail(log)}")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("portable")


@pytest.fixture(scope="module")
def job_service(workdir):
    """`local_job_service_main --port 0 --port_file F`: the service picks its port and writes it to F."""
    log, port_file = workdir / "job_service.log", workdir / "job_service.port"
    process = _start(["apache_beam.runners.portability.local_job_service_main", "--port", "0",
                      "--port_file", str(port_file)], log)
    try:
        deadline = time.monotonic() + SERVICE_START_TIMEOUT
        while not port_file.exists():
            if process.poll() is not None:
                pytest.fail(f"job service exited with {process.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"job service did not start in {SERVICE_START_TIMEOUT} s:\n{_tail(log)}")
            time.sleep(0.1)
        port = int(port_file.read_text().strip())
        _wait_listening(process, port, log)
        yield {"endpoint": f"localhost:{port}", "process": process, "log": log}
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def worker_pool(workdir):
    """`worker_pool_main --service_port N`: an EXTERNAL environment that starts SDK worker processes."""
    log = workdir / "worker_pool.log"
    for attempt in range(3):  # the free port may be taken between choosing it and binding it
        port = _free_port()
        process = _start(["apache_beam.runners.worker.worker_pool_main", "--service_port", str(port)], log)
        try:
            _wait_listening(process, port, log)
        except RuntimeError as exc:
            _stop(process)
            if attempt == 2:
                pytest.fail(str(exc))
            continue
        try:
            yield {"address": f"localhost:{port}", "process": process, "log": log}
        finally:
            _stop(process)
        return


@pytest.fixture(scope="module")
def site():
    with SampleSite(routes=fault_routes()) as running:
        yield running


@pytest.fixture(scope="module")
def inputs(site, workdir):
    urls = workdir / "urls.txt"
    urls.write_text("# direct URLs\n" + "".join(site.url(p) + "\n" for p in FAULT_PATHS)
                    + site.url("/legacy/de-latin1-page.html") + "\nnot-a-url\n")
    return ["--feeds", site.url("/feeds/subscriptions.opml"), "--feeds", site.url("/feeds/empty-garbage.xml"),
            "--urls", str(urls), *FAST_FLAGS]


# ---------------------------------------------------------------------------------------------------- running

def run_ingest(argv, kill_on_timeout=()):
    """newsbeam.pipelines.ingest.run(argv) with a watchdog; also returns the raw metric results the runner gave back."""
    seen = []
    original = ingest.counters_of

    def recording(result):
        from apache_beam.metrics.metric import MetricsFilter

        for item in result.metrics().query(MetricsFilter().with_namespace("newsbeam"))["counters"]:
            seen.append((item.key.metric.name, item.committed, item.attempted))
        return original(result)

    box = {}

    def target():
        try:
            box["outcome"] = ingest.run(argv)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            box["error"] = exc

    ingest.counters_of = recording
    try:
        thread = threading.Thread(target=target, name="ingest", daemon=True)
        thread.start()
        thread.join(RUN_TIMEOUT)
        if thread.is_alive():
            for service in kill_on_timeout:  # makes the client's wait_until_finish fail instead of hanging
                _stop(service["process"])
            thread.join(30)
            pytest.fail(f"ingest did not finish in {RUN_TIMEOUT} s; service logs:\n"
                        + "\n".join(_tail(s["log"]) for s in kill_on_timeout))
    finally:
        ingest.counters_of = original
    if "error" in box:
        raise box["error"]
    return box["outcome"], seen


def _table(out: Path, dataset: str):
    return ds.dataset(out / dataset, format="parquet", partitioning="hive").to_table()


def article_keys(out: Path):
    table = _table(out, "articles").select(["article_id", "language", "content_hash"])
    return sorted(tuple(row.values()) for row in table.to_pylist())


def dead_letter_keys(out: Path):
    table = _table(out, "dead_letters").select(["stage", "reason", "url"])
    return sorted(tuple(row.values()) for row in table.to_pylist())


# depend on how the runner bundles elements (nlp.pipe batches), on the runner itself (only the local one spools),
# and on its processes (robots.txt is fetched, and archived, once per worker process; pages and WARC ranges taken over
# between them)
RUNNER_DEPENDENT = {"entities.batches", "spool.bytes", "spool.pages_taken_over", "spool.pages_while_fetching",
                    "spool.pages_kept_while_fetching", "warc_in.ranges_taken_over", "warc.records", "warc.bytes"}


def comparable_counters(counters):
    """Everything but timings, which differ from run to run, and what depends on the runner."""
    return {name: value for name, value in counters.items()
            if not name.startswith("stage_us.") and name not in RUNNER_DEPENDENT}


@pytest.fixture(scope="module")
def reference(inputs, workdir):
    """The same inputs on the default runner (FnApiRunner, in process)."""
    out = workdir / "fnapi"
    outcome, _ = run_ingest([*inputs, "--output", str(out), "--run-id", "ref"])
    assert outcome.status == "succeeded", outcome.error
    articles = article_keys(out)
    assert articles, "the reference run wrote no article: the core is broken, not the portable path"
    return {"outcome": outcome, "articles": articles, "dead_letters": dead_letter_keys(out)}


def assert_same_as_reference(outcome, raw_counters, out: Path, reference):
    assert outcome.error is None, outcome.error
    assert (outcome.status, outcome.exit_code) == ("succeeded", 0)
    assert article_keys(out) == reference["articles"]
    assert dead_letter_keys(out) == reference["dead_letters"]

    # the runner hands back committed counters for every newsbeam counter, and the accounting uses them
    assert raw_counters, "the runner returned no newsbeam counters"
    assert all(committed is not None for _, committed, _ in raw_counters), raw_counters
    for name in ACCOUNTING_COUNTERS:
        assert name in outcome.counters, f"counter {name} missing: {sorted(outcome.counters)}"
    assert outcome.counters["items.in"] > 0 and outcome.accounting.balanced
    assert outcome.counters["articles.written"] == len(reference["articles"])
    assert comparable_counters(outcome.counters) == comparable_counters(reference["outcome"].counters)
    assert {"extract", "language", "write"} <= {n.split(".", 1)[1] for n in outcome.counters if
                                                 n.startswith("stage_us.")}
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary files left
    manifest = json.loads((out / "_runs" / f"{outcome.run_id}.json").read_text())
    assert manifest["status"] == "succeeded" and manifest["accounting"]["balanced"]


# ---------------------------------------------------------------------------------------------------- tests

def test_loopback_environment_matches_the_default_runner(inputs, workdir, job_service, reference):
    out = workdir / "loopback"
    outcome, raw = run_ingest(
        [*inputs, "--output", str(out), "--run-id", "loopback", "--runner", "PortableRunner",
         "--job_endpoint", job_service["endpoint"], "--environment_type", "LOOPBACK"],
        kill_on_timeout=[job_service])
    assert_same_as_reference(outcome, raw, out, reference)


def test_external_worker_pool_matches_the_default_runner(inputs, workdir, job_service, worker_pool, reference):
    out = workdir / "external"
    outcome, raw = run_ingest(
        [*inputs, "--output", str(out), "--run-id", "external", "--runner", "PortableRunner",
         "--job_endpoint", job_service["endpoint"], "--environment_type", "EXTERNAL",
         "--environment_config", worker_pool["address"]],
        kill_on_timeout=[job_service, worker_pool])
    assert_same_as_reference(outcome, raw, out, reference)
    # the work really ran in a separate SDK worker process started by the pool
    assert "Starting worker with command" in _tail(worker_pool["log"], 100000), _tail(worker_pool["log"])


def test_a_failing_job_is_reported_as_failed(inputs, workdir, job_service):
    """A job the service cannot run must end as status 'failed' (exit 1), with the runner's error."""
    out = workdir / "broken"
    outcome, _ = run_ingest(
        [*inputs, "--output", str(out), "--run-id", "broken", "--runner", "PortableRunner",
         "--job_endpoint", job_service["endpoint"], "--environment_type", "EXTERNAL",
         "--environment_config", f"localhost:{_free_port()}"],  # nobody listens there
        kill_on_timeout=[job_service])
    assert (outcome.status, outcome.exit_code) == ("failed", 1)
    assert "failed in state FAILED" in outcome.error
    assert json.loads((out / "_runs" / "broken.json").read_text())["status"] == "failed"


def test_warc_and_arc_input_on_the_external_worker_pool_matches_the_default_runner(workdir, job_service, worker_pool,
                                                                                    reference, site):
    """`--warc` input (the reference run's own archive, read as anyone's WARC, and an ARC file with a damaged
    record) read by an SDK worker that never ran the driver: the same rows as on the in-process runner."""
    import gzip

    from tests.test_arc_input import arc_record, arc_version_block

    pages = sorted(p for p in os.listdir(Path(__file__).resolve().parents[1] / "newsbeam" / "sample_site" / "site"
                                         / "articles") if p.startswith("fr-"))[:3]
    parts = [gzip.compress(arc_version_block("old.arc.gz"))]
    parts += [gzip.compress(arc_record(f"http://archived.example/{p}", "text/html",
                                       site.render(f"/articles/{p}")[0])) for p in pages]
    parts.insert(2, parts[2][:len(parts[2]) // 2] + bytes(32) + parts[2][len(parts[2]) // 2 + 32:])  # damaged
    (workdir / "old.arc.gz").write_bytes(b"".join(parts))
    argv = ["--warc", str(workdir / "fnapi" / "warc" / "*" / "*.warc.gz"), "--warc", str(workdir / "old.arc.gz"),
            "--entities", "gazetteer"]
    local, _ = run_ingest([*argv, "--output", str(workdir / "warc-fnapi"), "--run-id", "wref"])
    assert local.status == "succeeded", local.error
    outcome, raw = run_ingest(
        [*argv, "--output", str(workdir / "warc-external"), "--run-id", "wext", "--runner", "PortableRunner",
         "--job_endpoint", job_service["endpoint"], "--environment_type", "EXTERNAL",
         "--environment_config", worker_pool["address"]],
        kill_on_timeout=[job_service, worker_pool])
    assert (outcome.status, outcome.exit_code) == ("succeeded", 0), outcome.error
    articles = article_keys(workdir / "warc-external")
    assert articles == article_keys(workdir / "warc-fnapi") and len(articles) >= len(reference["articles"])
    urls = set(_table(workdir / "warc-external", "articles").column("url").to_pylist())
    assert {f"http://archived.example/{p}" for p in pages} <= urls
    dead = dead_letter_keys(workdir / "warc-external")
    assert dead == dead_letter_keys(workdir / "warc-fnapi")
    assert [(stage, reason) for stage, reason, _ in dead if stage == "source"] == [("source", "warc_damaged")]
    assert comparable_counters(outcome.counters) == comparable_counters(local.counters)
