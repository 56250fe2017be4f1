"""newsbeam: news ingestion with Apache Beam.

Pure library code; the Beam wiring lives in `transforms/` and `pipelines/`."""

__version__ = "0.1.0"
