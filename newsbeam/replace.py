"""`reprocess --replace`: a reprocessed run's rows replace the older rows of the same article ids."""
from __future__ import annotations

import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems


def _article_files(output: str):
    pattern = FileSystems.join(output, "articles", "*", "*", "part-*.parquet")
    return sorted(meta.path for result in FileSystems.match([pattern]) for meta in result.metadata_list)


def _read(path: str):
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return pq.read_table(handle)


def replace_older_rows(output: str, run_id: str) -> int:
    """Rewrites the article files of other runs without the rows whose article id `run_id` wrote; returns the
    number of rows removed. Each file is rewritten to a hidden name and renamed, like every newsbeam file."""
    files = _article_files(output)
    mine = [path for path in files if f"/part-{run_id}-" in path]
    ids = set()
    for path in mine:
        ids.update(_read(path).column("article_id").to_pylist())
    removed = 0
    for path in files:
        if path in mine:
            continue
        table = _read(path)
        keep = pc.invert(pc.is_in(table.column("article_id"), value_set=pa.array(sorted(ids), pa.string())))
        kept = table.filter(keep)
        if kept.num_rows == table.num_rows:
            continue
        removed += table.num_rows - kept.num_rows
        if kept.num_rows == 0:
            FileSystems.delete([path])
            continue
        directory, name = path.rsplit("/", 1)
        temporary = f"{directory}/.{name}.{uuid.uuid4().hex}.inprogress"
        with FileSystems.create(temporary, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            pq.write_table(kept, handle, compression="zstd")
        FileSystems.delete([path])
        FileSystems.rename([temporary], [path])
    return removed
