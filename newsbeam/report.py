"""A short terminal summary of an output folder (`newsbeam inspect OUT`)."""
from __future__ import annotations

import json
import os
from typing import List, Optional, Sequence

import pyarrow as pa
import pyarrow.dataset as ds

from newsbeam.manifest import read_manifests


def open_dataset(output: str, name: str) -> Optional[ds.Dataset]:
    path = os.path.join(output, name)
    if not os.path.isdir(path):
        return None
    dataset = ds.dataset(path, format="parquet", partitioning="hive")
    return dataset if dataset.files else None


def _table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> List[str]:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells]
    lines.insert(1, "  " + "  ".join("-" * w for w in widths))
    return lines


def _counts(table: pa.Table, keys: List[str], limit: Optional[int] = None) -> List[tuple]:
    grouped = table.group_by(keys).aggregate([([], "count_all")]).to_pylist()
    rows = [tuple(row[k] for k in keys) + (row["count_all"],) for row in grouped]
    rows.sort(key=lambda r: (-r[-1] if limit else 0, tuple(str(v) for v in r[:-1])))
    return rows[:limit] if limit else rows


def summarize(output: str) -> str:
    lines = [f"newsbeam output: {os.path.abspath(output)}"]
    articles = open_dataset(output, "articles")
    if articles is None:
        lines.append("articles: none yet")
    else:
        table = articles.to_table(columns=["ingest_date", "language", "source_domain", "schema_version"])
        lines.append(f"articles: {table.num_rows} rows in {len(articles.files)} file(s)")
        lines += _table(_counts(table, ["ingest_date", "language"]), ["ingest_date", "language", "rows"])
        lines.append("top sources:")
        lines += _table(_counts(table, ["source_domain"], limit=10), ["source_domain", "rows"])
        versions = sorted(set(table.column("schema_version").to_pylist()))
        lines.append(f"articles schema version(s): {', '.join(map(str, versions))}")
    dead = open_dataset(output, "dead_letters")
    if dead is None:
        lines.append("dead letters: none")
    else:
        table = dead.to_table(columns=["stage", "reason"])
        lines.append(f"dead letters: {table.num_rows} rows")
        lines += _table(_counts(table, ["stage", "reason"]), ["stage", "reason", "rows"])
    status_path = os.path.join(output, "_stream", "status.json")
    if os.path.isfile(status_path):
        with open(status_path, encoding="utf-8") as handle:
            status = json.load(handle)
        lines.append(f"stream: {status.get('state')} (pid {status.get('pid')}), {status.get('cycles')} polls, "
                     f"{status.get('failed_cycles')} failed, {status.get('articles_written')} articles; "
                     f"last poll {status.get('updated_at', '')[:19]}, next {status.get('next_poll_at') or '-'}")
    manifests = read_manifests(output)
    if manifests:
        lines.append("last runs:")
        rows = []
        for manifest in manifests[-5:]:
            counters = manifest.get("counters") or {}
            rows.append((manifest.get("run_id"), manifest.get("status"), manifest.get("started_at", "")[:19],
                         counters.get("articles.written", 0), counters.get("dead_letters.written", 0),
                         manifest.get("seconds", "")))
        lines += _table(rows, ["run_id", "status", "started_at", "articles", "dead_letters", "seconds"])
    return "\n".join(lines)
