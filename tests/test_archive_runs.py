"""The archive in every kind of run: the polling `stream` driver (one archive per poll), the roles of sources
(a sitemap given with --feeds is a `sitemap`), `reprocess` as a run like ingest (output lock, the same verdict),
and --sites discovery's own archive file. The unbounded graph's archive: tests/test_stream_graph.py."""
import json
import subprocess
import sys
from io import BytesIO

import pyarrow.dataset as ds
import pytest
from warcio.archiveiterator import ArchiveIterator

from newsbeam.pipelines import cli, ingest, reprocess
from newsbeam.pipelines.stream import run_stream
from newsbeam.runlock import RunLock
from newsbeam.sample_site import SampleSite
from tests.kinds_routes import EN, kinds_routes

FAST = ["--host-delay", "0", "--read-timeout", "1", "--deadline", "3", "--retry-backoff", "0.01",
        "--connect-timeout", "1", "--entities", "gazetteer", "--allow-private-addresses"]


def rows(out, dataset):
    return ds.dataset(out / dataset, format="parquet", partitioning="hive").to_table().to_pylist()


def metadata_of(path):
    """(target URL, metadata JSON) of each metadata record of a newsbeam WARC file."""
    found = []
    for record in ArchiveIterator(BytesIO(path.read_bytes())):
        if record.rec_type == "metadata":
            found.append((record.rec_headers["WARC-Target-URI"], json.loads(record.content_stream().read())))
    return found


@pytest.fixture(scope="module")
def polled(tmp_path_factory):
    """Two polls of the `stream` driver over a sitemap and an RSS feed, both given with --feeds."""
    out = tmp_path_factory.mktemp("polled") / "out"
    outcomes = []
    with SampleSite(routes=kinds_routes()) as site:
        code = run_stream(["--feeds", site.url("/kinds/sitemap.xml"), "--feeds", site.url("/feeds/levant.rss"),
                           "--output", str(out), *FAST, "--poll-interval", "0.1", "--max-cycles", "2"],
                          on_cycle=outcomes.append)
        assert code == 0 and [o.status for o in outcomes] == ["succeeded", "succeeded"]
        return {"out": out, "outcomes": outcomes, "site": site.base_url}


def test_each_poll_of_the_stream_driver_archives_its_responses(polled):
    out, outcomes = polled["out"], polled["outcomes"]
    files = {path.name.rsplit("-", 1)[0]: path for path in (out / "warc").glob("ingest_date=*/*.warc.gz")}
    assert set(files) == {o.run_id for o in outcomes}  # one archive per poll, each named by its run
    for outcome in outcomes:
        assert outcome.counters["warc.entries"] == outcome.counters["warc.entries_written"] > 0
    first = dict(metadata_of(files[outcomes[0].run_id]))
    articles = rows(out, "articles")
    assert articles and all(r["warc_filename"] and r["warc_record_offset"] is not None for r in articles)
    assert {polled["site"] + path for path in EN[:2]} <= {r["url"] for r in articles}
    assert all(first[r["url"]]["role"] == "article" for r in articles if r["run_id"] == outcomes[0].run_id)


def test_a_sitemap_given_as_a_feed_is_archived_with_role_sitemap(polled):
    out, outcomes = polled["out"], polled["outcomes"]
    (path,) = (out / "warc").glob(f"ingest_date=*/{outcomes[0].run_id}-*.warc.gz")
    roles = dict((url, meta["role"]) for url, meta in metadata_of(path))
    assert roles[polled["site"] + "/kinds/sitemap.xml"] == "sitemap"
    assert roles[polled["site"] + "/feeds/levant.rss"] == "feed"


def test_reprocess_takes_the_output_lock(polled, tmp_path, capsys):
    holder = RunLock(str(tmp_path / "again"), "nightly")
    holder.acquire()
    try:
        code = cli.main(["reprocess", "--from", str(polled["out"]), "--output", str(tmp_path / "again"),
                         "--entities", "off"])
    finally:
        holder.release()
    assert code == 2 and "another run is writing to this output" in capsys.readouterr().err
    assert not (tmp_path / "again" / "articles").exists()


def test_reprocess_decides_like_ingest(polled, tmp_path, monkeypatch, capsys):
    again = tmp_path / "again"
    args = ["reprocess", "--from", str(polled["out"]), "--output", str(again), "--entities", "off"]
    assert cli.main([*args, "--new-run-id", "rp1"]) == 0
    assert json.loads((again / "_runs" / "rp1.json").read_text())["counters"]["run.committed"] == 1
    assert not (again / "_lock").exists() and not list(again.glob("_lock*"))  # released
    # a runner that reports no counters has not shown that anything balances: exit 3, as for ingest
    monkeypatch.setattr(reprocess, "counters_of", lambda result: {})
    assert cli.main([*args, "--new-run-id", "rp2"]) == 3
    manifest = json.loads((again / "_runs" / "rp2.json").read_text())
    assert manifest["status"] == "accounting_mismatch" and "no newsbeam counters" in manifest["error"]
    assert "no newsbeam counters" in capsys.readouterr().err


def test_discovery_responses_go_to_their_own_archive_file(tmp_path):
    """--sites discovery runs in the driver: its responses are written there, to `<run>-discovery.warc.gz`, not
    pickled into the job graph; counted and accounted like the rest; a re-run with --archive off removes it."""
    out = tmp_path / "out"
    with SampleSite(routes=kinds_routes()) as site:
        sites = tmp_path / "sites.txt"
        sites.write_text(f"{site.base_url}/\n")
        outcome = ingest.run(["--sites", str(sites), "--output", str(out), *FAST, "--run-id", "d1",
                              "--max-articles", "2"])
        assert outcome.status == "succeeded", outcome.error
        (own,) = (out / "warc").glob("ingest_date=*/d1-discovery.warc.gz")
        found = metadata_of(own)
        assert {meta["role"] for _, meta in found} == {"discovery"}
        assert {site.base_url + "/", site.base_url + "/robots.txt"} <= {url for url, _ in found}
        for other in (out / "warc").glob("ingest_date=*/d1-0*.warc.gz"):
            assert "discovery" not in {meta["role"] for _, meta in metadata_of(other)}
        counters = outcome.counters
        assert counters["warc.entries"] == counters["warc.entries_written"] > len(found)
        assert counters["warc.files"] == 1 + len(list((out / "warc").glob("ingest_date=*/d1-0*.warc.gz")))
        files = [str(p) for p in (out / "warc").glob("ingest_date=*/*.warc.gz")]
        for command in ("check", "index"):
            done = subprocess.run([sys.executable, "-m", "warcio.cli", command, *files], capture_output=True,
                                  timeout=120)
            assert done.returncode == 0, done.stderr
        again = ingest.run(["--sites", str(sites), "--output", str(out), *FAST, "--run-id", "d1",
                            "--max-articles", "2", "--archive", "off", "--rediscover-days", "0"])
    assert again.status == "succeeded", again.error
    assert not list((out / "warc").glob("ingest_date=*/d1-*.warc.gz"))
