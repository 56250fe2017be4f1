"""WARC 1.1 (ISO 28500) records of what newsbeam fetched, written and read with warcio.

Per fetched URL an `ArchiveEntry` becomes, for each HTTP exchange on the way (robots.txt, redirects, retries, the
final answer), a `request` and a `response` record, then one `metadata` record (JSON) with newsbeam's context that
refers to the final response. Every record is its own gzip member, so a (file, offset, length) pointer is enough
to read one back. Pure apart from warcio; the Beam side is `newsbeam.transforms.archive`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any, BinaryIO, Dict, Iterable, Iterator, Optional, Tuple
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from newsbeam import __version__
from newsbeam.http import RawExchange
from newsbeam.schemas.records import FeedItem, FetchedPage, FetchFailure, WarcPointer

WARC_VERSION = "WARC/1.1"
METADATA_TYPE = "application/json"
ROLE_ARTICLE = "article"
ROLE_FEED = "feed"


@dataclass(frozen=True)
class ArchiveEntry:
    """The exchanges of one fetched URL, with the context the metadata record carries."""

    role: str  # ROLE_ARTICLE or ROLE_FEED
    url: str  # as requested
    exchanges: Tuple[RawExchange, ...]
    final_record_id: Optional[str]  # the response the URL's row points to; None if no response of its own
    context: Tuple[Tuple[str, Any], ...]  # JSON-able (name, value) pairs: feed URL, canonical URL, outcome ...


def _iso(moment: Optional[datetime]) -> Optional[str]:
    return moment.isoformat() if moment is not None else None


def final_exchange(outcome) -> Optional[RawExchange]:
    """The response a row points to: the last one for the URL the fetch ended on (robots.txt answers do not
    count)."""
    final = outcome.final_url
    for raw in reversed(outcome.exchanges):
        if raw.url == final:
            return raw
    return None


def entry_of(outcome, role: str) -> ArchiveEntry:
    """The archive entry of a FetchedPage or FetchFailure (whose `exchanges` are still attached)."""
    context: Dict[str, Any] = {}
    item = outcome.request.context
    if isinstance(item, FeedItem):
        context.update(url=item.url, canonical_url=item.canonical_url, feed_url=item.feed_url,
                       feed_title=item.feed_title, title=item.title, guid=item.guid,
                       published_at=_iso(item.published_at))
    if isinstance(outcome, FetchedPage):
        context.update(outcome="fetched", http_status=outcome.status, attempts=outcome.attempts,
                       redirects=list(outcome.redirects), fetched_at=_iso(outcome.fetched_at))
    elif isinstance(outcome, FetchFailure):
        context.update(outcome=outcome.reason, detail=outcome.detail, http_status=outcome.http_status,
                       attempts=outcome.attempts, fetched_at=_iso(outcome.failed_at))
    final = final_exchange(outcome)
    return ArchiveEntry(role=role, url=outcome.request.url, exchanges=tuple(outcome.exchanges),
                        final_record_id=final.record_id if final else None,
                        context=tuple(sorted(context.items())))


# The body is stored de-chunked, so a chunked Transfer-Encoding header would misdescribe it; Common Crawl renames
# such headers the same way.
def _stored_headers(headers: Iterable[Tuple[str, str]]) -> list:
    return [(f"X-Crawler-{name}" if name.lower() == "transfer-encoding" else name, value) for name, value in headers]


def _request_record(writer: WARCWriter, raw: RawExchange):
    parts = urlsplit(raw.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [("Host", parts.netloc), *raw.request_headers]
    http = StatusAndHeaders(f"GET {target} HTTP/1.1", headers, is_http_request=True)
    return writer.create_warc_record(raw.url, "request", payload=BytesIO(), length=0, http_headers=http,
                                     warc_headers_dict={"WARC-Date": datetime_to_iso_date(raw.requested_at, True),
                                                        "WARC-Concurrent-To": raw.record_id})


def _response_record(writer: WARCWriter, raw: RawExchange):
    http = StatusAndHeaders(f"{raw.status} {raw.reason}".strip(), _stored_headers(raw.headers),
                            protocol=raw.http_version)
    warc_headers = {"WARC-Record-ID": raw.record_id, "WARC-Date": datetime_to_iso_date(raw.requested_at, True)}
    if raw.truncated:
        warc_headers["WARC-Truncated"] = raw.truncated
    return writer.create_warc_record(raw.url, "response", payload=BytesIO(raw.body), length=len(raw.body),
                                     http_headers=http, warc_headers_dict=warc_headers)


def _metadata_record(writer: WARCWriter, entry: ArchiveEntry, run_id: str, date: str):
    payload = json.dumps({"newsbeam": __version__, "run_id": run_id, "role": entry.role, **dict(entry.context)},
                         sort_keys=True, ensure_ascii=False).encode("utf-8")
    headers = {"WARC-Date": date}
    if entry.final_record_id:
        headers["WARC-Refers-To"] = entry.final_record_id
    return writer.create_warc_record(entry.url, "metadata", payload=BytesIO(payload), length=len(payload),
                                     warc_content_type=METADATA_TYPE, warc_headers_dict=headers)


class WarcFileWriter:
    """Writes records one gzip member at a time to `handle` (any writable stream, e.g. from FileSystems.create),
    keeping the offsets itself so that the stream need not support tell()."""

    def __init__(self, handle: BinaryIO, filename: str, run_id: str):
        self._handle = handle
        self._buffer = BytesIO()
        self._writer = WARCWriter(self._buffer, gzip=True, warc_version=WARC_VERSION)
        self._run_id = run_id
        self.offset = 0
        self.records = 0
        info = self._writer.create_warcinfo_record(filename, {
            "software": f"newsbeam/{__version__} (warcio)", "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "newsbeam-run-id": run_id})
        self._write(info)

    def _write(self, record) -> Tuple[int, int]:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.write_record(record)
        data = self._buffer.getvalue()
        self._handle.write(data)
        start = self.offset
        self.offset += len(data)
        self.records += 1
        return start, len(data)

    def write_entry(self, entry: ArchiveEntry) -> Optional[Tuple[int, int]]:
        """Writes an entry's records; returns (offset, length) of its final response record, if it has one."""
        pointer = None
        for raw in entry.exchanges:
            self._write(_request_record(self._writer, raw))
            where = self._write(_response_record(self._writer, raw))
            if raw.record_id == entry.final_record_id:
                pointer = where
        date = entry.exchanges[-1].requested_at if entry.exchanges else None
        self._write(_metadata_record(self._writer, entry, self._run_id,
                                     datetime_to_iso_date(date, True) if date else self._writer.curr_warc_date()))
        return pointer


