"""A loopback S3 server for tests (a pytest plugin, loaded by tests/conftest.py): moto in server mode on 127.0.0.1
(a real HTTP S3 API, nothing mocked in-process), dummy credentials (`aws_env`), Beam's S3 options (`s3_flags`), a
boto3 client and a fresh bucket per test.

Needs the test extras `boto3` and `moto[s3]` with Flask and flask-cors: a test using these fixtures is skipped
without them."""
from __future__ import annotations

import collections
import functools
import itertools

import pytest

KEY_ID, SECRET, REGION = "testing-key-id", "testing-secret", "us-east-1"
BUCKET = "newsbeam-test"


@pytest.fixture(scope="module")
def s3_server():
    moto_server = pytest.importorskip("moto.server", reason="needs moto[s3], flask, flask-cors: loopback S3")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch, s3_server):
    """Dummy credentials, no lookup of real ones (no instance metadata service, no ~/.aws files), and the loopback
    server as boto3's default S3 endpoint: an S3 client built without our options (the first S3 run of
    test_ingest_to_s3_gives_the_same_rows_as_a_local_folder_and_reruns_replace) must not go looking for the real AWS."""
    for name, value in {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": REGION,
                        "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
                        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
                        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
                        "AWS_ENDPOINT_URL": s3_server, "AWS_ENDPOINT_URL_S3": s3_server,
                        "AWS_MAX_ATTEMPTS": "2"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    # Each new boto3 session parses botocore's endpoint and S3 model JSON again (most of a client's ~170 ms).
    # newsbeam.beam_s3_clients builds one client per process and settings, but tests build many (their own, new
    # caches, Beam's per-call clients put back): the sessions built during a test share one loader of that static
    # data; every request still goes over HTTP. Production has no such cache (benchmarks/bench_object_storage.py).
    botocore_session = pytest.importorskip("botocore.session")
    monkeypatch.setattr(botocore_session, "create_loader", functools.lru_cache(botocore_session.create_loader))


@pytest.fixture
def s3_flags(s3_server, aws_env):
    return ["--s3_endpoint_url", s3_server, "--s3_access_key_id", KEY_ID, "--s3_secret_access_key", SECRET,
            "--s3_region_name", REGION]


@pytest.fixture
def s3_client(s3_server, aws_env):
    boto3 = pytest.importorskip("boto3", reason="needs boto3 (apache-beam[aws]) for Beam's S3 filesystem")
    return boto3.client("s3", endpoint_url=s3_server, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                        region_name=REGION)


@pytest.fixture
def s3_counts(monkeypatch):
    """Counts, from the fixture on, the calls to Beam's S3 filesystem (each one builds an `S3IO`: `calls`) and the
    botocore clients built (`clients`)."""
    s3io = pytest.importorskip("apache_beam.io.aws.s3io")
    botocore_session = pytest.importorskip("botocore.session")
    counts = collections.Counter()

    def counting(name, original):
        def counted(*args, **kwargs):
            counts[name] += 1
            return original(*args, **kwargs)
        return counted

    monkeypatch.setattr(s3io.S3IO, "__init__", counting("calls", s3io.S3IO.__init__))
    monkeypatch.setattr(botocore_session.Session, "create_client",
                        counting("clients", botocore_session.Session.create_client))
    return counts


_BUCKETS = itertools.count(1)


@pytest.fixture
def bucket(s3_client):
    name = f"{BUCKET}-{next(_BUCKETS)}"
    s3_client.create_bucket(Bucket=name)
    yield name
    keys = [o["Key"] for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=name)
            for o in page.get("Contents", [])]
    for start in range(0, len(keys), 1000):
        s3_client.delete_objects(Bucket=name, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]]})
    s3_client.delete_bucket(Bucket=name)
