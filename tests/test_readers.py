"""The datasets as analysts read them: pandas, DuckDB, Polars and Spark over outputs of the real CLI (two runs into
one output, the second adding no article; a `reprocess` output; an output whose run wrote no article; older schema
versions beside new files), each reader checked against pyarrow. docs/reading.md shows the same snippets."""
import fcntl
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from newsbeam.analysis import open_dataset, read_pandas, scan_polars
from newsbeam.pipelines.demo import query_hints
from newsbeam.sample_site import SampleSite
from newsbeam.schemas.datasets import ARTICLES_SCHEMA, DEAD_LETTERS_SCHEMA
from tests.faults import ARTICLE, ENGLISH, fault_routes

ROOT = Path(__file__).resolve().parents[1]
NEWSBEAM = [sys.executable, "-m", "newsbeam.pipelines.cli"]
FLAGS = ["--host-delay", "0", "--read-timeout", "2", "--deadline", "5", "--retry-backoff", "0.01",
         "--connect-timeout", "1", "--allow-private-addresses"]
TURKISH = ("İstanbul'da gözaltına alınan şüphelilerin Suriye'deki örgütle bağlantısı olduğu iddia edildi; Iğdır ve "
           "Şanlıurfa'daki operasyonlarda ele geçirilen belgeler savcılığa teslim edildi")
PORTUGUESE = ("O tribunal de Lisboa ouviu hoje as testemunhas do processo contra os dois homens que regressaram da "
              "Síria, acusados de pertencer a uma organização terrorista e de recrutar jovens portugueses")
LONG_PARAGRAPHS = 1500  # about 290,000 characters of text


def _page(title: str, paragraphs, lang: str = "") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return ARTICLE.format(title=title, paragraphs=body).replace("<html>", f"<html lang='{lang}'>" if lang else
                                                                "<html>").encode("utf-8")


def _route(body: bytes):
    return lambda handler: handler.send_body(200, body, "text/html; charset=utf-8")


ROUTES = {
    # an emoji (outside the BMP: two UTF-16 units, one code point) before every mention
    "/readers/tr.html": _route(_page("Suriye bağlantısı", [f"\U0001F4F0 {TURKISH} ({i})." for i in range(6)], "tr")),
    # the page's own region tag: the partition is the bare ISO 639-1 code, `pt`
    "/readers/pt-br.html": _route(_page("Julgamento em Lisboa", [f"{PORTUGUESE} ({i})." for i in range(6)],
                                        "pt-BR")),
    # too few letters for langdetect: `language=und`
    "/readers/scores.html": _route(_page("1:0", [" ".join(f"{i}:{j} {i * j}-{j + 7}" for j in range(12))
                                                 for i in range(8)])),
    "/readers/long.html": _route(_page("A very long report",
                                       [f"{ENGLISH}, part {i}." for i in range(LONG_PARAGRAPHS)])),
}
SAMPLE = ["/articles/ar-hol-camp-repatriation.html", "/articles/en-returnees-trial-brussels.html",
          "/articles/fr-proces-revenantes-paris.html", "/articles/de-berlin-rueckholung-al-hol.html"]


