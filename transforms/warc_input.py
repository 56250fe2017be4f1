"""WARC/ARC files as a source of pages: `--warc` input (Common Crawl, anyone's archive) and `reprocess` (newsbeam's
own archive, with the context of every fetched URL).

Files are split into byte ranges (a .warc.gz file is a sequence of gzip members, so a range starts at the first
member after its start and takes the records that begin before its end, as Beam's splittable text reads do with
lines); the ranges are reshuffled so that the workers share them (on the local runner, as they go: a worker done with
its ranges takes those another has not started, transforms/share), and each range is read in the stage that
extracts its pages: no page crosses a barrier, and every worker reads as well as extracts, even from one file.
"""
from __future__ import annotations

import os
import re
import sys
import zlib
from typing import Iterable, Optional, Tuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

from newsbeam import reasons
from newsbeam.fetching import utcnow
from newsbeam.warc import (
    ROLE_ARTICLE,
    ArchivedResponse,
    DamagedRecord,
    OtherRecord,
    is_page_type,
    item_of,
    page_of,
    pointer_name,
    read_records,
    starts_record,
)
from newsbeam.schemas.records import DeadLetter
from newsbeam.transforms.common import DEAD_LETTERS, CounterSet, counter
from newsbeam.transforms.share import ShareOut

SPLIT_BYTES = 64 * 1024 * 1024  # the largest range (a file of 8 GB: 120 of 64 MiB)
MIN_SPLIT_BYTES = 2 * 1024 * 1024  # the smallest: a range's own cost (open, two member searches) stays negligible
# a smaller file still gives every worker many ranges, so that the last ones shared out (transforms/share) are short
RANGES_PER_FILE = 64
_GZIP_MAGIC = b"\x1f\x8b\x08"
_SCAN = 1024 * 1024
_HEAD = 8192  # an ARC record's header line holds its URL


