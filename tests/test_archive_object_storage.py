"""The WARC archive and `--warc` input on object storage: `s3://` against moto's loopback S3 server (the fixtures of
tests/s3_loopback.py), `gs://` against gcp-storage-emulator (a loopback GCS JSON API server) through Beam's own
GcsIO, pointed at it with STORAGE_EMULATOR_HOST alone. One ingest per store fetches three loopback pages (archived
to the store) and reads an ARC file from the store (`--warc`); the archive is read back with warcio over the
store's own client (boto3, google-cloud-storage) and every row's pointer leads to its record."""
from __future__ import annotations

import gzip
import io
import socket

import pyarrow.parquet as pq
import pytest
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions
from warcio.archiveiterator import ArchiveIterator

from newsbeam.pipelines.ingest import run
from newsbeam.sample_site import SampleSite, article_paths
from newsbeam.show import raw_response
from tests.test_arc_input import arc_record, arc_version_block

FAST = ["--host-delay", "0", "--read-timeout", "1", "--deadline", "3", "--retry-backoff", "0.01",
        "--connect-timeout", "1", "--entities", "off", "--allow-private-addresses"]
FETCHED = [p for p in sorted(article_paths()) if p.startswith("/articles/en-")][:3]
FROM_ARC = [p for p in sorted(article_paths()) if p.startswith("/articles/fr-")][:2]
ORIGIN = "http://archived.example"


@pytest.fixture(scope="module")
def site():
    with SampleSite() as running:
        yield running


@pytest.fixture(scope="module")
def arc_bytes(site):
    parts = [arc_version_block("crawl.arc.gz")] + [arc_record(ORIGIN + p, "text/html", site.render(p)[0])
                                                   for p in FROM_ARC]
    return b"".join(gzip.compress(part) for part in parts)


def ingest(argv):
    """ingest.run(argv) in this process; FileSystems keeps the last options, so leave none behind."""
    previous = FileSystems._pipeline_options
    try:
        return run(argv)
    finally:
        FileSystems._pipeline_options = previous


def articles_of(root: str):
    """Article rows of an output on any FileSystems scheme."""
    found = []
    for result in FileSystems.match([f"{root}/articles/*/*/*.parquet"]):
        for meta in result.metadata_list:
            with FileSystems.open(meta.path) as handle:
                found += pq.read_table(io.BytesIO(handle.read())).to_pylist()
    return found


def _as_bytes(body) -> bytes:
    return body if isinstance(body, bytes) else body.encode("utf-8")


def check(rows, read_range, read_file, root: str, arc_url: str, site):
    """Every row's pointer leads to its record; the archive file reads whole with warcio; `newsbeam show --raw`
    (raw_response) finds every row's response, in the output's archive or in the input file named in full."""
    assert sorted(r["url"] for r in rows) == sorted([site.url(p) for p in FETCHED] + [ORIGIN + p for p in FROM_ARC])
    archives = {r["warc_filename"] for r in rows if not r["url"].startswith(ORIGIN)}
    (archive,) = archives
    assert archive.startswith("warc/ingest_date=") and archive.endswith("-00000.warc.gz")
    for row in rows:
        name = row["warc_filename"]
        member = read_range(arc_url if name == arc_url else f"{root}/{name}", row["warc_record_offset"],
                            row["warc_record_length"])
        (record,) = list(ArchiveIterator(io.BytesIO(member), arc2warc=True))
        assert record.rec_headers["WARC-Target-URI"] == row["url"]
        path = row["url"].split(ORIGIN, 1)[1] if row["url"].startswith(ORIGIN) else "/" + row["url"].split("/", 3)[3]
        assert _as_bytes(site.render(path)[0]) in raw_response(root, row)
    responses = [r.rec_headers["WARC-Target-URI"] for r in ArchiveIterator(read_file(f"{root}/{archive}"))
                 if r.rec_type == "response"]
    assert {site.url(p) for p in FETCHED} <= set(responses)


def test_archive_to_s3_and_arc_input_from_s3(site, arc_bytes, tmp_path, s3_flags, s3_client, bucket):
    s3_client.put_object(Bucket=bucket, Key="in/crawl.arc.gz", Body=arc_bytes)
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(site.url(p) + "\n" for p in FETCHED))
    root = f"s3://{bucket}/out"
    outcome = ingest(["--urls", str(urls), "--warc", f"s3://{bucket}/in/*.arc.gz", "--output", root, *FAST,
                      "--run-id", "s1", *s3_flags])
    assert outcome.exit_code == 0, outcome.error
    assert outcome.counters["warc.entries"] == outcome.counters["warc.entries_written"] == len(FETCHED)

    def key(url):
        return url.split(f"s3://{bucket}/", 1)[1]

    def read_range(url, offset, length):
        return s3_client.get_object(Bucket=bucket, Key=key(url), Range=f"bytes={offset}-{offset + length - 1}")[
            "Body"].read()

    FileSystems.set_options(PipelineOptions(s3_flags))
    try:
        rows = articles_of(root)
        check(rows, read_range, lambda url: s3_client.get_object(Bucket=bucket, Key=key(url))["Body"], root,
              f"s3://{bucket}/in/crawl.arc.gz", site)
    finally:
        FileSystems._pipeline_options = None


@pytest.fixture
def gcs(monkeypatch):
    """A gcp-storage-emulator server on loopback with bucket `newsbeam-test`; Beam's GcsIO and the
    google-cloud-storage client both follow STORAGE_EMULATOR_HOST."""
    server_module = pytest.importorskip("gcp_storage_emulator.server", reason="needs gcp-storage-emulator")
    storage = pytest.importorskip("google.cloud.storage", reason="needs google-cloud-storage for Beam's GcsIO")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = server_module.create_server("127.0.0.1", port, in_memory=True, default_bucket="newsbeam-test")
    server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield storage.Client.create_anonymous_client().bucket("newsbeam-test")
    finally:
        server.stop()


def test_archive_to_gcs_and_arc_input_from_gcs(site, arc_bytes, tmp_path, gcs):
    gcs.blob("in/crawl.arc.gz").upload_from_string(arc_bytes)
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(site.url(p) + "\n" for p in FETCHED))
    root = "gs://newsbeam-test/out"
    outcome = ingest(["--urls", str(urls), "--warc", "gs://newsbeam-test/in/*.arc.gz", "--output", root, *FAST,
                      "--run-id", "g1", "--project", "newsbeam-test"])
    assert outcome.exit_code == 0, outcome.error

    def name(url):
        return url.split("gs://newsbeam-test/", 1)[1]

    def read_range(url, offset, length):
        return gcs.blob(name(url)).download_as_bytes(start=offset, end=offset + length - 1)

    FileSystems.set_options(PipelineOptions(["--project", "newsbeam-test"]))
    try:
        rows = articles_of(root)
        check(rows, read_range, lambda url: io.BytesIO(gcs.blob(name(url)).download_as_bytes()), root,
              "gs://newsbeam-test/in/crawl.arc.gz", site)
    finally:
        FileSystems._pipeline_options = None
