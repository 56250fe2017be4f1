"""`reprocess --replace`: a reprocessed run's rows replace the older rows of the same article ids and URLs."""
from __future__ import annotations

import uuid
from typing import Callable, Dict, List

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from newsbeam.partfiles import owns


def _files(output: str, dataset: str, *levels: str) -> List[str]:
    pattern = FileSystems.join(output, dataset, *levels, "part-*.parquet")
    return sorted(meta.path for result in FileSystems.match([pattern]) for meta in result.metadata_list)


def _read(path: str):
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return pq.read_table(handle)


def _among(column, values) -> pa.Array:
    """True where the column's value is in `values` (a null is in nothing: its row is kept)."""
    return pc.fill_null(pc.is_in(column, value_set=pa.array(sorted(values), pa.string())), False)


def _rewrite_without(paths: List[str], drop: Callable[[pa.Table], pa.Array]) -> int:
    """Rewrites each file without the rows `drop` marks (to a hidden name, then renamed, like every newsbeam file;
    deleted when nothing is left); returns the number of rows removed."""
    removed = 0
    for path in paths:
        table = _read(path)
        kept = table.filter(pc.invert(drop(table)))
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


def replace_older_rows(output: str, run_id: str) -> Dict[str, int]:
    """Removes from the other runs' files the rows that `run_id` wrote again: articles of the same article id or
    URL, dead letters of the same URL. So each URL the reprocess replayed has one row, its own, however often it is
    repeated. Returns the rows removed per dataset (`articles.replaced_older_rows`,
    `dead_letters.replaced_older_rows`)."""
    # exactly this run's batch files (newsbeam.partfiles: a prefix would also take run `<run_id>-b`'s)
    def mine(path: str) -> bool:
        return owns(path.rsplit("/", 1)[-1], run_id, tag="")

    articles, dead_letters = _files(output, "articles", "*", "*"), _files(output, "dead_letters", "*")
    ids, urls = set(), set()
    for path in filter(mine, articles):
        table = _read(path)
        ids.update(table.column("article_id").to_pylist())
        urls.update(table.column("url").to_pylist())
    for path in filter(mine, dead_letters):
        urls.update(url for url in _read(path).column("url").to_pylist() if url)
    others = [path for path in articles if not mine(path)]
    removed_articles = _rewrite_without(others, lambda table: pc.or_(
        _among(table.column("article_id"), ids), _among(table.column("url"), urls)))
    others = [path for path in dead_letters if not mine(path)]
    removed_dead_letters = _rewrite_without(others, lambda table: _among(table.column("url"), urls))
    return {"articles.replaced_older_rows": removed_articles, "dead_letters.replaced_older_rows": removed_dead_letters}
