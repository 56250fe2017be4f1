"""Running small TestPipelines and reading their counters; what a fresh SDK worker process sees."""
import subprocess
import sys
from typing import List

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
