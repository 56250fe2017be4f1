"""Running small TestPipelines and reading their counters."""
from apache_beam.testing.test_pipeline import TestPipeline

from newsbeam.pipelines.ingest import counters_of


def fnapi_pipeline():
    # FnApiRunner: the DirectRunner of Beam 2.77 would first try to download Prism
    return TestPipeline(runner="FnApiRunner")


def run_and_count(pipeline):
    result = pipeline.run()
    result.wait_until_finish()
    return counters_of(result)
