"""Queries out of the box: the demo's printed hints run as printed, pandas' partition columns compare, and
`newsbeam inspect` on a demo output and on folders that are not newsbeam output."""
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsbeam.analysis import read_pandas

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
