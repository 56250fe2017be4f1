"""The WARC archive: raw bytes as received, pointers in rows, warcio check/index, `show --raw`, idempotent re-runs."""
import gzip
import json
import re
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from newsbeam.fetching import FetchContext, PoliteFetcher, html_only
from newsbeam.http import FetchError, HttpClient, _decoder
from newsbeam.sample_site import SampleSite
from newsbeam.schemas.records import FeedItem, FetchRequest
from newsbeam.warc import WarcFileWriter, entry_of
from tests.faults import encode_body, fault_routes

FAST_FLAGS = ["--host-delay", "0", "--read-timeout", "1", "--deadline", "3", "--retry-backoff", "0.01",
              "--connect-timeout", "1", "--entities", "gazetteer", "--allow-private-addresses"]
NEWSBEAM = [sys.executable, "-m", "newsbeam.pipelines.cli"]
WARCIO = [sys.executable, "-m", "warcio.cli"]
URLS = ["/faults/missing.html", "/faults/huge.html", "/faults/redirect-1.html", "/faults/503-then-200.html"]


def newsbeam(*args, timeout=300):
    return subprocess.run([*NEWSBEAM, *args], capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def archived(tmp_path_factory):
    """One archived loopback run of the sample site (feeds, articles, faults), shared by this module's tests."""
    root = tmp_path_factory.mktemp("archived")
    with SampleSite(routes=fault_routes()) as site:
        urls = root / "urls.txt"
        urls.write_text("".join(site.url(p) + "\n" for p in URLS))
        out = root / "out"
        args = ["ingest", "--feeds", site.url("/feeds/subscriptions.opml"), "--urls", str(urls), *FAST_FLAGS,
                "--output", str(out), "--run-id", "r1"]
        done = newsbeam(*args)
        assert done.returncode == 0, done.stderr.decode()
        yield {"out": out, "site": site, "root": root}


def rows(out, dataset):
    return ds.dataset(out / dataset, format="parquet", partitioning="hive").to_table().to_pylist()


def warc_files(out):
    return sorted((out / "warc").glob("ingest_date=*/*.warc.gz"))


def records(source):
    """(WARC headers, HTTP headers, decoded payload) of every record of a file path or stream."""
    handle = open(source, "rb") if isinstance(source, Path) else source
    with handle:
        return [(r.rec_headers, r.http_headers, r.content_stream().read()) for r in ArchiveIterator(handle)]


def test_client_keeps_the_bytes_as_received(site, fast_settings):
    client = HttpClient(fast_settings)
    answer = client.get(site.url("/articles/en-hague-court-ruling.html"))
    assert answer.raw.headers and dict(answer.raw.headers)["Content-Encoding"] == "gzip"
    assert gzip.decompress(answer.raw.body) == answer.body and answer.raw.truncated is None
    with pytest.raises(FetchError) as failed:
        HttpClient(fast_settings.__class__(**{**fast_settings.__dict__, "max_bytes": 1000})).get(
            site.url("/faults/huge.html"), check=html_only)
    assert failed.value.raw.truncated == "length"
    # a body cut to the cap on purpose (robots.txt) is archived as received so far, marked as cut
    cut = client.get(site.url("/faults/huge.html"), max_bytes=1000, truncate=True)
    assert len(cut.body) == 1000 and cut.raw.truncated == "length" and cut.raw.body[:1000] == cut.body


def test_the_deadline_watchdog_keeps_what_arrived_for_the_archive(site, fast_settings):
    """The total deadline (watchdog) and the archive together: the error carries the response, marked 'time'."""
    slow = HttpClient(fast_settings.__class__(**{**fast_settings.__dict__, "deadline": 0.5, "read_timeout": 5.0}))
    with pytest.raises(FetchError) as failed:
        slow.get(site.url("/faults/drip.html"))
    assert failed.value.reason == "timeout"
    assert failed.value.raw is not None and failed.value.raw.truncated == "time"


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=5000), coding=st.sampled_from(["gzip", "gzip2", "deflate", "raw-deflate"]),
       cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=12).map(lambda c: [1, *c]))
