"""Hive-partitioned Parquet, written atomically and idempotently per run.

Records are keyed by (partition folder, bucket) with a stable hash, grouped, and each group becomes one file
`part-<run_id>-<bucket>.parquet`, written under a hidden temporary name and renamed into place. Rows travel
through the grouping stored (newsbeam.recordstore: packed, or on the local runner appended to a spool file, one per
bundle) with their sort key, and are read back ARROW_BATCH_ROWS at a time, so neither the runner nor the writing
worker holds a partition's rows as Python objects. A finalize step then deletes this run's files that the run
did not write again (a re-run with fewer rows or other partitions) and its leftover temporary files. Everything
goes through Beam's `FileSystems`, so the same code writes to local disk, gs:// or s3://.
"""
from __future__ import annotations

import logging
import zlib
from collections import Counter
from dataclasses import replace
from itertools import islice
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple
from urllib.parse import quote

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindow

from newsbeam.atomic import atomic_create
from newsbeam.recordstore import RecordStore, Ref
from newsbeam.partfiles import owns, owns_temporary, part_name
from newsbeam.schemas.datasets import DatasetSpec, RunContext, rows_to_table
from newsbeam.transforms.common import CounterSet, counter, timed
from newsbeam.transforms.spool import AppendingFn

LOG = logging.getLogger(__name__)
ROW_GROUP_ROWS = 5000
ROW_GROUP_BYTES = 8 << 20  # of Arrow data, with ROW_GROUP_ROWS: whichever a row group reaches first
ARROW_BATCH_ROWS = 250


def partition_folder(values: Tuple[Tuple[str, str], ...]) -> str:
    return "/".join(f"{name}={quote(str(value), safe='')}" for name, value in values)


def bucket_of(key: str, buckets: int) -> int:
    """crc32, not hash(): Python salts str hashes per process, which would scatter a run's rows differently
    on every worker and every re-run."""
    return zlib.crc32(key.encode("utf-8")) % buckets


def window_tag(window) -> str:
    """'' in the global window (batch); the window's start in UTC, e.g. '20261121T0715Z', in streaming."""
    if isinstance(window, GlobalWindow):
        return ""
    return window.start.to_utc_datetime(has_tz=True).strftime("%Y%m%dT%H%M%SZ")


def final_name(run: RunContext, bucket: int, tag: str = "") -> str:
    return part_name(run.run_id, bucket, tag)


def write_parquet(path: str, rows: Iterable[Dict[str, Any]], schema: pa.Schema) -> int:
    """Writes `rows` to `path` whole or not at all (newsbeam.atomic), zstd-compressed, in row groups of at most
    ROW_GROUP_ROWS rows and about ROW_GROUP_BYTES of Arrow data; returns the number of rows.

    Rows become Arrow `ARROW_BATCH_ROWS` at a time: as Python dicts an article with its entities takes tens of
    kilobytes, in Arrow little more than its text, so a row group is gathered in Arrow, not as dicts. The byte
    bound keeps the writer's memory (the gathered group and its encoding) the same whatever the file's size: by
    rows alone, a file of 5,000 articles held ~100 MB more than one of 1,000."""
    count = 0
    rows = iter(rows)
    with atomic_create(path) as handle, pq.ParquetWriter(handle, schema, compression="zstd") as writer:
        group: List[pa.Table] = []
        gathered = size = 0
        while chunk := list(islice(rows, min(ARROW_BATCH_ROWS, ROW_GROUP_ROWS - gathered))):
            group.append(rows_to_table(chunk, schema))
            gathered += len(chunk)
            size += group[-1].nbytes
            if gathered == ROW_GROUP_ROWS or size >= ROW_GROUP_BYTES:
                writer.write_table(pa.concat_tables(group), row_group_size=gathered)
                count += gathered
                group, gathered, size = [], 0, 0
        if group:
            writer.write_table(pa.concat_tables(group), row_group_size=gathered)
            count += gathered
    return count


def delete_stale(patterns: List[str], keep: Iterable[str]) -> List[str]:
    """Deletes the files matching `patterns` that are not in `keep` (a run's files it did not write again, and
    its stray temporary files); returns their paths."""
    keep = set(keep)
    stale = []
    for result in FileSystems.match(patterns):
        stale.extend(meta.path for meta in result.metadata_list if meta.path not in keep)
    if stale:
        FileSystems.delete(stale)
    return stale


class _KeyRowsFn(AppendingFn):
    def __init__(self, spec: DatasetSpec, run: RunContext, buckets: int, store: RecordStore):
        super().__init__(store)
        self._spec = spec
        self._run = run
        self._buckets = buckets

    def process(self, record, window=beam.DoFn.WindowParam):
        tag = window_tag(window)
        run = self._run
        if tag:  # streaming: a window's rows go to the date the window starts on
            run = replace(run, ingest_date=window.start.to_utc_datetime(has_tz=True).strftime("%Y-%m-%d"))
        values = zip(self._spec.partition_columns, self._spec.partition_values(record, run))
        folder = partition_folder(tuple(values))
        bucket = bucket_of(self._spec.bucket_key(record), self._buckets)
        row = self._spec.to_row(record, run)
        yield (folder, bucket, tag), (self._spec.sort_key(row), *self._appender.put_ordered(row))


