"""The unbounded graph (pipelines/stream_graph.py, transforms/streaming.py) driven by TestStream.

TestStream runs only on the BundleBasedDirectRunner here: the FnApiRunner rejects `beam:transform:teststream:v1`,
and the DirectRunner's default would first try to download Prism. The polls are TestStream elements stamped with
the polls' times; the feeds and articles come from the sample site on 127.0.0.1, and a guard fails any test that
tries to reach another address.
"""
import hashlib
import json
from dataclasses import replace
import os
import socket
import threading
from datetime import datetime, timezone
from typing import Callable, List

import apache_beam as beam
import pyarrow.dataset as ds
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.worker import statesampler
from apache_beam.testing.test_stream import TestStream as BeamTestStream  # a Test* name would be collected
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue, WindowFn
from apache_beam.utils.timestamp import Timestamp

from newsbeam.entities import EntitySettings
from newsbeam.manifest import account, read_manifests
from newsbeam.sample_site import SampleSite
from newsbeam.urls import canonicalize_url
from newsbeam.pipelines.options import IngestConfig, UsageError
from newsbeam.pipelines.stream_graph import build_stream_pipeline, is_streaming_runner, poll_windows, run_unbounded
from newsbeam.schemas.records import DeadLetter, FeedItem
from tests.conftest import FAST
from tests.faults import fault_routes
from tests.pipeline_helpers import run_and_count
from newsbeam.transforms.core import CoreSettings
from newsbeam.transforms.entities import EntityStageSettings
from newsbeam.transforms.fetch import shared_fetch_context
from newsbeam.transforms.streaming import FirstSeen, OnTimePolls

RUNNER = "BundleBasedDirectRunner"
T0 = datetime(2026, 11, 21, 23, 58, tzinfo=timezone.utc)  # windows at 23:58, 23:59 | 00:00, 00:01: two dates
S0 = T0.timestamp()

A = "/articles/en-raqqa-reconstruction.html"
B = "/articles/en-hague-court-ruling.html"
C = "/articles/fr-proces-revenantes-paris.html"
D = "/articles/de-berlin-rueckholung-al-hol.html"
E = "/articles/fr-rapatriement-camp-roj.html"
MISSING = "/articles/missing-page.html"
GONE = "/articles/gone-page.html"
OK = "/faults/ok.html"
WRONG_CHARSET = "/faults/wrong-charset.html"


