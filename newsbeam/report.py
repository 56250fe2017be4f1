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


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _entity_lines(articles: ds.Dataset) -> List[str]:
    """The most linked entities and the watchlist topics, with the languages they were found in."""
    if "entity_ids" not in articles.schema.names:
        return []  # schema version 1 output
    table = articles.to_table(columns=["language", "entities", "topics"])
    languages = table.column("language").to_pylist()
    names, seen_in, topics = {}, {}, {}
    for language, mentions, matched in zip(languages, table.column("entities").to_pylist(),
                                           table.column("topics").to_pylist()):
        for mention in mentions:
            if mention["entity_id"]:
                names[mention["entity_id"]] = mention["entity_name"]
                seen_in.setdefault(mention["entity_id"], {}).setdefault(language, set()).add(mention["text"])
        for topic in matched:
            topics.setdefault(topic, set()).add(language)
    if not seen_in:
        return ["entities: none linked"]
    ranked = sorted(seen_in, key=lambda e: (-sum(len(s) for s in seen_in[e].values()), e))[:8]
    rows = [(entity, _clip(names[entity], 40), ",".join(sorted(seen_in[entity])),
             _clip(" / ".join(sorted({t for texts in seen_in[entity].values() for t in texts})[:4]), 70))
            for entity in ranked]
    lines = ["most linked entities (id, name, languages, spellings seen):"]
    lines += _table(rows, ["entity_id", "name", "languages", "spellings"])
    lines.append("topics: " + ", ".join(f"{t} ({','.join(sorted(langs))})" for t, langs in sorted(topics.items())))
    return lines


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
        lines += _entity_lines(articles)
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