class _WriteFileFn(beam.DoFn):
    def __init__(self, spec: DatasetSpec, root: str, run: RunContext, store: RecordStore):
        self._store = store
        self._spec = spec
        self._root = root
        self._run = run
        self._files = counter(f"written.{spec.name}.files")
        self._rows = counter(f"written.{spec.name}.rows")
        self._outcomes = CounterSet()
        self._time = counter("stage_us.write")

    def process(self, element: Tuple[Tuple[str, int, str], Iterable[Tuple[Any, str, Ref]]]):
        (folder, bucket, tag), keyed = element
        # same input, same file, whatever the grouping order and whichever file the rows were appended to: the
        # content digest (or the packed bytes, when they travel in the element) breaks ties of the sort key
        ordered = sorted(keyed)
        directory = FileSystems.join(self._root, self._spec.name, folder)
        name = final_name(self._run, bucket, tag)
        final = FileSystems.join(directory, name)
        outcomes: Counter = Counter()
        with timed(self._time):
            rows = write_parquet(final, self._unpacked(ordered, outcomes), self._spec.schema)
        self._files.inc()
        self._rows.inc(rows)
        for name, value in outcomes.items():  # counted once the file is in place
            self._outcomes.inc(name, value)
        yield final

    def _unpacked(self, ordered, outcomes: Counter) -> Iterator[Dict[str, Any]]:
        for _, _, ref in ordered:
            row = self._store.get(ref)
            outcomes.update(self._spec.row_metrics(row))
            yield row


class _FinalizeFn(beam.DoFn):
    """Deletes files of this run id (and window, in streaming) that this attempt did not write, and its stray
    temporary files. Only names the run owns exactly (newsbeam.partfiles): the glob below also lists the files
    of run ids this one prefixes (`nightly` lists `nightly-2`'s), and in batch those of the run's windows."""

    def __init__(self, spec: DatasetSpec, root: str, run: RunContext):
        self._spec = spec
        self._root = root
        self._run = run
        self._deleted = counter(f"written.{spec.name}.stale_files_deleted")

    def process(self, written: List[str], window=beam.DoFn.WindowParam):
        keep = set(written)
        depth = "*/" * len(self._spec.partition_columns)
        base = FileSystems.join(self._root, self._spec.name)
        tag = window_tag(window)
        prefix = f"part-{self._run.run_id}-{tag}-" if tag else f"part-{self._run.run_id}-"
        patterns = [f"{base}/{depth}{prefix}*.parquet", f"{base}/{depth}.{prefix}*.inprogress"]
        run_id = self._run.run_id
        stale = []
        for result in FileSystems.match(patterns):
            for meta in result.metadata_list:
                name = meta.path.rsplit("/", 1)[-1]
                if meta.path not in keep and (owns(name, run_id, tag) or owns_temporary(name, run_id, tag)):
                    stale.append(meta.path)
        if stale:
            LOG.info("removing %d stale file(s) of run %s from %s", len(stale), self._run.run_id, base)
            FileSystems.delete(stale)
            self._deleted.inc(len(stale))
        yield from sorted(keep)


class WriteDataset(beam.PTransform):
    """Records -> Parquet files of one dataset; outputs the paths of the files this run committed.

    In the global window (batch) the files are `part-<run_id>-<bucket>.parquet`. In other windows (streaming)
    they are `part-<run_id>-<window start>-<bucket>.parquet` under the window's date, and each window is
    committed and finalized on its own."""

    def __init__(self, spec: DatasetSpec, root: str, run: RunContext, buckets: int = 1, windowed: bool = False,
                 store: Optional[RecordStore] = None):
        super().__init__()
        self._store = store or RecordStore()
        if buckets < 1:
            raise ValueError("buckets must be at least 1")
        self._global = not windowed
        self._spec = spec
        self._root = root
        self._run = run
        self._buckets = buckets

    def expand(self, records):
        return (
            records
            | "KeyByPartition" >> beam.ParDo(_KeyRowsFn(self._spec, self._run, self._buckets, self._store)
                                             ).with_output_types(Tuple[Tuple[str, int, str], Tuple[Any, str, Ref]])
            | "GroupByFile" >> beam.GroupByKey()
            | "WriteFiles" >> beam.ParDo(_WriteFileFn(self._spec, self._root, self._run, self._store))
            # an empty batch run still finalizes (it removes what an earlier attempt of the run wrote); an empty
            # streaming window has nothing to finalize
            | "CollectWritten" >> (beam.combiners.ToList() if self._global else
                                   beam.CombineGlobally(beam.combiners.ToListCombineFn()).without_defaults())
            | "Finalize" >> beam.ParDo(_FinalizeFn(self._spec, self._root, self._run))
        )
