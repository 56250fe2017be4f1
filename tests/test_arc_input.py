"""`--warc` input of ARC v1 files (`.arc.gz`, as the Internet Archive and Heritrix wrote them before WARC).

The fixtures are written here by hand to the ARC v1 spec (https://archive.org/web/researcher/ArcFileFormat.php):
a version block (`filedesc://` header line, version line, field-names line), then per record a header line
`URL IP-address Archive-date Content-type Archive-length`, the HTTP response, a newline; each record its own gzip
member. warcio reads the intact file back independently, which proves the fixture is valid ARC.
"""
import gzip
import json
import zlib
from io import BytesIO

import pyarrow.dataset as ds
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsbeam.sample_site import SampleSite, article_paths
from newsbeam.transforms.warc_input import read_range, split_file
from newsbeam.warc import ArchivedResponse, DamagedRecord, OtherRecord
from tests.pipeline_helpers import ingest_warc

PATHS = [p for p in sorted(article_paths()) if p.startswith("/articles/de-")][:6]  # long enough to be extracted
ORIGIN = "http://archived.example"


def arc_version_block(name: str) -> bytes:
    block = b"1 0 newsbeam-test\nURL IP-address Archive-date Content-type Archive-length\n"
    return f"filedesc://{name} 0.0.0.0 20240501120000 text/plain {len(block)}\n".encode() + block + b"\n"


def arc_record(url: str, content_type: str, body: bytes, status: str = "200 OK", when: str = "20240501120001") -> bytes:
    http = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    return f"{url} 127.0.0.1 {when} {content_type.split(';')[0]} {len(http)}\n".encode() + http + b"\n"


class Members(list):
    """Gzip members; a short repr keeps Hypothesis' reports readable."""

    def __repr__(self):
        return f"<{len(self)} gzip members>"


def members(parts):
    return Members(gzip.compress(part, 6) for part in parts)


def damaged_member(member: bytes) -> bytes:
    """A record's gzip member with bytes of its deflate stream overwritten (a bad disk sector, a broken copy)."""
    middle = len(member) // 2
    return member[:middle] + bytes(64) + member[middle + 64:]


@pytest.fixture(scope="module")
def pages():
    with SampleSite() as site:
        return {ORIGIN + path: site.render(path)[0] for path in PATHS}


