"""newsbeam.beam_s3_clients: Beam's S3 filesystem shares one boto3 client per process and set of client arguments.

Against the loopback S3 server of tests/s3_loopback.py. That a real S3 run builds one client for its dozens of
filesystem calls is asserted on the run of tests/test_object_storage.py (no extra pipeline run here).
"""
from __future__ import annotations

import logging
import threading

import pytest

pytest.importorskip("boto3", reason="needs boto3 (apache-beam[aws]) for Beam's S3 filesystem")
pytest.importorskip("moto.server", reason="needs moto[s3], flask and flask-cors for a loopback S3 server")

import apache_beam as beam  # noqa: E402
from apache_beam.io.aws.clients.s3 import boto3_client  # noqa: E402
from apache_beam.io.filesystem import CompressionTypes  # noqa: E402
from apache_beam.io.filesystems import FileSystems  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from newsbeam import beam_s3_clients  # noqa: E402
from newsbeam.beam_s3_clients import SharedS3Clients  # noqa: E402
import newsbeam.transforms.common  # noqa: E402,F401 - importing the transforms installs it
from tests.pipeline_helpers import around_unpickling_a_dofn  # noqa: E402
from tests.s3_loopback import KEY_ID, REGION, SECRET  # noqa: E402

BOTO3 = boto3_client.boto3.boto3 if isinstance(boto3_client.boto3, SharedS3Clients) else boto3_client.boto3


@pytest.fixture
def shared(monkeypatch, aws_env):
    """A new, empty per-process cache, so that clients built by earlier tests do not count."""
    clients = SharedS3Clients(BOTO3)
    monkeypatch.setattr(boto3_client, "boto3", clients)
    return clients


def options(server: str, **changes) -> dict:
    return {"s3_endpoint_url": server, "s3_access_key_id": KEY_ID, "s3_secret_access_key": SECRET,
            "s3_region_name": REGION, **changes}


def test_beam_clients_with_the_same_options_share_one_boto3_client_but_not_their_download_state(shared, s3_server):
    first, again = boto3_client.Client(options(s3_server)), boto3_client.Client(options(s3_server))
    assert first is not again and first.client is again.client
    first._download_pos = 10
    assert again._download_pos == 0


@pytest.mark.parametrize("change", [{"s3_endpoint_url": "http://127.0.0.1:9"}, {"s3_access_key_id": "other-id"},
                                    {"s3_secret_access_key": "other-secret"}, {"s3_session_token": "token"},
                                    {"s3_region_name": "eu-west-1"}, {"s3_disable_ssl": True}, {"s3_verify": False},
                                    {"s3_api_version": "2006-03-01"}])
def test_different_options_get_different_clients(shared, s3_server, change):
    assert boto3_client.Client(options(s3_server)).client is not boto3_client.Client(options(s3_server,
                                                                                             **change)).client


def test_a_changed_aws_environment_gets_a_new_client(shared, s3_server, monkeypatch):
    before = boto3_client.Client(options(s3_server)).client
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "5")  # botocore reads its settings from the environment too
    assert boto3_client.Client(options(s3_server)).client is not before


def test_a_client_is_rebuilt_after_its_max_age_and_expired_ones_are_dropped(aws_env, s3_server):
    now = [0.0]
    clients = SharedS3Clients(BOTO3, max_age=60, clock=lambda: now[0])
    first = clients.client("s3", endpoint_url=s3_server)
    other = clients.client("s3", endpoint_url="http://127.0.0.1:9")
    now[0] = 59
    assert clients.client("s3", endpoint_url=s3_server) is first
    now[0] = 61
    rebuilt = clients.client("s3", endpoint_url=s3_server)
    assert rebuilt is not first and other not in [client for client, _ in clients._clients.values()]


def test_a_forked_child_builds_its_own_clients(shared, s3_server):
    first = boto3_client.Client(options(s3_server)).client
    shared._pid = -1  # as a child sees the state it inherited from its parent
    assert boto3_client.Client(options(s3_server)).client is not first


def test_credentials_appear_in_no_log_and_no_repr(shared, s3_server, caplog):
    with caplog.at_level(logging.DEBUG, logger=beam_s3_clients.__name__):
        boto3_client.Client(options(s3_server, s3_session_token="the-session-token"))
    assert "S3 client built" in caplog.text
    for text in (caplog.text, repr(shared), repr(shared._clients), repr(shared.session.Session())):
        assert SECRET not in text and KEY_ID not in text and "the-session-token" not in text


def test_many_threads_using_s3_at_once_build_one_client_and_see_their_own_files(shared, s3_flags, bucket,
                                                                                 s3_counts, monkeypatch, caplog):
    monkeypatch.setattr(FileSystems, "_pipeline_options", PipelineOptions(s3_flags))
    start = threading.Barrier(16)
    failures = []

    def work(n):
        try:
            start.wait()
            path = f"s3://{bucket}/threads/{n}.txt"
            for attempt in range(3):
                with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
                    handle.write(f"{n}-{attempt}".encode())
                assert FileSystems.exists(path)
                with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
                    assert handle.read() == f"{n}-{attempt}".encode()
            assert not FileSystems.exists(f"s3://{bucket}/threads/missing-{n}")
        except BaseException as exc:  # noqa: B036 - reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:3]
    assert s3_counts["calls"] == 16 * 10 and s3_counts["clients"] == 1, dict(s3_counts)
    assert "Connection pool is full" not in caplog.text  # its pool holds a connection for each thread
    assert len(FileSystems.match([f"s3://{bucket}/threads/*.txt"])[0].metadata_list) == 16


def test_install_is_idempotent(monkeypatch):
    monkeypatch.setattr(boto3_client, "boto3", BOTO3)
    assert beam_s3_clients.install()
    installed = boto3_client.boto3
    assert isinstance(installed, SharedS3Clients) and installed.boto3 is BOTO3
    assert beam_s3_clients.install() and boto3_client.boto3 is installed


def test_an_unchecked_beam_release_is_left_as_it_is(monkeypatch):
    monkeypatch.setattr(boto3_client, "boto3", BOTO3)
    monkeypatch.setattr(beam, "__version__", "2.99.0")
    assert not beam_s3_clients.install()
    assert boto3_client.boto3 is BOTO3


def test_a_worker_that_unpickles_a_newsbeam_dofn_shares_its_clients():
    """An SDK worker imports newsbeam's transforms to unpickle the DoFns of a stage: that installs the sharing
    before the stage's first S3 call."""
    seen = around_unpickling_a_dofn(
        "type(__import__('apache_beam.io.aws.clients.s3.boto3_client', fromlist=['boto3_client']).boto3).__name__")
    assert seen == ["module", "SharedS3Clients"]
