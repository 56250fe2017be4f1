"""Names of a run's data files, and which names a run id owns, exactly.

A run writes `part-<run_id>-<bucket>.parquet` (batch) or `part-<run_id>-<window start>-<bucket>.parquet`
(streaming windows). A glob `part-<run_id>-*` is not ownership: for run id `nightly` it also matches every file of
`nightly-2`. Deleting, or reading back, by such a glob touches another run's files, so the glob only narrows a
listing and these patterns decide.
"""
from __future__ import annotations

import re
from typing import Optional

WINDOW_TAG = r"\d{8}T\d{6}Z"  # transforms.write.window_tag: the window's start in UTC
_BUCKET = r"\d{5,}"
_TEMPORARY = r"\.[0-9a-f]+\.inprogress"  # newsbeam.atomic.temporary_name (a uuid4 hex)
_RESERVED = re.compile(rf"-{WINDOW_TAG}$")


def part_name(run_id: str, bucket: int, tag: str = "") -> str:
    return f"part-{run_id}-{tag}-{bucket:05d}.parquet" if tag else f"part-{run_id}-{bucket:05d}.parquet"


def _final_pattern(run_id: str, tag: Optional[str]) -> str:
    if tag is None:  # the run's batch files and those of any of its windows
        middle = f"(?:{WINDOW_TAG}-)?"
    elif tag:
        middle = re.escape(tag) + "-"
    else:
        middle = ""
    return rf"part-{re.escape(run_id)}-{middle}{_BUCKET}\.parquet"


def owns(name: str, run_id: str, tag: Optional[str] = None) -> bool:
    """Whether the file name `name` (no folder) is a data file of `run_id`: of its batch output (`tag` ''), of one
    window (`tag` the window's start) or of any (`tag` None)."""
    return re.fullmatch(_final_pattern(run_id, tag), name) is not None


def owns_temporary(name: str, run_id: str, tag: Optional[str] = None) -> bool:
    """Whether `name` is the hidden temporary file of one of `run_id`'s data files."""
    return re.fullmatch(rf"\.{_final_pattern(run_id, tag)}{_TEMPORARY}", name) is not None


def reserved_run_id(run_id: str) -> bool:
    """Run ids ending in `-<window start>` would make the batch files of run `a-20261121T071500Z` look like the
    streaming files of run `a`'s window 20261121T071500Z; they are refused."""
    return _RESERVED.search(run_id) is not None