@pytest.fixture(scope="module")
def arc_parts(pages):
    """Gzip members of an ARC file: version block, 3 articles, a PNG, a 404, 3 more articles."""
    urls = list(pages)
    parts = [arc_version_block("crawl.arc.gz")]
    parts += [arc_record(url, "text/html; charset=utf-8", pages[url]) for url in urls[:3]]
    parts += [arc_record(ORIGIN + "/logo.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(200)),
              arc_record(ORIGIN + "/gone.html", "text/html", b"<html>gone</html>", status="404 Not Found")]
    parts += [arc_record(url, "text/html", pages[url]) for url in urls[3:]]
    return members(parts)


def test_fixture_is_valid_arc_for_warcio(arc_parts, pages):
    data = b"".join(arc_parts)
    iterator = ArchiveIterator(BytesIO(data), arc2warc=False)
    found = []
    for record in iterator:
        found.append((record.format, record.rec_type, record.rec_headers.get_header("uri"),
                      record.content_stream().read(), iterator.get_record_offset()))
    assert [f[:2] for f in found] == [("arc", "arc_header")] + [("arc", "response")] * 8
    assert [f[4] for f in found] == [sum(len(m) for m in arc_parts[:i]) for i in range(len(arc_parts))]
    by_url = {f[2]: f[3] for f in found}
    assert all(by_url[url] == body for url, body in pages.items())


def responses(data: bytes, name: str, split: int):
    """Everything read range by range, as `--warc` reads a large file on several workers."""
    handle = BytesIO(data)
    return [found for _, start, end in split_file(name, len(data), split)
            for found in read_range(handle, name, start, end, True)]


def test_arc_records_have_stable_ids_and_pointers(arc_parts):
    data = b"".join(arc_parts)
    first, second = (responses(data, "crawl.arc.gz", len(data) + 1) for _ in range(2))
    pointers = [r.pointer for r in first if isinstance(r, ArchivedResponse)]
    # warcio makes up a random WARC-Record-ID for each ARC record: the pointer's id is the file and offset instead
    assert pointers == [r.pointer for r in second if isinstance(r, ArchivedResponse)] and len(pointers) == 8
    assert [p.offset for p in pointers] == [sum(len(m) for m in arc_parts[:i]) for i in range(1, 9)]
    assert all(p.record_id == f"<crawl.arc.gz#{p.offset}>" for p in pointers)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(split=st.integers(min_value=100, max_value=20000))
def test_split_arc_reads_find_every_record_once(arc_parts, split):
    data = b"".join(arc_parts) * 2
    whole = [r.pointer for r in responses(data, "x.arc.gz", len(data) + 1) if isinstance(r, ArchivedResponse)]
    parts = [r.pointer for r in responses(data, "x.arc.gz", split) if isinstance(r, ArchivedResponse)]
    assert parts == whole and len(whole) == 16
    assert len(list(split_file("x.arc.gz", len(data), split))) > 1  # really split


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(at=st.integers(min_value=1, max_value=7), split=st.integers(min_value=300, max_value=40000))
def test_reading_goes_on_after_a_damaged_record(arc_parts, at, split):
    parts = Members(arc_parts[:at] + [damaged_member(arc_parts[1])] + arc_parts[at:])
    data = b"".join(parts)
    for size in (split, len(data) + 1):
        found = responses(data, "x.arc.gz", size)
        assert len([r for r in found if isinstance(r, ArchivedResponse)]) == 8
        # one damage, reported at the damaged member's start, also when the overwritten deflate bytes still
        # inflate (to garbage, caught only by the member's CRC)
        assert [d.offset for d in found if isinstance(d, DamagedRecord)] == [sum(len(m) for m in parts[:at])]


@pytest.mark.parametrize("damage_at", [2, 10, 30])
def test_a_member_damaged_at_its_start_just_past_a_boundary_is_reported_once(arc_parts, damage_at):
    """The next range's search for its first record passes over a member damaged in its first bytes; the range
    before owns it, reads it in sequence and reports it: no record is lost between two ranges."""
    bad = bytearray(arc_parts[1])
    bad[damage_at:damage_at + 16] = bytes(16)
    parts = Members(arc_parts[:4] + [bytes(bad)] + arc_parts[4:])
    data = b"".join(parts)
    at = sum(len(m) for m in parts[:4])
    for split in (at, at - 1, at - 7):  # the boundary on, or just before, the damaged member
        found = responses(data, "x.arc.gz", split)
        assert len([r for r in found if isinstance(r, ArchivedResponse)]) == 8
        assert [d.offset for d in found if isinstance(d, DamagedRecord)] == [at], split


def test_a_member_that_does_not_inflate_is_damaged_even_when_its_raw_bytes_read_as_a_record():
    """A member stored without compression (gzip level 0) holds its record verbatim. With its gzip header damaged,
    warcio gives up inflating and reads the raw bytes, which parse as an ARC record (the damaged header glued to
    its URL). In a gzip-per-record file that is damage: reported at the member, not read as a record."""
    parts = [arc_version_block("x.arc.gz")] + [arc_record(f"{ORIGIN}/{n}.html", "text/html", b"<p>%d</p>" % n)
                                               for n in range(3)]
    stored = [gzip.compress(part, 0) for part in parts]
    stored[2] = stored[2][:2] + bytes(4) + stored[2][6:]  # method, flags and part of the mtime zeroed
    alone = next(iter(ArchiveIterator(BytesIO(stored[2]), arc2warc=True)))  # what warcio makes of it
    assert alone.rec_headers.get_header("WARC-Target-URI").endswith(f"{ORIGIN}/1.html")
    data = b"".join(stored)
    found = responses(data, "x.arc.gz", len(data) + 1)
    assert [r.url for r in found if isinstance(r, ArchivedResponse)] == [f"{ORIGIN}/0.html", f"{ORIGIN}/2.html"]
    assert [d.offset for d in found if isinstance(d, DamagedRecord)] == [len(stored[0]) + len(stored[1])]
    assert len([r for r in found if isinstance(r, OtherRecord)]) == 1  # the version block, nothing else


def warc_record(url: str, body: bytes) -> bytes:
    """An uncompressed WARC response record (gzipped below, at the level a test picks)."""
    out = BytesIO()
    writer = WARCWriter(out, gzip=False)
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(url, "response", payload=BytesIO(body), http_headers=http))
    return out.getvalue()


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(["arc", "warc"]), level=st.sampled_from([0, 1, 6, 9]),
       bodies=st.lists(st.binary(min_size=0, max_size=3000), min_size=3, max_size=5),
       victim=st.integers(min_value=0, max_value=4), where=st.floats(min_value=0.0, max_value=1.0),
       damage=st.binary(min_size=1, max_size=64), split=st.integers(min_value=100, max_value=20000))
