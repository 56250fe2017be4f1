"""Reading newsbeam's output for analysis, with the Hive partition columns as plain strings.

`pandas.read_parquet(OUT/articles)` turns `ingest_date` and `language` into *unordered* categoricals, so
`df[df.ingest_date >= "2026-11-01"]` raises. Declaring the partition columns as strings keeps them comparable
(ISO dates order correctly as text). pandas is imported only when a DataFrame is asked for (the `analysis` extra).
"""
from __future__ import annotations

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


def open_dataset(output: str, name: str = "articles") -> ds.Dataset:
    """A pyarrow dataset over OUT/<name>; raises KeyError for an unknown dataset name.

    Read with the current schema, not the first file's: an output written over several releases holds files of
    older schema versions, and an older file first would drop the newer columns (entity_ids, topics) from every row.
    Columns an older file lacks are null in its rows."""
    spec = DATASETS[name]
    return ds.dataset(os.path.join(output, spec.name), format="parquet", partitioning=partitioning(spec),
                      schema=dataset_schema(spec))


def read_pandas(output: str, name: str = "articles", columns: Optional[Sequence[str]] = None,
                filter: Optional[ds.Expression] = None):  # noqa: A002 - pyarrow's own name for it
    """OUT/<name> as a pandas DataFrame whose partition columns are strings that compare and sort."""
    table = open_dataset(output, name).to_table(columns=list(columns) if columns else None, filter=filter)
    return table.to_pandas()
