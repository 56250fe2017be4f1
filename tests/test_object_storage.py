"""Object storage: the real ingest writing to `s3://` through Beam's S3 filesystem, against a loopback S3 server.

moto runs in server mode on 127.0.0.1 (a real HTTP S3 API, nothing mocked in-process), and Beam talks to it with
`--s3_endpoint_url`. The output is read back with pyarrow's S3 filesystem (and DuckDB over that dataset) and must
hold the same rows as the same ingest written to a local folder. The writer's S3-sensitive steps are covered:
temporary object + rename (copy + delete on S3), FileSystems.exists / delete, FileSystems.match with the
finalize step's `*/` globs (stale files of a re-run are removed), the run manifest, and a `--urls` list read from
S3.

DuckDB's own httpfs extension is not used: DuckDB downloads extensions at run time, and the only PyPI build of it
(`duckdb-ext-httpfs` 1.4.4) does not load in DuckDB 2.x. DuckDB reads the pyarrow S3 dataset instead.

Beam 2.77's S3FileSystem builds a new boto3 session and client for every FileSystems call (~170 ms, most of it
parsing botocore's JSON), and the writer, the state commit and the manifest make dozens of them: the S3 run here
asserts that newsbeam.beam_s3_clients makes them share one client.

Needs the test extras `boto3` and `moto[s3]` with Flask and flask-cors, its server mode (skipped without them).
Dummy credentials only; they are passed as options and set in the environment for the duration of each test.
"""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

pytest.importorskip("boto3", reason="needs boto3 (apache-beam[aws]) for Beam's S3 filesystem")
pytest.importorskip("moto.server", reason="needs moto[s3], flask and flask-cors for a loopback S3 server")

from apache_beam.io.filesystems import FileSystems  # noqa: E402
from apache_beam.options.value_provider import RuntimeValueProvider  # noqa: E402

from newsbeam.sample_site import SampleSite  # noqa: E402
from newsbeam.pipelines.ingest import run  # noqa: E402
from newsbeam.pipelines.options import UsageError  # noqa: E402
from tests.faults import fault_routes  # noqa: E402
from tests.s3_loopback import KEY_ID, REGION, SECRET  # noqa: E402 - its fixtures come through conftest.py

# storage is under test here, not NER: the gazetteer still links entities, without spaCy's model loading and tagging
# in each of these in-process runs (the slowest test of the suite: 129 s of CI on a slow machine)
FAST_FLAGS = ["--host-delay", "0", "--read-timeout", "1", "--deadline", "3", "--retry-backoff", "0.01",
              "--connect-timeout", "1", "--allow-private-addresses", "--entities", "gazetteer"]
FAULT_PATHS = ["/faults/missing.html", "/faults/503-then-200.html", "/faults/redirect-1.html",
               "/faults/image.png", "/faults/wrong-charset.html"]


def ingest(argv):
    """newsbeam.pipelines.ingest.run(argv), leaving Beam's process-wide FileSystems options as they were: run()
    sets its own (it checks `s3://` inputs and writes the 'running' manifest before it builds its Pipeline), and
    later tests in this process must not inherit this test's S3 endpoint."""
    previous = FileSystems._pipeline_options, RuntimeValueProvider.runtime_options
    try:
        return run(argv)
    finally:
        FileSystems._pipeline_options, RuntimeValueProvider.runtime_options = previous


@pytest.fixture
def site():
    with SampleSite(routes=fault_routes()) as running:
        yield running


def url_list(site) -> str:
    return ("# direct URLs\n" + "".join(site.url(p) + "\n" for p in FAULT_PATHS)
            + site.url("/legacy/de-latin1-page.html") + "\nnot-a-url\n")


def pyarrow_s3(endpoint: str) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(endpoint_override=endpoint.split("://", 1)[1], scheme="http", access_key=KEY_ID,
                             secret_key=SECRET, region=REGION, allow_bucket_creation=False)


def read_dataset(root, name: str, filesystem=None) -> ds.Dataset:
    return ds.dataset(f"{root}/{name}", format="parquet", partitioning="hive", filesystem=filesystem)


def article_keys(dataset: ds.Dataset):
    return sorted(tuple(r.values()) for r in dataset.to_table(columns=["article_id", "language",
                                                                        "content_hash"]).to_pylist())


def dead_letter_keys(dataset: ds.Dataset):
    return sorted(tuple(r.values()) for r in dataset.to_table(columns=["stage", "reason", "url"]).to_pylist())


def object_keys(client, bucket: str, prefix: str):
    return sorted(o["Key"][len(prefix):] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix) for o in page.get("Contents", []))


