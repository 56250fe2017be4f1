"""One reading of PDF media types for a live fetch and a WARC file (newsbeam.mediatypes), through the real CLI."""
import json
import subprocess
import sys
from io import BytesIO

import pyarrow.dataset as ds
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsbeam.fetching import html_only
from newsbeam.mediatypes import PDF_TYPES, may_be_page
from newsbeam.pipelines import cli
from newsbeam.sample_site import SampleSite
from tests.pdf_samples import text_pdf

NEWSBEAM = [sys.executable, "-m", "newsbeam.pipelines.cli"]
FLAGS = ["--host-delay", "0", "--read-timeout", "2", "--deadline", "10", "--retry-backoff", "0.01",
         "--allow-private-addresses", "--entities", "off", "--progress", "off"]
PDF = text_pdf(2)
NOT_PDF = b"PK\x03\x04" + bytes(200)  # a zip file
# path -> (Content-Type, body, what it must become)
RESPONSES = {
    "/a/report-x.pdf": ("application/x-pdf", PDF, "article"),
    "/a/report-acrobat": ("application/acrobat", PDF, "article"),
    "/a/report-text": ("text/pdf", PDF, "article"),
    "/a/report-octet.PDF": ("application/octet-stream", PDF, "article"),
    "/a/report-octet.pdf?download=1": ("application/octet-stream", PDF, "article"),
    "/a/archive-octet.pdf": ("application/octet-stream", NOT_PDF, "not_html"),  # named .pdf, is not one
    "/a/report-octet": ("application/octet-stream", PDF, "not_html"),  # no .pdf name: not downloaded
    "/a/report-vnd": ("application/vnd.pdf", PDF, "not_html"),  # not a real-world PDF type
}


def _route(content_type, body):
    def route(handler):
        handler.send_body(200, body, content_type)
    return route


def _rows(out, dataset):
    path = out / dataset
    return ds.dataset(path, format="parquet", partitioning="hive").to_table().to_pylist() if path.exists() else []


def _run(*args):
    done = subprocess.run([*NEWSBEAM, "ingest", *args, *FLAGS], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize("declared,url,expected", [
    ("application/pdf", "http://e/x", True), ("application/x-pdf", "http://e/x", True),
    ("image/pdf", "http://e/x", True), ("application/vnd.pdf", "http://e/x.pdf", False),
    ("application/octet-stream", "http://e/x.pdf", True), ("application/octet-stream", "http://e/x.pdf.zip", False),
    ("application/octet-stream", "http://e/x?f=a.pdf", False), (None, "http://e/x", True),
    ("text/html", "http://e/x", True), ("image/png", "http://e/x.pdf", False),
])
def test_may_be_page(declared, url, expected):
    assert may_be_page(declared, url) is expected
    assert (html_only(200, {"content-type": declared} if declared else {}, url) is None) is expected


def test_pdf_types_agree_between_a_fetch_and_a_warc_file(tmp_path):
    """Regression: `application/x-pdf` was a PDF in a WARC file and `not_html` when fetched."""
    routes = {path.split("?")[0]: _route(kind, body) for path, (kind, body, _) in RESPONSES.items()}
    with SampleSite(routes=routes) as site:
        urls = {site.url(path): expected for path, (_, _, expected) in RESPONSES.items()}
        (tmp_path / "urls.txt").write_text("".join(url + "\n" for url in urls))
        _run("--urls", str(tmp_path / "urls.txt"), "--output", str(tmp_path / "fetched"), "--run-id", "f")
    articles = {row["url"]: row for row in _rows(tmp_path / "fetched", "articles")}
    dead = {row["url"]: row["reason"] for row in _rows(tmp_path / "fetched", "dead_letters")}
    assert set(articles) == {url for url, expected in urls.items() if expected == "article"}
    assert dead == {url: "not_html" for url, expected in urls.items() if expected == "not_html"}
    assert {row["content_type"] for row in articles.values()} == {"application/pdf"}
    assert all(row["page_count"] == 2 for row in articles.values())

    warc = tmp_path / "crawl.warc.gz"
    with open(warc, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for path, (kind, body, _) in RESPONSES.items():
            http = StatusAndHeaders("200 OK", [("Content-Type", kind)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(site.url(path), "response", payload=BytesIO(body),
                                                          length=len(body), http_headers=http))
    # in process (the fetch above went through the real command): one interpreter start less
    assert cli.main(["ingest", "--warc", str(warc), "--output", str(tmp_path / "archived"), "--run-id", "w",
                     "--entities", "off", "--progress", "off"]) == 0
    assert {row["url"] for row in _rows(tmp_path / "archived", "articles")} == set(articles)
    # the octet-stream named .pdf that is no PDF is read, then refused; the others are never article candidates
    archived_dead = {row["url"]: row["reason"] for row in _rows(tmp_path / "archived", "dead_letters")}
    assert archived_dead == {site.url("/a/archive-octet.pdf"): "not_html"}
    counters = json.loads((tmp_path / "archived" / "_runs" / "w.json").read_text())["counters"]
    assert counters["warc_in.skipped.not_html"] == 2


def test_pdf_types_are_not_feeds():
    from newsbeam.fetching import feed_like
    assert all(feed_like(200, {"content-type": kind}, "http://e/f") == "not_a_feed" for kind in PDF_TYPES)