def range_bytes(size: int) -> int:
    """The range size for a file of `size` bytes: RANGES_PER_FILE ranges, within [MIN_SPLIT_BYTES, SPLIT_BYTES]."""
    return min(SPLIT_BYTES, max(MIN_SPLIT_BYTES, -(-size // RANGES_PER_FILE)))


def split_file(path: str, size: int, split_bytes: Optional[int] = None) -> Iterable[Tuple[str, int, int]]:
    """(path, start, end) byte ranges of `split_bytes` (None: `range_bytes(size)`); only gzip-per-record WARC and
    ARC files are split."""
    split_bytes = split_bytes or range_bytes(size)
    if not path.endswith((".warc.gz", ".arc.gz")) or size <= split_bytes:
        yield path, 0, size
        return
    for start in range(0, size, split_bytes):
        yield path, start, min(start + split_bytes, size)


def next_member(handle, start: int, end: int) -> Optional[int]:
    """Offset of the first gzip member at or after `start` (and before `end`) that holds a WARC or ARC record."""
    position = start
    while position < end:
        handle.seek(position)
        data = handle.read(_SCAN + 64)
        if not data:
            return None
        found = data.find(_GZIP_MAGIC)
        while 0 <= found < _SCAN:
            if starts_record(_head(handle, data, found, position + found)):
                return position + found if position + found < end else None
            found = data.find(_GZIP_MAGIC, found + 1)
        position += _SCAN
    return None


def next_entry(handle, start: int) -> Optional[int]:
    """In newsbeam's own archive: offset of the member that follows the first `metadata` record at or after
    `start` (each fetched URL's records end with one, which names its response). Ranges of such a file begin and
    end there, so a range holds whole entries: a response is never read apart from its context. The search has no
    bound: a range whose two boundaries meet is empty, and the one before reads on to the same boundary."""
    position = next_member(handle, start, sys.maxsize)
    while position is not None:
        following = next_member(handle, position + 1, sys.maxsize)
        if _record_type(_head(handle, b"", 0, position)) == b"metadata":
            return following
        position = following
    return None


def is_own_archive(handle) -> bool:
    """Whether the file begins with newsbeam's warcinfo record (its entries then end with context records)."""
    return b"software: newsbeam/" in _head(handle, b"", 0, 0)


_WARC_TYPE = re.compile(rb"\r\nWARC-Type: *([A-Za-z]+)")


def _record_type(head: bytes) -> Optional[bytes]:
    found = _WARC_TYPE.search(head.split(b"\r\n\r\n", 1)[0])
    return found.group(1) if found else None


def read_range(handle, name: str, start: int, end: int, compressed: bool, own: bool = False) -> Iterable[object]:
    """The records of the range [start, end) of an open WARC/ARC file (`newsbeam.warc.read_records`' items).

    A range owns the records from the first member `next_member` finds at or after `start` up to (not including)
    the first one it finds at or after `end`: the next range starts exactly there, by the same search. A member
    that search passes over (damaged in its first bytes) therefore belongs to the range before, which reads it in
    sequence and reports it, rather than to no range at all. In newsbeam's own archive (`own`) the same holds of
    whole entries (`next_entry`)."""
    own = own and compressed
    if start:
        start = next_entry(handle, start) if own else next_member(handle, start, end)
        if start is None:
            return
    if compressed:
        following = next_entry(handle, end) if own else next_member(handle, end, sys.maxsize)
        if following is None:  # no record member after it: this range reads to the file's end
            handle.seek(0, os.SEEK_END)
            following = handle.tell()
        if start >= following:
            return
        end = following
    handle.seek(start)
    # in gzip-per-record files reading goes on at the next record after a damaged one; a `.gz` file that begins with
    # a record in plain text (misnamed) is read as warcio reads it, without that search
    gzipped = compressed and (start > 0 or _is_gzipped(handle.read(_HEAD)))
    handle.seek(start)
    resync = (lambda at: next_member(handle, at, end)) if gzipped else None
    yield from read_records(handle, name, start, end, resync, own=own)


def _is_gzipped(head: bytes) -> bool:
    """Whether a file's first bytes are those of gzip data (maybe damaged) rather than of a plain WARC/ARC record."""
    return head.startswith(_GZIP_MAGIC[:2]) or not starts_record(head)


def _head(handle, data: bytes, found: int, at: int) -> bytes:
    """The first bytes of the gzip member at `at` (`found` in `data`), enough for an ARC header line."""
    chunk = data[found:found + _HEAD]
    if len(chunk) < _HEAD:  # near the end of the scanned block: read the member's start itself
        handle.seek(at)
        chunk = handle.read(_HEAD)
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(chunk, _HEAD)
    except zlib.error:
        return b""


class _ReadRangeFn(beam.DoFn):
    """(path, start, end) -> ArchivedResponse / ArchivedOutcome (main) and DeadLetter for damaged records."""

    def __init__(self, root: Optional[str]):
        self._root = root  # pointers are relative to it when the files are under it (reprocess)
        self._kinds = CounterSet()
        self._damaged = counter("warc_in.damaged")

    def process(self, element: Tuple[str, int, int]):
        path, start, end = element
        name = pointer_name(self._root, path)
        compressed = path.endswith(".gz")
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            # known before reading, so that every range of a split file snaps to the same entry boundaries
            own = compressed and end > 0 and is_own_archive(handle)
            for found in read_range(handle, name, start, end, compressed, own):
                if isinstance(found, DamagedRecord):
                    self._damaged.inc()
                    yield TaggedOutput(DEAD_LETTERS, DeadLetter(
                        url=f"{path}#offset={found.offset}", stage=reasons.STAGE_SOURCE, reason=reasons.WARC_DAMAGED,
                        detail=found.detail, failed_at=utcnow(), feed_url=path))
                elif isinstance(found, OtherRecord):
                    self._kinds.inc(f"warc_in.records.{found.kind}")
                else:
                    self._kinds.inc("warc_in.records.response" if isinstance(found, ArchivedResponse)
                                    else "warc_in.records.outcome")
                    yield found


class ReadWarcRecords(beam.PTransform):
    """(path, size) of WARC/ARC files -> ArchivedResponse / ArchivedOutcome (main) and DeadLetter (damaged).
    `share_dir`: a directory every worker sees (the local runner's spool), where they share out the ranges as they
    go; None: the runner deals them."""

    def __init__(self, root: Optional[str] = None, split_bytes: Optional[int] = None,
                 share_dir: Optional[str] = None):
        super().__init__()
        self._root = root
        self._split = split_bytes  # None: range_bytes of each file's size
        self._share_dir = share_dir

    def expand(self, files):
        split = self._split
        return (
            files
            | "SplitFiles" >> beam.FlatMap(lambda file: split_file(file[0], file[1], split))
            | "ShareRanges" >> ShareOut(self._share_dir, "warc_in.ranges_taken_over")
            | "ReadRanges" >> beam.ParDo(_ReadRangeFn(self._root)).with_outputs(DEAD_LETTERS, main="records")
        )


class _CountedItem:
    """The counters an article candidate read from a WARC adds to, as `ingest` counts a listed URL."""

    def __init__(self):
        self._in = counter("items.in")
        self._unique = counter("items.unique")
        self._to_fetch = counter("items.to_fetch")

    def inc(self):
        self._in.inc()
        self._unique.inc()
        self._to_fetch.inc()


class _InputPagesFn(beam.DoFn):
    """`--warc` input: 2xx HTML responses become pages; everything else is counted."""

    def __init__(self):
        self._items = _CountedItem()
        self._skipped = CounterSet()
        self._truncated = counter("warc_in.truncated_pages")

    def process(self, found):
        if not isinstance(found, ArchivedResponse):
            self._skipped.inc("warc_in.skipped.outcome")
        elif not 200 <= found.status < 300:
            self._skipped.inc("warc_in.skipped.status")
        elif not is_page_type(found):
            self._skipped.inc("warc_in.skipped.not_html")
        else:
            self._items.inc()
            if found.pointer.truncated:  # extracted from the part the crawler kept (Common Crawl cuts large payloads)
                self._truncated.inc()
            yield page_of(found)


class _ReprocessPagesFn(beam.DoFn):
    """`reprocess`: each archived article URL again becomes a page, or the fetch dead letter it was."""

    def __init__(self):
        self._items = _CountedItem()
        self._skipped = CounterSet()

    def process(self, found):
        context = found.context or {}
        if context.get("role") != ROLE_ARTICLE:
            self._skipped.inc("warc_in.skipped.not_article")
            return
        self._items.inc()
        if isinstance(found, ArchivedResponse) and context.get("outcome") == "fetched":
            yield page_of(found)
            return
        item = item_of(found) if isinstance(found, ArchivedResponse) else None
        yield TaggedOutput(DEAD_LETTERS, DeadLetter(
            url=item.url if item else context.get("url") or found.url, feed_url=context.get("feed_url"),
            stage=reasons.STAGE_FETCH, reason=context.get("outcome") or reasons.INTERNAL_ERROR,
            detail=context.get("detail") or "", failed_at=utcnow(), http_status=context.get("http_status"),
            attempts=int(context.get("attempts") or 0),
            warc=found.pointer if isinstance(found, ArchivedResponse) else None))


class PagesFromWarc(beam.PTransform):
    """(path, size) of WARC files -> {'pages': FetchedPage, 'dead_letters': DeadLetter}.

    `reprocess=True` reads newsbeam's own archive (rooted at `root`) and replays its fetch outcomes. Only the byte
    ranges cross a barrier (`ReadWarcRecords` reshuffles them): each worker reads its ranges in the stage that goes
    on to extract their pages (the caller's next steps fuse with `ToPages`), so the pages never wait in a runner's
    memory or spool, and both the reading and the extraction are spread over the workers, even from one file."""

    def __init__(self, root: Optional[str] = None, reprocess: bool = False, split_bytes: Optional[int] = None,
                 share_dir: Optional[str] = None):
        super().__init__()
        self._root = root
        self._reprocess = reprocess
        self._split = split_bytes
        self._share_dir = share_dir  # see ReadWarcRecords

    def expand(self, files):
        read = files | "Read" >> ReadWarcRecords(self._root, self._split, self._share_dir)
        fn = _ReprocessPagesFn() if self._reprocess else _InputPagesFn()
        pages = read.records | "ToPages" >> beam.ParDo(fn).with_outputs(DEAD_LETTERS, main="pages")
        dead = (read[DEAD_LETTERS], pages[DEAD_LETTERS]) | "WarcDeadLetters" >> beam.Flatten()
        return {"pages": pages.pages, DEAD_LETTERS: dead}
