"""Feed validators of earlier runs (ETag, Last-Modified, body hash), for conditional GETs."""
from __future__ import annotations

import hashlib
from typing import Dict, Iterable

import pyarrow as pa

from newsbeam.state import SegmentedTable, has_run_files
from newsbeam.schemas.records import FeedValidator

FEED_STATE_VERSION = 1
FEED_STATE_SCHEMA = pa.schema(
    [
        pa.field("feed_url", pa.string(), nullable=False),
        pa.field("etag", pa.string()),
        pa.field("last_modified", pa.string()),
        pa.field("body_sha256", pa.string(), nullable=False),
        pa.field("fetched_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ],
    metadata={"newsbeam.state": "feeds", "newsbeam.state_version": str(FEED_STATE_VERSION)},
)


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def conditional_headers(previous: FeedValidator):
    headers = []
    if previous.etag:
        headers.append(("If-None-Match", previous.etag))
    if previous.last_modified:
        headers.append(("If-Modified-Since", previous.last_modified))
    return tuple(headers)


def feed_table(output: str) -> SegmentedTable:
    return SegmentedTable(output, "feeds", FEED_STATE_SCHEMA)


def validator_rows(run_id: str, validators: Iterable[FeedValidator]) -> pa.Table:
    latest: Dict[str, FeedValidator] = {}
    for v in validators:
        if v.feed_url not in latest or v.fetched_at > latest[v.feed_url].fetched_at:
            latest[v.feed_url] = v
    ordered = [latest[url] for url in sorted(latest)]
    return pa.table({
        "feed_url": [v.feed_url for v in ordered],
        "etag": [v.etag for v in ordered],
        "last_modified": [v.last_modified for v in ordered],
        "body_sha256": [v.body_sha256 for v in ordered],
        "fetched_at": pa.array([v.fetched_at for v in ordered], pa.timestamp("us", tz="UTC")),
        "run_id": [run_id] * len(ordered),
    }, schema=FEED_STATE_SCHEMA)


def load_validators(output: str, current_run: str) -> Dict[str, FeedValidator]:
    """The latest validators per feed URL from other runs; none for a re-run of a run id that committed files.

    Such a re-run replaces its earlier files with what it writes now; sent a later run's validator, the feed
    answered 304 and the run's articles were replaced with nothing (and, the feed being unchanged, never fetched
    again). Fetched unconditionally, the feed lists them again and the seen index (without this run's own rows)
    lets them through."""
    if has_run_files(output, current_run):
        return {}
    latest: Dict[str, FeedValidator] = {}
    for row in feed_table(output).read(exclude_run=current_run).to_pylist():
        previous = latest.get(row["feed_url"])
        if previous is None or row["fetched_at"] > previous.fetched_at:
            latest[row["feed_url"]] = FeedValidator(row["feed_url"], row["etag"], row["last_modified"],
                                                    row["body_sha256"], row["fetched_at"])
    return latest
