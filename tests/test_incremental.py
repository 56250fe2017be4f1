"""Scheduled runs end to end against the loopback site: cross-run dedup, conditional GET, retries, canonical
URLs, near duplicates, backfill controls and crash safety (a real run killed with SIGKILL)."""
import io
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsbeam.sample_site import SampleSite
from newsbeam.seen import load_seen
from newsbeam.pipelines import ingest
from tests.faults import ENGLISH, FRENCH, article_html

FAST = ["--host-delay", "0", "--read-timeout", "1", "--deadline", "3", "--retry-backoff", "0.01",
        "--connect-timeout", "1", "--entities", "gazetteer", "--allow-private-addresses"]


def articles(out):
    return ds.dataset(out / "articles", format="parquet", partitioning="hive").to_table()


def page_requests(site, since):
    return [path for path, _ in site.requests()[since:] if not path.endswith((".rss", ".atom", ".opml", ".txt",
                                                                              "robots.txt"))]


def run(out, *args, run_id, now=None):
    outcome = ingest.run([*args, *FAST, "--output", str(out), "--run-id", run_id], now=now)
    assert outcome.status == "succeeded", outcome.error
    return outcome


def test_second_run_over_unchanged_feeds_fetches_and_writes_nothing(site, tmp_path):
    out = tmp_path / "out"
    feeds = ["--feeds", site.url("/feeds/subscriptions.opml")]
    first = run(out, *feeds, run_id="r1")
    rows = articles(out).num_rows
    assert first.counters["articles.written"] == rows > 25
    mark = len(site.requests())
    second = run(out, *feeds, run_id="r2")
    assert page_requests(site, mark) == []  # no article requests at all
    assert articles(out).num_rows == rows  # and no new rows
    assert second.counters.get("articles.written", 0) == 0
    # every feed was asked with its validators, and answered 304
    feed_requests = [(p, h) for p, h in site.requests()[mark:]
                     if p.startswith("/feeds/") and p.endswith((".rss", ".atom"))]
    assert len(feed_requests) == 4 and all(h.get("If-None-Match") for _, h in feed_requests)
    assert second.counters["feeds.not_modified"] == 4
    # lists: always read
    assert not any(h.get("If-None-Match") for p, h in site.requests()[mark:] if p.endswith(".opml"))


def test_unchanged_body_behind_a_new_etag_is_not_parsed_again(tmp_path):
    calls = [0]

    def lying_feed(handler):
        calls[0] += 1
        body = (f"<rss version='2.0'><channel><title>t</title><item><title>a</title>"
                f"<link>{handler.server.site.url('/faults/ok.html')}</link></item></channel></rss>").encode()
        handler.send_body(200, body, "application/rss+xml", {"ETag": f'"v{calls[0]}"'})

    from tests.faults import fault_routes

    with SampleSite(routes={**fault_routes(), "/lying.rss": lying_feed}) as site:
        out = tmp_path / "out"
        run(out, "--feeds", site.url("/lying.rss"), run_id="r1")
        second = run(out, "--feeds", site.url("/lying.rss"), run_id="r2")
    assert second.counters["feeds.unchanged"] == 1 and "feeds.parsed" not in second.counters


def test_transient_failures_are_retried_on_schedule_and_404s_never(tmp_path):
    state = {"up": False}

    def recovering(handler):
        if state["up"]:
            handler.send_body(200, article_html("Back online", ENGLISH), "text/html; charset=utf-8")
        else:
            handler.send_body(503, b"down", "text/plain")

    with SampleSite(routes={"/flaky.html": recovering}) as site:
        urls = tmp_path / "urls.txt"
        urls.write_text(f"{site.url('/flaky.html')}\n{site.url('/gone.html')}\n")
        out = tmp_path / "out"
        t0 = datetime.now(timezone.utc)
        first = run(out, "--urls", str(urls), run_id="r1", now=t0)
        assert first.counters["dead_letters.reason.fetch.http_5xx"] == 1
        state["up"] = True
        too_soon = run(out, "--urls", str(urls), run_id="r2", now=t0 + timedelta(minutes=10))
        assert too_soon.counters["items.skipped.waiting_retry"] == 1
        assert too_soon.counters["items.skipped.given_up"] == 1  # the 404
        # an hour later the failure is due; a run given only an archive makes no request and leaves it due
        archive = tmp_path / "input.warc.gz"
        with archive.open("wb") as handle:
            WARCWriter(handle, gzip=True).write_record(WARCWriter(None).create_warc_record(
                "http://archived.example/story.html", "response",
                payload=io.BytesIO(article_html("From the archive", ENGLISH)),
                http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                              protocol="HTTP/1.1")))
        mark = len(site.requests())
        offline = run(out, "--warc", str(archive), run_id="r3w", now=t0 + timedelta(hours=2))
        assert site.requests()[mark:] == [] and "items.retried" not in offline.counters
        assert offline.counters["articles.written"] == 1
        # then it is retried even without being listed again
        urls.write_text("")
        later = run(out, "--urls", str(urls), run_id="r3", now=t0 + timedelta(hours=2))
        assert later.counters["items.retried"] == 1 and later.counters["articles.written"] == 1
        assert len([p for p, _ in site.requests() if p == "/gone.html"]) == 1  # asked once, never again
    table = articles(out)
    assert set(table.column("url").to_pylist()) == {"http://archived.example/story.html", site.url("/flaky.html")}