# ---------------------------------------------------------------------------------------------------------------
# Test plumbing


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Fails the test if anything (Beam included) tries to connect anywhere but 127.0.0.1."""
    attempts = []
    original = socket.socket.connect

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(address)
            raise OSError(f"test tried to reach {address}")
        return original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield
    assert attempts == []


@pytest.fixture(autouse=True)
def per_bundle_metrics(monkeypatch):
    """Works around a bug of Beam 2.77's BundleBasedDirectRunner: each worker thread keeps one StateSampler, whose
    `scoped_state` caches a step's state *with the metrics container of the step's first bundle*, so in streaming
    mode every later bundle of a step counts into a container that was already committed, and its counters are
    lost. Here each bundle gets a state bound to its own container."""
    original = statesampler.StateSampler.scoped_state

    def scoped_state(self, name_context, state_name, io_target=None, metrics_container=None):
        state = original(self, name_context, state_name, io_target, metrics_container)
        if metrics_container is not None and state.metrics_container is not metrics_container:
            for name, cached in list(self._states_by_name.items()):
                if cached is state:
                    del self._states_by_name[name]
            state = original(self, name_context, state_name, io_target, metrics_container)
        return state

    monkeypatch.setattr(statesampler.StateSampler, "scoped_state", scoped_state)


@pytest.fixture
def fetch_context():
    """Held for the test, as a long-lived worker holds it: the per-host gates and robots.txt rules last across
    bundles (the BundleBasedDirectRunner tears DoFns down between them)."""
    return shared_fetch_context(FAST)


def streaming_pipeline() -> beam.Pipeline:
    options = PipelineOptions(["--runner", RUNNER])
    options.view_as(StandardOptions).streaming = True
    return beam.Pipeline(options=options)


def rss(site, paths: List[str], title: str = "Live desk") -> bytes:
    items = "".join(f"<item><title>{path.rsplit('/', 1)[-1]}</title><link>{site.url(path)}</link>"
                    f"<guid>{path}</guid></item>" for path in paths)
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{title}</title>{items}"
            f"</channel></rss>").encode("utf-8")


def url_list(site, paths: List[str]) -> bytes:
    return "".join(site.url(path) + "\n" for path in paths).encode("utf-8")


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest()[:16] + '"'


class Versioned:
    """A route whose n-th request gets the n-th body (the last one from then on), with an ETag and a 304 for a
    matching If-None-Match, as a well-behaved feed server answers. Records the status of every answer."""

    def __init__(self, bodies: List[Callable], content_type: str = "application/rss+xml"):
        self._bodies = bodies
        self._content_type = content_type
        self._lock = threading.Lock()
        self.statuses: List[int] = []

    def __call__(self, handler) -> None:
        with self._lock:
            body = self._bodies[min(len(self.statuses), len(self._bodies) - 1)](handler.server.site)
            etag = etag_of(body)
            status = 304 if handler.headers.get("If-None-Match") == etag else 200
            self.statuses.append(status)
        if status == 304:
            handler.send_response(304)
            handler.send_header("ETag", etag)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        else:
            handler.send_body(200, body, self._content_type, {"ETag": etag})


def config_for(output, feeds, url_files=(), started_at=T0) -> IngestConfig:
    return IngestConfig(
        feeds=tuple(feeds), url_files=tuple(url_files), output=str(output), run_id="stream", started_at=started_at,
        core=CoreSettings(fetch=FAST, entities=EntityStageSettings(tagger=EntitySettings(use_ner=False))),
        buckets=1)


def files_of(root, dataset):
    base = root / dataset
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())


def poll(name: str, seconds_after_t0: float) -> TimestampedValue:
    return TimestampedValue(name, S0 + seconds_after_t0)


# ---------------------------------------------------------------------------------------------------------------
# The whole graph


def test_unbounded_graph_polls_dedups_and_writes_one_file_set_per_window(tmp_path, fetch_context):
    world = Versioned([
        lambda site: rss(site, [A, B, MISSING]),  # poll 1, 23:58
        lambda site: rss(site, [D, A, B, MISSING]),  # poll 2, 23:59: one new article, the rest seen
        lambda site: rss(site, [D, A, B, MISSING]),  # poll 3, 00:00: unchanged -> 304
        lambda site: rss(site, [C, GONE, D, A, B, MISSING]),  # poll 4, 00:01
    ])
    europe = Versioned([lambda site: rss(site, [E], "Europe")])
    subscriptions = Versioned([lambda site: url_list(site, ["/live/europe.rss", "/live/nested.txt"])],
                              "text/plain; charset=utf-8")
    nested = Versioned([lambda site: url_list(site, ["/live/world.rss"])], "text/plain; charset=utf-8")
    routes = {**fault_routes(), "/live/world.rss": world, "/live/europe.rss": europe,
              "/live/subscriptions.txt": subscriptions, "/live/nested.txt": nested}
    out = tmp_path / "out"
    with SampleSite(routes=routes) as site:
        local_feed = tmp_path / "local.rss"  # a feed file, read through FileSystems at every poll
        local_feed.write_bytes(rss(site, [A, OK], "Local"))
        urls = tmp_path / "urls.txt"  # --urls: article URLs, read at every poll
        urls.write_text(f"# picked by hand\n{site.url(WRONG_CHARSET)}\nnot a url\n")
        config = config_for(out, [site.url("/live/world.rss"), site.url("/live/subscriptions.txt"),
                                  site.url("/feeds/empty-garbage.xml"), str(local_feed)], [str(urls)])
        polls = (
            BeamTestStream()
            .add_elements([poll("poll-1", 0)])
            .advance_watermark_to(S0 + 60)
            .add_elements([poll("poll-2", 60)])
            .advance_watermark_to(S0 + 120)
            .add_elements([poll("poll-3", 120)])
            .advance_watermark_to(S0 + 180)
            .add_elements([poll("late", 30)])  # stamped in the 23:58 window, which closed two windows ago
            .add_elements([poll("poll-4", 180)])
            .advance_watermark_to_infinity()
        )
        pipeline = streaming_pipeline()
        build_stream_pipeline(pipeline, config, poll_interval=60, impulses=pipeline | "Polls" >> polls)
        counters = run_and_count(pipeline)
        base = site.base_url
        v1, v2 = etag_of(rss(site, [A, B, MISSING])), etag_of(rss(site, [D, A, B, MISSING]))
        requests = {path: [headers.get("If-None-Match") for _, headers in site.requests(path)]
                    for path in ("/live/world.rss", "/live/europe.rss", "/live/subscriptions.txt",
                                 "/feeds/empty-garbage.xml", MISSING, A, "/robots.txt")}

    # windows: one set of files per window, named by its start, under the date the window starts on
    assert files_of(out, "articles") == [
        "ingest_date=2026-11-21/language=de/part-stream-20261121T235900Z-00000.parquet",
        "ingest_date=2026-11-21/language=en/part-stream-20261121T235800Z-00000.parquet",
        "ingest_date=2026-11-21/language=fr/part-stream-20261121T235800Z-00000.parquet",
        "ingest_date=2026-11-22/language=fr/part-stream-20261122T000100Z-00000.parquet",
    ]
    assert files_of(out, "dead_letters") == [
        "ingest_date=2026-11-21/part-stream-20261121T235800Z-00000.parquet",
        "ingest_date=2026-11-22/part-stream-20261122T000100Z-00000.parquet",
    ]
    # the per-window files read back as one dataset; every article once, although feeds listed A and B 3 times
    articles = ds.dataset(out / "articles", format="parquet", partitioning="hive").to_table(
        columns=["url", "ingest_date", "language", "run_id"]).to_pylist()
    assert sorted((r["url"].replace(base, ""), r["ingest_date"], r["language"]) for r in articles) == sorted([
        (A, "2026-11-21", "en"), (B, "2026-11-21", "en"), (OK, "2026-11-21", "en"), (E, "2026-11-21", "fr"),
        (WRONG_CHARSET, "2026-11-21", "fr"), (D, "2026-11-21", "de"), (C, "2026-11-22", "fr")])
    assert {r["run_id"] for r in articles} == {"stream"}
    # dead letters in streaming: a 404 in each of two windows; the unparsable feed, the nested list and the bad
    # line of the URL file once each, although they were polled four times
    dead = ds.dataset(out / "dead_letters", format="parquet", partitioning="hive").to_table(
        columns=["url", "stage", "reason", "ingest_date", "warc_filename"]).to_pylist()
    # a row that had a response points into the archive of its window: fetch failures, and with --archive all
    # (the default) the feed documents rejected whole too
    assert sorted(((r["url"] or "").replace(base, ""), (r["warc_filename"] or "").split("T")[-1]) for r in dead) == [
        ("", ""), (GONE, "000100Z-00000.warc.gz"), (MISSING, "235800Z-00000.warc.gz"),
        ("/feeds/empty-garbage.xml", "235800Z-00000.warc.gz"), ("/live/nested.txt", "235800Z-00000.warc.gz")]
    assert sorted((r["ingest_date"], r["stage"], r["reason"], (r["url"] or "").replace(base, "")) for r in dead) == [
        ("2026-11-21", "feed", "feed_not_a_feed", "/feeds/empty-garbage.xml"),
        ("2026-11-21", "fetch", "http_404", MISSING),
        ("2026-11-21", "source", "invalid_url", ""),
        ("2026-11-21", "source", "nested_list_ignored", "/live/nested.txt"),
        ("2026-11-22", "fetch", "http_404", GONE),
    ]
    # conditional GET: polls after the first send the validator they were given; a 304 produces no items
    assert requests["/live/world.rss"] == [None, v1, v2, v2]
    assert world.statuses == [200, 200, 304, 200]
    assert europe.statuses == [200, 304, 304, 304]  # a listed feed keeps its own state: polled at every poll
    assert subscriptions.statuses == [200, 304, 304, 304] and nested.statuses == [200, 304, 304, 304]
    assert len(requests["/feeds/empty-garbage.xml"]) == 4 and all(requests["/feeds/empty-garbage.xml"][1:])
    assert counters["feeds.not_modified"] == 1 + 3 + 3 + 3 + 3  # world once; europe, lists and garbage 3 times
    assert counters["feeds.unchanged"] == 3 and counters["sources.url_files_unchanged"] == 3  # the local files
    # the late poll was dropped before it fetched anything (4 polls of world.rss, not 5), and counted
    assert counters["polls.late"] == 1 and counters["polls.on_time"] == 4
    # FirstSeen: re-listed articles are counted and dropped, never fetched again
    assert (counters["items.in"], counters["items.unique"], counters["items.duplicate"]) == (17, 9, 8)
    assert len(requests[MISSING]) == 1 and len(requests[A]) == 1
    assert len(requests["/robots.txt"]) == 1
    assert counters["articles.written"] == 7 and counters["dead_letters.written"] == 5
    assert account(counters).balanced, account(counters).as_dict()


@pytest.mark.parametrize("archive", ["all", "articles"])
def test_the_unbounded_graph_archives_one_file_per_window(tmp_path, fetch_context, archive):
    """TestStream polls in two windows (23:58, 23:59): each window's responses go to its own file, named by the
    window's start, and the rows of that window point into it. `--archive all` keeps the polled feed's answers
    (and the robots.txt answer its first poll needed) too, as batch runs do; `articles` only the article pages'."""
    from io import BytesIO

    from warcio.archiveiterator import ArchiveIterator

    world = Versioned([lambda site: rss(site, [A, MISSING]), lambda site: rss(site, [C, A, MISSING])])
    out = tmp_path / "out"
    with SampleSite(routes={**fault_routes(), "/live/world.rss": world}) as site:
        polls = (BeamTestStream().add_elements([poll("poll-1", 0)]).advance_watermark_to(S0 + 60)
                 .add_elements([poll("poll-2", 60)]).advance_watermark_to_infinity())
        pipeline = streaming_pipeline()
        config = replace(config_for(out, [site.url("/live/world.rss")]), archive=archive)
        build_stream_pipeline(pipeline, config, poll_interval=60, impulses=pipeline | "Polls" >> polls)
        counters = run_and_count(pipeline)
        base = site.base_url
    files = sorted(str(p.relative_to(out)) for p in (out / "warc").rglob("*") if p.is_file())
    assert files == ["warc/ingest_date=2026-11-21/stream-20261121T235800Z-00000.warc.gz",
                     "warc/ingest_date=2026-11-21/stream-20261121T235900Z-00000.warc.gz"]
    articles = ds.dataset(out / "articles", format="parquet", partitioning="hive").to_table().to_pylist()
    assert sorted(r["url"].replace(site.base_url, "") for r in articles) == sorted([A, C])
    for row in articles + [d for d in ds.dataset(out / "dead_letters", format="parquet", partitioning="hive").to_table(
            ).to_pylist() if d["reason"] == "http_404"]:
        window = "235800Z" if row["url"].endswith((A, MISSING)) else "235900Z"
        assert row["warc_filename"].endswith(f"stream-20261121T{window}-00000.warc.gz")
        data = (out / row["warc_filename"]).read_bytes()
        member = data[row["warc_record_offset"]:row["warc_record_offset"] + row["warc_record_length"]]
        (record,) = list(ArchiveIterator(BytesIO(member)))
        assert record.rec_type == "response" and record.rec_headers["WARC-Target-URI"] == row["url"]
    archived = {}  # window -> (record type, path, status or role) of every record, in file order
    for name in files:
        with open(out / name, "rb") as handle:
            archived[name.split("T")[1][:7]] = [
                (r.rec_type, r.rec_headers["WARC-Target-URI"].replace(base, ""),
                 r.http_headers.get_statuscode() if r.rec_type == "response" else
                 json.loads(r.content_stream().read())["role"] if r.rec_type == "metadata" else None)
                for r in ArchiveIterator(handle) if r.rec_type != "warcinfo"]
    responses = {window: sorted((path, status) for kind, path, status in records if kind == "response")
                 for window, records in archived.items()}
    roles = {window: sorted((path, role) for kind, path, role in records if kind == "metadata")
             for window, records in archived.items()}
    if archive == "all":
        assert responses == {"235800Z": sorted([("/robots.txt", "200"), ("/live/world.rss", "200"), (A, "200"),
                                                (MISSING, "404")]),
                             "235900Z": sorted([("/live/world.rss", "200"), (C, "200")])}
        assert roles == {"235800Z": sorted([("/live/world.rss", "feed"), (A, "article"), (MISSING, "article")]),
                         "235900Z": sorted([("/live/world.rss", "feed"), (C, "article")])}
    else:
        assert responses == {"235800Z": sorted([(A, "200"), (MISSING, "404")]), "235900Z": [(C, "200")]}
    entries = 5 if archive == "all" else 3
    assert counters["warc.entries"] == counters["warc.entries_written"] == entries and counters["warc.files"] == 2
    assert account(counters).balanced, account(counters).as_dict()



