"""The archive operated as a user would, through the `newsbeam` command: `reprocess --replace` twice into the source
output, `show --raw` on missing, damaged and dead-letter records, `--warc` input written by other tools (wget)."""
import json
import subprocess
import sys
import tracemalloc
from collections import Counter
from io import BytesIO

import pyarrow.dataset as ds
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsbeam.pipelines import cli
from newsbeam.sample_site import SampleSite
from newsbeam.warc import DamagedRecord, is_page_type, read_records
from tests.faults import fault_routes

FAST = ["--host-delay", "0", "--read-timeout", "1", "--deadline", "3", "--retry-backoff", "0.01",
        "--connect-timeout", "1", "--entities", "off", "--allow-private-addresses", "--progress", "off"]
# an article reached through a redirect (its page names another canonical URL than the one listed), a plain one,
# a 404
PATHS = ["/moved/raqqa", "/articles/en-hague-court-ruling.html", "/faults/missing.html"]


def _moved(handler):
    handler.send_response(301)
    handler.send_header("Location", "/articles/en-raqqa-reconstruction.html")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def newsbeam(*args):
    return subprocess.run([sys.executable, "-m", "newsbeam.pipelines.cli", *map(str, args)], capture_output=True,
                          timeout=300)


def rows(out, dataset):
    return ds.dataset(out / dataset, format="parquet", partitioning="hive").to_table().to_pylist()


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    """One archived loopback run: a redirected article, a plain one, a 404."""
    root = tmp_path_factory.mktemp("archive_qa")
    with SampleSite(routes={**fault_routes(), "/moved/raqqa": _moved}) as site:
        urls = root / "urls.txt"
        urls.write_text("".join(site.url(path) + "\n" for path in PATHS))
        out = root / "out"
        done = newsbeam("ingest", "--urls", urls, "--output", out, "--run-id", "r1", *FAST)
        assert done.returncode == 0, done.stderr.decode()
        return {"out": out, "root": root, "urls": [site.url(path) for path in PATHS]}


def test_reprocess_replace_twice_keeps_one_row_per_url_redirected_articles_included(fetched, tmp_path):
    out = tmp_path / "out"
    subprocess.run(["cp", "-r", str(fetched["out"]), str(out)], check=True)
    before = {r["article_id"]: r for r in rows(out, "articles")}
    assert len(before) == 2
    for run in ("rp1", "rp2"):  # the second must change nothing but the run that owns the rows
        assert cli.main(["reprocess", "--from", str(out), "--output", str(out), "--replace", "--new-run-id", run,
                         "--entities", "off"]) == 0
        articles, dead = rows(out, "articles"), rows(out, "dead_letters")
        # the redirected article was a `seen_canonical` dead letter (the output's state says r1 wrote it), so its
        # old row stayed and a dead letter was added by every replace; the 404's dead letter piled up as well
        assert {r["article_id"]: r["run_id"] for r in articles} == {key: run for key in before}
        assert sorted((r["url"], r["reason"], r["run_id"]) for r in dead) == [(fetched["urls"][2], "http_404", run)]
        urls = Counter([r["url"] for r in articles] + [r["url"] for r in dead])
        assert sorted(urls) == sorted(fetched["urls"]) and set(urls.values()) == {1}
        counters = json.loads((out / "_runs" / f"{run}.json").read_text())["counters"]
        assert counters["articles.replaced_older_rows"] == 2 and counters["dead_letters.replaced_older_rows"] == 1


