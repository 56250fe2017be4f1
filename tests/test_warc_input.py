"""`--warc` input: WARCs that newsbeam did not write (warcio's capture_http, GNU wget --warc-file), split reads,
damaged and truncated records."""
import json
import shutil
import subprocess
import sys
import urllib.request
from io import BytesIO

import pyarrow.dataset as ds
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator
from warcio.capture_http import capture_http

from newsbeam.sample_site import SampleSite, article_paths
from newsbeam.warc import ArchivedResponse, DamagedRecord, pointer_name, pointer_path, read_records
from newsbeam.transforms.warc_input import read_range, split_file

NEWSBEAM = [sys.executable, "-m", "newsbeam.pipelines.cli"]
PATHS = sorted(article_paths())


@pytest.fixture(scope="module")
def foreign(tmp_path_factory):
    """A capture_http WARC of 3 pages, a wget WARC of 4 pages and a feed, and a copy of the wget WARC cut inside
    its last response record."""
    if shutil.which("wget") is None:
        pytest.skip("GNU wget is not installed (Debian package 'wget')")
    root = tmp_path_factory.mktemp("foreign")
    with SampleSite() as site:
        with capture_http(str(root / "captured.warc.gz")):
            for path in PATHS[:3]:
                urllib.request.urlopen(site.url(path)).read()
        urls = root / "urls.txt"
        urls.write_text(site.url("/feeds/levant.rss") + "\n" + "".join(site.url(p) + "\n" for p in PATHS[3:7]))
        subprocess.run(["wget", "-q", "--warc-file", str(root / "wget"), "-i", str(urls), "-O", "/dev/null"],
                       check=True, timeout=60)
    data = (root / "wget.warc.gz").read_bytes()
    responses = [(offset, length) for kind, offset, length in index(data) if kind == "response"]
    offset, length = responses[-1]
    (root / "input").mkdir()
    (root / "input" / "cut.warc.gz").write_bytes(data[:offset + length // 2])
    shutil.copy(root / "captured.warc.gz", root / "input")
    return root


def index(data: bytes):
    iterator = ArchiveIterator(BytesIO(data))
    found = []
    for record in iterator:
        record.content_stream().read()
        found.append((record.rec_type, iterator.get_record_offset(), iterator.get_record_length()))
    return found


def responses_of(data: bytes, split: int):
    """Every response read range by range, as `--warc` reads a large file on several workers."""
    handle = BytesIO(data)
    return [found for _, start, end in split_file("x.warc.gz", len(data), split)
            for found in read_range(handle, "x", start, end, True)]


def test_ingest_reads_foreign_warcs_and_reports_the_damaged_record(foreign, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([*NEWSBEAM, "ingest", "--warc", str(foreign / "input" / "*.warc.gz"), "--output", str(out),
                           "--run-id", "w1", "--entities", "gazetteer"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    articles = ds.dataset(out / "articles", partitioning="hive").to_table().to_pylist()
    # 3 captured pages, and the wget copy's first 3 pages: its 4th page is the record cut in half
    assert sorted(r["url"].rsplit("/", 1)[1] for r in articles) == sorted(p.rsplit("/", 1)[1] for p in PATHS[:6])
    for row in articles:  # the pointers lead back into the input files
        path = foreign / "input" / row["warc_filename"].rsplit("/", 1)[1]
        member = path.read_bytes()[row["warc_record_offset"]:row["warc_record_offset"] + row["warc_record_length"]]
        (record,) = list(ArchiveIterator(BytesIO(member)))
        assert record.rec_headers["WARC-Target-URI"] == row["url"]
    dead = ds.dataset(out / "dead_letters", partitioning="hive").to_table().to_pylist()
    assert [(d["stage"], d["reason"]) for d in dead] == [("source", "warc_damaged")]
    assert "truncated" in dead[0]["detail"] and dead[0]["url"].startswith(str(foreign / "input" / "cut.warc.gz"))
    manifest = json.loads((out / "_runs" / "w1.json").read_text())
    assert manifest["status"] == "succeeded" and manifest["counters"]["warc_in.skipped.not_html"] == 1  # the feed
    assert not (out / "warc").exists() or not list((out / "warc").rglob("*.warc.gz"))  # nothing was fetched


def test_wget_warc_is_read_whole(foreign):
    found = list(read_records(open(foreign / "wget.warc.gz", "rb"), "wget.warc.gz", 0,
                              (foreign / "wget.warc.gz").stat().st_size))
    responses = [f for f in found if isinstance(f, ArchivedResponse)]
    assert len(responses) == 5 and not [f for f in found if isinstance(f, DamagedRecord)]
    assert sum(r.url.endswith(".rss") for r in responses) == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(split=st.integers(min_value=200, max_value=30000))
def test_split_reads_find_every_record_once(foreign, split):
    data = (foreign / "wget.warc.gz").read_bytes() + (foreign / "captured.warc.gz").read_bytes()
    whole = [r.pointer for r in responses_of(data, len(data) + 1) if isinstance(r, ArchivedResponse)]
    parts = [r.pointer for r in responses_of(data, split) if isinstance(r, ArchivedResponse)]
    assert parts == whole and len(whole) == 8


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(min_value=0.0, max_value=1.0), flip=st.booleans())
def test_damaged_files_never_raise_and_never_yield_a_short_body(foreign, cut, flip):
    data = bytearray((foreign / "wget.warc.gz").read_bytes())
    intact = {r.pointer.offset: r.body for r in read_records(BytesIO(bytes(data)), "x", 0, len(data))
              if isinstance(r, ArchivedResponse)}
    at = int(cut * (len(data) - 1))
    if flip:
        data[at] ^= 0xFF
    else:
        del data[at:]
    for found in read_records(BytesIO(bytes(data)), "x", 0, len(data)):
        if isinstance(found, ArchivedResponse) and not flip:
            assert found.body == intact[found.pointer.offset]


def test_a_page_whose_record_cannot_be_read_again_is_a_dead_letter(tmp_path):
    """`--warc` input on the local runner reads a page's body again after the reshuffle: a file that went away
    meanwhile costs that page (an article-stage dead letter, so the accounting balances), not the run."""
    from datetime import datetime, timezone

    from newsbeam.schemas.records import FeedItem, FetchedPage, FetchRequest, WarcPointer
    from newsbeam.transforms.common import DEAD_LETTERS
    from newsbeam.transforms.warc_input import _ReadBodyFn

    item = FeedItem(url="https://news.example.org/a", canonical_url="https://news.example.org/a")
    gone = str(tmp_path / "gone.warc.gz")
    page = FetchedPage(request=FetchRequest(url=item.url, context=item), final_url=item.url, status=200,
                       content_type="text/html", header_charset=None, body=b"", attempts=1,
                       fetched_at=datetime(2026, 11, 30, tzinfo=timezone.utc),
                       warc=WarcPointer("<urn:uuid:1>", gone, 0, 100))
    (dead,) = list(_ReadBodyFn(None).process(page))
    assert dead.tag == DEAD_LETTERS
    letter = dead.value
    assert (letter.stage, letter.reason, letter.url) == ("fetch", "warc_damaged", item.url)
    assert letter.detail.startswith(f"{gone}#offset=0 could not be read again") and letter.warc == page.warc


_SEGMENT = st.text(alphabet="abcz09-_.", min_size=1, max_size=8).filter(lambda name: name not in (".", ".."))


@settings(max_examples=60, deadline=None)
@given(root=st.sampled_from(["/data/out", "/data/out/", "gs://bucket/out", "s3://bucket/out/"]),
       parts=st.lists(_SEGMENT, min_size=1, max_size=3))
def test_a_pointers_file_name_leads_back_to_its_file(root, parts):
    inside = root.rstrip("/") + "/" + "/".join(parts)  # a file under the output (reprocess into itself)
    assert pointer_name(root, inside) == "/".join(parts)
    assert pointer_path(root, pointer_name(root, inside)) == inside
    for outside in ("/elsewhere/" + "/".join(parts), "gs://other/" + "/".join(parts),
                    root.rstrip("/") + "-sibling/" + "/".join(parts)):  # an input file named in full
        assert pointer_name(root, outside) == outside
        assert pointer_path(root, pointer_name(root, outside)) == outside