# ---------------------------------------------------------------------------------------------------------------
# The stages on their own


def item(path: str) -> FeedItem:
    url = "http://news.example" + path
    return FeedItem(url=url, canonical_url=canonicalize_url(url), feed_url="http://news.example/feed")


def test_first_seen_drops_reappearances_and_forgets_after_the_ttl():
    x, x_tracked, y = item("/x"), item("/x?utm_source=rss"), item("/y")
    items = (
        BeamTestStream()
        .add_elements([TimestampedValue(x, 0), TimestampedValue(y, 10)])
        .advance_watermark_to(40)
        .add_elements([TimestampedValue(x_tracked, 50)])  # same canonical URL: dropped, expiry pushed to 150
        .advance_watermark_to(130)  # y (listed last at 10) expires at 110; x is held until 150
        .add_elements([TimestampedValue(x, 135), TimestampedValue(y, 135)])  # x dropped (-> 235), y admitted again
        .advance_watermark_to(300)  # both forgotten
        .add_elements([TimestampedValue(x, 310)])  # admitted again
        .advance_watermark_to_infinity()
    )
    pipeline = streaming_pipeline()
    admitted = (
        pipeline
        | items
        | FirstSeen(ttl=100)
        | beam.Map(lambda i, at=beam.DoFn.TimestampParam: (i.url.rsplit("/", 1)[-1], int(at.micros // 1e6)))
    )
    assert_that(admitted, equal_to([("x", 0), ("y", 10), ("y", 135), ("x", 310)]))
    counters = run_and_count(pipeline)
    assert (counters["items.in"], counters["items.unique"], counters["items.duplicate"]) == (6, 4, 2)
    assert counters["items.forgotten"] == 4  # x at 235 and 410, y at 110 and 235: state does not grow for ever


def test_late_polls_are_dropped_at_the_clock_and_counted():
    windows = poll_windows(Timestamp(0), 60)
    impulses = (
        BeamTestStream()
        .add_elements([TimestampedValue("a", 0)])
        .advance_watermark_to(45)
        .add_elements([TimestampedValue("behind the watermark, its window still open", 10)])
        .advance_watermark_to(61)
        .add_elements([TimestampedValue("its window closed", 59)])
        .add_elements([TimestampedValue("b", 65)])
        .add_elements([TimestampedValue("c", 185)])
        .advance_watermark_to(200)
        .add_elements([TimestampedValue("a window nobody opened, older than one that was", 125)])
        .advance_watermark_to_infinity()
    )
    pipeline = streaming_pipeline()
    on_time = pipeline | impulses | OnTimePolls(windows) | beam.Map(lambda at: int(at.micros // 1e6))
    assert_that(on_time, equal_to([0, 10, 65, 185]))
    counters = run_and_count(pipeline)
    assert (counters["polls.on_time"], counters["polls.late"]) == (4, 2)


def test_poll_windows_start_at_the_polls():
    windows = poll_windows(Timestamp(seconds=int(S0) + 7), 60)
    start = windows.assign(WindowFn.AssignContext(Timestamp(seconds=int(S0) + 7 + 125)))[0].start
    assert start == Timestamp(seconds=int(S0) + 7 + 120)


# ---------------------------------------------------------------------------------------------------------------
# The entry point for streaming runners


@pytest.mark.parametrize("argv, streaming", [
    (["--runner", "DataflowRunner"], True),
    (["--runner=FlinkRunner"], True),
    (["--runner", "apache_beam.runners.portability.prism_runner.PrismRunner"], True),
    (["--runner", "FnApiRunner"], False),
    (["--runner", "DirectRunner"], False),
    ([], False),
])
def test_only_streaming_runners_go_to_the_unbounded_graph(argv, streaming):
    assert is_streaming_runner(argv) is streaming


def test_run_unbounded_refuses_a_local_runner(tmp_path):
    with pytest.raises(UsageError, match="does not run unbounded pipelines"):
        run_unbounded(["--feeds", "http://127.0.0.1:9/feed.rss", "--output", str(tmp_path), "--runner", "FnApiRunner"])


def test_run_unbounded_with_a_real_periodic_impulse(tmp_path, fetch_context):
    """The PeriodicImpulse path end to end: an explicit start (the run's start), `--max-cycles` as its stop, files
    named by window, a manifest. The FnApiRunner runs PeriodicImpulse (the BundleBasedDirectRunner cannot), so the
    entry point is allowed to use it here. It is no streaming runner: between PeriodicImpulse's rounds it may move
    the watermark to the end of time and fire every timer (measured: the feeds' state is then forgotten between
    the two polls), so what depends on state across polls is asserted with TestStream above, not here."""
    feed = Versioned([lambda site: rss(site, [A])])
    out = tmp_path / "out"
    with SampleSite(routes={"/live/world.rss": feed}) as site:
        now = datetime.now(timezone.utc)
        code = run_unbounded(
            ["--feeds", site.url("/live/world.rss"), "--output", str(out), "--runner", "FnApiRunner",
             "--poll-interval", "1", "--max-cycles", "2", "--entities", "gazetteer", "--host-delay", "0",
             "--connect-timeout", "1", "--read-timeout", "1", "--deadline", "3", "--retry-backoff", "0.01",
             "--allow-private-addresses"],
            now=now, allowed_runners=("FnApiRunner",))
        first_poll = site.requests("/live/world.rss")[0][1]
    assert code == 0
    assert len(feed.statuses) == 2 and "If-None-Match" not in first_poll  # two polls, then the impulses stop
    [manifest] = read_manifests(str(out))
    run_id = manifest["run_id"]
    assert manifest["status"] == "stopped" and manifest["mode"] == "unbounded"
    assert manifest["counters"]["polls.on_time"] == 2 and manifest["counters"].get("polls.late", 0) == 0
    start = int(now.timestamp())
    tags = {datetime.fromtimestamp(start + i, timezone.utc).strftime("%Y%m%dT%H%M%SZ") for i in (0, 1)}
    names = [os.path.basename(path) for path in ds.dataset(out / "articles", format="parquet",
                                                           partitioning="hive").files]
    assert names and all(name.startswith(f"part-{run_id}-") and name.split("-")[-2] in tags for name in names)
    table = ds.dataset(out / "articles", format="parquet", partitioning="hive").to_table().to_pylist()
    assert {row["url"].replace(site.base_url, "") for row in table} == {A}
    assert manifest["counters"]["articles.written"] == len(table)


def test_run_unbounded_archives_what_sites_discovery_fetched(tmp_path, fetch_context):
    """`--sites` with a streaming runner: discovery runs once in the driver when the job starts, and its responses
    are archived there, to `<run_id>-discovery.warc.gz`, and counted, as in batch runs."""
    from io import BytesIO

    from warcio.archiveiterator import ArchiveIterator

    from tests.kinds_routes import kinds_routes

    out = tmp_path / "out"
    with SampleSite(routes=kinds_routes()) as site:
        sites = tmp_path / "sites.txt"
        sites.write_text(f"{site.base_url}/\n")
        code = run_unbounded(
            ["--sites", str(sites), "--output", str(out), "--runner", "FnApiRunner", "--run-id", "s1",
             "--poll-interval", "1", "--max-cycles", "1", "--entities", "gazetteer", "--host-delay", "0",
             "--connect-timeout", "1", "--read-timeout", "1", "--deadline", "3", "--retry-backoff", "0.01",
             "--allow-private-addresses"],
            allowed_runners=("FnApiRunner",))
        base = site.base_url
    assert code == 0
    (own,) = (out / "warc").glob("ingest_date=*/s1-discovery.warc.gz")
    roles = {(r.rec_headers["WARC-Target-URI"].replace(base, ""), json.loads(r.content_stream().read())["role"])
             for r in ArchiveIterator(BytesIO(own.read_bytes())) if r.rec_type == "metadata"}
    assert {("/", "discovery"), ("/robots.txt", "discovery")} <= roles
    [manifest] = read_manifests(str(out))
    counters = manifest["counters"]
    windows = list((out / "warc").glob("ingest_date=*/s1-2*.warc.gz"))
    assert windows and counters["warc.files"] == 1 + len(windows)
    assert counters["warc.entries"] == counters["warc.entries_written"] > len(roles)


def test_unbounded_graph_reads_json_feeds_sitemap_indexes_and_discovered_sitemaps(tmp_path, fetch_context):
    """The same source kinds as batch (tests/test_source_kinds_cli.py), polled twice: the index's sitemaps (a nested
    index, gzip, a text sitemap) are read through the sitemap levels; the second poll finds nothing new."""
    from tests.kinds_routes import EN, FR, kinds_routes

    out = tmp_path / "out"
    with SampleSite(routes={**fault_routes(), **kinds_routes()}) as site:
        bad_site = DeadLetter(url=None, stage="source", reason="invalid_url", detail="a line of sites.txt is not a "
                              "site: 'x y'", failed_at=T0)  # found by discovery before the job started
        config = replace(config_for(out, [site.url("/kinds/feed.json"), site.url("/kinds/index.xml")]),
                         sitemaps=(site.url("/kinds/links.txt"),),  # a discovered sitemap: text is a sitemap
                         source_dead_letters=(bad_site,))
        polls = (BeamTestStream().add_elements([poll("poll-1", 0)]).advance_watermark_to(S0 + 60)
                 .add_elements([poll("poll-2", 60)]).advance_watermark_to_infinity())
        pipeline = streaming_pipeline()
        build_stream_pipeline(pipeline, config, poll_interval=60, impulses=pipeline | "Polls" >> polls)
        counters = run_and_count(pipeline)
        base = site.base_url
    rows = ds.dataset(out / "articles", format="parquet", partitioning="hive").to_table(columns=["url"]).to_pylist()
    assert sorted(r["url"].replace(base, "") for r in rows) == sorted(EN + FR)
    dead = ds.dataset(out / "dead_letters", format="parquet", partitioning="hive").to_table().to_pylist()
    assert sorted((r["reason"], (r["url"] or "").replace(base, "")) for r in dead) == [
        # once per poll path, not per poll: the JSON Feed's item, and links.txt's bad line both as the discovered
        # sitemap and as listed by the nested index (two sources that are the same document)
        ("invalid_url", ""), ("invalid_url", ""), ("invalid_url", ""), ("invalid_url", ""),  # + the --sites line
        ("sitemap_loop", "/kinds/index.xml")]
    assert counters["sitemaps.indexes"] == 2 and counters["feeds.json_feeds"] == 1
