"""`newsbeam stream` operated as an operator would: the real CLI in a subprocess against loopback servers the tests
start. Failing and recovering feeds, kills and restarts, a second driver on one output, the last poll's exit, the
output read back and checked against what the feeds listed."""
import json
import subprocess
import sys
import threading
import time

import pyarrow.dataset as ds

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
