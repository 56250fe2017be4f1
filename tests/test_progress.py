"""Live progress: the pure summing and formatting, worker heartbeats, and the real command in both display modes
(a terminal through a pty, log lines through a pipe) and with worker subprocesses."""
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from newsbeam.pipelines.progress_options import live_progress

from newsbeam.progress import (
    PROGRESS_ENV,
    Heartbeat,
    format_view,
    progress_view,
    read_heartbeats,
    resolve_mode,
    sum_counts,
)
from newsbeam.sample_site import article_paths

NEWSBEAM = [sys.executable, "-m", "newsbeam.pipelines.cli"]
FAST = ["--read-timeout", "2", "--deadline", "5", "--retry-backoff", "0.01", "--entities", "off",
        "--allow-private-addresses"]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d progress: fetched \d+(/\d+)? \| articles \d+ \| dead letters ")

COUNTS = {"sources.read": 1, "feeds.fetched": 2, "feeds.fetch_failed": 1, "feeds.items": 40, "sources.direct_urls": 2,
          "items.new": 30, "items.retried": 2, "items.to_fetch": 32, "pages.fetched": 10, "pages.fetch_failed": 2,
          "articles.extracted": 9, "articles.extract_failed": 1}


def test_view_before_and_during_fetching():
    assert format_view(progress_view({}, elapsed=1.0)) == ("fetched 0 | articles 0 | dead letters 0 | - pages/s | "
                                                           "elapsed 0:00:01 | listed 0 (new 0)")
    early = progress_view({"sources.read": 1, "items.to_fetch": 5}, elapsed=3.0)
    assert early.to_fetch is None and early.rate is None and early.eta is None  # the work is not known yet
    assert format_view(early).startswith("fetched 0 |") and "ETA" not in format_view(early)
    view = progress_view(COUNTS, elapsed=20.0, fetch_started=14.0)
    assert (view.sources, view.listed, view.new, view.to_fetch, view.fetched) == (4, 42, 32, 32, 12)
    assert (view.articles, view.dead_letters) == (9, 4)  # 2 fetch + 1 extract + 1 feed failure
    assert view.rate == 2.0 and view.eta == 10.0
    assert format_view(view) == ("fetched 12/32 | articles 9 | dead letters 4 | 2.0 pages/s | ETA 0:00:10 | "
                                 "elapsed 0:00:20 | listed 42 (new 32) | sources 4")


def test_final_view_takes_the_writers_counts():
    final = progress_view({**COUNTS, "articles.written": 8, "dead_letters.written": 6}, 3725.0, 14.0, final=True)
    assert (final.articles, final.dead_letters, final.eta) == (8, 6, None)
    assert "| done | elapsed 1:02:05 |" in format_view(final)
    # a run that wrote no article: its last line said 'dead letters 0' while it wrote a feed_not_a_feed one
    only_dead = progress_view({"sources.read": 1, "dead_letters.written": 1, "run.committed": 1}, 4.0, final=True)
    assert (only_dead.articles, only_dead.dead_letters) == (0, 1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(sorted(COUNTS)), st.integers(0, 10**9)), max_size=5),
       st.floats(0, 1e6), st.one_of(st.none(), st.floats(0, 1e6)))
def test_any_counts_sum_and_format(tallies, elapsed, fetch_started):
    totals = sum_counts(tallies)
    assert all(totals[name] == sum(t.get(name, 0) for t in tallies) for name in totals)
    line = format_view(progress_view(totals, elapsed, fetch_started))
    assert line.startswith("fetched ") and "\n" not in line


def test_heartbeats_are_whole_files_summed_over_workers(tmp_path):
    first, second = Heartbeat(str(tmp_path), interval=60), Heartbeat(str(tmp_path), interval=60)
    first.add("pages.fetched", 3)
    second.add("pages.fetched", 4)
    second.add("items.to_fetch", 9)
    first.close()
    second.close()
    (tmp_path / "broken.json").write_text("{not json")  # a foreign or damaged file is skipped
    (tmp_path / "worker-1.json.abc.tmp").write_text("{}")  # a half-written heartbeat is never read
    assert read_heartbeats(str(tmp_path)) == {"pages.fetched": 7, "items.to_fetch": 9}
    assert read_heartbeats(str(tmp_path / "gone")) == {}
    assert all(json.loads(p.read_text()) for p in tmp_path.glob("worker-*.json"))


