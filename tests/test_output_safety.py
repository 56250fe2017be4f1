"""Output safety: one atomic write, exact run-file ownership, the run lock, dead runs' leftovers, a full disk and
damaged state files."""
import base64
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.localfilesystem import LocalFileSystem
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam.atomic import atomic_create, failure_reason, write_bytes
from newsbeam.partfiles import owns, owns_temporary, part_name, reserved_run_id
from newsbeam.runlock import LockRecord, RunLock, RunLockHeld, hold_run_lock
from newsbeam.state import read_run_files


def test_atomic_write_replaces_a_file_whole(tmp_path):
    path = tmp_path / "manifest.json"
    write_bytes(str(path), b"old")
    write_bytes(str(path), b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "part-r1-00000.parquet"
    path.write_bytes(b"whole")
    with pytest.raises(OSError, match="No space"):
        with atomic_create(str(path)) as handle:
            handle.write(b"half")
            raise OSError(28, "No space left on device")
    assert path.read_bytes() == b"whole"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


class _CountingFileSystem(LocalFileSystem):
    """Local disk under the scheme `counted://`, counting the calls made to it (each one is a billed request, and
    through Beam's S3 filesystem a new client, on an object store)."""
    calls: list = []
    PREFIX = "counted://"

    @classmethod
    def scheme(cls):
        return cls.PREFIX[:-3]

    def _local(self, path):
        return path.removeprefix(self.PREFIX)

    def create(self, path, *args, **kwargs):
        self.calls.append("create")
        return super().create(self._local(path), *args, **kwargs)

    def exists(self, path):
        if path.startswith(self.PREFIX):  # not LocalFileSystem's own calls on local paths
            self.calls.append("exists")
        return super().exists(self._local(path))

    def delete(self, paths):
        self.calls.append("delete")
        return super().delete([self._local(p) for p in paths])

    def rename(self, sources, destinations):
        self.calls.append("rename")
        return super().rename([self._local(p) for p in sources], [self._local(p) for p in destinations])


class _RefusingFileSystem(_CountingFileSystem):
    """A filesystem whose rename refuses an existing destination, as HDFS's does."""
    calls: list = []
    PREFIX = "refusing://"

    def rename(self, sources, destinations):
        taken = [d for d in destinations if os.path.exists(self._local(d))]
        if taken:
            self.calls.append("rename")
            raise BeamIOError("rename refused", {(s, d): FileExistsError(d) for s, d in zip(sources, taken)})
        return super().rename(sources, destinations)


@pytest.mark.parametrize("filesystem, replace_calls", [(_CountingFileSystem, ["create", "rename"]),
                                                       (_RefusingFileSystem, ["create", "rename", "exists",
                                                                              "delete", "rename"])])
def test_an_atomic_write_renames_first_and_cleans_up_only_when_the_rename_refuses(tmp_path, filesystem,
                                                                                   replace_calls, monkeypatch):
    monkeypatch.setattr(filesystem, "calls", [])
    path = f"{filesystem.PREFIX}{tmp_path}/manifest.json"
    write_bytes(path, b"old")
    assert filesystem.calls == ["create", "rename"]
    filesystem.calls.clear()
    write_bytes(path, b"new")
    assert filesystem.calls == replace_calls
    assert (tmp_path / "manifest.json").read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


# --- a run owns its file names exactly -------------------------------------------------------------------------------

RUN_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True).filter(lambda r: not reserved_run_id(r))
TAGS = st.sampled_from(["", "20261121T235800Z", "20261122T000000Z"])


@settings(max_examples=300, deadline=None)
@given(RUN_IDS, RUN_IDS, st.integers(0, 200_000), TAGS, TAGS)
def test_no_run_owns_another_runs_files(mine, other, bucket, tag, my_tag):
    name = part_name(other, bucket, tag)
    temporary = f".{name}.{'ab' * 16}.inprogress"
    assert owns(name, other, tag) and owns(name, other) and owns_temporary(temporary, other, tag)
    if mine != other:
        assert not owns(name, mine) and not owns(name, mine, my_tag)
        assert not owns_temporary(temporary, mine) and not owns_temporary(temporary, mine, my_tag)


def test_batch_finalize_does_not_touch_the_runs_windows_or_foreign_names():
    assert not owns("part-a-20261121T235800Z-00000.parquet", "a", "")
    assert not owns("part-a-00000.parquet.bak", "a") and not owns("part-a-x.parquet", "a")
    assert reserved_run_id("nightly-20261121T235800Z") and not reserved_run_id("20261121T235800123Z")