def warc_file_name(run_id: str, bucket: int) -> str:
    return f"{run_id}-{bucket:05d}.warc.gz"


def write_entries(handle: BinaryIO, filename: str, run_id: str,
                  entries: Iterable[ArchiveEntry]) -> Iterator[Tuple[str, int, int]]:
    """(final response record id, offset, length) for each entry that has a final response."""
    writer = WarcFileWriter(handle, filename, run_id)
    for entry in entries:
        where = writer.write_entry(entry)
        if where is not None:
            yield entry.final_record_id, where[0], where[1]


def pointer(record_id: str, filename: str, offset: int, length: int) -> WarcPointer:
    return WarcPointer(record_id=record_id, filename=filename, offset=offset, length=length)


def read_record_at(root: str, filename: str, offset: int, length: int):
    """The WARC record a row points to, read through FileSystems (local, gs://, s3://): (WARC headers, HTTP
    headers, payload with transfer and content encodings undone)."""
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems
    from warcio.archiveiterator import ArchiveIterator

    with FileSystems.open(FileSystems.join(root, filename), compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.seek(offset)
        member = handle.read(length)
    for record in ArchiveIterator(BytesIO(member)):
        return record.rec_headers, record.http_headers, record.content_stream().read()
    raise ValueError(f"no WARC record at {filename}:{offset}")
