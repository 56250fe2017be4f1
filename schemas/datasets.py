"""The Parquet datasets newsbeam writes: explicit pyarrow schemas, versions and row converters.

The layout is a contract with analysts (see README, "Output"): a change of columns or partitioning needs a
schema-version bump and a migration note.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Tuple

import pyarrow as pa

from newsbeam.schemas.columns import article_id, entity_ids, registered_domain
from newsbeam.schemas.records import Article, DeadLetter

# articles v3: published_local_date, published_utc_offset_minutes, page_count; v4: WARC pointers; v5: warc_truncated
# (docs/archive.md, "Migration")
ARTICLES_SCHEMA_VERSION = 5
# 2: url nullable (an invalid list line has no URL); 3: WARC pointers; 4: warc_truncated
DEAD_LETTERS_SCHEMA_VERSION = 4

_TS = pa.timestamp("us", tz="UTC")

# --- WARC pointers (docs/archive.md): where the row's HTTP response is archived; null without one ---
WARC_FIELDS = [
    pa.field("warc_filename", pa.string()),  # relative to the output root: warc/ingest_date=D/<run>-<bucket>.warc.gz
    pa.field("warc_record_offset", pa.int64()),  # byte offset of the response record's gzip member
    pa.field("warc_record_length", pa.int64()),  # its length in bytes (compressed)
    pa.field("warc_record_id", pa.string()),  # its WARC-Record-ID, <urn:uuid:...>
    # articles v5, dead letters v4: the record's WARC-Truncated value ('length', 'time', 'disconnect',
    # 'unspecified'): the row comes from part of a body; null when the record holds it whole
    pa.field("warc_truncated", pa.string()),
]


def warc_columns(pointer) -> Dict[str, Any]:
    """The WARC pointer columns of a row; a pointer whose record was not written gives nulls."""
    if pointer is None or pointer.filename is None:
        return {"warc_filename": None, "warc_record_offset": None, "warc_record_length": None,
                "warc_record_id": None, "warc_truncated": None}
    return {"warc_filename": pointer.filename, "warc_record_offset": pointer.offset,
            "warc_record_length": pointer.length, "warc_record_id": pointer.record_id,
            "warc_truncated": pointer.truncated}
# --- end of WARC pointers ---

ENTITY = pa.struct([
    pa.field("text", pa.string(), nullable=False),  # == text[start:end]
    pa.field("label", pa.string(), nullable=False),  # PERSON, ORG, GPE, LOC, NORP, EVENT
    pa.field("start", pa.int32(), nullable=False),  # character offsets into `text`
    pa.field("end", pa.int32(), nullable=False),
    pa.field("entity_id", pa.string()),  # geonames:<id>, wikidata:<QID>, newsbeam:<slug>; null if not linked
    pa.field("entity_name", pa.string()),
])

ARTICLES_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("final_url", pa.string(), nullable=False),
        pa.field("canonical_url", pa.string(), nullable=False),
        pa.field("source_domain", pa.string()),
        pa.field("feed_url", pa.string()),
        pa.field("feed_title", pa.string()),
        pa.field("title", pa.string()),
        pa.field("authors", pa.list_(pa.string()), nullable=False),
        pa.field("published_at", _TS),
        pa.field("date_source", pa.string(), nullable=False),
        pa.field("fetched_at", _TS, nullable=False),
        pa.field("http_status", pa.int16(), nullable=False),
        pa.field("content_type", pa.string()),
        pa.field("encoding", pa.string(), nullable=False),
        pa.field("fetch_attempts", pa.int16(), nullable=False),
        pa.field("language_score", pa.float32(), nullable=False),
        pa.field("site_name", pa.string()),
        pa.field("description", pa.string()),
        pa.field("tags", pa.list_(pa.string()), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("word_count", pa.int32(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("duplicate_group", pa.string(), nullable=False),
        pa.field("entities", pa.list_(ENTITY), nullable=False),
        pa.field("entity_ids", pa.list_(pa.string()), nullable=False),
        pa.field("topics", pa.list_(pa.string()), nullable=False),
        *WARC_FIELDS,  # schema version 4 (warc_truncated: 5)
        pa.field("extractor", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("schema_version", pa.int16(), nullable=False),
        # --- v3 (extraction): the publisher's own day and UTC offset of `published_at`; pages of a PDF
        pa.field("published_local_date", pa.date32()),
        pa.field("published_utc_offset_minutes", pa.int16()),
        pa.field("page_count", pa.int32()),
    ],
    metadata={"newsbeam.dataset": "articles", "newsbeam.schema_version": str(ARTICLES_SCHEMA_VERSION)},
)

DEAD_LETTERS_SCHEMA = pa.schema(
    [
        pa.field("url", pa.string()),
        pa.field("feed_url", pa.string()),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("http_status", pa.int16()),
        pa.field("attempts", pa.int16(), nullable=False),
        pa.field("failed_at", _TS, nullable=False),
        *WARC_FIELDS,  # schema version 3 (warc_truncated: 4)
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("schema_version", pa.int16(), nullable=False),
    ],
    metadata={
        "newsbeam.dataset": "dead_letters",
        "newsbeam.schema_version": str(DEAD_LETTERS_SCHEMA_VERSION),
    },
)


@dataclass(frozen=True)
class RunContext:
    """What every row of one run shares."""

    run_id: str
    ingest_date: str  # YYYY-MM-DD, the run's start date in UTC
    extractor: str  # e.g. 'trafilatura 2.3.1'


@dataclass(frozen=True)
class DatasetSpec:
    """How one dataset is laid out: its folder, schema, partition columns and row conversion."""

    name: str
    schema: pa.Schema
    partition_columns: Tuple[str, ...]  # folder levels, in order; not stored inside the files
    to_row: Callable[[Any, RunContext], Dict[str, Any]]
    partition_values: Callable[[Any, RunContext], Tuple[str, ...]]
    sort_key: Callable[[Dict[str, Any]], Any]
    bucket_key: Callable[[Any], str]
    row_metrics: Callable[[Dict[str, Any]], Tuple[str, ...]]  # the counters a committed row adds to


def _article_row(article: Article, run: RunContext) -> Dict[str, Any]:
    ex = article.extracted
    item = ex.item
    return {
        "article_id": article_id(ex.canonical_url),
        "url": item.url,
        "final_url": ex.final_url,
        "canonical_url": ex.canonical_url,
        "source_domain": registered_domain(ex.final_url),
        "feed_url": item.feed_url,
        "feed_title": item.feed_title,
        "title": ex.title,
        "authors": list(ex.authors),
        "published_at": ex.published_at,
        "date_source": ex.date_source,
        "fetched_at": ex.fetched_at,
        "http_status": ex.http_status,
        "content_type": ex.content_type,
        "encoding": ex.encoding,
        "fetch_attempts": ex.attempts,
        "language_score": article.language_score,
        "site_name": ex.sitename,
        "description": ex.description,
        "tags": list(ex.tags),
        "text": ex.text,
        "word_count": ex.word_count,
        "content_hash": ex.content_hash,
        "duplicate_group": article.duplicate_group or article_id(ex.canonical_url),
        "entities": [
            {"text": m.text, "label": m.label, "start": m.start, "end": m.end, "entity_id": m.entity_id,
             "entity_name": m.entity_name}
            for m in article.entities
        ],
        "entity_ids": entity_ids(article.entities),
        "topics": list(article.topics),
        **warc_columns(ex.warc),
        "extractor": run.extractor,
        "run_id": run.run_id,
        "schema_version": ARTICLES_SCHEMA_VERSION,
        # --- v3 (extraction)
        "published_local_date": ex.published_local_date,
        "published_utc_offset_minutes": ex.published_utc_offset_minutes,
        "page_count": ex.page_count,
    }


def _dead_letter_row(dead: DeadLetter, run: RunContext) -> Dict[str, Any]:
    return {
        "url": dead.url,
        "feed_url": dead.feed_url,
        "stage": dead.stage,
        "reason": dead.reason,
        "detail": dead.detail,
        "http_status": dead.http_status,
        "attempts": dead.attempts,
        "failed_at": dead.failed_at,
        **warc_columns(dead.warc),
        "run_id": run.run_id,
        "schema_version": DEAD_LETTERS_SCHEMA_VERSION,
    }


ARTICLES = DatasetSpec(
    name="articles",
    schema=ARTICLES_SCHEMA,
    partition_columns=("ingest_date", "language"),
    to_row=_article_row,
    partition_values=lambda article, run: (run.ingest_date, article.language),
    sort_key=lambda row: row["article_id"],
    bucket_key=lambda article: article.extracted.canonical_url,
    row_metrics=lambda row: ("articles.written",),
)

DEAD_LETTERS = DatasetSpec(
    name="dead_letters",
    schema=DEAD_LETTERS_SCHEMA,
    partition_columns=("ingest_date",),
    to_row=_dead_letter_row,
    partition_values=lambda dead, run: (run.ingest_date,),
    sort_key=lambda row: (row["stage"], row["url"] or "", row["reason"], row["detail"]),
    bucket_key=lambda dead: dead.url or dead.detail,
    row_metrics=lambda row: (
        "dead_letters.written",
        f"dead_letters.written.{row['stage']}",
        f"dead_letters.reason.{row['stage']}.{row['reason']}",
    ),
)


def rows_to_table(rows: List[Dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Build a table with the dataset's exact schema (fails loudly on a row that does not fit)."""
    return pa.Table.from_pylist(rows, schema=schema)