def test_a_run_id_that_prefixes_another_keeps_the_other_runs_files(tmp_path):
    """Regression: finalize of `nightly` deleted every `part-nightly-2-*` file (articles and dead letters)."""
    from tests.test_write import dead, rows, write

    folder = tmp_path / "dead_letters" / "ingest_date=2026-11-21"
    write(tmp_path, "nightly-2", dead(3))
    (folder / ".part-nightly-2-00000.parquet.0123.inprogress").write_bytes(b"")  # nightly-2 still writing
    counters = write(tmp_path, "nightly", dead(2))
    names = sorted(p.name for p in folder.iterdir())
    assert names == [".part-nightly-2-00000.parquet.0123.inprogress", "part-nightly-00000.parquet",
                     "part-nightly-2-00000.parquet"]
    assert rows(tmp_path).num_rows == 5
    assert counters.get("written.dead_letters.stale_files_deleted", 0) == 0
    # and the state of `nightly` claims only its own URLs
    assert read_run_files(str(tmp_path), "dead_letters", 1, "nightly", ["url"]).num_rows == 2


# --- the run lock ----------------------------------------------------------------------------------------------------

def lock_record(run_id, host, pid, heartbeat_age_s):
    beat = datetime.now(timezone.utc) - timedelta(seconds=heartbeat_age_s)
    return LockRecord(run_id=run_id, host=host, pid=pid, token=uuid.uuid4().hex, started_at=beat.isoformat(),
                      heartbeat_at=beat.isoformat())


def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_live_runs_lock_refuses_another_run(tmp_path):
    first = RunLock(str(tmp_path), "nightly")
    first.acquire()
    with pytest.raises(RunLockHeld, match="run nightly .pid") as refused:
        RunLock(str(tmp_path), "hourly").acquire()
    assert "\n" not in str(refused.value)
    first.release()
    assert not (tmp_path / "_lock").exists()
    second = RunLock(str(tmp_path), "hourly")
    second.acquire()  # free again once released
    second.release()


@pytest.mark.parametrize("host, pid, age, why", [
    (socket.gethostname(), None, 0, "is gone"),  # same host, process gone
    ("elsewhere", 1, 601, "no heartbeat for"),  # another host, silent for over 10 minutes
])
def test_a_dead_runs_lock_is_taken_over_with_a_warning(tmp_path, caplog, host, pid, age, why):
    (tmp_path / "_lock").write_bytes(lock_record("crashed", host, pid or dead_pid(), age).encode())
    lock = RunLock(str(tmp_path), "next")
    lock.acquire()
    assert why in lock.taken_over and "crashed" in lock.taken_over
    assert any("took over" in r.message and r.levelname == "WARNING" for r in caplog.records)
    assert LockRecord.decode((tmp_path / "_lock").read_bytes()).run_id == "next"
    lock.release()


def test_a_quiet_run_on_another_host_still_holds_its_lock(tmp_path):
    (tmp_path / "_lock").write_bytes(lock_record("remote", "elsewhere", 1, 540).encode())
    with pytest.raises(RunLockHeld, match="remote"):
        RunLock(str(tmp_path), "next").acquire()
    (tmp_path / "_lock").write_bytes(b"\x00garbage")  # unreadable and fresh: someone may hold it
    with pytest.raises(RunLockHeld, match="unreadable"):
        RunLock(str(tmp_path), "next").acquire()


@pytest.mark.parametrize("stale", [False, True])
def test_exactly_one_of_many_simultaneous_runs_gets_the_lock(tmp_path, stale):
    if stale:
        (tmp_path / "_lock").write_bytes(lock_record("crashed", "elsewhere", 1, 3600).encode())
    start = threading.Barrier(8)
    won, refused = [], []

    def contend(n):
        lock = RunLock(str(tmp_path), f"r{n}")
        start.wait()
        try:
            lock.acquire()
            won.append(lock)
        except RunLockHeld:
            refused.append(n)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(refused) == 7
    assert LockRecord.decode((tmp_path / "_lock").read_bytes()).token == won[0].record.token
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_lock"]  # no hidden leftovers of the contest


class _NotFound(Exception):
    """How GCS reports a missing object: not a FileNotFoundError."""