def test_raw_body_decoder_matches_the_body(body, coding, cuts):
    """newsbeam reads bodies raw (for the archive) and decodes them itself, chunk by chunk as they arrive."""
    encoded = encode_body(body, coding)
    decode = _decoder("deflate" if "deflate" in coding else "gzip")
    out, position = [], 0
    for cut in cuts:
        out.append(decode(encoded[position:position + cut], False))
        position += cut
    out.append(decode(encoded[position:], False))
    out.append(decode(b"", True))
    assert b"".join(out) == body


def test_fetch_result_carries_every_exchange_and_writes_valid_warc(site, fast_settings, tmp_path):
    fetcher = PoliteFetcher(*(lambda c: (c.client, c.gates, c.robots))(FetchContext(fast_settings)))
    item = FeedItem(url=site.url("/faults/redirect-1.html"), canonical_url=site.url("/faults/redirect-1.html"))
    page = fetcher.fetch(FetchRequest(item.url, item), "text/html", html_only)
    statuses = [raw.status for raw in page.exchanges]
    assert statuses[0] == 200 and statuses[-1] == 200 and any(300 <= s < 400 for s in statuses)  # robots, hops
    path = tmp_path / "t.warc.gz"
    entry = entry_of(page, "article")
    with open(path, "wb") as handle:
        offset, length = WarcFileWriter(handle, path.name, "t").write_entry(entry)
    record_id = entry.final_record_id
    ((headers, _, body),) = records(BytesIO(path.read_bytes()[offset:offset + length]))
    assert headers["WARC-Record-ID"] == record_id and body == page.body
    # WARC 1.1 dates are UTC with a Z (warcio writes '+00:00Z' from an aware datetime)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", headers["WARC-Date"])
    assert subprocess.run([*WARCIO, "check", str(path)], capture_output=True).returncode == 0


