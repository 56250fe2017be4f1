"""Which article URLs earlier runs already wrote or gave up on, and which failures are due for a retry.

The state table `seen` holds one row per (URL key, run): the key is a 64-bit hash of the canonical URL (at 10
million URLs the chance of any collision is about 3 in a million). Rows are derived from what a run *committed* to
the datasets, so the state can always be rebuilt from the data: for a run killed before it wrote its segment, the
index is completed from that run's Parquet files. In memory the index is a few sorted numpy arrays (11 bytes a
URL) and a lookup is a binary search; `benchmarks/bench_state.py` measures it at a million URLs.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import List, Optional, Tuple

import numpy as np
import pyarrow as pa

from newsbeam import reasons
from newsbeam.retry_after import not_before_of
from newsbeam.state import SegmentedTable, read_run_files, runs_in, uncommitted
from newsbeam.urls import canonicalize_url

# 2: `not_before` added (state files of version 1 read it as null)
SEEN_STATE_VERSION = 2
SEEN_SCHEMA = pa.schema(
    [
        pa.field("key", pa.uint64(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("written", pa.bool_(), nullable=False),  # False: a dead letter
        pa.field("url", pa.string()),  # dead letters only: what to retry
        pa.field("feed_url", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("not_before", pa.timestamp("us", tz="UTC")),  # the server's Retry-After, when it was too long
    ],
    metadata={"newsbeam.state": "seen", "newsbeam.state_version": str(SEEN_STATE_VERSION)},
)

# Failures worth another try: the server or the network may do better later. A 404, a robots.txt refusal or a
# page without text will not change by asking again.
TRANSIENT_REASONS = frozenset({
    reasons.TIMEOUT, reasons.CONNECTION_ERROR, reasons.HTTP_5XX, "http_429", "http_408",
    reasons.ROBOTS_UNREACHABLE, reasons.HOST_UNREACHABLE, reasons.INTERNAL_ERROR,
})

WRITTEN, DUE, WAITING, GIVEN_UP, UNKNOWN = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class RetryPolicy:
    """After the n-th transient failure of a URL, wait `delays[n-1]`, or longer when the server asked for it
    (Retry-After) but never longer than the last delay; after len(delays) + 1 failures, stop."""

    delays: Tuple[timedelta, ...] = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=24))

    @property
    def max_failures(self) -> int:
        return len(self.delays) + 1


def url_key(canonical_url: str) -> int:
    return int.from_bytes(hashlib.blake2b(canonical_url.encode("utf-8"), digest_size=8).digest(), "little")


def _append(columns, *values) -> None:
    for column, value in zip(columns, values):
        column.append(value)


def seen_rows(run_id: str, articles: Optional[pa.Table], dead_letters: Optional[pa.Table]) -> pa.Table:
    """State rows for what one run committed. `articles` needs url, canonical_url, fetched_at; `dead_letters`
    needs url, feed_url, stage, reason, failed_at, and maybe detail (a server's Retry-After). An article counts
    under both its listed and its canonical URL."""
    keys: List[int] = []
    written: List[bool] = []
    urls: List[Optional[str]] = []
    feeds: List[Optional[str]] = []
    why: List[Optional[str]] = []
    when: List[datetime] = []
    not_before: List[Optional[datetime]] = []
    columns = (keys, written, urls, feeds, why, when, not_before)
    if articles is not None:
        for row in articles.to_pylist():
            for key in {url_key(canonicalize_url(row["url"])), url_key(row["canonical_url"])}:
                _append(columns, key, True, None, None, None, row["fetched_at"], None)
    if dead_letters is not None:
        for row in dead_letters.to_pylist():
            if row["stage"] not in reasons.ARTICLE_STAGES:
                continue
            _append(columns, url_key(canonicalize_url(row["url"])), False, row["url"], row["feed_url"], row["reason"],
                    row["failed_at"], not_before_of(row.get("detail")))
    return pa.table({"key": pa.array(keys, pa.uint64()), "run_id": pa.array([run_id] * len(keys), pa.string()),
                     "written": written, "url": urls, "feed_url": feeds, "reason": why,
                     "at": pa.array(when, pa.timestamp("us", tz="UTC")),
                     "not_before": pa.array(not_before, pa.timestamp("us", tz="UTC"))}, schema=SEEN_SCHEMA)


class SeenIndex:
    """Lookups by URL key over everything the state knows, as of one moment (`now`, the run's start)."""

    def __init__(self, table: pa.Table, now: datetime, policy: RetryPolicy = RetryPolicy()):
        self.rows = table.num_rows
        keys = table["key"].to_numpy()
        at = table["at"].cast(pa.int64()).to_numpy()
        order = np.lexsort((at, keys))
        keys, at = keys[order], at[order]
        written = table["written"].to_numpy(zero_copy_only=False)[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.array([], dtype=np.int64)
        lasts = np.r_[starts[1:] - 1, len(keys) - 1] if len(keys) else starts
        self._keys = keys[starts]
        any_written = np.maximum.reduceat(written, starts) if len(keys) else np.array([], dtype=bool)
        failures = np.add.reduceat(~written, starts) if len(keys) else np.array([], dtype=np.int64)
        reason_column = table["reason"].take(pa.array(order[lasts] if len(keys) else [], pa.int64()))
        transient = np.isin(np.asarray(reason_column.to_pylist(), dtype=object), list(TRANSIENT_REASONS))
        now_us = int(now.timestamp() * 1e6)
        delays_us = np.array([int(d.total_seconds() * 1e6) for d in policy.delays] + [0], dtype=np.int64)
        due_at = at[lasts] + delays_us[np.clip(failures - 1, 0, len(delays_us) - 1)]
        # a server's longer wish (Retry-After) is kept, up to the longest delay after the failure
        wish = table["not_before"].take(pa.array(order[lasts] if len(keys) else [], pa.int64()))
        wish_us = wish.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        longest_us = int(max(policy.delays).total_seconds() * 1e6) if policy.delays else 0
        due_at = np.maximum(due_at, np.minimum(wish_us, at[lasts] + longest_us))
        status = np.full(len(self._keys), GIVEN_UP, dtype=np.int8)
        retryable = transient & (failures < policy.max_failures)
        status[retryable & (due_at <= now_us)] = DUE
        status[retryable & (due_at > now_us)] = WAITING
        status[any_written] = WRITTEN
        self._status = status
        self._failures = failures.astype(np.int16)
        due = np.flatnonzero(status == DUE)
        due_rows = order[lasts[due]] if len(due) else np.array([], dtype=np.int64)
        # keep only what due_retries needs, not the whole table
        self._due = table.take(pa.array(due_rows, pa.int64())).select(["url", "feed_url", "reason"])

    def __len__(self) -> int:
        return len(self._keys)

    def status(self, key: int) -> int:
        i = int(np.searchsorted(self._keys, np.uint64(key)))
        if i < len(self._keys) and self._keys[i] == np.uint64(key):
            return int(self._status[i])
        return UNKNOWN

    def due_retries(self) -> List[Tuple[str, Optional[str], str]]:
        """(url, feed_url, last reason) of every failure due for another try, in URL order."""
        return sorted((r["url"], r["feed_url"], r["reason"]) for r in self._due.to_pylist())


def seen_table(output: str) -> SegmentedTable:
    return SegmentedTable(output, "seen", SEEN_SCHEMA)


def load_seen(output: str, current_run: str, now: datetime, policy: RetryPolicy = RetryPolicy(),
              article_depth: int = 2, dead_letter_depth: int = 1) -> SeenIndex:
    """The index as the run `current_run` must see it: every other run's committed rows, including runs that
    were killed before they recorded their state (read back from their Parquet files)."""
    table = seen_table(output)
    rows, covered = table.snapshot(exclude_run=current_run)
    parts = [rows]
    for run_id in uncommitted(runs_in(output), covered, current_run):
        parts.append(rows_for_run(output, run_id, article_depth, dead_letter_depth))
    return SeenIndex(pa.concat_tables(parts), now, policy)


def rows_for_run(output: str, run_id: str, article_depth: int = 2, dead_letter_depth: int = 1) -> pa.Table:
    articles = read_run_files(output, "articles", article_depth, run_id, ["url", "canonical_url", "fetched_at"])
    dead = read_run_files(output, "dead_letters", dead_letter_depth, run_id,
                          ["url", "feed_url", "stage", "reason", "detail", "failed_at"])
    return seen_rows(run_id, articles, dead)