def test_a_damaged_member_is_reported_at_its_start_and_never_read_as_records(kind, level, bodies, victim, where,
                                                                             damage, split):
    """Whatever the records hold, the level they were compressed at and where a member is overwritten: the damaged
    member is reported once, at its own offset; every other record is read whole; none is made up of its bytes."""
    victim %= len(bodies)
    urls = [f"{ORIGIN}/{n}.html" for n in range(len(bodies))]
    if kind == "arc":
        name, parts = "x.arc.gz", [arc_record(u, "text/html", b) for u, b in zip(urls, bodies)]
    else:
        name, parts = "x.warc.gz", [warc_record(u, b) for u, b in zip(urls, bodies)]
    packed = [gzip.compress(part, level) for part in parts]
    # overwrite from the compression-method byte on: bytes 4-9 of a gzip header (time, flags for the OS) are unused
    start = 2 + int(where * (len(packed[victim]) - 2 - len(damage)))
    bad = packed[victim][:start] + damage + packed[victim][start + len(damage):]
    try:
        assume(gzip.decompress(bad[:len(packed[victim])]) != parts[victim])
    except (OSError, EOFError, zlib.error):
        pass  # does not inflate: damaged
    packed[victim] = bad[:len(packed[victim])]
    data = b"".join(packed)
    offsets = [sum(len(m) for m in packed[:n]) for n in range(len(packed))]
    for size in (split, len(data) + 1):
        found = responses(data, name, size)
        read = {r.url: r.body for r in found if isinstance(r, ArchivedResponse)}
        assert read == {u: b for n, (u, b) in enumerate(zip(urls, bodies)) if n != victim}
        assert [d.offset for d in found if isinstance(d, DamagedRecord)] == [offsets[victim]]
        assert not [r for r in found if isinstance(r, OtherRecord)]


@pytest.fixture(scope="module")
def arc_input(tmp_path_factory, arc_parts):
    """input/crawl.arc.gz with a damaged record between the 3rd and 4th article."""
    root = tmp_path_factory.mktemp("arc")
    (root / "input").mkdir()
    damaged = damaged_member(arc_parts[1])
    (root / "input" / "crawl.arc.gz").write_bytes(b"".join(arc_parts[:4]) + damaged + b"".join(arc_parts[4:]))
    return root


def test_ingest_reads_arc_files_and_goes_on_after_a_damaged_record(arc_input, arc_parts, pages, tmp_path):
    out = tmp_path / "out"
    articles = ingest_warc(str(arc_input / "input" / "*.arc.gz"), out, "a1", "gazetteer")
    # all six articles, the three after the damaged record too
    assert sorted(r["url"] for r in articles) == sorted(pages)
    data = (arc_input / "input" / "crawl.arc.gz").read_bytes()
    for row in articles:  # the pointers lead back into the ARC file
        assert row["warc_filename"] == str(arc_input / "input" / "crawl.arc.gz")
        member = data[row["warc_record_offset"]:row["warc_record_offset"] + row["warc_record_length"]]
        (record,) = list(ArchiveIterator(BytesIO(member), arc2warc=True))
        assert record.rec_headers["WARC-Target-URI"] == row["url"]
        assert row["warc_record_id"] == f"<{row['warc_filename']}#{row['warc_record_offset']}>"
        assert row["published_at"] is not None or row["fetched_at"].year == 2024  # the ARC date is the fetch time
    dead = ds.dataset(out / "dead_letters", partitioning="hive").to_table().to_pylist()
    assert [(d["stage"], d["reason"]) for d in dead] == [("source", "warc_damaged")]
    assert dead[0]["url"] == f"{arc_input / 'input' / 'crawl.arc.gz'}#offset={sum(len(m) for m in arc_parts[:4])}"
    counters = json.loads((out / "_runs" / "a1.json").read_text())["counters"]
    assert counters["warc_in.skipped.not_html"] == 1 and counters["warc_in.skipped.status"] == 1
    assert counters["warc_in.damaged"] == 1
