"""Reading newsbeam's output for analysis, with the Hive partition columns as plain strings.

`pandas.read_parquet(OUT/articles)` turns `ingest_date` and `language` into *unordered* categoricals, so
`df[df.ingest_date >= "2026-11-01"]` raises. Declaring the partition columns as strings keeps them comparable
(ISO dates order correctly as text). pandas and Polars are imported only when a frame is asked for (the `analysis`
extra). docs/reading.md shows every reader, Spark and DuckDB included.
"""
from __future__ import annotations

import glob
import os
from typing import Optional, Sequence

import pyarrow as pa
import pyarrow.dataset as ds

from newsbeam.schemas.datasets import ARTICLES, DEAD_LETTERS, DatasetSpec

DATASETS = {spec.name: spec for spec in (ARTICLES, DEAD_LETTERS)}


def partitioning(spec: DatasetSpec) -> ds.Partitioning:
    """Hive partitioning with every partition column typed as a string (never a dictionary or a date)."""
    return ds.partitioning(pa.schema([(column, pa.string()) for column in spec.partition_columns]), flavor="hive")


def dataset_schema(spec: DatasetSpec) -> pa.Schema:
    """The current schema of the files plus the partition columns as strings."""
    return pa.schema(list(spec.schema) + [pa.field(column, pa.string()) for column in spec.partition_columns],
                     metadata=spec.schema.metadata)


def _never_written(output: str, spec: DatasetSpec) -> bool:
    """An existing local output without this dataset's folder: no run has written a row of it yet (a run with no
    dead letters, or no article). A missing output stays an error: a mistyped path is not an empty dataset."""
    return "://" not in output and os.path.isdir(output) and not os.path.isdir(os.path.join(output, spec.name))


def open_dataset(output: str, name: str = "articles") -> ds.Dataset:
    """A pyarrow dataset over OUT/<name>; raises KeyError for an unknown dataset name.

    Read with the current schema, not the first file's: an output written over several releases holds files of
    older schema versions, and an older file first would drop the newer columns (entity_ids, topics) from every row.
    Columns an older file lacks are null in its rows. A dataset no run has written yet is empty, with its columns."""
    spec = DATASETS[name]
    source = [] if _never_written(output, spec) else os.path.join(output, spec.name)
    return ds.dataset(source, format="parquet", partitioning=partitioning(spec), schema=dataset_schema(spec))


def read_pandas(output: str, name: str = "articles", columns: Optional[Sequence[str]] = None,
                filter: Optional[ds.Expression] = None):  # noqa: A002 - pyarrow's own name for it
    """OUT/<name> as a pandas DataFrame whose partition columns are strings that compare and sort."""
    table = open_dataset(output, name).to_table(columns=list(columns) if columns else None, filter=filter)
    return table.to_pandas()


def scan_polars(output: str, name: str = "articles"):
    """OUT/<name> as a Polars LazyFrame: the current schema (columns an older file lacks are null; Polars' own
    `scan_parquet` takes the first file's schema and fails on the newer files' extra columns), partition columns
    as strings as in `read_pandas`, and an empty frame with its columns where no file is written yet."""
    import polars as pl

    spec = DATASETS[name]
    files = os.path.join(output, spec.name, "**", "*.parquet")
    schema = pl.Schema(pl.from_arrow(spec.schema.empty_table()).schema)
    partitions = {column: pl.String for column in spec.partition_columns}
    if "://" not in output and not glob.glob(files, recursive=True):
        if not os.path.isdir(output):
            raise FileNotFoundError(output)
        return pl.LazyFrame(schema={**schema, **partitions})
    # extra_columns='ignore': a file of a newer schema version read by this release keeps this release's columns
    return pl.scan_parquet(files, schema=schema, hive_partitioning=True, hive_schema=partitions,
                           missing_columns="insert", extra_columns="ignore")