def test_every_response_is_archived_and_pointed_to(archived):
    out = archived["out"]
    (path,) = warc_files(out)
    assert path.parent.name.startswith("ingest_date=") and path.name == "r1-00000.warc.gz"
    checked = subprocess.run([*WARCIO, "check", "-v", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
    indexed = subprocess.run([*WARCIO, "index", str(path)], capture_output=True, text=True, check=True).stdout
    index = [json.loads(line) for line in indexed.split("\n") if line]
    types = [entry["warc-type"] for entry in index]
    assert types[0] == "warcinfo" and types.count("request") == types.count("response")
    targets = {entry.get("warc-target-uri", "") for entry in index}
    assert any(t.endswith("/robots.txt") for t in targets) and any(t.endswith(".opml") for t in targets)
    assert any(t.endswith(".rss") for t in targets)

    articles = rows(out, "articles")
    assert articles and all(r["warc_filename"] == "warc/" + path.relative_to(out / "warc").as_posix() for r in articles)
    dead = {r["url"].rsplit("/", 1)[1]: r for r in rows(out, "dead_letters")}
    for name in ("missing.html", "huge.html", "en-subscribers-only.html", "en-missing-page.html"):
        assert dead[name]["warc_record_id"], name
    assert dead["en-internal-memo.html"]["warc_record_id"] is None  # robots.txt forbade it: never requested

    data = path.read_bytes()
    for row in [*articles, dead["huge.html"], dead["missing.html"], dead["en-subscribers-only.html"]]:
        member = data[row["warc_record_offset"]:row["warc_record_offset"] + row["warc_record_length"]]
        (record,) = list(ArchiveIterator(BytesIO(member)))
        assert record.rec_headers["WARC-Type"] == "response"
        assert record.rec_headers["WARC-Record-ID"] == row["warc_record_id"]
        assert record.rec_headers["WARC-Target-URI"] in (row.get("final_url"), row["url"])
    huge = list(ArchiveIterator(BytesIO(data[dead["huge.html"]["warc_record_offset"]:])))[0]
    assert huge.rec_headers["WARC-Truncated"] == "length"
    # the row says that its record holds part of the body (schema: articles v5, dead letters v4)
    assert dead["huge.html"]["warc_truncated"] == "length"
    assert all(r["warc_truncated"] is None for r in articles)
    assert dead["missing.html"]["warc_truncated"] == "unspecified"  # a 404's body is not read
    assert huge.http_headers.get_statuscode() == "200"

    metadata = [json.loads(body) for headers, _, body in records(path) if headers["WARC-Type"] == "metadata"]
    by_url = {m["url"]: m for m in metadata if m["role"] == "article"}
    sample = next(m for m in by_url.values() if m["feed_url"])
    assert sample["run_id"] == "r1" and sample["canonical_url"] and sample["outcome"] == "fetched"
    assert {m["outcome"] for m in metadata} >= {"fetched", "http_404", "too_large"}
    manifest = json.loads((out / "_runs" / "r1.json").read_text())
    assert manifest["accounting"]["checks"]["warc.entries = entries_written"]["left"] == len(metadata)


def test_a_rejected_feed_document_points_to_its_response(tmp_path):
    """A feed that answered but cannot be parsed is a dead letter that had a response: it points to it, like a
    fetch failure does (with `--archive articles` the feed is not archived and the row has no pointer)."""
    out = tmp_path / "out"
    with SampleSite(routes=fault_routes()) as site:
        for archive in ("all", "articles"):
            done = newsbeam("ingest", "--feeds", site.url("/faults/garbage.xml"), *FAST_FLAGS, "--output", str(out),
                            "--run-id", archive, "--archive", archive)
            assert done.returncode in (0, 4), done.stderr.decode()  # 4: no article, as expected
    dead = {r["run_id"]: r for r in rows(out, "dead_letters")}
    assert dead["all"]["reason"] == dead["articles"]["reason"] == "feed_parse_error"
    assert dead["articles"]["warc_record_id"] is None
    row = dead["all"]
    member = (out / row["warc_filename"]).read_bytes()[row["warc_record_offset"]:][:row["warc_record_length"]]
    ((kind, target, body),) = [(r.rec_type, r.rec_headers["WARC-Target-URI"], r.content_stream().read())
                               for r in ArchiveIterator(BytesIO(member))]
    assert (kind, target, body) == ("response", row["url"], b"<rss><chan")


def test_show_raw_prints_the_archived_response(archived):
    out = archived["out"]
    row = next(r for r in rows(out, "articles") if r["url"].endswith("en-hague-court-ruling.html"))
    shown = newsbeam("show", row["article_id"], "--raw", str(out))
    assert shown.returncode == 0, shown.stderr
    head, _, body = shown.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Type: text/html" in head
    assert body == (Path(__file__).parents[1] / "newsbeam/sample_site/site/articles/en-hague-court-ruling.html"
                    ).read_bytes().replace(b"{{BASE_URL}}", archived["site"].base_url.encode())
    assert newsbeam("show", "no-such-id", "--raw", str(out)).returncode == 2

    # the three-line snippet of docs/archive.md does the same with warcio
    docs = (Path(__file__).parents[1] / "docs" / "archive.md").read_text()
    snippet = docs.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(snippet.strip().splitlines()) == 3
    pointer = {key: row[key] for key in ("warc_filename", "warc_record_offset")}
    printed = subprocess.run([sys.executable, "-c", f"OUT = {str(out)!r}\nrow = {pointer!r}\n" + snippet],
                             capture_output=True, text=True)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.rstrip("\n") == body.decode().rstrip("\n")


def test_reprocess_offline_gives_the_same_articles(archived):
    out, site = archived["out"], archived["site"]
    again = archived["root"] / "again"
    site.stop()  # no network: the pages come from the archive only
    refused = newsbeam("reprocess", "--from", str(out), "--output", str(out), "--entities", "gazetteer")
    assert refused.returncode == 2 and b"--replace" in refused.stderr
    done = newsbeam("reprocess", "--from", str(out), "--output", str(again), "--entities", "gazetteer",
                    "--new-run-id", "rp1", "--run-id", "r1")
    assert done.returncode == 0, done.stderr.decode()
    # the same articles, column for column, apart from the run and where the row points
    differ = {"run_id", "warc_filename", "warc_record_offset", "warc_record_length", "fetched_at"}
    before = {r["article_id"]: {k: v for k, v in r.items() if k not in differ} for r in rows(out, "articles")}
    after = {r["article_id"]: r for r in rows(again, "articles")}
    assert before and {k: {n: v for n, v in r.items() if n not in differ} for k, r in after.items()} == before
    assert all(r["warc_filename"].startswith(str(out / "warc")) and r["run_id"] == "rp1" for r in after.values())
    dead = sorted((r["stage"], r["reason"]) for r in rows(again, "dead_letters"))
    assert ("fetch", "http_404") in dead and ("fetch", "too_large") in dead and ("extract", "empty_text") in dead
    truncated = {r["reason"]: r["warc_truncated"] for r in rows(again, "dead_letters") if r["warc_record_id"]}
    assert (truncated["too_large"], truncated["http_404"]) == ("length", "unspecified")  # the records' headers
    manifest = json.loads((again / "_runs" / "rp1.json").read_text())
    assert manifest["status"] == "succeeded" and manifest["sources"]["runs"] == ["r1"]
    assert manifest["sources"]["source_runs"]["r1"]["extractor"]

    replaced = newsbeam("reprocess", "--from", str(out), "--output", str(out), "--replace", "--entities", "gazetteer",
                        "--new-run-id", "rp2", "--run-id", "r1")
    assert replaced.returncode == 0, replaced.stderr.decode()
    now = rows(out, "articles")
    assert len(now) == len({r["article_id"] for r in now}) and {r["article_id"] for r in now} == set(before)
    assert {r["run_id"] for r in now} == {"rp2"}  # redirected articles too (they were seen_canonical dead letters)
    assert json.loads((out / "_runs" / "rp2.json").read_text())["counters"]["articles.replaced_older_rows"] > 0


def test_rerun_replaces_and_archive_off_writes_nothing(archived):
    out = archived["out"]
    before = warc_files(out)
    with SampleSite(routes=fault_routes()) as site:  # the module's site was stopped by the reprocess test
        urls = archived["root"] / "urls-again.txt"
        urls.write_text("".join(site.url(p) + "\n" for p in URLS))
        rerun = newsbeam("ingest", "--urls", str(urls), *FAST_FLAGS, "--output", str(out), "--run-id", "r1",
                         "--archive", "off")
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert not warc_files(out) and before  # the re-run of r1 archived nothing, so r1's old file went
    assert all(r["warc_filename"] is None for r in rows(out, "articles") if r["run_id"] == "r1")


def _exchange(body: bytes, coding: str):
    from datetime import datetime, timezone

    from newsbeam.http import RawExchange

    headers = (("Content-Type", "text/html"), *((("Content-Encoding", coding),) if coding else ()))
    return RawExchange(url="http://example.test/a.html", request_headers=(("Accept-Encoding", "gzip"),),
                       requested_at=datetime(2026, 1, 1, tzinfo=timezone.utc), status=200, reason="OK",
                       http_version="HTTP/1.1", headers=headers, body=body)


@pytest.mark.parametrize("coding", ["gzip", ""])
def test_compressed_bodies_are_stored_in_their_member_not_deflated_again(coding, tmp_path):
    from newsbeam.warc import ArchiveEntry

    page = ("<html><body>" + " ".join(f"<p>paragraph {n} of a page</p>" for n in range(300)) + "</body></html>")
    body = gzip.compress(page.encode(), mtime=0) if coding else page.encode()
    raw = _exchange(body, coding)
    entry = ArchiveEntry(role="article", url=raw.url, exchanges=(raw,), final_record_id=raw.record_id, context=())
    path = tmp_path / "t.warc.gz"
    with open(path, "wb") as handle:
        offset, length = WarcFileWriter(handle, path.name, "t").write_entry(entry)
    member = path.read_bytes()[offset:offset + length]
    # a body compressed by the server lies verbatim in a stored member (deflating it again costs CPU for no bytes);
    # a plain body is deflated
    assert (body in member) == bool(coding)
    if not coding:
        assert length < len(body) / 3
    ((headers, _, payload),) = records(BytesIO(member))
    assert headers["WARC-Record-ID"] == raw.record_id and payload == page.encode()
    assert subprocess.run([*WARCIO, "check", str(path)], capture_output=True).returncode == 0
