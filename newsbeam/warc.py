"""WARC 1.1 (ISO 28500) records of what newsbeam fetched, written and read with warcio.

Per fetched URL an `ArchiveEntry` becomes, for each HTTP exchange on the way (robots.txt, redirects, retries, the
final answer), a `request` and a `response` record, then one `metadata` record (JSON) with newsbeam's context that
refers to the final response. Every record is its own gzip member, so a (file, offset, length) pointer is enough
to read one back. Pure apart from warcio; the Beam side is `newsbeam.transforms.archive`.
"""
from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from io import BytesIO
from typing import Any, BinaryIO, Callable, Dict, Iterable, Iterator, Optional, Tuple
from urllib.parse import quote, urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from newsbeam import __version__, mediatypes
from newsbeam.http import RawExchange
from newsbeam.schemas.records import FeedItem, FetchedPage, FetchFailure, WarcPointer

WARC_VERSION = "WARC/1.1"
METADATA_TYPE = "application/json"
GZIP_LEVEL = 6
ROLE_ARTICLE = "article"
ROLE_FEED = "feed"
ROLE_SITEMAP = "sitemap"  # sitemaps and sitemap indexes, given, listed or discovered (their robots.txt answers too)
ROLE_DISCOVERY = "discovery"  # --sites homepages and the well-known feed and sitemap locations tried


@dataclass(frozen=True)
class ArchiveEntry:
    """The exchanges of one fetched URL, with the context the metadata record carries."""

    role: str  # ROLE_ARTICLE, ROLE_FEED, ROLE_SITEMAP or ROLE_DISCOVERY
    url: str  # as requested
    exchanges: Tuple[RawExchange, ...]
    final_record_id: Optional[str]  # the response the URL's row points to; None if no response of its own
    context: Tuple[Tuple[str, Any], ...]  # JSON-able (name, value) pairs: feed URL, canonical URL, outcome ...


def final_truncation(entry: ArchiveEntry) -> Optional[str]:
    """The WARC-Truncated value of the response the entry's row points to (None: whole, or no response)."""
    return next((raw.truncated for raw in entry.exchanges if raw.record_id == entry.final_record_id), None)


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


def source_role(outcome) -> str:
    """The role of a fetched source: ROLE_SITEMAP for one reached as a sitemap or that is one by its content (a
    sitemap given with --feeds), else ROLE_FEED (feeds, subscription lists, URL lists)."""
    from newsbeam.sitemaps import SITEMAP_INDEX, URLSET, sitemap_kind

    if getattr(outcome.request.context, "as_sitemap", False):
        return ROLE_SITEMAP
    body = getattr(outcome, "body", None)  # a FetchFailure has none
    return ROLE_SITEMAP if body and sitemap_kind(body) in (URLSET, SITEMAP_INDEX) else ROLE_FEED


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
    # warcio percent-encodes a non-ASCII header value itself, not a name
    return [(f"X-Crawler-{name}" if name.lower() == "transfer-encoding" else _ascii(name), value)
            for name, value in headers]


def _ascii(text: str) -> str:
    """A status line's reason or a header name as the WARC writer takes them (ASCII only, or it stops the run):
    the bytes as received (http.client reads them as Latin-1), non-ASCII and controls percent-encoded."""
    if text.isascii() and text.isprintable():
        return text
    return quote(text.encode("latin-1", "replace"), safe=_PRINTABLE + " ")


def _warc_date(moment: datetime) -> str:
    """WARC 1.1 date with microseconds; warcio wants a naive UTC datetime (an aware one gives '+00:00Z')."""
    return datetime_to_iso_date(moment.astimezone(timezone.utc).replace(tzinfo=None), True)


_PRINTABLE = "".join(map(chr, range(0x21, 0x7F)))


def _request_target(url: str) -> str:
    """The request line's target as urllib3 sent it: a URL listed with a space or non-ASCII character was sent
    percent-encoded (and the WARC writer accepts only ASCII there)."""
    try:
        return parse_url(url).request_uri
    except LocationParseError:
        parts = urlsplit(url)
        return quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_PRINTABLE)


