"""Queries out of the box: the demo's printed hints run as printed, pandas' partition columns compare, and
`newsbeam inspect` on a demo output and on folders that are not newsbeam output."""
import json
import re
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from benchmarks.report_corpus import Corpus, generate_articles
from newsbeam.pipelines import cli
from newsbeam.schemas.datasets import ARTICLES_SCHEMA, ENTITY

from newsbeam.analysis import read_pandas
from newsbeam.report import NotAnOutput, failing_hosts, summarize

NEWSBEAM = [sys.executable, "-m", "newsbeam.pipelines.cli"]


def newsbeam(*args, timeout=300):
    return subprocess.run([*NEWSBEAM, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One offline demo run (about 15 s), shared by the tests below."""
    out = tmp_path_factory.mktemp("demo") / "out"
    done = newsbeam("demo", "--output", str(out), "--entities", "gazetteer")
    assert done.returncode == 0, done.stderr
    return out, done.stdout


def test_the_demo_hints_run_as_printed(demo):
    out, stdout = demo
    hints = [line.strip() for line in stdout.splitlines() if line.strip().startswith(sys.executable)]
    assert len(hints) == 4, stdout
    results = [subprocess.run(["/bin/sh", "-c", hint], capture_output=True, text=True, timeout=120) for hint in hints]
    for hint, result in zip(hints, results):
        assert result.returncode == 0, (hint, result.stderr)
    duckdb_, pandas_, polars_, dead = (r.stdout for r in results)
    assert "language" in duckdb_ and "ar" in duckdb_
    assert "date_source" in pandas_ and len(pandas_.splitlines()) == 11  # header + 10 rows
    assert "127.0.0.1" in polars_
    assert "robots_disallowed" in dead


def test_read_pandas_partition_columns_compare_as_strings(tmp_path):
    for day, language in (("2026-10-30", "en"), ("2026-11-02", "fr"), ("2026-11-03", "und")):
        folder = tmp_path / "articles" / f"ingest_date={day}" / f"language={language}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"title": [f"{day} {language}"]}), folder / "part-r-0.parquet")
    df = read_pandas(str(tmp_path))
    assert sorted(df[df.ingest_date >= "2026-11-01"].title) == ["2026-11-02 fr", "2026-11-03 und"]
    assert list(df.sort_values("language").language) == ["en", "fr", "und"]
    assert read_pandas(str(tmp_path), columns=["title", "language"]).columns.tolist() == ["title", "language"]


def test_read_pandas_and_inspect_keep_newer_columns_when_an_older_file_comes_first(tmp_path):
    # an output written over several releases: a schema version 1 file (no entity_ids, topics) in an early day
    # used to set the dataset's schema, and every row lost its entity_ids and topics
    v1 = pa.schema([f for f in ARTICLES_SCHEMA if f.name not in ("duplicate_group", "entities", "entity_ids",
                                                                   "topics")])
    old = tmp_path / "articles" / "ingest_date=2025-01-01" / "language=en"
    new = tmp_path / "articles" / "ingest_date=2026-11-02" / "language=ar"
    old.mkdir(parents=True)
    new.mkdir(parents=True)
    row = generate_articles(Corpus(articles=1, seed=7))[0]
    old_row = {k: v for k, v in row.items() if k in v1.names} | {"title": "old", "schema_version": 1}
    pq.write_table(pa.Table.from_pylist([old_row], schema=v1), old / "part-r-0.parquet")
    new_row = row | {"title": "new", "entity_ids": ["geonames:170794"], "topics": ["returnees"]}
    pq.write_table(pa.Table.from_pylist([new_row], schema=ARTICLES_SCHEMA), new / "part-r-0.parquet")
    df = read_pandas(str(tmp_path)).sort_values("ingest_date")
    assert df.title.tolist() == ["old", "new"] and df.language.tolist() == ["en", "ar"]
    assert df.entity_ids.iloc[0] is None and list(df.entity_ids.iloc[1]) == ["geonames:170794"]
    assert list(df.topics.iloc[1]) == ["returnees"]
    text = summarize(str(tmp_path))  # `newsbeam inspect` read the files the same way
    assert "most linked entities" in text and "returnees (ar)" in text


def test_inspect_shows_dates_duplicates_failing_hosts_and_unfinished_runs(demo, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(demo[0], out)
    runs = out / "_runs"
    (runs / "killed.json").write_text(json.dumps({"run_id": "killed", "status": "running",
                                                  "started_at": "2026-11-02T06:00:00+00:00"}))
    (runs / "broke.json").write_text(json.dumps({"run_id": "broke", "status": "failed", "error": "RuntimeError: boom",
                                                 "started_at": "2026-11-03T06:00:00+00:00", "finished_at": "x"}))
    assert cli.main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^published: 20\d\d-\d\d-\d\d \d\d:\d\d to 20\d\d-\d\d-\d\d \d\d:\d\d UTC", text, re.M), text
    assert "near-duplicate groups: none" in text  # the demo's stories are all different
    hosts = text[text.index("top failing hosts:"):text.index("last runs:")]
    assert "127.0.0.1" in hosts and "empty_text" in hosts and "/articles/" in hosts
    unfinished = text[text.index("runs that did not succeed: 2"):]
    assert "killed  running or interrupted" in unfinished and "broke" in unfinished and "boom" in unfinished


def test_inspect_counts_near_duplicate_groups(tmp_path):
    folder = tmp_path / "articles" / "ingest_date=2026-11-02" / "language=en"
    folder.mkdir(parents=True)
    groups = ["a", "a", "a", "b", "b", "c"]
    table = pa.table({"article_id": list("abcdef"), "title": [f"story {g}" for g in groups], "duplicate_group": groups,
                      "published_at": pa.array([None] * 6, pa.timestamp("us", tz="UTC")),
                      "source_domain": ["example.org"] * 6, "schema_version": [2] * 6,
                      "entities": pa.array([[]] * 6, pa.list_(ENTITY)), "topics": [[]] * 6,
                      "entity_ids": [[]] * 6})
    pq.write_table(table, folder / "part-r-0.parquet")
    text = summarize(str(tmp_path))
    assert "near-duplicate groups: 2 (5 articles); largest 3 articles (group a: 'story a')" in text
    assert "published: no dates (6 undated)" in text


def test_failing_hosts_ranks_hosts_with_their_main_reason():
    rows = [{"url": f"https://a.example/{i}", "reason": "http_404" if i else "timeout"} for i in range(3)]
    rows += [{"url": "https://b.example/x", "reason": "robots_disallowed"}, {"url": "/srv/feeds.txt", "reason": "x"}]
    assert failing_hosts(rows) == [("a.example", 3, "http_404", "https://a.example/1"),
                                   ("(not a URL)", 1, "x", "/srv/feeds.txt"),
                                   ("b.example", 1, "robots_disallowed", "https://b.example/x")]


def test_inspect_exits_2_on_what_is_not_newsbeam_output(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    for folder in (tmp_path, tmp_path / "missing", tmp_path / "notes.txt"):
        assert cli.main(["inspect", str(folder)]) == 2
        captured = capsys.readouterr()
        assert "newsbeam: error:" in captured.err and not captured.out
    with pytest.raises(NotAnOutput):
        summarize(str(tmp_path))
