"""Runnable pipelines (`ingest`, `demo`) and the `newsbeam` command line."""
