"""`newsbeam stream` operated as an operator would: the real CLI in a subprocess against loopback servers the tests
start. Failing and recovering feeds, kills and restarts, a second driver on one output, the last poll's exit, the
output read back and checked against what the feeds listed."""
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import duckdb
import pytest

import pyarrow.dataset as ds

from newsbeam.manifest import account
from newsbeam.report import summarize
from newsbeam.sample_site import SampleSite, article_paths

PAGES = [p for p in article_paths() if "subscribers" not in p and "abonnes" not in p]
QUICK = ["--host-delay", "0", "--connect-timeout", "1", "--retry-backoff", "0.01", "--entities", "off",
         "--allow-private-addresses", "--archive", "off"]


def rss(site, paths, dates=None) -> bytes:
    dates = dates or {}
    items = "".join(f"<item><title>{p}</title><link>{site.url(p)}</link><guid>{p}</guid>"
                    + (f"<pubDate>{dates[p]}</pubDate>" if p in dates else "") + "</item>" for p in paths)
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Desk</title>{items}"
            f"</channel></rss>").encode("utf-8")


def stream_command(feeds, output, *args):
    feed_args = [arg for feed in feeds for arg in ("--feeds", feed)]
    return [sys.executable, "-m", "newsbeam.pipelines.cli", "stream", *feed_args, "--output", str(output), *args]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def read(output, dataset: str):
    path = output / dataset
    if not path.exists():
        return []
    return ds.dataset(path, format="parquet", partitioning="hive").to_table().to_pylist()


def manifests(output):
    return [json.loads(p.read_text()) for p in sorted((output / "_runs").glob("*.json"))]


def test_kill_mid_poll_second_driver_refused_restart_completes_and_exits_after_its_last_poll(tmp_path):
    """A driver killed (SIGKILL) while its poll fetches; a second driver on the same output while the first holds
    it; a restart. The restart takes the dead driver's lock over, completes the poll, writes each article once,
    and with --max-cycles 1 exits right after its poll instead of idling through the poll interval first."""
    reached, release = threading.Event(), threading.Event()

    def slow_article(handler):
        reached.set()
        release.wait(60)
        handler.send_body(200, (SampleSite().root / "articles" / "en-hague-court-ruling.html").read_bytes(),
                          "text/html; charset=utf-8")

    with SampleSite(routes={"/slow.html": slow_article,
                            "/desk.rss": lambda h: h.send_body(200, rss(h.server.site, [*PAGES[:2], "/slow.html"]),
                                                               "application/rss+xml")}) as site:
        command = stream_command([site.url("/desk.rss")], tmp_path, *QUICK, "--read-timeout", "60",
                                 "--deadline", "90", "--poll-interval", "600")
        first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(reached.is_set, 90, "the first driver's poll to fetch the slow article")
            status = json.loads((tmp_path / "_stream" / "status.json").read_text())  # written before the first poll
            assert (status["state"], status["pid"], status["cycles"]) == ("running", first.pid, 0)
            second = subprocess.run([*command, "--max-cycles", "1"], capture_output=True, text=True, timeout=120)
            assert second.returncode == 2 and "another run is writing to this output" in second.stderr, second.stderr
            first.kill()
            first.communicate(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
        release.set()  # the server answers again: the restart's poll gets the page
        started = time.monotonic()
        restart = subprocess.run([*command, "--max-cycles", "1"], capture_output=True, text=True, timeout=120)
        took = time.monotonic() - started
    assert restart.returncode == 0, restart.stderr
    assert took < 60, f"the driver idled {took:.0f} s after its last poll (--poll-interval 600)"
    assert "taking over" in restart.stderr.lower() or "is gone" in restart.stderr, restart.stderr
    urls = sorted(row["url"] for row in read(tmp_path, "articles"))
    assert urls == sorted(site.url(p) for p in [*PAGES[:2], "/slow.html"])  # each once, none lost
    runs = manifests(tmp_path)
    assert [run["status"] for run in runs] == ["running", "succeeded"]  # the killed poll's manifest, as SIGKILL left it
    status = json.loads((tmp_path / "_stream" / "status.json").read_text())
    assert status["state"] == "stopped" and status["cycles"] == 1 and status["next_poll_at"] is None
    assert status["articles_written"] == 3 and status["pid"] != first.pid
    assert not (tmp_path / "_lock").exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]  # nothing half-written left behind


