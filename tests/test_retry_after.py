"""A server's long Retry-After (`86400`: a day) is kept by the state's retry schedule, up to its longest delay, and
shown in the dead letter's detail; through the real CLI."""
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.dataset as ds

from newsbeam.retry_after import not_before_note, not_before_of
from newsbeam.seen import DUE, WAITING, SeenIndex, load_seen, seen_rows, url_key
from newsbeam.urls import canonicalize_url

AT = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


def _index(detail, now, failures=1):
    rows = pa.table({"url": ["http://e/a"] * failures, "feed_url": [None] * failures, "stage": ["fetch"] * failures,
                     "reason": ["http_429"] * failures, "detail": [detail] * failures,
                     "failed_at": [AT - timedelta(days=3 * (failures - 1 - i)) for i in range(failures)]})
    return SeenIndex(seen_rows("r1", None, rows), now).status(url_key(canonicalize_url("http://e/a")))


def test_the_schedule_keeps_the_servers_wish_up_to_its_longest_delay():
    day = "HTTP 429; Retry-After '86400' beyond 120.0s; not before 2026-12-01T12:00:00Z"
    assert _index(day, AT + timedelta(hours=2)) == WAITING  # the policy alone: due after 1 h
    assert _index(day, AT + timedelta(hours=24)) == DUE
    assert _index("HTTP 429", AT + timedelta(hours=2)) == DUE  # no wish: the policy's 1 h
    month = "HTTP 503; Retry-After '2592000' beyond 120.0s; not before 2026-12-30T12:00:00Z"
    assert _index(month, AT + timedelta(hours=23)) == WAITING
    assert _index(month, AT + timedelta(hours=24)) == DUE  # capped at the policy's longest delay
    short = "HTTP 503; Retry-After '600' beyond 120.0s; not before 2026-11-30T12:10:00Z"
    assert _index(short, AT + timedelta(minutes=30), failures=2) == WAITING  # never sooner than the policy


def test_not_before_note_reads_both_forms():
    assert not_before_note(None, AT) == "" and not_before_note("soon", AT) == ""
    assert not_before_of(not_before_note("86400", AT)) == AT + timedelta(days=1)
    assert not_before_of(not_before_note("Wed, 21 Oct 2099 07:28:00 GMT", AT)) == AT + timedelta(days=366)  # a year
    assert not_before_of("HTTP 429; gave up after 3 attempts") is None


def test_cli_a_day_long_retry_after_is_not_asked_again_after_an_hour(site, tmp_path):
    """Regression: the server asked for a day; the next scheduled run asked again after 1 h."""
    urls = tmp_path / "urls.txt"
    urls.write_text(site.url("/faults/429-retry-later.html") + "\n")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "newsbeam.pipelines.cli", "ingest", "--urls", str(urls),
                           "--output", str(out), "--run-id", "r1", "--entities", "off", "--progress", "off",
                           "--host-delay", "0", "--allow-private-addresses"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 4), done.stderr
    (dead,) = ds.dataset(out / "dead_letters", format="parquet", partitioning="hive").to_table().to_pylist()
    assert dead["reason"] == "http_429" and "Retry-After '86400' beyond 120.0s; not before " in dead["detail"]
    wish = not_before_of(dead["detail"])
    assert timedelta(hours=23) < wish - dead["failed_at"] <= timedelta(hours=24, seconds=1)
    key = url_key(canonicalize_url(dead["url"]))
    assert load_seen(str(out), "r2", dead["failed_at"] + timedelta(hours=2)).status(key) == WAITING
    assert load_seen(str(out), "r2", wish + timedelta(seconds=1)).status(key) == DUE


def test_a_seen_table_written_before_not_before_existed_still_schedules_retries(tmp_path):
    """State of version 1 (no `not_before` column) is read with the column null: the policy's delays apply."""
    import pyarrow.parquet as pq

    from newsbeam.seen import SEEN_SCHEMA, seen_table

    rows = seen_rows("r0", None, pa.table({"url": ["http://e/a"], "feed_url": [None], "stage": ["fetch"],
                                           "reason": ["http_429"], "detail": ["HTTP 429"], "failed_at": [AT]}))
    old = rows.drop_columns(["not_before"]).cast(pa.schema([f for f in SEEN_SCHEMA if f.name != "not_before"]))
    folder = seen_table(str(tmp_path)).folder
    os.makedirs(folder)
    pq.write_table(old, os.path.join(folder, "segment-r0.parquet"))
    key = url_key(canonicalize_url("http://e/a"))
    assert load_seen(str(tmp_path), "r1", AT + timedelta(minutes=30)).status(key) == WAITING
    assert load_seen(str(tmp_path), "r1", AT + timedelta(hours=2)).status(key) == DUE
