"""Scale: a run over one site still spreads its CPU work over every worker."""
import multiprocessing
from io import BytesIO
from dataclasses import replace

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.sample_site import SITE_DIR, SampleSite
from newsbeam.sample_site.arrival import SLACK
from newsbeam.schemas.records import FeedItem
from newsbeam.transforms.core import CoreSettings, ProcessArticles
from newsbeam.transforms.entities import EntityStageSettings
from newsbeam.urls import canonicalize_url
from tests.conftest import FAST
from tests.pipeline_helpers import SlowStartOnOneWorker, extracting_pid, run_and_count


def _two_worker_pipeline() -> test_pipeline.TestPipeline:
    options = PipelineOptions(["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"])
    return test_pipeline.TestPipeline(runner="FnApiRunner", options=options)


def test_one_host_run_extracts_on_both_workers_and_stays_polite():
    # 32 article pages, all from one host: fetching keeps them in one group, the extraction after it must not;
    # the host's gate (one request at a time, 50 ms apart, one robots.txt) must hold all the same, also while the
    # warm-up loads the entity models in the fetching worker (a thread that holds the GIL for tens of ms at a time)
    settings = replace(FAST, host_concurrency=1, host_delay=0.05)
    paths = [f"/articles/{page.name}" for page in sorted((SITE_DIR / "articles").glob("*.html"))]
    with SampleSite() as site:
        items = [FeedItem(url=site.url(p), canonical_url=canonicalize_url(site.url(p)), feed_url=None) for p in paths]
        pipeline = _two_worker_pipeline()
        core = CoreSettings(fetch=settings, entities=EntityStageSettings(), warm_up=True)
        result = pipeline | beam.Create(items) | ProcessArticles(core)
        # the pid is taken in the fused stage that extracts: a Map right after it has no barrier in between
        pids = (result["articles"] | "Pid" >> beam.Map(extracting_pid) | beam.Distinct()
                | beam.combiners.Count.Globally())
        assert_that(pids, equal_to([2]))
        counters = run_and_count(pipeline)
        times = sorted(t for p in paths for t in site.request_times(p))
        robots = site.requests("/robots.txt")
    assert counters["pages.hosts"] == 1
    assert counters["articles.extracted"] + counters.get("articles.extract_failed", 0) == len(paths)
    assert len(times) == len(paths) and len(robots) == 1
    assert all(b - a >= 0.05 - SLACK for a, b in zip(times, times[1:])), times


def test_the_worker_given_nothing_to_fetch_extracts_the_pages_while_the_other_fetches_them(tmp_path):
    # one host, fetched one page at a time 100 ms apart: a fetch of ~3 s on one worker. With no barrier after it
    # the other worker extracts each page as it is listed, not once the whole fetch has ended; politeness holds
    settings = replace(FAST, host_concurrency=1, host_delay=0.1)
    paths = [f"/articles/{page.name}" for page in sorted((SITE_DIR / "articles").glob("*.html"))]
    found = {}
    for label, while_fetching in (("while", 2), ("after", 0)):
        with SampleSite() as site:
            items = [FeedItem(url=site.url(p), canonical_url=canonicalize_url(site.url(p)), feed_url=None)
                     for p in paths]
            pipeline = _two_worker_pipeline()
            core = CoreSettings(fetch=settings, entities=None, spool_dir=str(tmp_path / label),
                                extract_while_fetching=while_fetching)
            result = pipeline | beam.Create(items) | ProcessArticles(core)
            urls = (result["articles"] | "Url" >> beam.Map(lambda a: a.extracted.item.url),
                    result["dead_letters"] | "DeadUrl" >> beam.Map(lambda d: d.url)) | beam.Flatten()
            assert_that(urls, equal_to([item.url for item in items]))  # each page once, article or dead letter
            counters = run_and_count(pipeline)
            times = sorted(t for p in paths for t in site.request_times(p))
            assert len(times) == len(paths) and len(site.requests("/robots.txt")) == 1
            assert all(b - a >= 0.1 - SLACK for a, b in zip(times, times[1:])), times
            found[label] = counters
    # extraction (~20-50 ms a page) keeps up with the fetch: most pages were taken while it still went on
    assert found["while"]["spool.pages_while_fetching"] >= len(paths) // 2, found["while"]
    assert found["while"]["spool.pages_taken_over"] >= len(paths) // 2
    assert "spool.pages_while_fetching" not in found["after"]


