"""End to end: the real `newsbeam` command against the loopback site, output read back with pyarrow, DuckDB,
pandas and Polars."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds
import pytest

from newsbeam.pipelines import cli
from newsbeam.sample_site import SampleSite, article_paths
from newsbeam.schemas.datasets import ARTICLES_SCHEMA_VERSION
from tests.browser import chromium_missing_reason, visit
from tests.faults import fault_routes

FAST_FLAGS = ["--host-delay", "0", "--read-timeout", "1", "--deadline", "3", "--retry-backoff", "0.01",
              "--connect-timeout", "1", "--allow-private-addresses"]
# Tests about something else skip spaCy's 6 s of model loading per process; the gazetteer still links.
GAZETTEER_ONLY = ["--entities", "gazetteer"]
NEWSBEAM = [sys.executable, "-m", "newsbeam.pipelines.cli"]

# What the sample site's feeds and the fault URLs come to (see newsbeam/sample_site/site/MANIFEST.md).
ARTICLE_PAGES = 30 + 1  # 32 pages less the 2 subscriber-only teasers, plus the legacy Latin-1 page
FAULT_URLS = {
    "/faults/missing.html": "http_404",
    "/faults/500.html": "http_5xx",
    "/faults/always-503.html": "http_5xx",
    "/faults/503-then-200.html": None,
    "/faults/hang.html": "timeout",
    "/faults/redirect-1.html": None,
    "/faults/huge.html": "too_large",
    "/faults/image.png": "not_html",
    "/faults/wrong-charset.html": None,
}


def newsbeam(*args, timeout=300):
    return subprocess.run([*NEWSBEAM, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def site():
    """One site for the module: the runs below share it, and their outputs name its URLs."""
    with SampleSite(routes=fault_routes()) as running:
        yield running


@pytest.fixture(scope="module")
def inputs(site, tmp_path_factory):
    urls = tmp_path_factory.mktemp("inputs") / "urls.txt"
    urls.write_text("# direct URLs\n" + "".join(site.url(p) + "\n" for p in FAULT_URLS)
                    + site.url("/legacy/de-latin1-page.html") + "\n" + "not-a-url\n")
    return [
        "--feeds", site.url("/feeds/subscriptions.opml"),
        "--feeds", site.url("/feeds/empty-garbage.xml"),
        "--urls", str(urls),
        *FAST_FLAGS,
    ]


@pytest.fixture(scope="module")
def first_run(inputs, tmp_path_factory):
    """One full run (spaCy NER on) of every input, made once for the module: the tests that only read its output
    share it instead of paying half a minute of run each."""
    out = tmp_path_factory.mktemp("first") / "out"
    done = newsbeam("ingest", *inputs, "--output", str(out), "--run-id", "r1")
    return done, out


def articles_of(out):
    return ds.dataset(out / "articles", format="parquet", partitioning="hive").to_table()


def dead_letters_of(out):
    return ds.dataset(out / "dead_letters", format="parquet", partitioning="hive").to_table()


def test_ingest_end_to_end(site, first_run):
    done, out = first_run
    assert done.returncode == 0, done.stderr
    # what cron and Airflow log: stdout is the one summary line; stderr (no terminal) holds progress log lines only
    assert re.fullmatch(r"run r1: succeeded in \d+\.\d s -> \S+\n", done.stdout), done.stdout
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d progress: ", line) for line in done.stderr.splitlines())
    assert "| done |" in done.stderr.splitlines()[-1]

    articles = articles_of(out)
    successes = [p for p, reason in FAULT_URLS.items() if reason is None]
    assert articles.num_rows == ARTICLE_PAGES + len(successes)
    assert len(articles.column("article_id").unique()) == articles.num_rows
    by_language = pd.Series(articles.column("language").to_pylist()).value_counts().to_dict()
    # sample pages (en 9, fr 7, de 8 + Latin-1 page, ar 6) plus the fault URLs that succeed (2 en, 1 fr)
    assert by_language == {"en": 9 + 2, "fr": 7 + 1, "de": 9, "ar": 6}

    dead = dead_letters_of(out).to_pylist()
    reasons = sorted((d["stage"], d["reason"], (d["url"] or "").replace(site.base_url, "")) for d in dead)
    expected = sorted(
        [("fetch", reason, path) for path, reason in FAULT_URLS.items() if reason]
        + [("fetch", "robots_disallowed", "/private/en-internal-memo.html"),
           ("fetch", "http_404", "/articles/en-missing-page.html"),
           ("extract", "empty_text", "/articles/en-subscribers-only.html"),
           ("extract", "empty_text", "/articles/fr-reserve-abonnes.html"),
           ("feed", "feed_not_a_feed", "/feeds/empty-garbage.xml"),
           ("source", "invalid_url", "")])
    assert reasons == expected
    assert not site.requests("/private/en-internal-memo.html")  # robots.txt obeyed: never requested
    assert all(d["run_id"] == "r1" and d["failed_at"] is not None and d["detail"] for d in dead)

    # entities: linked to one id whatever the language or spelling, with offsets into `text`
    rows = articles.to_pylist()
    for row in rows:
        for mention in row["entities"]:
            assert row["text"][mention["start"]:mention["end"]] == mention["text"]
        assert row["entity_ids"] == sorted({m["entity_id"] for m in row["entities"] if m["entity_id"]})
    languages_with = lambda entity: {r["language"] for r in rows if entity in r["entity_ids"]}  # noqa: E731
    assert languages_with("wikidata:Q2429253") == {"en", "fr", "de", "ar"}  # Islamic State / EI / IS / داعش
    assert languages_with("newsbeam:sdf") == {"en", "fr", "de", "ar"}
    assert languages_with("geonames:170794") == {"en", "fr", "de", "ar"}  # Deir ez-Zor, Deir al-Zour, دير الزور
    assert all(r["topics"] for r in rows if r["url"].endswith(("-trial-brussels.html", "-hol-camp-repatriation.html")))
    found = duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}/articles/**/*.parquet', hive_partitioning=true) "
                       "WHERE list_contains(entity_ids, 'geonames:170794') AND list_contains(entity_ids, "
                       "'newsbeam:sdf')").fetchall()[0][0]
    assert found == sum(1 for r in rows if {"geonames:170794", "newsbeam:sdf"} <= set(r["entity_ids"])) > 0

    manifest = json.loads((out / "_runs" / "r1.json").read_text())
    assert manifest["status"] == "succeeded" and manifest["accounting"]["balanced"]
    books = manifest["accounting"]
    assert books["items_unique"] == books["articles_written"] + books["article_dead_letters"]
    assert books["articles_written"] == articles.num_rows
    assert manifest["versions"]["apache-beam"] and manifest["counters"]["items.duplicate"] >= 1
    assert set(manifest["stage_seconds"]) == {"fetch_feeds", "fetch", "extract", "language", "entities",
                                              "near_duplicates", "write", "commit_state", "archive"}
    assert manifest["stage_seconds"]["fetch"] > 0


def test_every_sample_page_is_traceable(site, first_run):
    done, out = first_run
    assert done.returncode == 0, done.stderr
    rows = articles_of(out).to_pylist()
    urls = {row["url"].replace(site.base_url, "") for row in rows}
    teasers = {"/articles/en-subscribers-only.html", "/articles/fr-reserve-abonnes.html"}
    assert set(article_paths()) - teasers <= urls
    for row in rows:
        assert row["fetched_at"] and row["final_url"].startswith(site.base_url) and row["canonical_url"]
        assert row["extractor"].startswith("trafilatura ") and row["schema_version"] == ARTICLES_SCHEMA_VERSION
        assert row["date_source"] in ("html:json-ld", "html:meta", "html:text", "url", "feed", "none")
        assert (row["published_at"] is None) == (row["date_source"] == "none")
        assert row["word_count"] > 100 and len(row["content_hash"]) == 64
    redirected = next(r for r in rows if r["url"].endswith("/faults/redirect-1.html"))
    assert redirected["final_url"] == site.url("/faults/ok.html")
    undated = next(r for r in rows if r["url"].endswith("en-defector-testimony-raqqa.html"))
    assert undated["date_source"] == "feed"
    latin1 = next(r for r in rows if r["url"].endswith("de-latin1-page.html"))
    assert "Rückkehrerinnen" in latin1["text"] and "Ã" not in latin1["text"]


def test_output_reads_the_same_in_duckdb_pandas_and_polars(first_run):
    done, out = first_run
    assert done.returncode == 0, done.stderr
    expected = articles_of(out).num_rows
    glob = f"{out}/articles/**/*.parquet"
    by_language = duckdb.sql(f"SELECT language, count(*) FROM read_parquet('{glob}', hive_partitioning=true) "
                             "GROUP BY language ORDER BY language").fetchall()
    assert sum(n for _, n in by_language) == expected and {lang for lang, _ in by_language} >= {"en", "fr", "de", "ar"}
    assert len(pd.read_parquet(out / "articles")) == expected
    assert pl.scan_parquet(glob, hive_partitioning=True).select(pl.len()).collect().item() == expected
    dead = duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}/dead_letters/**/*.parquet', "
                      "hive_partitioning=true)").fetchall()[0][0]
    assert dead == dead_letters_of(out).num_rows


def test_rerun_of_the_same_run_id_replaces(inputs, first_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(first_run[1], out)  # r1 as the first attempt left it
    first = sorted(articles_of(out).column("article_id").to_pylist())
    files = sorted(p.relative_to(out) for p in out.rglob("*.parquet") if "_state" not in p.parts)
    assert newsbeam("ingest", *inputs, *GAZETTEER_ONLY, "--output", str(out), "--run-id", "r1").returncode == 0
    assert sorted(articles_of(out).column("article_id").to_pylist()) == first
    assert sorted(p.relative_to(out) for p in out.rglob("*.parquet") if "_state" not in p.parts) == files
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary files left

    # a smaller re-run of r1 removes what r1 no longer produces
    assert newsbeam("ingest", "--urls", inputs[inputs.index("--urls") + 1], *FAST_FLAGS, *GAZETTEER_ONLY,
                    "--output", str(out), "--run-id", "r1").returncode == 0
    assert articles_of(out).num_rows == 4
    assert {p.parent.name for p in (out / "articles").rglob("*.parquet")} == {"language=en", "language=fr",
                                                                               "language=de"}


def test_same_inputs_give_the_same_rows_in_one_process_or_in_two(inputs, first_run, tmp_path):
    columns = ["article_id", "language", "language_score", "text", "title", "published_at", "content_hash",
               "entities", "entity_ids", "topics", "duplicate_group"]
    outputs = [first_run[1]]
    # two workers extract while one fetches (the default), or after the whole fetch
    for label, flags in (("multi", []), ("after", ["--extract-while-fetching", "off"])):
        outputs.append(tmp_path / label)
        done = newsbeam("ingest", *inputs, "--output", str(outputs[-1]), "--run-id", "b", "--direct_num_workers",
                        "2", "--direct_running_mode", "multi_processing", *flags)
        assert done.returncode == 0, done.stderr
    rows = [articles_of(out).select(columns).sort_by("article_id").to_pylist() for out in outputs]
    assert rows[0] == rows[1] == rows[2] and rows[0]


def test_local_feed_and_url_list_files(site, tmp_path):
    feed = tmp_path / "feed.rss"
    feed.write_text((Path(__file__).parents[1] / "newsbeam/sample_site/site/feeds/world.rss").read_text()
                    .replace("{{BASE_URL}}", site.base_url))
    listing = tmp_path / "feeds.txt"
    listing.write_text(f"# my feeds\n{site.url('/feeds/europe.atom')}\n")
    out = tmp_path / "out"
    done = newsbeam("ingest", "--feeds", str(feed), "--feeds", str(listing), *FAST_FLAGS, *GAZETTEER_ONLY,
                    "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert set(articles_of(out).column("language").to_pylist()) == {"en", "ar", "fr", "de"}


@pytest.mark.parametrize("args, message", [
    ([], "no sources given"),
    (["--feeds", "/nonexistent/feeds.opml"], "cannot read feed source"),
    (["--urls", "/nonexistent/urls.txt"], "cannot read URL list"),
    (["--feeds", "http://"], "not a valid URL"),
    (["--feeds", "x.rss", "--run-id", "../escape"], "--run-id"),
    (["--feeds", "x.rss", "--host-concurrency", "0"], "--host-concurrency must be at least 1"),
    (["--feeds", "x.rss", "--host-delay", "-1"], "--host-delay must be at least 0"),
    (["--feeds", "x.rss", "--buckets", "0"], "--buckets must be at least 1"),
    (["--feeds", "x.rss", "--since", "yesterday"], "--since 'yesterday'"),
    (["--feeds", "x.rss", "--since", "2026-11-10", "--until", "2026-11-01"], "--since must be before --until"),
    (["--feeds", "x.rss", "--max-articles", "-1"], "--max-articles must be at least 0"),
    (["--feeds", "x.rss", "--topics", "/nonexistent/topics.yaml"], "cannot read topics file"),
    (["--feeds", "x.rss", "--topics", "bad-topics.yaml"], "bad-topics.yaml"),
    (["--feeds", "x.rss", "--entities", "everything"], "invalid choice: 'everything'"),
])
def test_bad_arguments_exit_2_with_a_message(tmp_path, monkeypatch, capsys, args, message):
    (tmp_path / "x.rss").write_text("<rss/>")
    (tmp_path / "bad-topics.yaml").write_text("topics: [this is not a mapping\n")
    # restored after the test: later multi-process runs start their workers in the working directory
    monkeypatch.chdir(tmp_path)
    # the CLI's own main() in this process: a subprocess would spend seconds importing Beam for each case
    # (test_non_numeric_option_is_rejected checks the exit status of the real process)
    try:
        code = cli.main(["ingest", *args, "--output", str(tmp_path / "out")])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_non_numeric_option_is_rejected():
    done = newsbeam("ingest", "--host-delay", "soon")
    assert done.returncode == 2 and "invalid float value" in done.stderr


def test_missing_output_and_unwritable_output(tmp_path):
    (tmp_path / "x.rss").write_text("<rss/>")
    done = newsbeam("ingest", "--feeds", str(tmp_path / "x.rss"))
    assert done.returncode == 2 and "the following arguments are required: --output" in done.stderr
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = newsbeam("ingest", "--feeds", str(tmp_path / "x.rss"), "--output", str(blocker / "out"))
    assert done.returncode == 2 and "cannot write to output" in done.stderr


def test_demo_runs_offline_and_inspect_summarizes(tmp_path):
    out = tmp_path / "demo"
    done = newsbeam("demo", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "run demo: succeeded" in done.stdout and "read_parquet" in done.stdout and "read_pandas" in done.stdout
    demo_rows = articles_of(out).to_pylist()
    assert {r["language"] for r in demo_rows} == {"en", "fr", "de", "ar"}
    for language in ("en", "fr", "de", "ar"):  # linked entities and topics in every language of the site
        assert any(r["entity_ids"] and r["topics"] for r in demo_rows if r["language"] == language)
    summary = newsbeam("inspect", str(out))
    assert summary.returncode == 0
    for expected in ("articles:", "language", "dead letters:", "robots_disallowed", "empty_text", "last runs:", "demo",
                     "most linked entities", "geonames:170794", "ar,de,en,fr", "topics: "):
        assert expected in summary.stdout
    assert "most linked entities" in done.stdout  # the demo's own summary shows them too
    assert newsbeam("inspect", str(tmp_path / "nothing")).returncode == 2
    report = out / "report.html"  # the demo writes the HTML report too: a real output, opened in Chromium
    assert f"report: {report}" in done.stdout
    if chromium_missing_reason() is None:
        page = visit(str(report))
        assert not (page.console_errors or page.page_errors or page.requests or page.pwned)
        assert len(page.charts) == 10 and all(c["rendered"] == "yes" and c["marks"] for c in page.charts.values())
        assert "Syria" in page.texts and "robots_disallowed" in page.texts


def test_console_script_and_module_entry_point(site, tmp_path):
    script = Path(sys.executable).parent / "newsbeam"
    assert subprocess.run([str(script), "--help"], capture_output=True).returncode == 0
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "newsbeam.pipelines.ingest", "--feeds", site.url("/feeds/levant.rss"),
                           *FAST_FLAGS, *GAZETTEER_ONLY, "--output", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert set(articles_of(out).column("language").to_pylist()) == {"ar"}