def test_the_same_article_under_two_urls_is_written_once(tmp_path):
    canonical_page = article_html("Canonical story", ENGLISH).replace(
        b"<head>", b"<head><link rel='canonical' href='/story/canonical.html'>")
    offsite = article_html("Syndicated elsewhere", FRENCH).replace(
        b"<head>", b"<head><link rel='canonical' href='https://publisher.example.org/original.html'>")
    routes = {
        "/story/canonical.html": lambda h: h.send_body(200, canonical_page, "text/html; charset=utf-8"),
        "/story/amp.html": lambda h: h.send_body(200, canonical_page, "text/html; charset=utf-8"),
        "/story/offsite.html": lambda h: h.send_body(200, offsite, "text/html; charset=utf-8"),
    }
    with SampleSite(routes=routes) as site:
        urls = tmp_path / "urls.txt"
        urls.write_text("".join(site.url(p) + "\n" for p in (
            "/story/amp.html?utm_source=twitter", "/story/canonical.html", "/story/amp.html#comments",
            "/story/offsite.html")))
        out = tmp_path / "out"
        outcome = run(out, "--urls", str(urls), run_id="r1")
        mark = len(site.requests())
        table = articles(out)
        assert sorted(table.column("canonical_url").to_pylist()) == [
            site.url("/story/canonical.html"), site.url("/story/offsite.html")]  # off-site canonical ignored
        assert outcome.counters["items.duplicate"] == 1  # utm and fragment variants: fetched once
        assert outcome.counters["dead_letters.reason.dedup.duplicate_canonical"] == 1  # amp page: same canonical
        # a new address for the known page is fetched (nothing else could tell), but not written again
        urls.write_text(site.url("/story/amp.html?page=1") + "\n")
        again = run(out, "--urls", str(urls), run_id="r2")
        assert again.counters["dead_letters.reason.dedup.seen_canonical"] == 1 and articles(out).num_rows == 2
        assert page_requests(site, mark) == ["/story/amp.html"]
        # and the duplicate addresses are known from now on: nothing is fetched
        mark = len(site.requests())
        urls.write_text(site.url("/story/amp.html?page=1") + "\n" + site.url("/story/amp.html") + "\n")
        assert run(out, "--urls", str(urls), run_id="r3").counters["items.skipped.given_up"] == 2
        assert page_requests(site, mark) == []


def test_syndicated_copies_share_a_duplicate_group_within_and_across_runs(tmp_path):
    story = ("A court in The Hague sentenced a returnee to six years in prison for membership of Islamic State. "
             "Judges said the woman had played an active role in the group's morality police in Raqqa. ") * 3
    other = ("Germany repatriated four women and eleven children from the Roj camp in north-east Syria, the "
             "foreign ministry in Berlin said on Wednesday. ") * 3
    pages = {
        "/wire/a.html": article_html("Returnee sentenced", story, 3),
        "/mirror/b.html": article_html("UPDATED: Returnee sentenced in The Hague", story.replace(" said", " stated"),
                                       3),
        "/wire/other.html": article_html("Repatriation", other, 3),
        "/late/c.html": article_html("Hague returnee gets six years", story + " Reporting by staff.", 3),
    }
    routes = {path: (lambda body: lambda h: h.send_body(200, body, "text/html; charset=utf-8"))(body)
              for path, body in pages.items()}
    with SampleSite(routes=routes) as site:
        urls = tmp_path / "urls.txt"
        urls.write_text("".join(site.url(p) + "\n" for p in ("/wire/a.html", "/mirror/b.html", "/wire/other.html")))
        out = tmp_path / "out"
        run(out, "--urls", str(urls), run_id="r1")
        urls.write_text(site.url("/late/c.html") + "\n")
        run(out, "--urls", str(urls), run_id="r2")
    rows = {r["url"].replace(site.base_url, ""): r for r in articles(out).to_pylist()}
    group = rows["/wire/a.html"]["duplicate_group"]
    assert rows["/mirror/b.html"]["duplicate_group"] == group == rows["/late/c.html"]["duplicate_group"]
    assert group in {rows["/wire/a.html"]["article_id"], rows["/mirror/b.html"]["article_id"]}
    assert rows["/wire/other.html"]["duplicate_group"] == rows["/wire/other.html"]["article_id"]


