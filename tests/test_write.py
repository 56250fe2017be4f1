from datetime import datetime, timezone

import apache_beam as beam
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from newsbeam.manifest import Accounting, account
from newsbeam.schemas.datasets import DEAD_LETTERS, DEAD_LETTERS_SCHEMA, RunContext
from newsbeam.schemas.records import DeadLetter
from tests.pipeline_helpers import fnapi_pipeline, run_and_count
from newsbeam.transforms.write import WriteDataset, bucket_of, partition_folder

WHEN = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


def dead(n):
    return [DeadLetter(url=f"http://e.org/{i}", stage="fetch", reason="http_404", detail="HTTP 404", failed_at=WHEN,
                       http_status=404, attempts=1) for i in range(n)]


def write(out, run_id, records, buckets=1):
    pipeline = fnapi_pipeline()
    run = RunContext(run_id=run_id, ingest_date="2026-11-21", extractor="trafilatura test")
    pipeline | beam.Create(records) | WriteDataset(DEAD_LETTERS, str(out), run, buckets)
    counters = run_and_count(pipeline)
    return counters


def rows(out):
    return ds.dataset(out / "dead_letters", format="parquet", partitioning="hive").to_table()


def test_bucket_is_stable_across_processes():
    assert bucket_of("http://e.org/1", 16) == 6  # crc32: pinned, unlike hash()


@pytest.mark.parametrize("values, folder", [
    ((("ingest_date", "2026-11-21"), ("language", "en")), "ingest_date=2026-11-21/language=en"),
    ((("language", "a/b c"),), "language=a%2Fb%20c"),
])
def test_partition_folder(values, folder):
    assert partition_folder(values) == folder


def test_files_are_named_per_run_and_bucket_with_the_explicit_schema(tmp_path):
    counters = write(tmp_path, "r1", dead(20), buckets=3)
    files = sorted(p.name for p in (tmp_path / "dead_letters" / "ingest_date=2026-11-21").iterdir())
    assert files == ["part-r1-00000.parquet", "part-r1-00001.parquet", "part-r1-00002.parquet"]
    assert pq.read_schema(tmp_path / "dead_letters/ingest_date=2026-11-21/part-r1-00000.parquet") == DEAD_LETTERS_SCHEMA
    table = rows(tmp_path)
    assert table.num_rows == 20 and set(table.column("ingest_date").to_pylist()) == {"2026-11-21"}
    assert counters["written.dead_letters.rows"] == 20 and counters["written.dead_letters.files"] == 3
    assert counters["dead_letters.reason.fetch.http_404"] == 20


def test_rerun_replaces_its_own_files_only(tmp_path):
    write(tmp_path, "r0", dead(2))
    write(tmp_path, "r1", dead(20), buckets=3)
    folder = tmp_path / "dead_letters" / "ingest_date=2026-11-21"
    stray = folder / ".part-r1-00007.parquet.deadbeef.inprogress"  # what a killed attempt leaves
    stray.write_bytes(b"partial")
    counters = write(tmp_path, "r1", dead(5), buckets=1)
    assert sorted(p.name for p in folder.iterdir()) == ["part-r0-00000.parquet", "part-r1-00000.parquet"]
    assert rows(tmp_path).group_by("run_id").aggregate([([], "count_all")]).sort_by("run_id").to_pylist() == [
        {"run_id": "r0", "count_all": 2}, {"run_id": "r1", "count_all": 5}]
    assert counters["written.dead_letters.stale_files_deleted"] == 3  # buckets 1 and 2, and the stray temp file


def test_an_empty_rerun_removes_the_runs_rows(tmp_path):
    write(tmp_path, "r1", dead(3))
    write(tmp_path, "r1", [])
    assert not list((tmp_path / "dead_letters").rglob("*.parquet"))


BALANCED = {"items.in": 12, "items.unique": 10, "items.duplicate": 2, "items.skipped.written": 1,
            "items.skipped.over_limit": 1, "items.to_fetch": 8, "articles.written": 4,
            "articles.dropped.duplicate_canonical": 1, "dead_letters.written.fetch": 2,
            "dead_letters.written.extract": 1, "dead_letters.written": 5}


