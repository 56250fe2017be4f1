"""The local streaming driver: one bounded run per poll, shared state, graceful stop, heartbeat."""
import json
import signal
import subprocess
import sys
import threading
import time

import pyarrow.dataset as ds
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from newsbeam.report import summarize
from newsbeam.sample_site import SampleSite, article_paths
from newsbeam.sample_site.arrival import SLACK
from newsbeam.pipelines import cli
from newsbeam.pipelines.demo import LiveFeed
from newsbeam.pipelines.options import UsageError
from newsbeam.pipelines.stream import polls_in_process, run_stream, status_of
from newsbeam.entities import EntitySettings
from newsbeam.language import LanguageSettings
from newsbeam.transforms import language as language_transforms
from newsbeam.transforms.entities import EntityStageSettings, shared_tagger
from newsbeam.transforms.language import shared_detector
from newsbeam.transforms.warmup import keep_models_loaded

FAST = ["--host-delay", "0", "--read-timeout", "1", "--deadline", "3", "--retry-backoff", "0.01",
        "--connect-timeout", "1", "--entities", "gazetteer", "--allow-private-addresses"]
PAGES = [p for p in article_paths() if "subscribers" not in p and "abonnes" not in p]


def articles(out):
    return ds.dataset(out / "articles", format="parquet", partitioning="hive").to_table()


def cycles_done(out) -> int:
    try:
        return json.loads((out / "_stream" / "status.json").read_text())["cycles"]
    except (OSError, ValueError):  # not written yet
        return 0


def _counting(monkeypatch, module, name: str, built: list):
    original = getattr(module, name)

    class Counted(original):
        def __init__(self, *args, **kwargs):
            built.append(name)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(module, name, Counted)


def test_new_items_between_polls_are_written_exactly_once(tmp_path, monkeypatch):
    # the polls run on the in-process runner: the driver keeps the models loaded from one poll to the next (the
    # taggers are held for the whole test session by conftest; the language profiles show it)
    built = []
    _counting(monkeypatch, language_transforms, "LanguageDetector", built)
    live = LiveFeed(PAGES, every=1.0)
    outcomes = []
    with SampleSite(routes={"/live.rss": live.route}) as site:
        code = run_stream(["--feeds", site.url("/live.rss"), "--output", str(tmp_path), *FAST,
                           "--poll-interval", "1.5", "--max-cycles", "4"], on_cycle=outcomes.append)
        listed = live.visible()
    assert code == 0 and len(outcomes) == 4
    assert all(o.status == "succeeded" for o in outcomes)
    urls = articles(tmp_path).column("url").to_pylist()
    assert len(urls) == len(set(urls))  # nothing twice, although every poll lists everything seen so far
    assert set(urls) == {site.url(p) for p in listed[:len(urls)]} and len(urls) >= 4
    assert sum(o.counters.get("articles.written", 0) for o in outcomes) == len(urls)
    status = status_of(str(tmp_path))
    assert status["state"] == "stopped" and status["cycles"] == 4 and status["articles_written"] == len(urls)
    assert status["next_poll_at"] is None and status["last_status"] == "succeeded"
    assert "stream: stopped" in summarize(str(tmp_path))  # newsbeam inspect shows the heartbeat
    assert built == ["LanguageDetector"]  # once for the 4 polls, not once a poll


@pytest.mark.parametrize("flags, in_process", [
    ([], True),
    (["--direct_running_mode", "multi_threading", "--direct_num_workers", "2"], True),
    (["--direct_running_mode", "multi_processing", "--direct_num_workers", "2"], False),
    (["--runner", "PortableRunner"], False),
])
def test_models_are_kept_in_the_driver_only_where_the_polls_run(flags, in_process):
    assert polls_in_process(PipelineOptions(flags)) is in_process


