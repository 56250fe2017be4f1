"""newsbeam: news ingestion with Apache Beam (pure library code; Beam wiring lives in `transforms/` and `pipelines/`)."""

__version__ = "0.1.0"
