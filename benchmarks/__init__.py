"""Benchmarks: `python benchmarks/bench_pipeline.py --help`."""
