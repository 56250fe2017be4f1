"""`newsbeam show ARTICLE_ID OUT [--raw]`: one article's row, or the HTTP response it was extracted from."""
from __future__ import annotations

import json
from typing import Any, Dict, Optional

import pyarrow.dataset as ds
from apache_beam.io.filesystems import FileSystems

from newsbeam.warc import read_record_at


def find_article(output: str, article_id: str) -> Optional[Dict[str, Any]]:
    """The newest row of `article_id` (several runs may have written it), or None."""
    dataset = ds.dataset(FileSystems.join(output, "articles"), format="parquet", partitioning="hive")
    rows = dataset.to_table(filter=ds.field("article_id") == article_id).to_pylist()
    return max(rows, key=lambda row: row["fetched_at"]) if rows else None


def raw_response(output: str, row: Dict[str, Any]) -> bytes:
    """The archived response of a row as HTTP: status line, headers as received, body (content-decoded)."""
    if not row.get("warc_filename"):
        raise LookupError("this row has no archived response (written with --archive off, or before schema 3)")
    _, http_headers, body = read_record_at(output, row["warc_filename"], row["warc_record_offset"],
                                           row["warc_record_length"])
    return http_headers.to_bytes() + body


def describe(row: Dict[str, Any]) -> str:
    return json.dumps(row, indent=2, default=str, ensure_ascii=False)