def _request_record(writer: WARCWriter, raw: RawExchange):
    parts = urlsplit(raw.url)
    target = _request_target(raw.url)
    headers = [("Host", parts.netloc), *raw.request_headers]
    http = StatusAndHeaders(f"GET {target} HTTP/1.1", headers, is_http_request=True)
    return writer.create_warc_record(raw.url, "request", payload=BytesIO(), length=0, http_headers=http,
                                     warc_headers_dict={"WARC-Date": _warc_date(raw.requested_at),
                                                        "WARC-Concurrent-To": raw.record_id})


def _response_record(writer: WARCWriter, raw: RawExchange):
    http = StatusAndHeaders(f"{raw.status} {_ascii(raw.reason)}".strip(), _stored_headers(raw.headers),
                            protocol=raw.http_version)
    warc_headers = {"WARC-Record-ID": raw.record_id, "WARC-Date": _warc_date(raw.requested_at)}
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


def _member_level(raw: RawExchange) -> int:
    """A body the server compressed (most pages) gains nothing from deflate again (measured on real pages: level 6
    makes 29,063 bytes of 29,072 for 0.46 ms a page, ~1 % of extracting it): stored in its gzip member as it is."""
    coding = next((value for name, value in raw.headers if name.lower() == "content-encoding"), "")
    return 0 if coding.strip().lower() not in ("", "identity") and raw.body else GZIP_LEVEL