def test_the_schedule_after_each_poll():
    """A slow poll is followed by the next at once (the schedule shifts; polls never bunch up), and there is no
    wait at all once --max-cycles polls are done or the next poll would start after --duration."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from newsbeam.pipelines.stream import StreamOptions, _wait_before_next

    def wait(args, cycles, next_poll, now):
        return _wait_before_next(PipelineOptions(args).view_as(StreamOptions), cycles, 0.0, next_poll, now)

    assert wait(["--poll-interval", "60"], 1, 60.0, 5.0) == 55.0
    assert wait(["--poll-interval", "60"], 1, 60.0, 75.0) == 0.0  # the poll took 75 s: the next starts now
    assert wait(["--poll-interval", "60", "--max-cycles", "1"], 1, 60.0, 5.0) is None
    assert wait(["--poll-interval", "60", "--max-cycles", "2"], 1, 60.0, 5.0) == 55.0
    assert wait(["--poll-interval", "60", "--duration", "30"], 1, 60.0, 5.0) is None
    assert wait(["--poll-interval", "10", "--duration", "30"], 1, 10.0, 50.0) is None  # a slow poll overran it
    assert wait(["--poll-interval", "10", "--duration", "30"], 2, 20.0, 12.0) == 8.0


def test_a_feed_failing_then_recovering_loses_nothing_and_the_output_adds_up(tmp_path):
    """Two feeds, three polls, a process clock that is not UTC: one feed answers 500 in the second poll and lists
    an article with a future date and one with no date when it is back; the other gains an item every poll. Read
    back: every listed item is one article, no article_id twice, the failure one feed dead letter, every poll's
    manifest balanced, the status file's totals what is on disk, partitions on the UTC date."""
    flaky_polls, healthy_polls = [0], [0]
    future = "Tue, 01 Jan 2036 12:00:00 +0000"
    flaky_lists = {1: PAGES[:2], 3: PAGES[:4]}

    def flaky(handler):
        flaky_polls[0] += 1
        if flaky_polls[0] == 2:
            handler.send_body(500, b"oops", "text/plain")
            return
        paths = flaky_lists[min(flaky_polls[0], 3)]
        handler.send_body(200, rss(handler.server.site, paths, {PAGES[0]: "Mon, 30 Nov 2026 06:00:00 +0000",
                                                                PAGES[2]: future}), "application/rss+xml")

    def healthy(handler):
        healthy_polls[0] += 1
        handler.send_body(200, rss(handler.server.site, PAGES[10:10 + healthy_polls[0]], {PAGES[11]: future}),
                          "application/rss+xml")

    # a zone whose calendar day differs from UTC's right now, so a local date anywhere would show
    zone = "Etc/GMT-14" if datetime.now(timezone.utc).hour >= 10 else "Etc/GMT+12"
    with SampleSite(routes={"/flaky.rss": flaky, "/healthy.rss": healthy}) as site:
        done = subprocess.run(
            stream_command([site.url("/flaky.rss"), site.url("/healthy.rss")], tmp_path, *QUICK, "--read-timeout",
                           "5", "--max-attempts", "1", "--poll-interval", "0.2", "--max-cycles", "3"),
            capture_output=True, text=True, timeout=180, env={**os.environ, "TZ": zone})
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3 and "succeeded" in done.stdout

    listed = {site.url(p) for p in [*PAGES[:4], *PAGES[10:13]]}
    articles, dead = read(tmp_path, "articles"), read(tmp_path, "dead_letters")
    assert {row["url"] for row in articles} == listed  # the items listed during and after the outage too
    glob = f"{tmp_path}/articles/**/*.parquet"
    assert duckdb.sql(f"SELECT count(*), count(DISTINCT article_id) FROM read_parquet('{glob}', "
                      "hive_partitioning = true)").fetchall() == [(len(listed), len(listed))]
    assert [(row["url"], row["stage"], row["reason"]) for row in dead] == [
        (site.url("/flaky.rss"), "feed", "feed_http_5xx")]
    runs = manifests(tmp_path)
    assert [run["status"] for run in runs] == ["succeeded"] * 3
    assert all(account(run["counters"]).balanced for run in runs)
    assert sum(run["counters"].get("items.to_fetch", 0) for run in runs) == len(listed)  # none fetched twice
    assert {row["ingest_date"] for row in articles} == {run["ingest_date"] for run in runs} \
        == {run["started_at"][:10] for run in runs}  # the UTC date, whatever the process's zone
    assert all(row["published_at"] is None or row["published_at"] <= row["fetched_at"] for row in articles)
    status = json.loads((tmp_path / "_stream" / "status.json").read_text())
    assert (status["cycles"], status["failed_cycles"], status["state"]) == (3, 0, "stopped")
    assert (status["articles_written"], status["dead_letters_written"]) == (len(articles), len(dead))