def test_heartbeat_stops_when_the_run_folder_is_gone(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    beat = Heartbeat(str(folder), interval=0.05)
    beat.add("pages.fetched", 1)
    time.sleep(0.3)
    assert read_heartbeats(str(folder)) == {"pages.fetched": 1}
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    beat.add("pages.fetched", 1)
    assert not beat.flush()


def test_auto_mode_follows_the_stream():
    class Tty:
        def isatty(self):
            return True
    assert resolve_mode("auto", Tty()) == "bar" and resolve_mode("auto", open(os.devnull)) == "log"
    assert resolve_mode("off", Tty()) == "off"


def _url_file(site, tmp_path, count):
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(site.url(path) + "\n" for path in article_paths()[:count]))
    return str(urls)


def test_log_lines_every_10_s_with_worker_processes(site, tmp_path):
    """stderr is a pipe: plain log lines, counted by two worker subprocesses; no Beam start-up chatter at INFO;
    the manifest times the fetch stage."""
    out = tmp_path / "out"
    started = time.monotonic()
    done = subprocess.run(
        [*NEWSBEAM, "--log-level", "INFO", "ingest", "--urls", _url_file(site, tmp_path, 22), "--output", str(out),
         "--host-delay", "0.6", *FAST, "--direct_num_workers", "2", "--direct_running_mode", "multi_processing"],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if " progress: " in line]
    assert time.monotonic() - started > 12.6  # 22 pages 0.6 s apart: a 10 s line falls while they are fetched
    assert len(lines) >= 2 and all(LOG_LINE.match(line) for line in lines), done.stderr
    assert re.search(r"fetched 22/22 \| articles \d+ \| dead letters \d+ \| .* \| done \| .* \| listed 22 \(new 22\)$",
                     lines[-1]), lines[-1]
    assert any(re.search(r"fetched [1-9]\d*/22", line) for line in lines[:-1]), lines  # counts from the workers
    assert "\x1b[" not in done.stderr and "\r" not in done.stderr
    for noise in ("sdk_worker", "Creating insecure", "statecache", "Pipeline_options", "typehints"):
        assert noise not in done.stderr, done.stderr
    manifest = json.loads(next((out / "_runs").glob("*.json")).read_text())
    assert manifest["stage_seconds"]["fetch"] >= 21 * 0.6 * 0.9


def test_progress_is_redrawn_in_place_on_a_terminal(site, tmp_path):
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))  # wide enough for one line
    process = subprocess.Popen(
        [*NEWSBEAM, "ingest", "--urls", _url_file(site, tmp_path, 4), "--output", str(tmp_path / "out"),
         "--host-delay", "0.5", *FAST], stdin=secondary, stdout=secondary, stderr=secondary)
    os.close(secondary)
    captured = b""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 1)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            captured += chunk
        elif process.poll() is not None:
            break
    os.close(primary)
    assert process.wait(timeout=60) == 0, captured.decode(errors="replace")
    text = captured.decode("utf-8", errors="replace")
    assert "\x1b[" in text  # cursor movement: the line is redrawn, not appended
    assert re.search(r"fetched 4/4 \| articles \d+ \| dead letters \d+ \| [\d.]+ pages/s \| done", text), text
    assert " progress: " not in text  # not the log format


def test_progress_off_and_remote_runners_start_nothing():
    with live_progress("off", "FnApiRunner") as reporter:
        assert reporter is None and PROGRESS_ENV not in os.environ
    with live_progress("auto", "DataflowRunner") as reporter:
        assert reporter is None and PROGRESS_ENV not in os.environ
    with live_progress("log", "FnApiRunner") as reporter:
        assert reporter.mode == "log" and os.path.isdir(os.environ[PROGRESS_ENV])
        folder = os.environ[PROGRESS_ENV]
    assert PROGRESS_ENV not in os.environ and not os.path.exists(folder)