def test_the_models_kept_are_those_the_stages_acquire():
    tagger = EntitySettings(use_ner=False)
    held = keep_models_loaded(LanguageSettings(), EntityStageSettings(tagger=tagger))
    deadline = time.monotonic() + 120
    while len(held) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert held[0] is shared_detector(LanguageSettings()) and held[1] is shared_tagger(tagger)


def test_politeness_and_robots_carry_over_between_polls(tmp_path):
    with SampleSite() as site:
        run_stream(["--feeds", site.url("/feeds/levant.rss"), "--output", str(tmp_path), "--host-delay", "2.5",
                    "--allow-private-addresses",
                    "--read-timeout", "2", "--entities", "off", "--poll-interval", "0.1", "--max-cycles", "3"])
        paths = {path for path, _ in site.requests()} - {"/robots.txt"}
        times = sorted(t for path in paths for t in site.request_times(path))
        robots = site.requests("/robots.txt")
    assert len(robots) == 1  # one robots.txt for the whole stream, not one per poll
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) >= 3 + 4 and min(gaps) >= 2.5 - SLACK, gaps  # 3 feed polls and 4 articles, all 2.5 s apart


def test_sigterm_finishes_the_cycle_and_exits_cleanly(tmp_path):
    live = LiveFeed(PAGES, every=0.5)
    with SampleSite(routes={"/live.rss": live.route}) as site:
        process = subprocess.Popen([sys.executable, "-m", "newsbeam.pipelines.cli", "stream",
                                    "--feeds", site.url("/live.rss"), "--output", str(tmp_path), *FAST,
                                    "--poll-interval", "1"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not cycles_done(tmp_path):
                time.sleep(0.1)
            assert cycles_done(tmp_path), "no cycle completed"
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=90)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, stderr
    assert "succeeded" in stdout  # one line per cycle
    status = json.loads((tmp_path / "_stream" / "status.json").read_text())
    assert status["state"] == "stopped" and status["failed_cycles"] == 0
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]  # nothing half-written
    urls = articles(tmp_path).column("url").to_pylist()
    assert len(urls) == len(set(urls)) == status["articles_written"]


def test_duration_bounds_the_stream(tmp_path):
    with SampleSite() as site:
        started = time.monotonic()
        code = run_stream(["--feeds", site.url("/feeds/levant.rss"), "--output", str(tmp_path), *FAST,
                           "--poll-interval", "1", "--duration", "2"])
    assert code == 0 and time.monotonic() - started < 30
    assert 1 <= status_of(str(tmp_path))["cycles"] <= 3


def test_stop_event_ends_the_stream_between_cycles(tmp_path):
    stop = threading.Event()
    with SampleSite() as site:
        code = run_stream(["--feeds", site.url("/feeds/levant.rss"), "--output", str(tmp_path), *FAST,
                           "--poll-interval", "30"], on_cycle=lambda _: stop.set(), stop=stop)
    assert code == 0 and status_of(str(tmp_path))["cycles"] == 1


@pytest.mark.parametrize("args, message", [
    (["--poll-interval", "0"], "--poll-interval must be positive"),
    (["--duration", "0"], "--duration must be positive"),
    (["--max-cycles", "0"], "--max-cycles must be at least 1"),
    (["--run-id", "x"], "--run-id does not apply to stream"),
])
def test_bad_stream_arguments(tmp_path, capsys, args, message):
    (tmp_path / "f.rss").write_text("<rss/>")
    with pytest.raises(UsageError, match=message):
        run_stream(["--feeds", str(tmp_path / "f.rss"), "--output", str(tmp_path / "out"), *args])
    # the CLI's main() in this process (a subprocess per case would spend seconds importing Beam); the stream
    # command's exit status from a real process is test_sigterm_finishes_the_cycle_and_exits_cleanly's
    assert cli.main(["stream", "--feeds", str(tmp_path / "f.rss"), "--output", str(tmp_path / "out"), *args]) == 2
    assert message in capsys.readouterr().err