def test_a_stream_whose_feeds_all_fail_says_so_and_outlives_its_feed_list_vanishing(tmp_path):
    """Every feed down (HTTP 500): the polls find no input, which is not a failed poll (the feeds may come back),
    but the status file counts them and shows why. The feed list missing for one poll (being replaced) fails that
    poll only, instead of ending a stream that has run for days with exit 2; a list missing at the start still
    refuses at once."""
    from newsbeam.pipelines.options import UsageError
    from newsbeam.pipelines.stream import run_stream

    feed_list = tmp_path / "feeds.txt"
    output = tmp_path / "out"
    with SampleSite(routes={"/down.rss": lambda h: h.send_body(500, b"oops", "text/plain")}) as site:
        feed_list.write_text(site.url("/down.rss") + "\n")
        polls = []

        def on_cycle(outcome):
            polls.append(outcome.status)
            if len(polls) == 1:
                feed_list.rename(tmp_path / "feeds.old")

        args = ["--feeds", str(feed_list), "--output", str(output), *QUICK, "--read-timeout", "5",
                "--max-attempts", "1", "--poll-interval", "0.1"]
        code = run_stream([*args, "--max-cycles", "2"], on_cycle=on_cycle)
        with pytest.raises(UsageError, match="no such file"):
            run_stream([*args, "--max-cycles", "1"])
    assert code == 0 and polls == ["no_input", "failed"]  # still polling (what follows: the five-failures rule)
    status = json.loads((output / "_stream" / "status.json").read_text())
    assert (status["cycles"], status["failed_cycles"], status["no_input_cycles"]) == (2, 1, 1)
    assert "no input" in status["recent_errors"][0] and "no such file" in status["recent_errors"][1]
    assert status["dead_letters_written"] == 1  # the feed's, in the first poll
    assert "2 polls, 1 failed, 1 without input" in summarize(str(output))  # newsbeam inspect


def test_five_failed_polls_in_a_row_stop_the_driver(tmp_path, monkeypatch):
    """Polls whose run fails (exit 1, 3, or a poll that cannot start) count; one that succeeds or finds no input
    resets the count. The fifth failure in a row ends the driver with exit 1 and status 'failed'."""
    from newsbeam.pipelines import stream
    from newsbeam.pipelines.lifecycle import RunOutcome

    plan = iter([1, 3, 1, 1, 4, 1, 1, 3, 1, 0, 1, 1, 1, 1, 1, 0])
    ran = []

    def fake_run(argv, control=None, lock=None):
        code = next(plan)
        ran.append(code)
        status = {0: "succeeded", 1: "failed", 3: "accounting_mismatch", 4: "no_input"}[code]
        return RunOutcome(f"run-{len(ran)}", str(tmp_path), status, code, {}, None, 0.0,
                          None if code == 0 else f"{status} ({len(ran)})")

    monkeypatch.setattr(stream.ingest, "run", fake_run)
    code = stream.run_stream(["--feeds", "http://127.0.0.1:9/feed.rss", "--output", str(tmp_path),
                              "--poll-interval", "0.001"])
    assert code == 1 and ran == [1, 3, 1, 1, 4, 1, 1, 3, 1, 0, 1, 1, 1, 1, 1]
    status = stream.status_of(str(tmp_path))
    assert (status["state"], status["cycles"], status["failed_cycles"], status["no_input_cycles"]) == (
        "failed", 15, 13, 1)
    assert status["recent_errors"][-1] == "run-15: failed (15)" and status["next_poll_at"] is None


def test_a_progress_option_given_as_one_word_is_kept(tmp_path, monkeypatch):
    """The driver silences each poll's progress line unless asked for it; `--progress=log` asks too."""
    from newsbeam.pipelines import stream
    from newsbeam.pipelines.lifecycle import RunOutcome

    seen = []

    def fake_run(argv, control=None, lock=None):
        seen.append(argv)
        return RunOutcome("run-1", str(tmp_path), "succeeded", 0, {}, None, 0.0)

    monkeypatch.setattr(stream.ingest, "run", fake_run)
    for progress in (["--progress=log"], ["--progress", "log"], []):
        stream.run_stream(["--feeds", "http://127.0.0.1:9/feed.rss", "--output", str(tmp_path), *progress,
                           "--max-cycles", "1"])
    assert [argv.count("off") for argv in seen] == [0, 0, 1]