def _spooled_pages(count: int, repeats: int = 50):
    from datetime import datetime, timezone

    from newsbeam.schemas.records import FetchedPage, FetchRequest

    fetched_at = datetime(2026, 1, 2, tzinfo=timezone.utc)
    return [FetchedPage(request=FetchRequest(url=f"http://a.example/{n}", context=None),
                        final_url=f"http://a.example/{n}", status=200, content_type="text/html",
                        header_charset=None, body=f"<p>page {n}</p>".encode() * repeats, fetched_at=fetched_at,
                        attempts=1)
            for n in range(count)]


def test_spooled_redistribution_gives_back_every_page_unchanged(tmp_path):
    from newsbeam.transforms.spool import RedistributePages
    from tests.pipeline_helpers import fnapi_pipeline

    pages = _spooled_pages(20, repeats=500)
    spool = tmp_path / "spool"
    pipeline = fnapi_pipeline()
    assert_that(pipeline | beam.Create(pages) | RedistributePages(str(spool)), equal_to(pages))
    counters = run_and_count(pipeline)
    # what crossed the barrier were references into the files; the pages of a bundle share one (a file per page
    # cost up to ~0.6 ms of CPU each in the fetch stage); the caller removes the files
    assert 1 <= len(list(spool.glob("*.records"))) < 5
    assert 0 < counters["spool.bytes"] < sum(len(p.body) for p in pages)


def test_two_workers_share_out_the_spooled_pages_when_one_starts_late(tmp_path):
    from newsbeam.transforms.spool import RedistributePages

    pages = _spooled_pages(40)
    pipeline = _two_worker_pipeline()
    result = (pipeline | beam.Create(pages) | RedistributePages(str(tmp_path / "spool"))
              | beam.ParDo(SlowStartOnOneWorker(str(tmp_path / "slow"), 8.0)))
    assert_that(result, equal_to(pages))  # each page once
    counters = run_and_count(pipeline)
    # the worker that started at once did not stop at its half (20 pages at 20 ms, against the other's 8 s start)
    assert counters["spool.pages_taken_over"] >= 10


def test_a_fetching_worker_ahead_of_the_others_extracts_pages_itself_while_it_fetches(tmp_path):
    from newsbeam.transforms.spool import RedistributePages

    pages = _spooled_pages(120)
    pipeline = _two_worker_pipeline()
    # one worker makes every page at once (the fetch of one host); extracting takes 20 ms a page: the other worker
    # cannot keep up, so the first keeps pages for itself once enough of its listed ones wait
    result = (pipeline | beam.Create([None]) | beam.FlatMap(lambda _: pages)
              | RedistributePages(str(tmp_path / "spool"), while_fetching=2)
              | beam.ParDo(SlowStartOnOneWorker(str(tmp_path / "slow"), 0.0)))
    assert_that(result, equal_to(pages))  # each page once
    counters = run_and_count(pipeline)
    assert counters["spool.pages_kept_while_fetching"] >= 1, counters
    assert counters["spool.pages_taken_over"] >= 1, counters


def test_record_store_keeps_records_in_the_element_or_in_content_named_files(tmp_path):
    from newsbeam.recordstore import RecordStore

    record = {"text": "Returnees were questioned on arrival. " * 200, "n": 1}
    inline = RecordStore()
    assert isinstance(inline.put(record), bytes) and inline.get(inline.put(record)) == record
    spooled = RecordStore(str(tmp_path / "spool"))
    ref = spooled.put(record)
    assert isinstance(ref, str) and len(ref) < 200 and spooled.get(ref) == record
    # a retried bundle (or the same record at a second barrier) writes nothing new, and its reference is the same
    assert spooled.put(dict(record)) == ref and len(list((tmp_path / "spool").iterdir())) == 1
    assert spooled.get(ref) == record  # read again: the file stays until the run removes the spool


