"""A short terminal summary of an output folder (`newsbeam inspect OUT`)."""
from __future__ import annotations

import json
import os
from collections import Counter
from typing import Dict, List, Optional, Sequence
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from newsbeam import analysis
from newsbeam.manifest import read_manifests


def open_dataset(output: str, name: str) -> Optional[ds.Dataset]:
    """The dataset read with its current schema (newsbeam.analysis), so an older-schema file that sorts first does
    not hide the newer columns; None where there are no files."""
    if not os.path.isdir(os.path.join(output, name)):
        return None
    dataset = analysis.open_dataset(output, name)
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
    table = articles.to_table(columns=["language", "entities", "topics"])
    languages = table.column("language").to_pylist()
    names, seen_in, topics = {}, {}, {}
    for language, mentions, matched in zip(languages, table.column("entities").to_pylist(),
                                           table.column("topics").to_pylist()):
        for mention in mentions or ():  # null in files older than the entity columns
            if mention["entity_id"]:
                names[mention["entity_id"]] = mention["entity_name"]
                seen_in.setdefault(mention["entity_id"], {}).setdefault(language, set()).add(mention["text"])
        for topic in matched or ():
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


# What makes a folder newsbeam output: any of these (a fresh output may hold only a run manifest).
MARKERS = ("articles", "dead_letters", "_runs", "_state", "_stream")


class NotAnOutput(ValueError):
    """The folder holds nothing newsbeam writes."""


def is_output(output: str) -> bool:
    return os.path.isdir(output) and any(os.path.exists(os.path.join(output, name)) for name in MARKERS)


def _published_lines(articles: ds.Dataset) -> List[str]:
    published = articles.to_table(columns=["published_at"]).column("published_at")
    undated = published.null_count
    if undated == len(published):
        return [f"published: no dates ({undated} undated)"]
    bounds = pc.min_max(published)
    return [f"published: {bounds['min'].as_py():%Y-%m-%d %H:%M} to {bounds['max'].as_py():%Y-%m-%d %H:%M} UTC"
            f"{f' ({undated} undated)' if undated else ''}"]


def _truncated_lines(cut: pa.ChunkedArray) -> List[str]:
    """Articles extracted from part of a page (a crawler's truncated WARC record), by their `warc_truncated`
    column: said only when there are some."""
    count = len(cut) - cut.null_count  # null in files older than the column
    if not count:
        return []
    return [f"articles from truncated WARC records: {count} (warc_truncated set: their text may end early)"]


def _near_duplicate_lines(articles: ds.Dataset) -> List[str]:
    table = articles.to_table(columns=["duplicate_group", "title"])
    sizes = Counter(table.column("duplicate_group").to_pylist())
    groups = {group: size for group, size in sizes.items() if group is not None and size > 1}
    if not groups:
        return ["near-duplicate groups: none"]
    largest = min(groups, key=lambda g: (-groups[g], g))
    titles = [t for g, t in zip(table.column("duplicate_group").to_pylist(), table.column("title").to_pylist())
              if g == largest and t]
    example = f": {_clip(sorted(titles)[0], 60)!r}" if titles else ""
    return [f"near-duplicate groups: {len(groups)} ({sum(groups.values())} articles); largest {groups[largest]} "
            f"articles (group {largest}{example})"]


def failing_hosts(rows: Sequence[Dict[str, str]], limit: int = 5) -> List[tuple]:
    """(host, dead letters, most common reason, an example URL) for the hosts with the most dead letters."""
    by_host: Dict[str, List[Dict[str, str]]] = {}
    for row in rows:
        host = urlsplit(row["url"]).hostname or "(not a URL)" if row["url"] else "(no URL)"
        by_host.setdefault(host, []).append(row)
    ranked = sorted(by_host.items(), key=lambda item: (-len(item[1]), item[0]))[:limit]
    result = []
    for host, failures in ranked:
        reason = min(Counter(r["reason"] for r in failures).most_common(),
                     key=lambda pair: (-pair[1], pair[0]))[0]
        example = min(r["url"] for r in failures if r["reason"] == reason)
        result.append((host, len(failures), reason, _clip(example, 70)))
    return result


def _unfinished_lines(manifests: Sequence[Dict]) -> List[str]:
    """Runs that did not succeed: failed, interrupted, unbalanced, or never recorded an end."""
    bad = [m for m in manifests if m.get("status") != "succeeded"]
    if not bad:
        return []
    rows = []
    for manifest in bad[-10:]:
        status = manifest.get("status") or "?"
        if status == "running" and not manifest.get("finished_at"):
            status = "running or interrupted"  # a killed run never writes its end
        rows.append((manifest.get("run_id"), status, manifest.get("started_at", "")[:19],
                     _clip(manifest.get("error") or "", 70)))
    lines = [f"runs that did not succeed: {len(bad)}"]
    return lines + _table(rows, ["run_id", "status", "started_at", "error"])


def summarize(output: str) -> str:
    """The text of `newsbeam inspect OUT`; raises NotAnOutput for a folder newsbeam did not write."""
    if not is_output(output):
        raise NotAnOutput(f"{output!r} is not a newsbeam output folder (none of {', '.join(MARKERS)} in it)")
    lines = [f"newsbeam output: {os.path.abspath(output)}"]
    articles = open_dataset(output, "articles")
    if articles is None:
        lines.append("articles: none yet")
    else:
        table = articles.to_table(columns=["ingest_date", "language", "source_domain", "schema_version",
                                           "warc_truncated"])
        lines.append(f"articles: {table.num_rows} rows in {len(articles.files)} file(s)")
        lines += _table(_counts(table, ["ingest_date", "language"]), ["ingest_date", "language", "rows"])
        lines += _published_lines(articles)
        lines += _truncated_lines(table.column("warc_truncated"))
        lines += _near_duplicate_lines(articles)
        lines.append("top sources:")
        lines += _table(_counts(table, ["source_domain"], limit=10), ["source_domain", "rows"])
        lines += _entity_lines(articles)
        versions = sorted(set(table.column("schema_version").to_pylist()))
        lines.append(f"articles schema version(s): {', '.join(map(str, versions))}")
    dead = open_dataset(output, "dead_letters")
    if dead is None:
        lines.append("dead letters: none")
    else:
        table = dead.to_table(columns=["stage", "reason", "url"])
        lines.append(f"dead letters: {table.num_rows} rows")
        lines += _table(_counts(table.select(["stage", "reason"]), ["stage", "reason"]), ["stage", "reason", "rows"])
        lines.append("top failing hosts:")
        lines += _table(failing_hosts(table.select(["url", "reason"]).to_pylist()),
                        ["host", "dead_letters", "main reason", "example"])
    status_path = os.path.join(output, "_stream", "status.json")
    if os.path.isfile(status_path):
        with open(status_path, encoding="utf-8") as handle:
            status = json.load(handle)
        lines.append(f"stream: {status.get('state')} (pid {status.get('pid')}), {status.get('cycles')} polls, "
                     f"{status.get('failed_cycles')} failed, {status.get('no_input_cycles', 0)} without input, "
                     f"{status.get('articles_written')} articles; "
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
        lines += _unfinished_lines(manifests)
    return "\n".join(lines)
