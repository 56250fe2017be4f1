"""Incremental state under `OUT/_state/`: append-only Parquet segments, one per finished run, plus compactions.

```
OUT/_state/<table>/segment-<run_id>.parquet   what one run committed (written after its data files)
OUT/_state/<table>/base-<run_id>.parquet      a compaction of earlier segments; its metadata lists the runs it holds
```

Every row carries the `run_id` that produced it, so a re-run of a run id can read the state *without* its own
earlier contribution (a re-run replaces, it must not skip what it is replacing). Readers combine the newest base with
the segments it does not cover. Files are written through `FileSystems` to a hidden name and renamed, so a killed
run leaves either a whole segment or none; deleting merged segments after a compaction is safe to interrupt.
Nothing here is needed to read the datasets: `rm -r OUT/_state` only makes the next run start from scratch.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Iterator, List, Optional, Sequence, Set, Tuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from newsbeam.atomic import atomic_create
from newsbeam.manifest import MANIFEST_FOLDER
from newsbeam.partfiles import owns

LOG = logging.getLogger(__name__)
STATE_FOLDER = "_state"
_COVERED = b"newsbeam.covered_runs"
_CREATED = b"newsbeam.created_at"


def _run_of(path: str, prefix: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name[len(prefix):-len(".parquet")]


@dataclass(frozen=True)
class _Base:
    path: str
    covered: Set[str]
    created_at: str


class SegmentedTable:
    """One state table: a schema with a `run_id` column, stored as a base plus per-run segments."""

    def __init__(self, output: str, name: str, schema: pa.Schema):
        if "run_id" not in schema.names:
            raise ValueError("a state table needs a run_id column")
        self.folder = FileSystems.join(output, STATE_FOLDER, name)
        self.schema = schema

    def _files(self) -> Tuple[List[str], List[str]]:
        """(base paths, segment paths), each sorted, from one listing of the folder (on an object store each
        listing is a billed request, and these are read together)."""
        try:
            results = FileSystems.match([FileSystems.join(self.folder, "*.parquet")])
        except Exception:  # a folder that does not exist yet matches nothing, on every filesystem
            return [], []
        paths = sorted(meta.path for result in results for meta in result.metadata_list)
        names = [path.rsplit("/", 1)[-1] for path in paths]
        return ([p for p, n in zip(paths, names) if n.startswith("base-")],
                [p for p, n in zip(paths, names) if n.startswith("segment-")])

    @staticmethod
    def _bases(paths: List[str]) -> List[_Base]:
        bases = []
        for path in paths:
            try:
                with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
                    metadata = pq.read_schema(handle).metadata or {}
                covered = set(json.loads(metadata.get(_COVERED, b"[]")))
            except (pa.ArrowException, OSError, ValueError) as exc:
                raise StateDamaged(path, exc) from exc
            bases.append(_Base(path, covered, metadata.get(_CREATED, b"").decode()))
        return sorted(bases, key=lambda b: b.created_at)

    def read(self, exclude_run: Optional[str] = None) -> pa.Table:
        """Every row, without those of `exclude_run`."""
        return self.snapshot(exclude_run)[0]

    def snapshot(self, exclude_run: Optional[str] = None) -> Tuple[pa.Table, Set[str]]:
        """Every row without those of `exclude_run`, and the run ids whose rows the table holds (in a base or a
        segment), from one listing and one reading of the bases' footers, as a run loads its state (each is a billed
        request on an object store)."""
        base_paths, segments = self._files()
        bases = self._bases(base_paths)
        table = self._combine(bases, segments)
        if exclude_run is not None and table.num_rows:
            table = table.filter(pc.not_equal(table["run_id"], exclude_run))
        return table, self._covered(bases, segments)

    @staticmethod
    def _covered(bases: List[_Base], segments: List[str]) -> Set[str]:
        covered = set(bases[-1].covered) if bases else set()
        return covered | {_run_of(path, "segment-") for path in segments}

    def _combine(self, bases: List[_Base], segments: List[str]) -> pa.Table:
        """The newest base and the segments it does not cover, as one table."""
        base = bases[-1] if bases else None
        tables = [_read(base.path, self.schema)] if base is not None else []
        tables += [_read(path, self.schema) for path in segments
                   if base is None or _run_of(path, "segment-") not in base.covered]
        return pa.concat_tables(tables) if tables else self.schema.empty_table()

    def write_segment(self, run_id: str, table: pa.Table) -> str:
        path = FileSystems.join(self.folder, f"segment-{run_id}.parquet")
        _write_atomically(path, table.cast(self.schema))
        return path

    def compact(self, run_id: str, max_segments: int) -> bool:
        """Folds the segments into a new base once there are more than `max_segments` of them."""
        base_paths, segments = self._files()
        if len(segments) <= max_segments:
            return False
        bases = self._bases(base_paths)
        table = self._combine(bases, segments)
        covered = self._covered(bases, segments)
        metadata = {_COVERED: json.dumps(sorted(covered)).encode(),
                    _CREATED: datetime.now(timezone.utc).isoformat().encode()}
        path = FileSystems.join(self.folder, f"base-{run_id}.parquet")
        _write_atomically(path, table.cast(self.schema).replace_schema_metadata(metadata))
        # the new base is in place: the merged files are now redundant, and readers skip them anyway
        stale = [b.path for b in bases if b.path != path] + segments
        FileSystems.delete(stale)
        LOG.info("compacted %d state file(s) of %s into %s", len(stale), self.folder, path)
        return True


def _read(path: str, schema: pa.Schema) -> pa.Table:
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            return pq.read_table(handle, schema=schema)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise StateDamaged(path, exc) from exc


# What moving a damaged file away costs, per table: rows of `seen` are rebuilt from the runs' data files.
_RECOVERY = {
    "seen": "the next run rebuilds what it held from the runs' data files",
    "feeds": "the feeds it covered are read in full once",
    "near_duplicates": "articles it covered are no longer grouped with new near duplicates",
}


class StateDamaged(Exception):
    """A state file that cannot be read. Its message names the file and how to recover."""

    def __init__(self, path: str, cause: object):
        self.path = path
        folder, _ = path.rsplit("/", 1)
        table = folder.rsplit("/", 1)[-1]
        output = folder[:-len(f"/{STATE_FOLDER}/{table}")] if folder.endswith(f"/{STATE_FOLDER}/{table}") else "OUT"
        effect = _RECOVERY.get(table, "its rows are lost")
        detail = " ".join(f"{type(cause).__name__}: {cause}".split())[:200]
        super().__init__(f"damaged state file {path} ({detail}); to recover, delete it ({effect}) or start the "
                         f"state over with: rm -r {FileSystems.join(output, STATE_FOLDER)}")


def check_state(output: str) -> int:
    """Opens the footer of every state file under `output`; raises StateDamaged for the first that is truncated,
    not Parquet, or not a state table. Cheap (footers only): run it before a run starts. Returns the file count."""
    try:
        results = FileSystems.match([FileSystems.join(output, STATE_FOLDER, "*", "*.parquet")])
    except Exception:  # no state yet
        return 0
    paths = sorted(meta.path for result in results for meta in result.metadata_list
                   if meta.path.rsplit("/", 1)[-1].startswith(("segment-", "base-")))
    for path in paths:
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
                schema = pq.ParquetFile(handle).schema_arrow
                if "run_id" not in schema.names:
                    raise ValueError("no run_id column: not a newsbeam state table")
                if path.rsplit("/", 1)[-1].startswith("base-"):
                    json.loads((schema.metadata or {}).get(_COVERED, b"[]"))
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise StateDamaged(path, exc) from exc
    return len(paths)


def _write_atomically(path: str, table: pa.Table) -> None:
    with atomic_create(path) as handle:
        pq.write_table(table, handle, compression="zstd")


def run_file_paths(output: str, dataset: str, depth: int, run_id: str) -> Iterator[str]:
    """The data files a run committed to a dataset (batch and streaming windows; only names it owns exactly, not
    those of run ids it prefixes)."""
    pattern = FileSystems.join(output, dataset, *(["*"] * depth), f"part-{run_id}-*.parquet")
    for result in FileSystems.match([pattern]):
        for meta in result.metadata_list:
            if owns(meta.path.rsplit("/", 1)[-1], run_id):
                yield meta.path


def read_run_files(output: str, dataset: str, depth: int, run_id: str, columns: Sequence[str]) -> pa.Table:
    """The rows a run committed to a dataset, read back from its data files (`run_file_paths`)."""
    tables = []
    for path in run_file_paths(output, dataset, depth, run_id):
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            tables.append(pq.read_table(handle, columns=list(columns)))
    return pa.concat_tables(tables) if tables else None


def has_run_files(output: str, run_id: str, article_depth: int = 2, dead_letter_depth: int = 1) -> bool:
    """Whether `run_id` already committed article or dead-letter files (an earlier attempt of a re-run)."""
    return any(next(run_file_paths(output, dataset, depth, run_id), None) is not None
               for dataset, depth in (("articles", article_depth), ("dead_letters", dead_letter_depth)))


def runs_in(output: str) -> List[str]:
    """The id of every run that has a manifest (from file names alone: a streaming job makes thousands)."""
    pattern = FileSystems.join(output, MANIFEST_FOLDER, "*.json")
    try:
        results = FileSystems.match([pattern])
    except Exception:
        return []
    return sorted(meta.path.rsplit("/", 1)[-1][:-len(".json")] for r in results for meta in r.metadata_list)


def uncommitted(iterable: Iterable[str], covered: Set[str], current: str) -> List[str]:
    """Runs whose rows the state does not hold yet: killed runs, or runs that died before committing state."""
    return sorted({run for run in iterable if run not in covered and run != current})