def test_record_store_appends_a_bundle_s_records_to_one_file(tmp_path):
    from newsbeam.recordstore import RecordStore

    records = [{"text": f"Story {n}. " * (50 + n), "n": n} for n in range(30)]
    store = RecordStore(str(tmp_path / "spool"))
    first, second = store.appender(), store.appender()
    refs = [(first if n % 3 else second).put(record) for n, record in enumerate(records)]
    first.close()
    second.close()
    assert len(list((tmp_path / "spool").iterdir())) == 2
    assert all(isinstance(ref, tuple) and len(ref[0]) < 200 for ref in refs)
    assert [store.get(ref) for ref in reversed(refs)] == records[::-1]  # in any order, any number of times
    assert [store.get(ref) for ref in refs] == records
    inline = RecordStore().appender()  # no directory: packed in the element, as RecordStore.put
    assert RecordStore().get(inline.put(records[0])) == records[0]
    path, offset, length = refs[-1]
    with pytest.raises(ValueError):
        store.get((path, offset, length + 10))


def _barrier_bytes(monkeypatch):
    """Counts the encoded bytes the local runner's process holds between stages (every PCollection that crosses a
    stage boundary passes through these two buffers of FnApiRunner)."""
    from apache_beam.runners.portability.fn_api_runner import execution

    seen = [0]

    def counting(original):
        def append(self, data):
            seen[0] += len(data)
            return original(self, data)
        return append

    monkeypatch.setattr(execution.ListBuffer, "append", counting(execution.ListBuffer.append))
    monkeypatch.setattr(execution.GroupingBuffer, "append", counting(execution.GroupingBuffer.append))
    return seen


def _big_pages(count: int, seed: int):
    """Long articles of random words (zlib cannot shrink them much): whole, each would put ~30 KB in the runner."""
    import random

    from tests.faults import article_html

    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(4000)]
    return {f"/big/{n}.html": article_html(f"Report {n}", " ".join(rng.choice(words) for _ in range(300)),
                                           paragraphs=12) for n in range(count)}


def _rows(out):
    import pyarrow.dataset as ds

    table = ds.dataset(out / "articles", format="parquet", partitioning="hive").to_table()
    return sorted(zip(*(table.column(c).to_pylist() for c in ("article_id", "url", "text", "warc_filename"))))


def test_articles_cross_the_barriers_after_the_core_as_references(tmp_path, monkeypatch):
    from newsbeam.pipelines import ingest
    from tests.faults import _html

    pages = 6
    routes = {path: _html(200, body) for path, body in _big_pages(pages, 16).items()}
    seen = _barrier_bytes(monkeypatch)
    found = {}
    with SampleSite(routes=routes) as site:
        urls = tmp_path / "urls.txt"
        urls.write_text("".join(site.url(path) + "\n" for path in routes))
        for label, flags in (("spool", []), ("whole", ["--spool-dir", "off"])):
            seen[0] = 0
            out = tmp_path / label
            outcome = ingest.run(["--urls", str(urls), "--output", str(out), "--run-id", "r1", "--entities", "off",
                                  "--host-delay", "0", "--allow-private-addresses", *flags])
            assert outcome.status == "succeeded", outcome.error
            found[label] = (seen[0], _rows(out))
    text = sum(len(row[2]) for row in found["spool"][1])
    assert len(found["spool"][1]) == pages and text > pages * 20_000
    assert found["spool"][1] == found["whole"][1]  # the same rows either way
    # without the spool, the pages and the (packed) articles cross: more than the text
    assert found["whole"][0] > 1.5 * text, (found["whole"][0], text)
    # with it, references: a few hundred bytes an article per barrier whatever its size, plus its fingerprint
    assert found["spool"][0] < text / 2, (found["spool"][0], text)


