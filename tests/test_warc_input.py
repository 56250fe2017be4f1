"""`--warc` input: WARCs that newsbeam did not write (warcio's capture_http, GNU wget --warc-file), split reads,
damaged and truncated records."""
import functools
import gzip
import json
import shutil
import subprocess
import sys
import urllib.request
from io import BytesIO
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator
from warcio.capture_http import capture_http
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsbeam.sample_site import SampleSite, article_paths
from newsbeam.warc import ArchivedResponse, DamagedRecord, OtherRecord, pointer_name, pointer_path, read_records
from newsbeam.transforms.warc_input import read_range, split_file
from tests.pipeline_helpers import ingest_warc

PATHS = sorted(article_paths())


@pytest.fixture(scope="module")
def foreign(tmp_path_factory):
    """A capture_http WARC of 3 pages, a wget WARC of 4 pages and a feed, and a copy of the wget WARC cut inside
    its last response record."""
    if shutil.which("wget") is None:
        pytest.skip("GNU wget is not installed (Debian package 'wget')")
    root = tmp_path_factory.mktemp("foreign")
    with SampleSite() as site:
        with capture_http(str(root / "captured.warc.gz")):
            for path in PATHS[:3]:
                urllib.request.urlopen(site.url(path)).read()
        urls = root / "urls.txt"
        urls.write_text(site.url("/feeds/levant.rss") + "\n" + "".join(site.url(p) + "\n" for p in PATHS[3:7]))
        subprocess.run(["wget", "-q", "--warc-file", str(root / "wget"), "-i", str(urls), "-O", "/dev/null"],
                       check=True, timeout=60)
    data = (root / "wget.warc.gz").read_bytes()
    responses = [(offset, length) for kind, offset, length in index(data) if kind == "response"]
    offset, length = responses[-1]
    (root / "input").mkdir()
    (root / "input" / "cut.warc.gz").write_bytes(data[:offset + length // 2])
    shutil.copy(root / "captured.warc.gz", root / "input")
    return root


def index(data: bytes):
    iterator = ArchiveIterator(BytesIO(data))
    found = []
    for record in iterator:
        record.content_stream().read()
        found.append((record.rec_type, iterator.get_record_offset(), iterator.get_record_length()))
    return found


def responses_of(data: bytes, split: int):
    """Every response read range by range, as `--warc` reads a large file on several workers."""
    handle = BytesIO(data)
    return [found for _, start, end in split_file("x.warc.gz", len(data), split)
            for found in read_range(handle, "x", start, end, True)]


def test_ingest_reads_foreign_warcs_and_reports_the_damaged_record(foreign, tmp_path):
    out = tmp_path / "out"
    articles = ingest_warc(str(foreign / "input" / "*.warc.gz"), out, "w1", "gazetteer")
    # 3 captured pages, and the wget copy's first 3 pages: its 4th page is the record cut in half
    assert sorted(r["url"].rsplit("/", 1)[1] for r in articles) == sorted(p.rsplit("/", 1)[1] for p in PATHS[:6])
    for row in articles:  # the pointers lead back into the input files
        path = foreign / "input" / row["warc_filename"].rsplit("/", 1)[1]
        member = path.read_bytes()[row["warc_record_offset"]:row["warc_record_offset"] + row["warc_record_length"]]
        (record,) = list(ArchiveIterator(BytesIO(member)))
        assert record.rec_headers["WARC-Target-URI"] == row["url"]
    dead = ds.dataset(out / "dead_letters", partitioning="hive").to_table().to_pylist()
    assert [(d["stage"], d["reason"]) for d in dead] == [("source", "warc_damaged")]
    assert "truncated" in dead[0]["detail"] and dead[0]["url"].startswith(str(foreign / "input" / "cut.warc.gz"))
    manifest = json.loads((out / "_runs" / "w1.json").read_text())
    assert manifest["status"] == "succeeded" and manifest["counters"]["warc_in.skipped.not_html"] == 1  # the feed
    assert not (out / "warc").exists() or not list((out / "warc").rglob("*.warc.gz"))  # nothing was fetched


def test_a_record_the_crawler_truncated_is_extracted_from_its_part_and_counted(tmp_path):
    """Crawlers cut large payloads and say so (`WARC-Truncated: length`, as Common Crawl does): no damage, the page
    is extracted from what was kept, and the run counts such pages."""
    with SampleSite() as site:
        pages = {site.url(path): site.render(path)[0] for path in PATHS[:2]}
    (tmp_path / "in").mkdir()
    with open(tmp_path / "in" / "cut-by-crawler.warc.gz", "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for n, (url, body) in enumerate(pages.items()):
            kept = body[:len(body) * 2 // 3] if n else body
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                               ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
            record = writer.create_warc_record(url, "response", payload=BytesIO(kept), http_headers=http,
                                               warc_headers_dict={"WARC-Truncated": "length"} if n else None)
            writer.write_record(record)
    out = tmp_path / "out"
    articles = ingest_warc(str(tmp_path / "in" / "*.warc.gz"), out, "t1", "off")
    assert sorted(r["url"] for r in articles) == sorted(pages)
    # each row says whether its text comes from the whole page or from the part the crawler kept
    first, second = list(pages)
    assert {r["url"]: r["warc_truncated"] for r in articles} == {first: None, second: "length"}
    assert not (out / "dead_letters").exists() or not ds.dataset(out / "dead_letters").count_rows()
    counters = json.loads((out / "_runs" / "t1.json").read_text())["counters"]
    assert counters["warc_in.truncated_pages"] == 1
    inspected = subprocess.run([sys.executable, "-m", "newsbeam.pipelines.cli", "inspect", str(out)],
                               capture_output=True, text=True, timeout=120)
    assert inspected.returncode == 0, inspected.stderr
    assert "articles from truncated WARC records: 1 (" in inspected.stdout


def test_the_pointer_carries_the_records_truncation_and_an_empty_value_is_none():
    data = BytesIO()
    writer = WARCWriter(data, gzip=True)
    for value in ("length", "", None, "time"):
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(
            f"https://example.org/{value}", "response", payload=BytesIO(b"<p>kept</p>"), http_headers=http,
            warc_headers_dict=None if value is None else {"WARC-Truncated": value}))
    found = read_records(BytesIO(data.getvalue()), "x.warc.gz", 0, len(data.getvalue()))
    assert [r.pointer.truncated for r in found if isinstance(r, ArchivedResponse)] == ["length", None, None, "time"]


def test_wget_warc_is_read_whole(foreign):
    found = list(read_records(open(foreign / "wget.warc.gz", "rb"), "wget.warc.gz", 0,
                              (foreign / "wget.warc.gz").stat().st_size))
    responses = [f for f in found if isinstance(f, ArchivedResponse)]
    assert len(responses) == 5 and not [f for f in found if isinstance(f, DamagedRecord)]
    assert sum(r.url.endswith(".rss") for r in responses) == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(split=st.integers(min_value=200, max_value=30000))
def test_split_reads_find_every_record_once(foreign, split):
    data = (foreign / "wget.warc.gz").read_bytes() + (foreign / "captured.warc.gz").read_bytes()
    whole = [r.pointer for r in responses_of(data, len(data) + 1) if isinstance(r, ArchivedResponse)]
    parts = [r.pointer for r in responses_of(data, split) if isinstance(r, ArchivedResponse)]
    assert parts == whole and len(whole) == 8


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(min_value=0.0, max_value=1.0), flip=st.booleans())
def test_damaged_files_never_raise_and_never_yield_a_short_or_altered_body(foreign, cut, flip):
    data = bytearray((foreign / "wget.warc.gz").read_bytes())
    intact = {r.pointer.offset: r for r in read_range(BytesIO(bytes(data)), "x.warc.gz", 0, len(data), True)
              if isinstance(r, ArchivedResponse)}
    at = int(cut * (len(data) - 1))
    if flip:
        data[at] ^= 0xFF
    else:
        del data[at:]
    found = list(read_range(BytesIO(bytes(data)), "x.warc.gz", 0, len(data), True))
    read = {r.pointer.offset: r.body for r in found if isinstance(r, ArchivedResponse)}
    # a flipped byte inside a member's deflate data fails the member's CRC: its record is damaged, not misread
    assert all(body == intact[offset].body for offset, body in read.items())
    untouched = {o for o, r in intact.items() if not r.pointer.offset <= at < r.pointer.offset + r.pointer.length}
    assert {o for o in untouched if flip or o + intact[o].pointer.length <= at} <= set(read)
    assert len(set(intact) - set(read)) <= (1 if flip else len(intact))
    if flip and set(read) != set(intact):
        assert [d for d in found if isinstance(d, DamagedRecord)]


def test_a_warc_compressed_whole_is_reported_and_reads_once_recompressed(foreign, tmp_path):
    """`gzip crawl.warc` makes one member of all records, which warcio does not read past the first record: one
    damaged row that says what to do, and `warcio recompress` (the fix it names) makes a file read whole. A plain
    WARC under a .warc.gz name is read as it is."""
    plain = gzip.decompress((foreign / "wget.warc.gz").read_bytes())
    expected = [r.url for r in read_records(BytesIO(plain), "plain.warc", 0, len(plain))
                if isinstance(r, ArchivedResponse)]
    assert len(expected) == 5

    whole = gzip.compress(plain)
    found = list(read_range(BytesIO(whole), "x.warc.gz", 0, len(whole), True))
    (damaged,) = [d for d in found if isinstance(d, DamagedRecord)]
    assert damaged.offset == 0 and "warcio recompress" in damaged.detail
    assert not [r for r in found if isinstance(r, ArchivedResponse)]  # nothing read from bytes not checked

    (tmp_path / "whole.warc.gz").write_bytes(whole)
    subprocess.run([str(Path(sys.executable).parent / "warcio"), "recompress", str(tmp_path / "whole.warc.gz"),
                    str(tmp_path / "fixed.warc.gz")], check=True, capture_output=True, timeout=60)
    fixed = (tmp_path / "fixed.warc.gz").read_bytes()
    for data, name in ((fixed, "fixed.warc.gz"), (plain, "misnamed.warc.gz")):
        found = list(read_range(BytesIO(data), name, 0, len(data), True))
        assert [r.url for r in found if isinstance(r, ArchivedResponse)] == expected, name
        assert not [d for d in found if isinstance(d, DamagedRecord)], name


_SEGMENT = st.text(alphabet="abcz09-_.", min_size=1, max_size=8).filter(lambda name: name not in (".", ".."))


@settings(max_examples=60, deadline=None)
@given(root=st.sampled_from(["/data/out", "/data/out/", "gs://bucket/out", "s3://bucket/out/"]),
       parts=st.lists(_SEGMENT, min_size=1, max_size=3))
def test_a_pointers_file_name_leads_back_to_its_file(root, parts):
    inside = root.rstrip("/") + "/" + "/".join(parts)  # a file under the output (reprocess into itself)
    assert pointer_name(root, inside) == "/".join(parts)
    assert pointer_path(root, pointer_name(root, inside)) == inside
    for outside in ("/elsewhere/" + "/".join(parts), "gs://other/" + "/".join(parts),
                    root.rstrip("/") + "-sibling/" + "/".join(parts)):  # an input file named in full
        assert pointer_name(root, outside) == outside
        assert pointer_path(root, pointer_name(root, outside)) == outside


@functools.lru_cache(maxsize=1)
def _own_archive() -> bytes:
    """A newsbeam archive of 12 entries: plain pages, redirects (two exchanges), a robots.txt answer before a page,
    and URLs that left only a metadata record (a robots.txt refusal)."""
    import os
    from datetime import datetime, timezone

    from newsbeam.http import RawExchange
    from newsbeam.warc import ArchiveEntry, WarcFileWriter

    def exchange(url: str, status: int, body: bytes) -> RawExchange:
        return RawExchange(url=url, request_headers=(("Accept", "text/html"),),
                           requested_at=datetime(2026, 11, 30, tzinfo=timezone.utc), status=status, reason="",
                           http_version="HTTP/1.1", headers=(("Content-Type", "text/html"),), body=body)

    handle = BytesIO()
    writer = WarcFileWriter(handle, "own.warc.gz", "r1")
    for n in range(12):
        url = f"https://news.example.org/{n}.html"
        body = os.urandom(300 + 97 * n).hex().encode()  # incompressible enough for members of ~0.6-3 KB
        hops = {0: [exchange(url, 200, body)], 1: [exchange(url + "?old", 301, b""), exchange(url, 200, body)],
                2: [exchange("https://news.example.org/robots.txt", 200, b"User-agent: *"), exchange(url, 200, body)],
                3: []}[n % 4]
        outcome = "fetched" if hops else "robots_disallowed"
        writer.write_entry(ArchiveEntry(role="article", url=url, exchanges=tuple(hops),
                                        final_record_id=hops[-1].record_id if hops else None,
                                        context=(("url", url), ("canonical_url", url), ("outcome", outcome))))
    return handle.getvalue()


@settings(max_examples=30, deadline=None)
@given(split=st.integers(min_value=300, max_value=12000))
def test_split_reads_of_newsbeams_own_archive_keep_each_response_with_its_context(split):
    """Reprocess reads newsbeam's archive range by range: a response whose metadata record (its context) lies past
    its range's end lost its context, and every range after the first did not know the file was newsbeam's (its
    warcinfo is in the first), so small ranges turned fetched pages into skipped records."""
    from newsbeam.warc import ArchivedOutcome

    data = _own_archive()

    def read(size):
        handle = BytesIO(data)
        return [found for _, start, end in split_file("own.warc.gz", len(data), size)
                for found in read_range(handle, "own", start, end, True, own=True)]

    whole = [f for f in read(len(data) + 1) if isinstance(f, (ArchivedResponse, ArchivedOutcome))]
    assert sum(isinstance(f, ArchivedResponse) and f.context is not None for f in whole) == 9
    assert sum(isinstance(f, ArchivedOutcome) for f in whole) == 3
    assert len(list(split_file("own.warc.gz", len(data), split))) > 1
    parts = read(split)
    assert [f for f in parts if isinstance(f, (ArchivedResponse, ArchivedOutcome))] == whole
    # the other records (requests, redirect hops, the warcinfo) are counted once each, in any order
    kinds = sorted(f.kind for f in parts if isinstance(f, OtherRecord))
    assert kinds == sorted(f.kind for f in read(len(data) + 1) if isinstance(f, OtherRecord))


def _bundle_counters(monkeypatch):
    """Per bundle the local runner ran (in this process: FnApiRunner hands each worker its part of a stage as a
    bundle of its own): the worker it went to and the user counters it reported."""
    from apache_beam.metrics import monitoring_infos
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    bundles = []
    original = fn_runner.BundleManager.process_bundle

    def recording(self, *args, **kwargs):
        result, splits = original(self, *args, **kwargs)
        counters = {info.labels[monitoring_infos.NAME_LABEL]: monitoring_infos.extract_counter_value(info)
                    for info in result.process_bundle.monitoring_infos
                    if info.urn == monitoring_infos.USER_COUNTER_URN}
        bundles.append((id(self._worker_handler), counters))
        return result, splits

    monkeypatch.setattr(fn_runner.BundleManager, "process_bundle", recording)
    return bundles


def test_a_one_file_warc_run_reads_and_extracts_on_both_workers(tmp_path, monkeypatch):
    """One .warc.gz file (a crawl's, not newsbeam's) on 2 workers: the file is split into ranges that both workers
    read, each extracting the pages it read in the same bundle. (Before, a file under 64 MiB was one range: one
    worker decompressed every record and the pages crossed a reshuffle to reach the other.)"""
    import os

    from newsbeam.pipelines import ingest
    from newsbeam.transforms.warc_input import MIN_SPLIT_BYTES
    from tests.faults import article_html

    warc = tmp_path / "crawl.warc.gz"
    with open(warc, "wb") as handle:  # 16 pages among images that make the file span a few ranges
        writer = WARCWriter(handle, gzip=True)
        for n in range(16):
            page = article_html(f"Report {n}", f"Returnees were questioned on day {n}. " * 20)
            image = os.urandom(MIN_SPLIT_BYTES // 5)
            for url, kind, body in ((f"https://news.example.org/{n}.html", "text/html; charset=utf-8", page),
                                    (f"https://news.example.org/{n}.jpg", "image/jpeg", image)):
                http = StatusAndHeaders("200 OK", [("Content-Type", kind)], protocol="HTTP/1.1")
                writer.write_record(writer.create_warc_record(url, "response", payload=BytesIO(body),
                                                              http_headers=http))
    bundles = _bundle_counters(monkeypatch)
    outcome = ingest.run(["--warc", str(warc), "--output", str(tmp_path / "out"), "--run-id", "w1", "--entities",
                          "off", "--direct_num_workers", "2", "--direct_running_mode", "multi_processing"])
    assert outcome.status == "succeeded", outcome.error
    reading = [(worker, c) for worker, c in bundles if c.get("warc_in.records.response")]
    # both read, unless one was done with its ranges before the other started and took them over (transforms/share)
    assert len({worker for worker, _ in reading}) == 2 or outcome.counters.get("warc_in.ranges_taken_over"), reading
    # the pages a bundle read are extracted in it: no page crossed a barrier
    assert all(c["warc_in.records.response"] == 2 * c.get("articles.extracted", 0) for _, c in reading), reading
    assert sum(c["articles.extracted"] for _, c in reading) == 16