def test_backfill_window_and_cap(site, tmp_path):
    out = tmp_path / "out"
    feeds = ["--feeds", site.url("/feeds/world.rss")]
    capped = run(out, *feeds, "--max-articles", "5", run_id="r1")
    assert capped.counters["items.to_fetch"] == 5 and capped.counters["items.skipped.over_limit"] > 0
    assert not list((out / "_state" / "feeds").glob("*.parquet"))  # a capped run records no feed validators
    rest = run(out, *feeds, run_id="r2")  # the next run picks up what the cap left
    # the five taken first are not fetched again, whether they became articles or final dead letters
    assert rest.counters.get("items.skipped.written", 0) + rest.counters.get("items.skipped.given_up", 0) == 5
    total = articles(out).num_rows
    assert len(set(articles(out).column("article_id").to_pylist())) == total

    windowed = tmp_path / "windowed"
    outcome = run(windowed, *feeds, "--since", "2026-11-15", "--until", "2026-11-17", run_id="w1")
    dates = [d for d in articles(windowed).column("published_at").to_pylist()]
    assert dates and all(datetime(2026, 11, 15, tzinfo=timezone.utc) <= d < datetime(2026, 11, 18, tzinfo=timezone.utc)
                         for d in dates)
    assert outcome.counters["items.skipped.outside_window"] > 0


def test_rerunning_a_run_id_replaces_instead_of_skipping(site, tmp_path):
    out = tmp_path / "out"
    feeds = ["--feeds", site.url("/feeds/world.rss")]
    run(out, *feeds, run_id="r1")
    rows = articles(out).num_rows
    again = run(out, *feeds, run_id="r1")  # the state of r1 itself is not used to skip r1's own items
    assert again.counters["articles.written"] == rows == articles(out).num_rows
    # after a later run recorded the feed's ETag, a re-run of r1 (an Airflow "clear") sent it, got 304 and
    # replaced r1's articles with nothing
    assert run(out, *feeds, run_id="r2").counters["feeds.not_modified"] == 1
    again = run(out, *feeds, run_id="r1")
    assert again.counters["articles.written"] == rows == articles(out).num_rows
    assert "If-None-Match" not in site.requests("/feeds/world.rss")[-1][1]


# --- crash safety ----------------------------------------------------------------------------------------------

def _visible_parquet(out):
    return [p for p in out.rglob("*.parquet")
            if not any(part.startswith((".", "_")) for part in p.relative_to(out).parts[:-1])
            and not p.name.startswith(".")]


@pytest.mark.parametrize("kill_when", ["first_article_file", "while_fetching"])
def test_a_run_killed_with_sigkill_leaves_no_partial_file_and_the_next_run_completes_it(site, tmp_path, kill_when):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "newsbeam.pipelines.cli", "ingest", "--feeds", site.url("/feeds/subscriptions.opml"),
            *FAST, "--output", str(out), "--run-id", "killed", "--buckets", "4"]
    if kill_when == "while_fetching":
        args += ["--host-delay", "0.05"]  # slow enough to be caught fetching
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if kill_when == "first_article_file" and list((out / "articles").rglob("part-*.parquet")):
                break
            fetched = [p for p, _ in site.requests() if p.startswith("/articles/")]
            if kill_when == "while_fetching" and len(fetched) >= 5:
                break
            time.sleep(0.005)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL  # killed, not finished
    if kill_when == "first_article_file":
        assert _visible_parquet(out)  # some of the killed run's work was committed; the rest was not
    for path in _visible_parquet(out):
        pq.read_table(path)  # every visible file is whole
    load_seen(str(out), "next", datetime.now(timezone.utc))  # and the state can be read

    outcome = run(out, "--feeds", site.url("/feeds/subscriptions.opml"), run_id="next")
    table = articles(out)
    ids = table.column("article_id").to_pylist()
    assert len(ids) == len(set(ids)) == 31  # every sample article exactly once, across both runs
    assert outcome.counters.get("articles.written", 0) == 31 - sum(1 for r in table.column("run_id").to_pylist()
                                                                  if r == "killed")