class WarcFileWriter:
    """Writes records one gzip member at a time to `handle` (any writable stream, e.g. from FileSystems.create),
    keeping the offsets itself so that the stream need not support tell()."""

    def __init__(self, handle: BinaryIO, filename: str, run_id: str):
        self._handle = handle
        self._buffer = BytesIO()
        # gzip members are made here: warcio compresses at level 9, which costs several times level 6 for ~1 %
        self._writer = WARCWriter(self._buffer, gzip=False, warc_version=WARC_VERSION)
        self._run_id = run_id
        self.offset = 0
        self.records = 0
        info = self._writer.create_warcinfo_record(filename, {
            "software": f"newsbeam/{__version__} (warcio)", "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "newsbeam-run-id": run_id})
        self._write(info)

    def _write(self, record, level: int = GZIP_LEVEL) -> Tuple[int, int]:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.write_record(record)
        compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        data = compressor.compress(self._buffer.getvalue()) + compressor.flush()
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
            where = self._write(_response_record(self._writer, raw), _member_level(raw))
            if raw.record_id == entry.final_record_id:
                pointer = where
        date = entry.exchanges[-1].requested_at if entry.exchanges else None
        self._write(_metadata_record(self._writer, entry, self._run_id,
                                     _warc_date(date) if date else self._writer.curr_warc_date()))
        return pointer


def warc_file_name(run_id: str, bucket: int, tag: str = "") -> str:
    """`<run_id>-<bucket>.warc.gz`; in a streaming window `<run_id>-<window start>-<bucket>.warc.gz`."""
    return f"{run_id}-{tag}-{bucket:05d}.warc.gz" if tag else f"{run_id}-{bucket:05d}.warc.gz"




def pointer_name(root: Optional[str], path: str) -> str:
    """The `warc_filename` a row gets for a record in `path`: relative to the output `root` for files under it
    (reprocess of an output into itself), else the path or URL in full."""
    return path[len(root.rstrip("/")) + 1:] if root and path.startswith(root.rstrip("/") + "/") else path


def pointer_path(root: Optional[str], filename: str) -> str:
    """The file a row's `warc_filename` names: a name relative to the output `root` (newsbeam's own archive), or,
    as it stands, a full path or URL (the input file of `--warc`, or of a reprocess into another output)."""
    if root and not filename.startswith("/") and "://" not in filename:
        return root.rstrip("/") + "/" + filename
    return filename


def read_pointed(root: Optional[str], filename: str, offset: int, length: int) -> bytes:
    """The bytes a pointer addresses (one record's gzip member, or the uncompressed record), read through
    FileSystems (local, gs://, s3://)."""
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(pointer_path(root, filename), compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.seek(offset)
        return handle.read(length)


def read_record_at(root: str, filename: str, offset: int, length: int):
    """The WARC record a row points to: (WARC headers, HTTP headers, payload with transfer and content encodings
    undone)."""
    return _only_record(read_pointed(root, filename, offset, length), arc2warc=False,
                        where=f"at {filename}:{offset}")


def _only_record(member: bytes, arc2warc: bool, where: str):
    """(WARC headers, HTTP headers, decoded payload) of the first record in `member`."""
    from warcio.archiveiterator import ArchiveIterator

    damage = _gzip_damage(member) if member[:2] == b"\x1f\x8b" else None
    if damage:  # warcio would read past it: a CRC failure is only written to stderr
        raise ValueError(f"the WARC record {where} is damaged: {damage}")
    for record in ArchiveIterator(BytesIO(member), arc2warc=arc2warc):
        body = record.content_stream().read()
        missing = getattr(record.raw_stream, "limit", 0)
        if missing:  # the bytes end inside the record (a truncated file): warcio reads it short silently
            raise ValueError(f"the WARC record {where} is truncated: {missing} bytes missing")
        return record.rec_headers, record.http_headers, body
    raise ValueError(f"no WARC record {where}")


def _gzip_damage(member: bytes) -> Optional[str]:
    """What is wrong with a record's gzip member, if anything: it must inflate to its end, pass its CRC check and
    be the only member. Inflated a block at a time, kept nowhere."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = member
    try:
        while data and not inflater.eof:
            inflater.decompress(data, 1 << 20)
            data = inflater.unconsumed_tail
    except zlib.error as exc:
        return f"gzip member does not decompress: {exc}"
    if not inflater.eof:
        return "gzip member cut short"
    if inflater.unused_data:
        return f"{len(inflater.unused_data)} bytes after the record's gzip member"
    return None


@dataclass(frozen=True)
class ArchivedResponse:
    """A `response` record read back: the HTTP answer with its body decoded (chunking and content coding
    undone; empty unless it may be a page: 2xx, HTML, PDF or undeclared), where it lies, and newsbeam's context
    when the archive is newsbeam's own."""

    url: str
    status: int
    headers: Tuple[Tuple[str, str], ...]  # lower-case names
    body: bytes
    date: Optional[datetime]
    pointer: WarcPointer
    context: Optional[Dict[str, Any]] = None


@dataclass(frozen=True)
class ArchivedOutcome:
    """A newsbeam metadata record whose URL ended without a response of its own (e.g. robots_disallowed)."""

    url: str
    context: Dict[str, Any]


@dataclass(frozen=True)
class DamagedRecord:
    filename: str
    offset: int
    detail: str


@dataclass(frozen=True)
class OtherRecord:
    """A record that is not an article candidate (request, warcinfo, redirect hop, revisit ...), counted."""

    kind: str


def _date(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    try:  # warcio 1.7's iso_date_to_datetime fails on WARC 1.1 dates with microseconds
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


ARC_SUFFIXES = (".arc", ".arc.gz")
# an ARC v1 record's header line: URL, IP address, 14-digit date, content type, length
_ARC_LINE = re.compile(rb"\S+ \S+ \d{14} \S+ \d+\r?\n")


def starts_record(head: bytes) -> bool:
    """Whether decompressed bytes begin a WARC record or an ARC v1 record (how a split read finds its start)."""
    return head.startswith(b"WARC/") or _ARC_LINE.match(head) is not None


@dataclass
class _ReadState:
    own: bool = False  # newsbeam's own archive: metadata records carry the context and come after their response
    waiting: Dict[str, ArchivedResponse] = field(default_factory=dict)


def read_records(stream: BinaryIO, filename: str, start: int = 0, end: Optional[int] = None,
                 resync: Optional[Callable[[int], Optional[int]]] = None, own: bool = False) -> Iterator[object]:
    """ArchivedResponse, ArchivedOutcome, OtherRecord or DamagedRecord for each record of a WARC/ARC stream
    positioned at `start` (a record boundary) whose offset is before `end` (the range's end, or the file's size).

    A damaged record is reported; then `resync(offset)` (for gzip-per-record files: the first record member at or
    after `offset` and before `end`, or None) says where reading goes on. Given `resync`, the stream is taken to be
    gzip-per-record: a record that warcio reads from bytes that do not decompress (a member whose gzip header or
    first deflate block is damaged, which warcio then reads as uncompressed data and may take for an ARC header
    line) is damaged too. Without it (uncompressed files, whose
    records cannot be found again) the damaged record ends the reading of its range, and so do bytes after the last
    whole record (a member cut short before any of its content). ARC records have no record id of their own: theirs
    is `<filename#offset>`, the same on every read. `own`: the file is newsbeam's archive (else known only from a
    warcinfo record read here, which a range after the file's first does not see)."""
    state = _ReadState(own=own)
    arc = filename.endswith(ARC_SUFFIXES)
    position: Optional[int] = start
    while position is not None:
        position = yield from _read_from(stream, filename, position, end, state, resync, arc)
    for _ in state.waiting.values():  # a response without metadata: a redirect hop or a robots.txt answer
        yield OtherRecord("response")


def _body_wanted(record) -> bool:
    """Whether a reader needs the record's content: warcinfo and metadata, and responses that may be article pages
    (2xx, HTML, PDF or undeclared). Others (a video, an image, a 404, a request) can be gigabytes and are of no
    use: they are read through in blocks rather than held whole."""
    if record.rec_type in ("warcinfo", "metadata"):
        return True
    if record.rec_type != "response" or record.http_headers is None:
        return False
    try:
        status = int(record.http_headers.get_statuscode())
    except (TypeError, ValueError):
        return True  # reported as damaged, as before
    declared = mediatypes.media_type(record.http_headers.get_header("Content-Type"))
    target = record.rec_headers.get_header("WARC-Target-URI") or ""
    return 200 <= status < 300 and mediatypes.may_be_page(declared, target)


def _read_through(stream: BinaryIO) -> bytes:
    while stream.read(1 << 20):
        pass
    return b""


def _read_from(stream: BinaryIO, filename: str, start: int, end: Optional[int], state: _ReadState,
               resync: Optional[Callable[[int], Optional[int]]], arc: bool):
    """Reads from `start` until the range's end (returns None) or a damaged record (returns where to go on)."""
    from warcio.archiveiterator import ArchiveIterator

    try:  # warcio counts offsets from the stream's tell() when it has one, else from where it starts reading
        base = start - stream.tell()
    except (AttributeError, OSError):
        base = start
    iterator = ArchiveIterator(stream, arc2warc=True)
    read_up_to = start  # where the last whole record ends: a damaged record starts there
    try:
        for record in iterator:
            if resync is not None and iterator.reader.decompressor is None:
                # warcio could not inflate the member's first block and fell back to reading raw bytes
                if end is None or read_up_to < end:
                    yield DamagedRecord(filename, read_up_to, "gzip member does not decompress")
                return _go_on(stream, resync, read_up_to)
            # warcio knows a record's offset only once it is read to the end
            body = record.content_stream().read() if _body_wanted(record) else _read_through(record.raw_stream)
            offset = base + iterator.get_record_offset()
            if end is not None and offset >= end:
                return None
            missing = getattr(record.raw_stream, "limit", 0)
            # the file ends inside the record (an interrupted crawl), or a gzip member's data is damaged: warcio
            # reads it short, or reads on past the damage, and only writes the zlib error to stderr
            problem = (f"{record.rec_type} record truncated: {missing} bytes missing" if missing
                       else _member_problem(iterator) if resync is not None else None)
            if problem:
                yield DamagedRecord(filename, offset, problem)
                return _go_on(stream, resync, offset)  # the next member may be whole
            read_up_to = offset + iterator.get_record_length()
            kind = record.rec_type
            headers = record.rec_headers
            if kind == "warcinfo":
                state.own = state.own or b"software: newsbeam/" in body
                yield OtherRecord(kind)
                continue
            if kind == "metadata" and state.own and headers.get_header("Content-Type") == METADATA_TYPE:
                context = json.loads(body.decode("utf-8"))
                found = state.waiting.pop(headers.get_header("WARC-Refers-To") or "", None)
                if found is not None:
                    yield replace(found, context=context)
                else:
                    yield ArchivedOutcome(headers.get_header("WARC-Target-URI"), context)
                continue
            if kind != "response" or record.http_headers is None:
                yield OtherRecord(kind)
                continue
            http = record.http_headers
            try:
                status = int(http.get_statuscode())
            except (TypeError, ValueError):
                yield DamagedRecord(filename, offset, f"bad HTTP status line {http.statusline!r}")
                continue
            # warcio makes up a random id for each ARC record it converts
            record_id = (None if arc else headers.get_header("WARC-Record-ID")) or f"<{filename}#{offset}>"
            response = ArchivedResponse(
                url=headers.get_header("WARC-Target-URI"), status=status,
                headers=tuple((name.lower(), value) for name, value in http.headers), body=body,
                date=_date(headers.get_header("WARC-Date")),
                pointer=WarcPointer(record_id, filename, offset, iterator.get_record_length(),
                                    headers.get_header("WARC-Truncated") or None))  # an empty value says nothing
            if state.own:
                state.waiting[record_id] = response
            else:
                yield response
    except Exception as exc:  # ArchiveLoadFailed, zlib.error, and warcio's own surprises on damaged headers
        if end is None or read_up_to < end:  # one that starts past the range's end is the next range's
            yield DamagedRecord(filename, read_up_to, f"{type(exc).__name__}: {exc}")
        return _go_on(stream, resync, read_up_to)
    if end is not None and read_up_to < end and not _only_line_ends(stream, read_up_to, end):
        # warcio stopped before the range's end: a member cut short, or one it could not read a record from
        following = _go_on(stream, resync, read_up_to)
        yield DamagedRecord(filename, read_up_to, f"{end - read_up_to} bytes after the last whole record"
                            if following is None else f"no record in the {following - read_up_to} bytes up to the "
                            "next member")
        return following
    return None


def _go_on(stream: BinaryIO, resync: Optional[Callable[[int], Optional[int]]], damaged: int) -> Optional[int]:
    """Where reading goes on after a damaged record at `damaged` (None: nowhere), the stream put there."""
    following = resync(damaged + 1) if resync is not None else None
    if following is not None:
        stream.seek(following)
    return following


def _member_problem(iterator) -> Optional[str]:
    """What is wrong with the gzip member of the record just read to its end, if anything: a gzip-per-record file's
    member holds one record and ends with a good CRC. A member that inflates past its record (to garbage, or to the
    next record of a file compressed whole) or whose CRC fails may have changed the record's bytes too."""
    decompressor = iterator.reader.decompressor
    if decompressor is None or not decompressor.eof:
        return "gzip member does not decompress to its end"
    if iterator.next_line:
        return ("gzip member holds more than one record: damaged, or the file was compressed whole rather than a "
                "record per member (`warcio recompress` rewrites it so)")
    return None


def _only_line_ends(stream: BinaryIO, start: int, end: int) -> bool:
    """Whether the bytes from `start` to `end` are only CR and LF: warcio leaves a record's closing CRLF CRLF unread
    when its block is empty (the log record wget writes last), which is no damage."""
    if end - start > 64:
        return False
    try:
        stream.seek(start)
        return not stream.read(end - start).strip(b"\r\n")
    except (AttributeError, OSError):
        return False


def _parse_iso(value: Optional[str]) -> Optional[datetime]:
    return datetime.fromisoformat(value) if value else None


def item_of(response: ArchivedResponse) -> FeedItem:
    """The article candidate an archived response stands for: from newsbeam's context when there is one, else
    the response's own URL."""
    from newsbeam.urls import canonicalize_url

    context = response.context or {}
    if context.get("url"):
        return FeedItem(url=context["url"], canonical_url=context["canonical_url"], feed_url=context.get("feed_url"),
                        feed_title=context.get("feed_title"), title=context.get("title"), guid=context.get("guid"),
                        published_at=_parse_iso(context.get("published_at")))
    return FeedItem(url=response.url, canonical_url=canonicalize_url(response.url))


def content_type_of(response: ArchivedResponse) -> Tuple[Optional[str], Optional[str]]:
    """(media type, charset) from the archived Content-Type header."""
    value = dict(response.headers).get("content-type")
    return mediatypes.media_type(value), mediatypes.charset(value)


def is_page_type(response: ArchivedResponse) -> bool:
    """Whether the response is an article candidate as a fetched page would be: HTML or PDF, or undeclared."""
    return mediatypes.may_be_page(content_type_of(response)[0], response.url)


def page_of(response: ArchivedResponse) -> FetchedPage:
    """A FetchedPage as if fetched now, pointing to the archived record."""
    from newsbeam.schemas.records import FetchRequest

    item = item_of(response)
    media_type, charset = content_type_of(response)
    context = response.context or {}
    return FetchedPage(
        request=FetchRequest(url=item.canonical_url, context=item), final_url=response.url, status=response.status,
        content_type=media_type, header_charset=charset, body=response.body,
        fetched_at=response.date or datetime.now(timezone.utc), attempts=int(context.get("attempts") or 1),
        redirects=tuple(context.get("redirects") or ()), warc=response.pointer)
