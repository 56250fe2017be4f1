"""The feedparser project's ~2,200 feed documents through the source reader, and through `newsbeam ingest` over
loopback: every document ends as a read feed (items or counted empty), a list, or exactly one dead letter, and
the run exits 0."""
import functools
import json
import os
import subprocess
import sys
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from newsbeam import reasons
from newsbeam.sources import read_source

ROOT = Path(__file__).resolve().parents[1]
# ../shared/corpora from the repository root (CI); from a worktree in /work/wt/<name>, two levels up
CORPUS = next((folder / "shared" / "corpora" / "feedparser-tests.tar.gz" for folder in (ROOT.parent, ROOT.parent.parent)
               if (folder / "shared" / "corpora" / "feedparser-tests.tar.gz").exists()),
              ROOT.parent / "shared" / "corpora" / "feedparser-tests.tar.gz")
NEWSBEAM = [sys.executable, "-m", "newsbeam.pipelines.cli"]
# Dead letters that stand for one entry of a feed, not for the feed itself
ENTRY_REASONS = (reasons.NO_ARTICLE_LINK,)

# Loaded by the `newsbeam` subprocess (sitecustomize on PYTHONPATH): any name or address other than loopback is
# refused before it is resolved or connected to, and written down, so the test can show none was tried.
GUARD = '''
import os, socket
_log = os.environ["NEWSBEAM_TEST_NETWORK_LOG"]
_getaddrinfo = socket.getaddrinfo
def _loopback_only(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else str(host)
    if host is not None and name not in ("localhost", "::1") and not name.startswith("127."):
        with open(_log, "a") as handle:
            handle.write(name + "\\n")
        raise socket.gaierror(socket.EAI_NONAME, "not loopback: refused by the test")
    return _getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = _loopback_only
'''


# the entries that used to fail a whole run (exit 1), and every poll of `newsbeam stream`, which runs the same graph
CRASHING_ENTRIES = [
    "<title>&#55357;&#56832;</title>", "<title>&#xD800;</title>", "<title>&#x110000;</title>",
    "<title>&#99999999999;</title>", "<pubDate>0000-01-01T00:00:00Z</pubDate>",
    "<pubDate>0001-01-01T00:00:00+01:00</pubDate>", "<pubDate>9999-12-31T23:59:59-01:00</pubDate>",
    "<pubDate>0000-00-00</pubDate>", "<gml:pos>inf -inf</gml:pos>",
]


def crashing_feeds(folder: Path):
    paths = []
    for number, inner in enumerate(CRASHING_ENTRIES):
        path = folder / f"crash-{number}.rss"
        path.write_text("<rss version='2.0' xmlns:gml='http://www.opengis.net/gml'><channel><title>c</title>"
                        f"<item><link>http://127.0.0.1:9/{number}</link>{inner}</item></channel></rss>")
        paths.append(str(path))
    return paths


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    if not CORPUS.exists():
        pytest.skip(f"the feedparser corpus is not at {CORPUS}")
    root = tmp_path_factory.mktemp("feedparser-corpus")
    with tarfile.open(CORPUS) as archive:
        archive.extractall(root, filter="data")
    tests = root / "tests"
    documents = sorted(p for p in tests.rglob("*") if p.is_file() and p.suffix != ".py")
    assert len(documents) > 2000
    return tests, documents


def test_every_corpus_document_is_read_or_dead_lettered(corpus):
    tests, documents = corpus
    for path in documents:
        source = "http://127.0.0.1:9/" + path.relative_to(tests).as_posix()
        contents = read_source(path.read_bytes(), source)  # raises nothing
        whole = [r for r in contents.rejected if r.url == source and r.reason not in ENTRY_REASONS]
        if contents.read:
            assert not whole, (path, whole)
        else:
            assert len(whole) == 1 and len(contents.rejected) == 1, (path, contents.rejected)
        assert all(item.url.startswith(("http://", "https://")) for item in contents.items)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture
def corpus_server(corpus):
    tests, _ = corpus
    handler = functools.partial(_QuietHandler, directory=str(tests))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_whole_corpus_through_ingest_over_loopback(corpus, corpus_server, tmp_path):
    tests, documents = corpus
    urls = [f"{corpus_server}/{path.relative_to(tests).as_posix()}" for path in documents]
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("# the feedparser corpus, served on loopback\n" + "\n".join(urls) + "\n")
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    network_log = tmp_path / "network.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(guard), os.environ.get("PYTHONPATH", "")]),
           "NEWSBEAM_TEST_NETWORK_LOG": str(network_log)}
    crashing = crashing_feeds(tmp_path)
    out = tmp_path / "out"
    # --max-articles 0: the sources are read and their items counted (items.skipped.over_limit), no article is
    # fetched, so the corpus's example.com links are never contacted
    done = subprocess.run([*NEWSBEAM, "ingest", "--feeds", str(feeds), *(f"--feeds={path}" for path in crashing),
                           "--output", str(out), "--run-id", "corpus",
                           "--max-articles", "0", "--entities", "off", "--host-delay", "0", "--read-timeout", "5",
                           "--deadline", "10", "--retry-backoff", "0.01", "--allow-private-addresses"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not network_log.exists(), network_log.read_text()
    counters = json.loads((out / "_runs" / "corpus.json").read_text())["counters"]
    assert counters["sources.listed_feeds"] == len(urls)
    dead = ds.dataset(out / "dead_letters", format="parquet", partitioning="hive").to_table().to_pylist()
    whole = [d for d in dead if d["reason"] not in ENTRY_REASONS]
    assert {d["url"] for d in whole} <= set(urls) | set(crashing)
    assert len({d["url"] for d in whole}) == len(whole)  # one dead letter per feed at most
    # every feed accounted for: read (with items or counted empty), or its one dead letter
    assert counters["feeds.parsed"] + len(whole) == len(urls) + len(crashing)
    assert not {d["url"] for d in whole} & set(crashing)  # the crashing entries are read
    assert counters.get("feeds.empty", 0) > 0 and counters["feeds.items"] > 0
    assert counters.get("items.to_fetch", 0) == 0 and counters["items.skipped.over_limit"] == counters["items.unique"]