@pytest.mark.parametrize("missing", [FileNotFoundError, _NotFound])
def test_reading_an_object_store_lock_takes_two_calls(tmp_path, monkeypatch, missing):
    """A run reads its lock at every heartbeat; on an object store each call is a billed request."""
    lock = RunLock(str(tmp_path), "r1")
    lock.local = False  # the object-store path, on local disk
    calls, real = [], {name: getattr(FileSystems, name) for name in ("open", "exists", "last_updated")}

    def counted(name):
        def call(path, *args, **kwargs):
            calls.append(name)
            if name == "open" and not os.path.exists(path):
                raise missing(path)
            return real[name](path, *args, **kwargs)
        return call

    for name in real:
        monkeypatch.setattr(FileSystems, name, counted(name))
    assert lock._read() is None
    assert calls == (["open"] if missing is FileNotFoundError else ["open", "exists"])
    lock._replace(lock.record)
    calls.clear()
    record, age, generation = lock._read()
    assert calls == ["open", "last_updated"]
    assert record == lock.record and generation == lock.record.token and 0 <= age < 60


def test_an_object_store_lock_that_exists_but_cannot_be_read_is_an_error(tmp_path, monkeypatch):
    lock = RunLock(str(tmp_path), "r1")
    lock.local = False
    lock._replace(lock.record)

    def refused(path, *args, **kwargs):
        raise PermissionError(path)

    monkeypatch.setattr(FileSystems, "open", refused)
    with pytest.raises(PermissionError):
        lock._read()


def test_the_heartbeat_refreshes_the_lock_and_release_removes_it(tmp_path):
    with hold_run_lock(str(tmp_path), "r1", heartbeat_every=0.05) as lock:
        first = LockRecord.decode((tmp_path / "_lock").read_bytes()).heartbeat_at
        deadline = time.monotonic() + 20
        while LockRecord.decode((tmp_path / "_lock").read_bytes()).heartbeat_at == first:
            assert time.monotonic() < deadline, "no heartbeat"
            time.sleep(0.05)
        lock.relabel("r1-cycle")
        assert LockRecord.decode((tmp_path / "_lock").read_bytes()).run_id == "r1-cycle"
    assert not (tmp_path / "_lock").exists()


def test_dead_runs_temporary_files_are_swept_but_not_recent_ones(tmp_path):
    old = time.time() - 3600
    folder = tmp_path / "articles" / "ingest_date=2026-11-21" / "language=en"
    folder.mkdir(parents=True)
    dead_files = [folder / ".part-crashed-00000.parquet.0a1b.inprogress", tmp_path / "_runs" / ".x.json.ff.inprogress",
                  tmp_path / "_state" / "seen" / ".segment-crashed.parquet.ab.inprogress"]
    recent = folder / ".part-other-00000.parquet.cd.inprogress"  # written minutes ago: maybe a live writer's
    data = folder / "part-crashed-00000.parquet"
    for path in [*dead_files, recent, data]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    for path in [*dead_files, data]:
        os.utime(path, (old, old))
    os.utime(recent, (time.time() - 60, time.time() - 60))
    with hold_run_lock(str(tmp_path), "next"):
        pass
    assert not any(p.exists() for p in dead_files)
    assert recent.exists() and data.exists()


def test_a_second_ingest_on_a_live_runs_output_exits_2_naming_it(tmp_path, capsys):
    """Regression: two runs on one output at once both ran, and wrote every article twice."""
    from newsbeam.pipelines.cli import main

    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:9/a\n")
    out = tmp_path / "out"
    with hold_run_lock(str(out), "nightly"):
        code = main(["ingest", "--urls", str(urls), "--output", str(out), "--run-id", "hourly",
                     "--connect-timeout", "0.5", "--deadline", "1"])
        assert not (out / "_runs").exists()  # refused before anything was written
    assert code == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and "another run is writing to this output: run nightly" in message


def test_a_stream_driver_refuses_an_output_with_a_live_run(tmp_path):
    from newsbeam.pipelines.options import UsageError
    from newsbeam.pipelines.stream import run_stream

    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:9/a\n")
    with hold_run_lock(str(tmp_path / "out"), "nightly"), pytest.raises(UsageError, match="run nightly"):
        run_stream(["--urls", str(urls), "--output", str(tmp_path / "out"), "--max-cycles", "1"])


# --- damaged state, and starting the state over ---------------------------------------------------------------------

FAST = ["--host-delay", "0", "--read-timeout", "2", "--deadline", "4", "--retry-backoff", "0.01",
        "--connect-timeout", "1", "--entities", "gazetteer", "--allow-private-addresses"]


