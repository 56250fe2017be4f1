"""Running small TestPipelines and reading their counters; what a fresh SDK worker process sees; steps that run in
worker processes (defined here, not in a test module: a worker that unpickles a step imports its module, and a test
module imports hypothesis through conftest, whose import can race the warm-up thread's imports of spaCy there)."""
import os
import subprocess
import sys
import time
from typing import List

import apache_beam as beam
from apache_beam.internal import pickler
from apache_beam.testing.test_pipeline import TestPipeline

from newsbeam.pipelines.ingest import counters_of


def fnapi_pipeline():
    # FnApiRunner: the DirectRunner of Beam 2.77 would first try to download Prism
    return TestPipeline(runner="FnApiRunner")


def run_and_count(pipeline):
    result = pipeline.run()
    result.wait_until_finish()
    return counters_of(result)


def around_unpickling_a_dofn(expression: str) -> List[str]:
    """`expression` (Python, printed) in a fresh interpreter before and after it unpickles a newsbeam DoFn, as an SDK
    worker does for each stage: what the import of newsbeam's transforms puts in place there."""
    from newsbeam.transforms.fetch import _FetchHostsFn

    payload = pickler.dumps(_FetchHostsFn(None, "", None, "pages", None))
    probe = (f"import sys; from apache_beam.internal import pickler; print({expression}); "
             f"pickler.loads(sys.stdin.buffer.read()); print({expression})")
    done = subprocess.run([sys.executable, "-c", probe], input=payload, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout.decode().split()


def extracting_pid(_element) -> int:
    return os.getpid()


class SlowStartOnOneWorker(beam.DoFn):
    """The first worker process to set this up takes `seconds` to do so, as a worker that loads its models late."""

    def __init__(self, marker: str, seconds: float):
        self._marker = marker
        self._seconds = seconds

    def setup(self):
        try:
            os.close(os.open(self._marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        time.sleep(self._seconds)

    def process(self, page):
        time.sleep(0.02)
        yield page


def ingest_warc(pattern: str, out, run_id: str, entities: str) -> list:
    """`newsbeam ingest --warc PATTERN` through the CLI, which must succeed: the article rows it wrote."""
    import pyarrow.dataset as ds

    done = subprocess.run([sys.executable, "-m", "newsbeam.pipelines.cli", "ingest", "--warc", pattern, "--output",
                           str(out), "--run-id", run_id, "--entities", entities], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return ds.dataset(out / "articles", partitioning="hive").to_table().to_pylist()