def show(capsys, *args):
    """(exit code, stdout bytes, stderr) of `newsbeam show ...`."""
    code = cli.main(["show", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out.encode(), captured.err


def test_show_raw_finds_a_dead_letter_by_its_url_and_prints_its_archived_answer(fetched, capsys):
    out, missing = fetched["out"], fetched["urls"][2]
    code, printed, _ = show(capsys, missing, "--raw", out)
    assert code == 0 and printed.split(b"\r\n", 1)[0].endswith(b" 404 Not Found"), printed[:80]
    code, printed, _ = show(capsys, missing, out)
    assert code == 0 and json.loads(printed)["reason"] == "http_404"
    # an article by its listed URL: the response the redirects ended on
    code, printed, _ = show(capsys, fetched["urls"][0], "--raw", out)
    assert code == 0 and b" 200 " in printed.split(b"\r\n", 1)[0] and b"Raqqa" in printed
    code, _, err = show(capsys, "0" * 32, out)
    assert code == 2 and "no article nor dead letter" in err


def test_show_raw_of_a_truncated_or_deleted_archive_is_a_clear_exit_2_never_a_partial_page(fetched, capsys,
                                                                                           tmp_path):
    out = tmp_path / "out"
    subprocess.run(["cp", "-r", str(fetched["out"]), str(out)], check=True)
    row = next(r for r in rows(out, "articles") if r["url"] == fetched["urls"][1])
    path = out / row["warc_filename"]
    with open(path, "r+b") as handle:  # the file ends in the middle of the article's record
        handle.truncate(row["warc_record_offset"] + row["warc_record_length"] // 2)
    code, printed, err = show(capsys, row["article_id"], "--raw", out)
    assert (code, printed) == (2, b"") and "is damaged" in err and "truncated" in err
    path.unlink()
    code, printed, err = show(capsys, row["article_id"], "--raw", out)
    assert (code, printed) == (2, b"") and f"the archive file {path} is gone" in err
    code, _, err = show(capsys, row["article_id"], tmp_path / "nowhere")
    assert code == 2 and "is not a newsbeam output" in err


@pytest.mark.parametrize("where", ["middle", "crc"])
def test_show_raw_of_an_overwritten_record_is_a_clear_exit_2_never_altered_bytes(fetched, capsys, tmp_path, where):
    """A byte overwritten inside the record's gzip member (a bad sector, a broken copy): warcio reads on past a
    CRC failure (it only writes it to stderr), so the member is checked first. In the CRC itself the page would
    print intact, but nothing says so."""
    out = tmp_path / "out"
    subprocess.run(["cp", "-r", str(fetched["out"]), str(out)], check=True)
    row = next(r for r in rows(out, "articles") if r["url"] == fetched["urls"][1])
    path = out / row["warc_filename"]
    data = bytearray(path.read_bytes())
    at = row["warc_record_offset"] + (row["warc_record_length"] // 2 if where == "middle"
                                      else row["warc_record_length"] - 8)
    data[at] ^= 0x55
    path.write_bytes(bytes(data))
    code, printed, err = show(capsys, row["article_id"], "--raw", out)
    assert (code, printed) == (2, b"") and "is damaged" in err and "gzip member" in err


def test_an_uncompressed_warc_ending_in_an_empty_record_is_not_damaged(tmp_path):
    """wget's `.warc` (--no-warc-compression) ends with its log as a resource record; an empty one left warcio's
    closing CRLF CRLF unread, which was reported as `4 bytes after the last whole record`, a warc_damaged dead
    letter for a sound file."""
    buffer = BytesIO()
    writer = WARCWriter(buffer, gzip=False)
    body = b"<html><body><p>hello</p></body></html>"
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record("http://a.example/x", "response", payload=BytesIO(body),
                                                  length=len(body), http_headers=http))
    writer.write_record(writer.create_warc_record("http://a.example/log", "resource", payload=BytesIO(b""),
                                                  length=0, warc_content_type="text/plain"))
    data = buffer.getvalue()
    found = list(read_records(BytesIO(data), "t.warc", 0, len(data)))
    assert [type(item).__name__ for item in found] == ["ArchivedResponse", "OtherRecord"]
    # real damage after the last record still is
    found = list(read_records(BytesIO(data + b"junk"), "t.warc", 0, len(data) + 4))
    assert isinstance(found[-1], DamagedRecord) and found[-1].offset == len(data) - 4


def test_warc_input_refuses_a_folder_named_like_a_warc_file_with_exit_2(tmp_path, capsys):
    (tmp_path / "crawl.warc.gz").mkdir()  # was read as a file: IsADirectoryError, a failed run (exit 1)
    code = cli.main(["ingest", "--warc", str(tmp_path / "crawl.warc.gz"), "--output", str(tmp_path / "out")])
    assert code == 2 and "matches no .warc" in capsys.readouterr().err
    code = cli.main(["ingest", "--warc", str(tmp_path), "--output", str(tmp_path / "out")])
    assert code == 2 and "a folder: pass a glob such as" in capsys.readouterr().err


def test_reprocess_skips_a_killed_runs_unfinished_archive_and_says_so(fetched, tmp_path, capsys):
    """What `ingest` SIGKILLed while writing its archive leaves (a hidden temporary, cut short) is never read,
    and the manifest names it; a selection that matches nothing says what the archive holds."""
    out = tmp_path / "out"
    subprocess.run(["cp", "-r", str(fetched["out"]), str(out)], check=True)
    (committed,) = (out / "warc").glob("ingest_date=*/r1-*.warc.gz")
    unfinished = committed.parent / f".r2-00000.warc.gz.{'0' * 32}.inprogress"
    unfinished.write_bytes(committed.read_bytes()[:1000])
    again = tmp_path / "again"
    assert cli.main(["reprocess", "--from", str(out), "--output", str(again), "--new-run-id", "rp",
                     "--entities", "off"]) == 0
    manifest = json.loads((again / "_runs" / "rp.json").read_text())
    assert manifest["sources"]["files"] == [str(committed)] and manifest["accounting"]["balanced"]
    assert manifest["sources"]["skipped_unfinished"] == [str(unfinished)]
    assert not any(r["url"].endswith("#offset=0") for r in rows(again, "dead_letters"))  # not read as damaged
    capsys.readouterr()
    assert cli.main(["reprocess", "--from", str(out), "--output", str(again), "--run-id", "r2"]) == 2
    err = capsys.readouterr().err
    assert "match the selection (--run-id r2): the archive holds runs r1, ingest dates" in err
    assert cli.main(["reprocess", "--from", str(tmp_path / "nowhere"), "--output", str(again)]) == 2
    assert "not a newsbeam output" in capsys.readouterr().err


def test_warc_input_extracts_a_pdf_response_as_a_fetch_would(tmp_path):
    """A fetched PDF is an article (newsbeam.fetching.html_only takes it); the same response read from a WARC was
    skipped as `not_html`."""
    from tests.pdf_samples import text_pdf

    path = tmp_path / "crawl.warc.gz"
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for url, kind, body in (("http://a.example/report.pdf", "application/pdf", text_pdf(2)),
                                ("http://a.example/logo.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(64))):
            http = StatusAndHeaders("200 OK", [("Content-Type", kind)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=BytesIO(body), length=len(body),
                                                          http_headers=http))
    out = tmp_path / "out"
    assert cli.main(["ingest", "--warc", str(path), "--output", str(out), "--run-id", "w", "--entities", "off",
                     "--progress", "off"]) == 0
    (article,) = rows(out, "articles")
    assert article["url"] == "http://a.example/report.pdf" and article["page_count"] == 2 and article["word_count"]
    assert article["warc_filename"] == str(path) and article["warc_record_offset"] == 0
    counters = json.loads((out / "_runs" / "w.json").read_text())["counters"]
    assert counters["warc_in.skipped.not_html"] == 1 and counters["warc_in.records.response"] == 2


def test_reprocess_sees_through_spellings_of_the_same_output(fetched, tmp_path, monkeypatch, capsys):
    """`--from out --output ./out/` was taken for two outputs: the reprocess wrote every article a second time
    into the source output without --replace. Relative paths: the rows of another output pointed to the source
    files by a relative name, which `show --raw` then looked for under that output."""
    subprocess.run(["cp", "-r", str(fetched["out"]), str(tmp_path / "out")], check=True)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["reprocess", "--from", "out", "--output", "./out/", "--entities", "off"]) == 2
    assert "pass --replace" in capsys.readouterr().err and len(list(tmp_path.glob("out/_runs/*.json"))) == 1
    assert cli.main(["reprocess", "--from", "out", "--output", "again", "--entities", "off"]) == 0
    row = next(r for r in rows(tmp_path / "again", "articles") if r["url"] == fetched["urls"][1])
    assert row["warc_filename"].startswith(str(tmp_path / "out" / "warc") + "/")
    capsys.readouterr()
    assert cli.main(["show", row["article_id"], "--raw", "again"]) == 0
    assert capsys.readouterr().out.startswith("HTTP/1.")


def test_reading_a_warc_does_not_hold_a_large_non_page_response_in_memory(tmp_path):
    """Every response's body was read whole before its type was looked at: a 1 GB video in a wget crawl took
    2 GB of memory (64 MiB here: 67 MB). Now only bodies that may be pages are read."""
    size = 48 * 1024 * 1024

    class Zeros:
        def __init__(self):
            self.left = size

        def read(self, n=-1):
            n = self.left if n < 0 else min(n, self.left)
            self.left -= n
            return bytes(n)

    path = tmp_path / "video.warc"
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=False)
        http = StatusAndHeaders("200 OK", [("Content-Type", "video/mp4")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record("http://a.example/v.mp4", "response", payload=Zeros(),
                                                      length=size, http_headers=http))
    tracemalloc.start()
    try:
        with open(path, "rb") as handle:
            (found,) = read_records(handle, "video.warc", 0, path.stat().st_size)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found.status == 200 and found.body == b"" and not is_page_type(found)
    assert peak < size / 8, peak


def test_reprocess_refuses_the_id_of_a_fetching_run(fetched, tmp_path, capsys):
    """`--new-run-id r1` into r1's output replaced r1's files and manifest: its rows that the archive does not
    hold were lost."""
    out = tmp_path / "out"
    subprocess.run(["cp", "-r", str(fetched["out"]), str(out)], check=True)
    before = json.loads((out / "_runs" / "r1.json").read_text())
    for target in (out, tmp_path / "copy"):
        if target != out:
            subprocess.run(["cp", "-r", str(out), str(target)], check=True)
        assert cli.main(["reprocess", "--from", str(out), "--output", str(target), "--replace", "--new-run-id",
                         "r1"]) == 2
        assert "is a fetching run of" in capsys.readouterr().err
    assert json.loads((out / "_runs" / "r1.json").read_text()) == before
    # a reprocess's own id may be used again: the re-run replaces it
    for _ in range(2):
        assert cli.main(["reprocess", "--from", str(out), "--output", str(tmp_path / "again"), "--new-run-id", "rp",
                         "--entities", "off"]) == 0