def ingest_run(out, urls, run_id):
    from newsbeam.pipelines import ingest

    return ingest.run(["--urls", str(urls), *FAST, "--output", str(out), "--run-id", run_id])


def test_a_damaged_state_file_exits_2_and_rm_state_rebuilds_from_the_data(site, tmp_path):
    """Regression: a truncated state segment failed the run deep inside the pipeline (exit 1, a long traceback)."""
    from newsbeam.pipelines.options import UsageError

    from newsbeam.sample_site import article_paths

    urls = tmp_path / "urls.txt"
    urls.write_text("".join(site.url(p) + "\n" for p in article_paths()[:3]))
    out = tmp_path / "out"
    first = ingest_run(out, urls, "r1")
    assert first.status == "succeeded" and first.counters["articles.written"] == 3
    segment = out / "_state" / "seen" / "segment-r1.parquet"
    segment.write_bytes(segment.read_bytes()[:100])  # truncated, e.g. by a full disk outside newsbeam
    with pytest.raises(UsageError) as refused:
        ingest_run(out, urls, "r2")
    message = str(refused.value)
    assert str(segment) in message and f"rm -r {out / '_state'}" in message and "\n" not in message
    assert not (out / "_runs" / "r2.json").exists() and not (out / "_lock").exists()

    shutil.rmtree(out / "_state")  # start the state over: the next run works, and rebuilds `seen` from the data
    mark = len(site.requests())
    third = ingest_run(out, urls, "r3")
    assert third.status == "succeeded", third.error
    assert third.counters.get("articles.written", 0) == 0 and third.counters["items.skipped.written"] == 3
    assert not [p for p, _ in site.requests()[mark:] if p.startswith("/articles/")]
    assert (out / "_state" / "seen" / "segment-r3.parquet").exists()


# --- a full disk ------------------------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs: a real ENOSPC. Needs root (CAP_SYS_ADMIN)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def fill(disk):
    with open(disk / "filler", "wb") as handle:
        try:
            while True:
                handle.write(os.urandom(1 << 16))
                handle.flush()
        except OSError:
            pass


def test_a_full_disk_fails_the_run_with_the_reason_and_leaves_no_partial_file(small_disk, tmp_path, monkeypatch):
    """Regression: the final manifest write raised ENOSPC out of run(): a traceback instead of a failed run."""
    from newsbeam.pipelines import ingest

    build = ingest.build_pipeline

    def build_then_fill_the_disk(pipeline, config):  # after the lock and the 'running' manifest are written
        build(pipeline, config)
        fill(small_disk)

    monkeypatch.setattr(ingest, "build_pipeline", build_then_fill_the_disk)
    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:9/a\nhttp://127.0.0.1:9/b\n")
    out = small_disk / "out"
    outcome = ingest.run(["--urls", str(urls), "--output", str(out), "--run-id", "r1", "--connect-timeout", "0.5",
                          "--deadline", "1", "--entities", "gazetteer"])
    assert (outcome.status, outcome.exit_code) == ("failed", 1)
    assert outcome.error.startswith("disk full (No space left on device)") and "\n" not in outcome.error
    left = [p.relative_to(out) for p in out.rglob("*") if p.is_file()]
    assert left == [Path("_runs/r1.json")]  # no data file, no temporary file, no lock


def test_failure_reason_finds_a_full_disk_behind_a_runner_error():
    try:
        try:
            raise OSError(28, "No space left on device")
        except OSError as exc:
            raise RuntimeError("while running 'WriteFiles'") from exc
    except RuntimeError as exc:
        assert failure_reason(exc).startswith("disk full")
    wrapped = RuntimeError("OSError: [Errno 28] No space left on device [while running 'Write']\nTraceback ...")
    assert failure_reason(wrapped).startswith("disk full") and "\n" not in failure_reason(wrapped)
    assert failure_reason(ValueError("x")) == "ValueError: x"


def test_a_disk_that_fills_while_a_parquet_file_is_written_leaves_no_trace_of_it(small_disk):
    from dataclasses import replace

    from tests.test_write import dead, write

    # 40 x 32 KB of random bytes as base85 text: ~1.3 MB even after zstd, more than the 1 MB disk holds
    records = [replace(record, detail=base64.b85encode(os.urandom(32_000)).decode()) for record in dead(40)]
    with pytest.raises(Exception, match="No space left on device"):
        write(small_disk / "out", "r1", records)
    assert not [p for p in (small_disk / "out").rglob("*") if p.is_file()]
