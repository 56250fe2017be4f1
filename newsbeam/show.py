"""`newsbeam show ARTICLE_ID_OR_URL OUT [--raw]`: one row, or the HTTP response it came from."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import pyarrow.dataset as ds
from apache_beam.io.filesystems import FileSystems

from newsbeam.warc import pointer_path, read_record_at


class ShowError(LookupError):
    """What `show` cannot show, said in one line (exit 2)."""


def _rows(output: str, dataset: str, expression) -> Optional[List[Dict[str, Any]]]:
    """The rows of `dataset` matching `expression`; None when the output has no such dataset."""
    try:
        table = ds.dataset(FileSystems.join(output, dataset), format="parquet", partitioning="hive")
    except FileNotFoundError:
        return None
    return table.to_table(filter=expression).to_pylist()


def find_row(output: str, key: str) -> Optional[Dict[str, Any]]:
    """The newest article row whose `article_id`, `url`, `final_url` or `canonical_url` is `key` (several runs may
    have written it), else the newest dead-letter row of the URL `key`, else None."""
    field = ds.field
    articles = _rows(output, "articles", (field("article_id") == key) | (field("url") == key)
                     | (field("final_url") == key) | (field("canonical_url") == key))
    if articles:
        return max(articles, key=lambda row: row["fetched_at"])
    dead_letters = _rows(output, "dead_letters", field("url") == key)
    if articles is None and dead_letters is None:
        raise ShowError(f"{output!r} is not a newsbeam output (it has no articles/ nor dead_letters/ folder)")
    return max(dead_letters, key=lambda row: row["failed_at"]) if dead_letters else None


def raw_response(output: str, row: Dict[str, Any]) -> bytes:
    """The archived response of a row as HTTP: status line, headers as received, body (content-decoded).
    Raises ShowError when there is none, or when its file is gone or damaged."""
    if not row.get("warc_filename"):
        raise ShowError("this row has no archived response (no answer of its own, e.g. robots_disallowed; or written "
                        "with --archive off, or before articles schema 4)")
    filename, offset, length = row["warc_filename"], row["warc_record_offset"], row["warc_record_length"]
    path = pointer_path(output, filename)
    if not FileSystems.exists(path):
        raise ShowError(f"the archive file {path} is gone (deleted or moved): the row points to its offset {offset}")
    try:
        _, http_headers, body = read_record_at(output, filename, offset, length)
    except Exception as exc:  # zlib.error, ArchiveLoadFailed, ValueError (truncated): never a partial answer
        raise ShowError(f"the record at {path}:{offset} ({length} bytes) is damaged: {type(exc).__name__}: {exc}")
    return http_headers.to_bytes() + body


def describe(row: Dict[str, Any]) -> str:
    return json.dumps(row, indent=2, default=str, ensure_ascii=False)