def test_warc_input_and_reprocess_pages_never_cross_a_barrier(tmp_path, monkeypatch):
    """`--warc` input and `reprocess` extract each page in the stage that reads it: the local runner never holds
    the input's pages (a reshuffle of pages held 2.9 GB for an 85 MB WARC file of 2,970 pages), even with
    `--spool-dir off`; through the spool, the articles after the core cross as references."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from newsbeam.pipelines import ingest, reprocess
    from tests.faults import _html

    pages = _big_pages(6, 17)
    warc = tmp_path / "input.warc.gz"
    with open(warc, "wb") as handle:  # written by warcio, as another crawler would
        writer = WARCWriter(handle, gzip=True)
        for path, body in pages.items():
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(f"https://news.example.org{path}", "response",
                                                          payload=BytesIO(body), http_headers=headers))
    body_bytes = sum(len(body) for body in pages.values())
    seen = _barrier_bytes(monkeypatch)
    found = {}
    for label, flags in (("spool", []), ("whole", ["--spool-dir", "off"])):
        seen[0] = 0
        out = tmp_path / f"warc-{label}"
        outcome = ingest.run(["--warc", str(warc), "--output", str(out), "--run-id", "w1", "--entities", "off",
                              *flags])
        assert outcome.status == "succeeded", outcome.error
        found[label] = (seen[0], _rows(out))
    assert len(found["spool"][1]) == 6 and found["spool"][1] == found["whole"][1]
    # without the spool only the (packed) articles cross, not the pages
    assert found["whole"][0] < 0.75 * body_bytes, (found["whole"][0], body_bytes)
    assert found["spool"][0] < body_bytes / 4, (found["spool"][0], body_bytes)

    # reprocess reads newsbeam's own archive: fetch the same pages once, archived, then reprocess it both ways
    source = tmp_path / "fetched"
    with SampleSite(routes={path: _html(200, body) for path, body in pages.items()}) as site:
        urls = tmp_path / "urls.txt"
        urls.write_text("".join(site.url(path) + "\n" for path in pages))
        outcome = ingest.run(["--urls", str(urls), "--output", str(source), "--run-id", "f1", "--entities", "off",
                              "--host-delay", "0", "--allow-private-addresses"])
        assert outcome.status == "succeeded", outcome.error
    again = {}
    for label, flags in (("spool", []), ("whole", ["--spool-dir", "off"])):
        seen[0] = 0
        out = tmp_path / f"again-{label}"
        outcome = reprocess.run(["--from", str(source), "--output", str(out), "--new-run-id", "p1", "--entities",
                                 "off", *flags])
        assert outcome.status == "succeeded", outcome.error
        again[label] = (seen[0], [row[:3] for row in _rows(out)])
    assert again["spool"][1] == again["whole"][1] == [row[:3] for row in _rows(source)]
    assert again["whole"][0] < 0.75 * body_bytes, (again["whole"][0], body_bytes)
    assert again["spool"][0] < body_bytes / 4, (again["spool"][0], body_bytes)


def test_archived_responses_wait_in_the_spool_uncompressed(tmp_path, monkeypatch):
    """The raw bodies are mostly gzip already: the run's spool keeps archive entries uncompressed (each
    body verbatim in its file), not compressed a second time (as the run's articles and rows are)."""
    from newsbeam.pipelines import ingest
    from newsbeam.recordstore import Appender
    from newsbeam.warc import ArchiveEntry
    from tests.faults import _html, article_html

    put = Appender.put
    archived = []

    def recording(self, record):
        ref = put(self, record)
        if isinstance(record, ArchiveEntry) and record.exchanges:
            path, offset, length = ref  # in a file: the entry waits in the spool
            self._file.flush()
            with open(path, "rb") as file:
                data = file.read()[offset:offset + length]
            archived.append([(raw.url, raw.body in data) for raw in record.exchanges])
        return ref

    monkeypatch.setattr(Appender, "put", recording)  # the FnApiRunner runs in this process
    routes = {f"/a/{n}.html": _html(200, article_html(f"Story {n}", f"Body of story {n}. " * 40)) for n in range(3)}
    with SampleSite(routes=routes) as site:
        urls = tmp_path / "urls.txt"
        urls.write_text("".join(site.url(path) + "\n" for path in routes))
        outcome = ingest.run(["--urls", str(urls), "--output", str(tmp_path / "out"), "--run-id", "r1",
                              "--entities", "off", "--host-delay", "0", "--allow-private-addresses"])
    assert outcome.status == "succeeded", outcome.error
    # the old code compressed them again in the spool: no body was found as sent
    assert len(archived) == 3 and all(found for entry in archived for _, found in entry), archived


def _syndicated_article(number: int):
    """Article `number` of a small run: copies of 4 stories, a few with light edits, the rest unrelated texts."""
    import random
    from datetime import datetime, timezone

    from newsbeam.schemas.records import Article, ExtractedArticle

    words = [f"w{n}" for n in range(2000)]
    story = random.Random(number % 8)
    text = [story.choice(words) for _ in range(250)]
    edits = random.Random(number)
    for _ in range(number % 3 * 4 if number % 8 < 4 else 0):  # stories 0-3: copies and lightly edited copies
        text[edits.randrange(len(text))] = edits.choice(words)
    if number % 8 >= 4:  # stories 4-7: every article its own text
        text = [edits.choice(words) for _ in range(250)]
    url = f"http://example.org/{number}"
    now = datetime(2026, 11, 21, tzinfo=timezone.utc)
    return Article(extracted=ExtractedArticle(
        item=FeedItem(url, url), final_url=url, canonical_url=url, http_status=200, content_type="text/html",
        encoding="utf-8", fetched_at=now, attempts=1, title=f"Story {number}", authors=(), published_at=None,
        date_source=None, sitename=None, description=None, tags=(), text=" ".join(text), word_count=250,
        content_hash=str(number)), language="en", language_score=1.0)


def test_near_duplicate_grouping_gathers_band_keys_not_fingerprints(tmp_path, monkeypatch):
    """Issue 16: the grouping step sees each article's id, band keys and where its MinHash waits (~0.4 KB), not its
    fingerprint with the MinHash (~1.7 KB pickled, gathered before in one list: in the runner and one worker);
    the groups are those of the one-list algorithm."""
    import numpy as np

    from newsbeam.neardup import NearDupSettings, PriorBands, fingerprint
    from newsbeam.recordstore import RecordStore
    from newsbeam.transforms.incremental import NearDuplicates, StateSettings
    from newsbeam.urls import article_id
    from tests.pipeline_helpers import fnapi_pipeline
    from tests.test_state import _groups_in_one_pass

    count = 64
    articles = [_syndicated_article(n) for n in range(count)]
    prints = [fingerprint(article_id(a.extracted.canonical_url), a.extracted.text) for a in articles]
    expected = _groups_in_one_pass(prints, PriorBands([], np.zeros((0, 32), dtype=np.uint64)), NearDupSettings())
    assert len(set(expected.values())) < count - 20  # the fixture has groups to find
    state = StateSettings(output=str(tmp_path / "out"), run_id="r1", now=articles[0].extracted.fetched_at)
    pipeline = fnapi_pipeline()
    near = (pipeline
            | beam.Create(range(count))  # numbers, not articles, cross before the step
            | beam.Map(_syndicated_article)
            | NearDuplicates(state, RecordStore(str(tmp_path / "spool"))))
    assert_that(near["articles"] | beam.Map(lambda a: (article_id(a.extracted.canonical_url), a.duplicate_group)),
                equal_to(sorted(expected.items())))
    seen = _barrier_bytes(monkeypatch)
    run_and_count(pipeline)
    print(f"near-duplicate grouping: {seen[0] / count:.0f} bytes an article through the runner's buffers")
    assert seen[0] < count * 1200, seen[0]  # 903 bytes an article measured; 3,841 with the one list


def test_the_barriers_after_the_core_append_a_bundle_s_records_to_one_file(tmp_path):
    """Issue 16, CPU: dedup, near-duplicates, the pointer join and the writer stored each article (and its MinHash,
    and its row) in a content-named file of its own (BLAKE2b, temporary file, rename: ~0.4 ms each); they now
    append a bundle's records to one file per step, and the rows written are the same."""
    import pyarrow.parquet as pq

    from newsbeam.recordstore import RecordStore
    from newsbeam.schemas.datasets import ARTICLES, RunContext
    from newsbeam.schemas.records import WarcPointer
    from newsbeam.transforms.archive import AttachPointers, article_pointer, with_article_pointer
    from newsbeam.transforms.incremental import DropKnownArticles, NearDuplicates, StateSettings
    from newsbeam.transforms.write import WriteDataset
    from tests.pipeline_helpers import fnapi_pipeline

    count = 40

    def archived(number: int):
        article = _syndicated_article(number)
        return replace(article, extracted=replace(article.extracted, date_source="none",
                                                  warc=WarcPointer(f"<urn:uuid:{number}>")))

    state = StateSettings(output=str(tmp_path / "out"), run_id="r1", now=_syndicated_article(0).extracted.fetched_at)
    spool = tmp_path / "spool"
    store = RecordStore(str(spool))
    pipeline = fnapi_pipeline()
    known = pipeline | beam.Create(range(count)) | beam.Map(archived) | DropKnownArticles(state, store)
    near = known.articles | NearDuplicates(state, store)
    pointers = pipeline | "Pointers" >> beam.Create(
        [(f"<urn:uuid:{n}>", WarcPointer(f"<urn:uuid:{n}>", "warc/x.warc.gz", 10 * n, 5)) for n in range(count)])
    pointed = near["articles"] | AttachPointers(pointers, article_pointer, with_article_pointer, store)
    _ = pointed | WriteDataset(ARTICLES, str(tmp_path / "out"), RunContext("r1", "2026-11-30", "test"), store=store)
    run_and_count(pipeline)
    rows = pq.read_table(tmp_path / "out" / "articles").to_pylist()
    assert sorted(row["url"] for row in rows) == sorted(f"http://example.org/{n}" for n in range(count))
    assert all(row["warc_record_offset"] == 10 * int(row["url"].rsplit("/", 1)[1]) for row in rows)
    files = list(spool.iterdir())
    # four steps store records (dedup, near-duplicates: the article and its MinHash, the join, the writer), one
    # file each per bundle; the old code made ~4 files an article (160 here)
    assert len(files) <= 12, sorted(file.name for file in files)


def test_rows_tied_on_their_sort_key_are_written_in_one_order_whatever_their_spool_files(tmp_path):
    """The writer orders rows by their sort key, then by their content's digest: appended records' references name
    a random file per bundle, so ordering by reference would make the file depend on the bundles."""
    from datetime import datetime, timezone

    import pyarrow.parquet as pq

    from newsbeam.recordstore import RecordStore
    from newsbeam.schemas.datasets import DEAD_LETTERS as DEAD_LETTERS_DATASET, RunContext
    from newsbeam.schemas.records import DeadLetter
    from newsbeam.transforms.write import WriteDataset
    from tests.pipeline_helpers import fnapi_pipeline

    # the same sort key (stage, url, reason, detail), different rows
    letters = [DeadLetter(url="http://e.org/1", stage="fetch", reason="timeout", detail="slow",
                          failed_at=datetime(2026, 11, 30, hour, tzinfo=timezone.utc), http_status=None, attempts=hour)
               for hour in range(1, 7)]
    written = []
    for label, order in (("forward", letters), ("backward", letters[::-1])):
        pipeline = fnapi_pipeline()
        _ = (pipeline | beam.Create(order, reshuffle=False)
             | WriteDataset(DEAD_LETTERS_DATASET, str(tmp_path / label), RunContext("r1", "2026-11-30", "test"),
                            store=RecordStore(str(tmp_path / f"spool-{label}"))))
        run_and_count(pipeline)
        written.append(pq.read_table(tmp_path / label / "dead_letters").column("attempts").to_pylist())
    assert written[0] == written[1] and sorted(written[0]) == list(range(1, 7)), written


def test_extraction_while_fetching_is_on_with_the_spool_for_as_many_bundles_as_the_runner_has_workers(tmp_path):
    from apache_beam.options.pipeline_options import PipelineOptions

    from newsbeam.pipelines.ingest import _page_spool, local_workers
    from newsbeam.pipelines.options import NewsbeamOptions, build_config
    from tests.pipeline_helpers import fnapi_pipeline

    assert local_workers(PipelineOptions([])) == 1
    assert local_workers(PipelineOptions(["--direct_num_workers", "3"])) == 3
    assert local_workers(PipelineOptions(["--direct_num_workers", "0"])) == multiprocessing.cpu_count()
    urls = tmp_path / "urls.txt"
    urls.write_text("https://example.com/a\n")
    common = ["--urls", str(urls), "--output", str(tmp_path / "out"), "--direct_num_workers", "2"]
    for flags, runner, expected in (([], "FnApiRunner", 2), (["--extract-while-fetching", "off"], "FnApiRunner", 0),
                                    (["--spool-dir", "off"], "FnApiRunner", 0), ([], "PortableRunner", 0)):
        options = PipelineOptions([*common, *flags, "--runner", runner])
        with _page_spool(build_config(options.view_as(NewsbeamOptions)), options) as config:
            assert config.core.extract_while_fetching == expected, (flags, runner)
    # no barrier between fetching and extraction: the pages are listed and claimed, not reshuffled
    for while_fetching, reshuffled in ((2, False), (0, True)):
        pipeline = fnapi_pipeline()
        _ = pipeline | beam.Create([]) | ProcessArticles(CoreSettings(
            fetch=FAST, entities=None, spool_dir=str(tmp_path / "spool"), extract_while_fetching=while_fetching))
        graph = str(pipeline.to_runner_api())
        assert ("Redistribute/Share/Reshuffle" in graph) is reshuffled
        assert ("Redistribute/Share/ListThenClaim" in graph) is not reshuffled