def local_files(root: Path):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_ingest_to_s3_gives_the_same_rows_as_a_local_folder_and_reruns_replace(site, tmp_path, s3_server, s3_flags,
                                                                               s3_client, bucket, monkeypatch,
                                                                               s3_counts):
    urls = tmp_path / "urls.txt"
    urls.write_text(url_list(site))
    s3_client.put_object(Bucket=bucket, Key="inputs/urls.txt", Body=url_list(site).encode())
    feeds = ["--feeds", site.url("/feeds/subscriptions.opml"), "--feeds", site.url("/feeds/empty-garbage.xml")]

    local = tmp_path / "local"
    done = ingest([*feeds, "--urls", str(urls), *FAST_FLAGS, "--output", str(local), "--run-id", "r1"])
    assert done.status == "succeeded", done.error

    remote = f"s3://{bucket}/news"
    # As in a fresh `newsbeam ingest` process: no options left over from an earlier Pipeline in this process (with
    # those, boto3 would use the local run's, or its default endpoint, i.e. the real AWS, were it not for aws_env).
    monkeypatch.setattr(FileSystems, "_pipeline_options", None)
    monkeypatch.setattr(RuntimeValueProvider, "runtime_options", None)
    s3_counts.clear()
    # the URL list is read from S3 too: FileSystems.exists in the option checks, ReadAllFromText on a worker
    done = ingest([*feeds, "--urls", f"s3://{bucket}/inputs/urls.txt", *FAST_FLAGS, *s3_flags,
                   "--output", remote, "--run-id", "r1"])
    assert (done.status, done.exit_code) == ("succeeded", 0), done.error
    assert done.accounting.balanced and done.counters["items.in"] > 0
    # one boto3 client for the run's dozens of S3 filesystem calls, not one each (newsbeam.beam_s3_clients)
    assert s3_counts["calls"] > 30 and s3_counts["clients"] <= 1, dict(s3_counts)

    fs = pyarrow_s3(s3_server)
    s3_articles = read_dataset(f"{bucket}/news", "articles", fs)
    local_articles = read_dataset(local, "articles")
    assert article_keys(s3_articles) == article_keys(local_articles) and article_keys(local_articles)
    assert dead_letter_keys(read_dataset(f"{bucket}/news", "dead_letters", fs)) == \
        dead_letter_keys(read_dataset(local, "dead_letters"))
    assert s3_articles.to_table().num_rows == done.counters["articles.written"]

    # same object layout as the local folder, and no temporary object left behind by the renames
    keys = object_keys(s3_client, bucket, "news/")
    assert keys == local_files(local)
    assert not [k for k in keys if any(part.startswith(".") for part in k.split("/"))]

    manifest = json.loads(s3_client.get_object(Bucket=bucket, Key="news/_runs/r1.json")["Body"].read())
    assert manifest["status"] == "succeeded" and manifest["accounting"]["balanced"]
    assert manifest["output"] == remote

    duckdb = pytest.importorskip("duckdb")
    arrow_dataset = s3_articles  # noqa: F841 - read by DuckDB's replacement scan
    by_language = dict(duckdb.sql("SELECT language, count(*) FROM arrow_dataset GROUP BY language").fetchall())
    assert sum(by_language.values()) == len(article_keys(local_articles)) and "ar" in by_language

    # A smaller re-run of the same run id replaces: the finalize step's FileSystems.match (`*/` globs) and
    # delete find and remove, on S3 as on disk, the partition (language=ar) that this attempt no longer writes.
    small = ["--urls", str(urls), *FAST_FLAGS]
    assert ingest([*small, "--output", str(local), "--run-id", "r1"]).status == "succeeded"
    done = ingest([*small, *s3_flags, "--output", remote, "--run-id", "r1"])
    assert done.status == "succeeded", done.error
    assert done.counters.get("written.articles.stale_files_deleted", 0) > 0
    assert object_keys(s3_client, bucket, "news/") == local_files(local)
    assert not [k for k in object_keys(s3_client, bucket, "news/articles/") if "language=ar" in k]
    assert article_keys(read_dataset(f"{bucket}/news", "articles", fs)) == \
        article_keys(read_dataset(local, "articles"))


def test_unreachable_bucket_is_a_usage_error(s3_flags, tmp_path):
    (tmp_path / "x.rss").write_text("<rss/>")
    with pytest.raises(UsageError, match="cannot write to output"):
        ingest(["--feeds", str(tmp_path / "x.rss"), *s3_flags, "--output", "s3://no-such-bucket-here/news"])