@pytest.mark.parametrize("changes, balanced", [
    ({}, True),
    ({"articles.written": 3}, False),  # an article lost between fetch and write
    ({"items.skipped.written": 2}, False),  # an item counted twice
    ({"items.duplicate": 1}, False),
])
def test_accounting(changes, balanced):
    books = account({**BALANCED, **changes})
    assert isinstance(books, Accounting) and books.balanced is balanced
    assert books.as_dict()["balanced"] is balanced


def test_accounting_of_an_empty_run_balances():
    assert account({}).balanced


def test_windowed_writes_put_the_window_start_in_the_file_name(tmp_path):
    from apache_beam.transforms.window import FixedWindows, TimestampedValue

    start = datetime(2026, 11, 21, 23, 58, tzinfo=timezone.utc).timestamp()
    records = dead(6)
    pipeline = fnapi_pipeline()
    run = RunContext(run_id="stream", ingest_date="2026-11-21", extractor="trafilatura test")
    (pipeline
     | beam.Create(list(enumerate(records)))
     | "Stamp" >> beam.Map(lambda pair: TimestampedValue(pair[1], start + 60 * pair[0]))  # 23:58, 23:59, 00:00 ...
     | beam.WindowInto(FixedWindows(120))
     | WriteDataset(DEAD_LETTERS, str(tmp_path), run, windowed=True))
    run_and_count(pipeline)
    folder = tmp_path / "dead_letters"
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.parquet"))
    assert names == [
        "ingest_date=2026-11-21/part-stream-20261121T235800Z-00000.parquet",
        "ingest_date=2026-11-22/part-stream-20261122T000000Z-00000.parquet",
        "ingest_date=2026-11-22/part-stream-20261122T000200Z-00000.parquet",
    ]
    assert rows(tmp_path).num_rows == 6  # the per-window files read back as one dataset


@pytest.mark.parametrize("arrow_batch", [3, 7, 500])
def test_a_large_file_is_sorted_and_written_in_bounded_row_groups(tmp_path, monkeypatch, arrow_batch):
    import newsbeam.transforms.write as write_module

    monkeypatch.setattr(write_module, "ROW_GROUP_ROWS", 7)  # the FnApiRunner runs in this process
    monkeypatch.setattr(write_module, "ARROW_BATCH_ROWS", arrow_batch)
    records = dead(40)[::-1]
    counters = write(tmp_path, "r1", records)
    path = tmp_path / "dead_letters/ingest_date=2026-11-21/part-r1-00000.parquet"
    metadata = pq.ParquetFile(path).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [7] * 5 + [5]
    assert pq.read_table(path).column("url").to_pylist() == sorted(d.url for d in records)
    assert counters["written.dead_letters.rows"] == 40 and counters["dead_letters.written"] == 40


def test_row_groups_are_bounded_by_bytes_as_well_as_rows(tmp_path, monkeypatch):
    """Issue 16: a row group is gathered in memory before it is written; bounded by rows alone, a large file's
    writer held 5,000 articles. By bytes too, big rows close a group sooner; the rows and their order are the same."""
    import duckdb

    import newsbeam.transforms.write as write_module

    monkeypatch.setattr(write_module, "ROW_GROUP_BYTES", 20_000)  # the FnApiRunner runs in this process
    monkeypatch.setattr(write_module, "ARROW_BATCH_ROWS", 2)
    records = [DeadLetter(url=f"http://e.org/{i:02d}", stage="fetch", reason="http_404", detail="x" * 3000,
                          failed_at=WHEN, http_status=404, attempts=1) for i in range(30)][::-1]
    counters = write(tmp_path, "r1", records)
    path = tmp_path / "dead_letters/ingest_date=2026-11-21/part-r1-00000.parquet"
    metadata = pq.ParquetFile(path).metadata
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert sum(sizes) == 30 and len(sizes) > 1 and max(sizes) <= 8, sizes  # ~3 KB a row: ~7 rows reach 20 KB
    assert pq.read_table(path).column("url").to_pylist() == sorted(r.url for r in records)
    with duckdb.connect() as connection:  # its own connection: nothing another test left on the default one
        assert connection.sql(f"select count(*), min(url), max(url) from read_parquet('{path}')").fetchall() == [
            (30, "http://e.org/00", "http://e.org/29")]
    assert counters["written.dead_letters.rows"] == 30