def newsbeam(*args):
    done = subprocess.run([*NEWSBEAM, *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _older(table: pa.Table, schema: pa.Schema, version: int) -> pa.Table:
    """`table`'s rows as a file of an older schema version wrote them (docs' migration notes)."""
    older = table.select(schema.names).cast(schema)
    return older.set_column(older.schema.get_field_index("schema_version"), "schema_version",
                            pa.array([version] * len(older), pa.int16()))


def _write_older_versions(out: Path) -> None:
    """Files of articles v1-v4 and dead letters v1-v3 in earlier days, made from this output's own rows."""
    v4 = pa.schema([f for f in ARTICLES_SCHEMA if f.name != "warc_truncated"])
    v3 = pa.schema([f for f in v4 if not f.name.startswith("warc_")])
    v2 = pa.schema([f for f in v3 if f.name not in ("published_local_date", "published_utc_offset_minutes",
                                                    "page_count")])
    v1 = pa.schema([f for f in v2 if f.name not in ("duplicate_group", "entities", "entity_ids", "topics")])
    articles = ds.dataset(out / "articles", format="parquet", partitioning="hive")
    en = articles.to_table(filter=pc.field("language") == "en").drop_columns(["ingest_date", "language"])
    for version, schema, day in ((1, v1, "2025-01-01"), (2, v2, "2025-06-01"), (3, v3, "2026-01-01"),
                                 (4, v4, "2026-06-01")):
        folder = out / "articles" / f"ingest_date={day}" / "language=en"
        folder.mkdir(parents=True)
        pq.write_table(_older(en, schema, version), folder / f"part-old{version}-00000.parquet")
    dead = ds.dataset(out / "dead_letters", format="parquet", partitioning="hive").to_table()
    dead = dead.drop_columns(["ingest_date"]).filter(pc.is_valid(dead["url"]))
    d3 = pa.schema([f for f in DEAD_LETTERS_SCHEMA if f.name != "warc_truncated"])
    d2 = pa.schema([f for f in d3 if not f.name.startswith("warc_")])
    d1 = pa.schema([f.with_nullable(False) if f.name == "url" else f for f in d2])
    for version, schema, day in ((1, d1, "2025-01-01"), (2, d2, "2025-06-01"), (3, d3, "2026-06-01")):
        folder = out / "dead_letters" / f"ingest_date={day}"
        folder.mkdir(parents=True)
        pq.write_table(_older(dead, schema, version), folder / f"part-old{version}-00000.parquet")


def _make_outputs(root: Path) -> None:
    """Real runs (about half a minute each): `runs` got r1, then r2 with one page more (a second file in the same
    partition), then r3, which found nothing new; `reprocessed` is its archive re-extracted offline; `no_articles`
    is a run whose only URL is a 404; `mixed` is `runs` plus files of every older schema version; a hidden
    temporary file lies in every output, as a killed run leaves it."""
    with SampleSite(routes=fault_routes() | ROUTES) as site:
        first, every = root / "first.txt", root / "every.txt"
        listed = [*SAMPLE, *ROUTES, "/faults/missing.html"]
        first.write_text("".join(site.url(p) + "\n" for p in listed if p != "/readers/long.html"))
        every.write_text("".join(site.url(p) + "\n" for p in listed))
        missing = root / "missing.txt"
        missing.write_text(site.url("/faults/missing.html") + "\n")
        runs = root / "runs"
        for run, urls in (("r1", first), ("r2", every), ("r3", every)):
            newsbeam("ingest", "--urls", str(urls), *FLAGS, "--output", str(runs), "--run-id", run)
        newsbeam("ingest", "--urls", str(missing), *FLAGS, "--entities", "gazetteer",
                 "--output", str(root / "no_articles"), "--run-id", "e1")
    newsbeam("reprocess", "--from", str(runs), "--output", str(root / "reprocessed"), "--entities", "gazetteer",
             "--new-run-id", "rp1")
    shutil.copytree(runs, root / "mixed")
    _write_older_versions(root / "mixed")
    for name in OUTPUTS:
        for part in sorted((root / name).glob("*/ingest_date=*/**/part-*.parquet"))[:1]:
            shutil.copy(part, part.parent / f".{part.name}.0123456789abcdef.inprogress")


OUTPUTS = ("runs", "reprocessed", "no_articles", "mixed")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, worker_id):
    """The outputs, made once per test session: pytest-xdist workers share them (the folder above each worker's
    own, under a lock) instead of each spending the runs' minutes again when this module's tests are split."""
    if worker_id == "master":
        root = tmp_path_factory.mktemp("readers")
        _make_outputs(root)
    else:
        root = tmp_path_factory.getbasetemp().parent / "readers-outputs"
        with open(root.parent / "readers-outputs.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (root / "done").exists():
                shutil.rmtree(root, ignore_errors=True)  # what a worker that failed left
                root.mkdir()
                _make_outputs(root)
                (root / "done").touch()
    return {name: root / name for name in OUTPUTS}


def _reference(out: Path, name: str) -> pa.Table:
    """What the others must read: pyarrow with the current schema and partition columns as strings."""
    return open_dataset(str(out), name).to_table()


def _glob(out: Path, name: str) -> str:
    return f"{out}/{name}/**/*.parquet"


def _duckdb(out: Path, name: str, select: str = "*") -> duckdb.DuckDBPyRelation:
    return duckdb.sql(f"SELECT {select} FROM read_parquet('{_glob(out, name)}', hive_partitioning = true, "
                      "union_by_name = true)")


# --- what the outputs hold (so that the reader checks below check something) ---

def test_the_outputs_hold_the_hard_cases(outputs):
    runs = read_pandas(str(outputs["runs"]))
    assert set(runs.language) == {"ar", "en", "fr", "de", "tr", "pt", "und"}
    assert runs.groupby("run_id").size().to_dict() == {"r1": 7, "r2": 1}, "r3 found nothing new and wrote nothing"
    assert sorted(p.name.split("-")[1] for p in (outputs["runs"] / "articles").glob("*/language=en/*.parquet")) == [
        "r1", "r2"]  # two runs' files in one partition
    assert runs.text.str.len().max() > 250_000 and runs.text.str.contains("İstanbul'da gözaltına").any()
    entities = [e for row in runs.entities for e in row]
    assert any(e["entity_id"] is None for e in entities) and any(e["entity_id"] for e in entities)
    assert (runs.published_at.isna() & (runs.language == "und")).any()  # NULL timestamps too
    assert not (outputs["no_articles"] / "articles").exists()
    assert len(read_pandas(str(outputs["no_articles"]), "dead_letters")) == 1
    assert len(read_pandas(str(outputs["reprocessed"]))) == len(runs)
    mixed = read_pandas(str(outputs["mixed"]))
    assert sorted(set(mixed.schema_version)) == [1, 2, 3, 4, 5]
    assert sorted(set(read_pandas(str(outputs["mixed"]), "dead_letters").schema_version)) == [1, 2, 3, 4]
    assert list((outputs["runs"] / "articles").rglob(".*.inprogress"))


# --- DuckDB, pandas, Polars: as the README and docs/reading.md show them ---

@pytest.mark.parametrize("output", ["runs", "reprocessed", "no_articles", "mixed"])
@pytest.mark.parametrize("name", ["articles", "dead_letters"])
def test_duckdb_pandas_and_polars_read_what_pyarrow_reads(outputs, output, name):
    out = outputs[output]
    keys = {"articles": ["article_id", "ingest_date", "language", "schema_version", "text", "entity_ids"],
            "dead_letters": ["url", "reason", "ingest_date", "schema_version", "warc_record_id"]}[name]
    expected = sorted(map(repr, _reference(out, name).select(keys).to_pylist()))
    assert sorted(map(repr, scan_polars(str(out), name).select(keys).collect().to_dicts())) == expected
    frame = read_pandas(str(out), name, columns=keys)
    assert sorted(map(repr, pa.Table.from_pandas(frame, preserve_index=False).to_pylist())) == expected
    if not (out / name).is_dir():  # DuckDB's glob fails on a dataset no run has written (docs/reading.md)
        assert not expected
        return
    relation = _duckdb(out, name, ", ".join(f"{k}::VARCHAR AS {k}" if k == "ingest_date" else k for k in keys))
    assert sorted(repr(dict(zip(keys, row))) for row in relation.fetchall()) == expected


def test_plain_readers_newer_columns_on_mixed_versions(outputs):
    """What the plain reader calls do on an output with older files (docs/reading.md's warnings)."""
    out = outputs["mixed"]
    with pytest.raises(duckdb.BinderException):  # without union_by_name the first (oldest) file sets the columns
        duckdb.sql(f"SELECT entity_ids FROM read_parquet('{_glob(out, 'articles')}', hive_partitioning = true)")
    with pytest.raises(pl.exceptions.SchemaError):
        pl.scan_parquet(_glob(out, "articles"), hive_partitioning=True).select(pl.len()).collect()
    assert "entity_ids" not in pd.read_parquet(out / "articles").columns
    linked = _duckdb(out, "articles", "count(*) FILTER (entity_ids IS NOT NULL)").fetchall()[0][0]
    assert linked == scan_polars(str(out)).filter(pl.col("entity_ids").is_not_null()).select(pl.len()).collect().item()
    assert linked == read_pandas(str(out)).entity_ids.notna().sum() > 0


def test_the_demo_hints_run_on_an_output_with_older_files(outputs):
    # the Polars hint failed there ("extra column in file outside of expected schema")
    for hint in query_hints(str(outputs["mixed"])):
        done = subprocess.run(["/bin/sh", "-c", hint], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (hint, done.stderr[-2000:])
        assert done.stdout.strip()


def _readme_duckdb_queries():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index("## Querying"):]
    block = block[block.index("```python") + len("```python"):]
    return re.findall(r'duckdb\.sql\("""(.*?)"""\)', block[:block.index("```")], re.S)


def test_every_documented_duckdb_read_unifies_by_name():
    """A documented `read_parquet` without union_by_name fails on outputs with older files (as above)."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for call in re.findall(r"read_parquet\((?:[^()]|\([^()]*\))*\)", text):
            if "parquet'" in call:  # a query over the datasets, not a mention of the function
                assert "union_by_name" in call, (path.name, call)


def test_the_readme_duckdb_queries_run_on_an_output_with_older_files(outputs):
    # they read without union_by_name, and `entity_ids` was not found when a schema version 1 file came first
    queries = _readme_duckdb_queries()
    assert len(queries) == 2
    for query in queries:
        duckdb.sql(query.replace("data/", f"{outputs['mixed']}/")).fetchall()


# --- Spark ---

@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime (.ci/run installs Debian's default-jre-headless)")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("newsbeam-readers")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _spark_read(spark, out: Path, name: str):
    """docs/reading.md's Spark snippet."""
    return spark.read.option("mergeSchema", "true").parquet(str(out / name))


def test_spark_reads_every_dataset_as_documented(spark, outputs):
    from pyspark.sql import types as T

    for output in ("runs", "reprocessed", "mixed"):
        for name, schema in (("articles", ARTICLES_SCHEMA), ("dead_letters", DEAD_LETTERS_SCHEMA)):
            out = outputs[output]
            df = _spark_read(spark, out, name)
            fields = {f.name: f.dataType for f in df.schema.fields}
            partitions = ["ingest_date", "language"] if name == "articles" else ["ingest_date"]
            # every file column once, the partition columns once, at the end (never also inside the files)
            assert sorted(fields) == sorted(schema.names + partitions) and df.columns[-len(partitions):] == partitions
            # rows per partition as pyarrow counts them (the hidden temporary file skipped)
            expected = Counter(zip(*(_reference(out, name).column(c).to_pylist() for c in partitions)))
            counts = {tuple(str(v) for v in r[:-1]): r[-1] for r in df.groupBy(*partitions).count().collect()}
            assert counts == expected, (output, name)
            assert isinstance(fields["ingest_date"], T.DateType)
            if name == "dead_letters":
                assert isinstance(fields["failed_at"], T.TimestampType)
                continue
            assert isinstance(fields["language"], T.StringType)
            assert isinstance(fields["published_at"], T.TimestampType)
            assert isinstance(fields["published_local_date"], T.DateType)
            assert fields["entities"] == T.ArrayType(T.StructType([
                T.StructField("text", T.StringType()), T.StructField("label", T.StringType()),
                T.StructField("start", T.IntegerType()), T.StructField("end", T.IntegerType()),
                T.StructField("entity_id", T.StringType()), T.StructField("entity_name", T.StringType())]))
            assert fields["entity_ids"] == T.ArrayType(T.StringType())


def test_spark_values_equal_pyarrow(spark, outputs):
    """Timestamps in UTC, dates, nested entities with NULL ids, Turkish and Arabic text, a 290,000-character text,
    columns an older schema version lacks (null), all as pyarrow reads them."""
    out = outputs["mixed"]
    columns = ["article_id", "schema_version", "published_at", "fetched_at", "published_local_date", "text",
               "entities", "entity_ids", "warc_record_offset"]
    rows = {(r["article_id"], r["schema_version"]): r.asDict(recursive=True)
            for r in _spark_read(spark, out, "articles").select(*columns).collect()}
    expected = ds.dataset(out / "articles", format="parquet", partitioning="hive",
                                      schema=ARTICLES_SCHEMA).to_table(columns=columns).to_pylist()
    assert len(rows) == len(expected)
    for row in expected:
        got = rows[(row["article_id"], row["schema_version"])]
        for column in ("published_at", "fetched_at"):  # Spark gives naive datetimes in the session's zone, UTC
            assert got[column] == (row[column].replace(tzinfo=None) if row[column] else None), column
        for column in ("published_local_date", "text", "entity_ids", "warc_record_offset"):
            assert got[column] == row[column], column
        assert got["entities"] == row["entities"]
    texts = [r["text"] for r in expected]
    assert max(map(len, texts)) > 250_000 and any("دير الزور" in t or "الهول" in t for t in texts)
    turkish = _spark_read(spark, out, "articles").where("text LIKE '%İstanbul''da gözaltına%'").count()
    assert turkish == sum("İstanbul'da gözaltına" in t for t in texts) == 1


def test_spark_without_merge_schema_loses_newer_columns(spark, outputs):
    """Why docs/reading.md asks for mergeSchema: Spark's default takes one file's schema."""
    out = outputs["mixed"]
    plain = spark.read.parquet(str(out / "articles"))
    assert plain.count() == len(_reference(out, "articles"))
    assert "entity_ids" not in plain.columns


def test_spark_on_a_dataset_no_run_has_written(spark, outputs, tmp_path):
    """A reader's limit (docs/reading.md): Spark, like DuckDB's and Polars' globs, fails on a dataset whose folder
    no run has made yet; newsbeam.analysis gives an empty frame with the columns."""
    from pyspark.errors import AnalysisException

    out = outputs["no_articles"]
    with pytest.raises(AnalysisException, match="PATH_NOT_FOUND"):
        _spark_read(spark, out, "articles")
    with pytest.raises(duckdb.IOException):
        _duckdb(out, "articles").fetchall()
    assert len(read_pandas(str(out))) == 0 and scan_polars(str(out)).collect().columns[-2:] == ["ingest_date",
                                                                                             "language"]
    assert _spark_read(spark, out, "dead_letters").count() == 1
    # a first run killed while writing: the folder holds only a hidden temporary file
    killed = tmp_path / "killed"
    hidden = next((outputs["runs"] / "articles").rglob(".*.inprogress"))
    folder = killed / hidden.parent.relative_to(outputs["runs"])
    folder.mkdir(parents=True)
    shutil.copy(hidden, folder / hidden.name)
    with pytest.raises(AnalysisException, match="UNABLE_TO_INFER_SCHEMA"):
        _spark_read(spark, killed, "articles")
    assert len(read_pandas(str(killed))) == 0 and scan_polars(str(killed)).collect().height == 0


def _reading_snippets():
    """docs/reading.md's Python blocks, by section."""
    text = (ROOT / "docs" / "reading.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    return {s.split("\n", 1)[0]: re.findall(r"```python\n(.*?)```", s, re.S) for s in sections}


def _run_snippet(code: str, out: Path) -> dict:
    namespace = {}
    exec(compile(code.replace("data/", f"{out}/").replace('"data"', repr(str(out))), "reading.md", "exec"),
         namespace)
    return namespace


@pytest.mark.parametrize("section", ["pandas", "DuckDB", "Polars"])
def test_the_reading_snippets_run_on_an_output_with_older_files(outputs, section, capsys):
    (code,) = _reading_snippets()[section]
    namespace = _run_snippet(code, outputs["mixed"])
    expected = len(_reference(outputs["mixed"], "articles"))
    if section == "pandas":
        assert len(namespace["df"]) == expected and namespace["df"].entity_ids.notna().any()
    elif section == "Polars":
        assert namespace["lf"].select(pl.len()).collect().item() == expected
    else:
        assert "language" in capsys.readouterr().out


def test_the_spark_snippet_runs_as_documented(spark, outputs, capsys):
    (code,) = _reading_snippets()["Spark"]
    out = outputs["mixed"]
    namespace = _run_snippet(code, out)
    assert namespace["spark"] is spark  # getOrCreate: the same session, in UTC
    assert namespace["articles"].count() == len(_reference(out, "articles"))
    assert "language" in capsys.readouterr().out


def _entity_offsets_sql(table: str) -> str:
    """Mentions whose offsets do not give their text: character (code point) offsets, in DuckDB's and Spark's SQL."""
    return (f"SELECT count(*) AS mentions, count_if(substring(text, e.start + 1, e.end - e.start) <> e.text) AS wrong "
            f"FROM (SELECT text, explode(entities) AS e FROM {table})")


def test_entity_offsets_are_characters_in_every_reader(outputs, spark):
    """`start`/`end` count code points (Python's str), which DuckDB's, Polars' and Spark's substrings count too:
    checked on Arabic, Turkish (İ, ı) and text with characters outside the BMP."""
    out = outputs["runs"]
    rows = _reference(out, "articles").to_pylist()
    mentions = [(r["text"], e) for r in rows for e in r["entities"]]
    assert mentions and all(text[e["start"]:e["end"]] == e["text"] for text, e in mentions)
    assert any(ord(c) > 0xFFFF for r in rows for c in r["text"])  # an emoji before a mention
    parquet = f"read_parquet('{_glob(out, 'articles')}', hive_partitioning = true, union_by_name = true)"
    sql = _entity_offsets_sql(parquet).replace("explode(", "unnest(")
    assert duckdb.sql(sql).fetchall() == [(len(mentions), 0)]
    _spark_read(spark, out, "articles").createOrReplaceTempView("articles")
    assert [tuple(r) for r in spark.sql(_entity_offsets_sql("articles")).collect()] == [(len(mentions), 0)]
    exploded = scan_polars(str(out)).select("text", "entities").explode("entities").unnest("entities", separator=".")
    wrong = exploded.filter(pl.col("text").str.slice(pl.col("entities.start"), pl.col("entities.end")
                                                     - pl.col("entities.start")) != pl.col("entities.text"))
    assert exploded.select(pl.len()).collect().item() == len(mentions) and wrong.select(pl.len()).collect().item() == 0
