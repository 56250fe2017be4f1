"""What an ingest to `s3://` costs, with Beam's S3 clients built per call or shared per process.

    python -m benchmarks.bench_object_storage [--repeats 3] [--feed /feeds/levant.rss] [--arms shared,per-call]

The parent serves the bundled sample site and moto's S3 server on 127.0.0.1 (both in the parent, so their CPU is
not counted). Each sample is a fresh interpreter that runs one warm-up ingest of `--feed` to a local folder
(imports, gazetteer, caches), then the measured ingest of the same feed to `s3://BUCKET/<sample>/news`, and
reports that run's CPU (`time.process_time`: every thread of the process, FnApiRunner's in-process workers
included), its wall time, the calls to Beam's S3 filesystem (each builds an `S3IO`) and the botocore clients
built. Arms, interleaved: `shared` (newsbeam as it is: `newsbeam.beam_s3_clients`, one client per process and
set of arguments); `per-call` puts the real `boto3` module back in Beam's `boto3_client` (Beam's own behaviour: a
session and client per call). Unlike the tests' `aws_env` fixture, nothing caches botocore's loader here: each new
session parses botocore's JSON again, as in production.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time

from benchmarks.bench_setup import run_child

KEY_ID, SECRET, REGION, BUCKET = "bench-key-id", "bench-secret", "us-east-1", "newsbeam-bench"

_SAMPLE = """
import json, sys, tempfile, time
from apache_beam.io.aws import s3io
from apache_beam.io.aws.clients.s3 import boto3_client
import botocore.session
from newsbeam.pipelines import ingest

arm, feed_url, output, flags = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
if arm == "per-call":
    boto3_client.boto3 = boto3_client.boto3.boto3
counts = {"calls": 0, "clients": 0}
def counting(name, original):
    def counted(*args, **kwargs):
        counts[name] += 1
        return original(*args, **kwargs)
    return counted
s3io.S3IO.__init__ = counting("calls", s3io.S3IO.__init__)
botocore.session.Session.create_client = counting("clients", botocore.session.Session.create_client)
run_flags = ["--feeds", feed_url, "--host-delay", "0", "--entities", "gazetteer", "--allow-private-addresses"]
with tempfile.TemporaryDirectory() as work:
    done = ingest.run([*run_flags, "--output", work + "/warm-up"])
    assert done.status == "succeeded", done.error
counts.update(calls=0, clients=0)
cpu, wall = time.process_time(), time.perf_counter()
done = ingest.run([*run_flags, *flags, "--output", output])
assert done.status == "succeeded", done.error
print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall, **counts,
                  "articles": done.counters.get("articles.written", 0)}))
"""


def _environment(endpoint: str) -> dict:
    """Dummy credentials and no lookup of real ones (no instance metadata, no ~/.aws files)."""
    return {**os.environ, "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent/aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials", "AWS_ENDPOINT_URL": endpoint}


def _sample(arm: str, feed_url: str, output: str, endpoint: str) -> dict:
    flags = ["--s3_endpoint_url", endpoint, "--s3_access_key_id", KEY_ID, "--s3_secret_access_key", SECRET,
             "--s3_region_name", REGION]
    return run_child(["-c", _SAMPLE, arm, feed_url, output, json.dumps(flags)], _environment(endpoint), timeout=1800)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--feed", default="/feeds/levant.rss", help="a feed of the sample site (default: %(default)s)")
    parser.add_argument("--arms", default="shared,per-call", help="comma-separated: shared, per-call")
    args = parser.parse_args(argv)
    import boto3
    from moto.server import ThreadedMotoServer

    from newsbeam.sample_site import SampleSite

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the S3 server's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                     region_name=REGION).create_bucket(Bucket=BUCKET)
        arms = args.arms.split(",")
        results = {arm: [] for arm in arms}
        with SampleSite() as site:
            for repeat in range(args.repeats):
                for arm in arms:
                    started = time.strftime("%H:%M:%S", time.gmtime())
                    sample = _sample(arm, site.url(args.feed), f"s3://{BUCKET}/{arm}-{repeat}/news", endpoint)
                    results[arm].append(sample)
                    print(f"{started} UTC load {os.getloadavg()[0]:.1f} {arm}: {json.dumps(sample)}", flush=True)
    finally:
        server.stop()
    print("\n| arm | CPU s (median) | wall s (median) | S3 filesystem calls | botocore clients built | articles |")
    print("|---|---|---|---|---|---|")
    for arm, samples in results.items():
        print(f"| {arm} | {statistics.median(s['cpu'] for s in samples):.2f} | "
              f"{statistics.median(s['wall'] for s in samples):.2f} | "
              f"{statistics.median(s['calls'] for s in samples):.0f} | "
              f"{statistics.median(s['clients'] for s in samples):.0f} | {samples[0]['articles']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
