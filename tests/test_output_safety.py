"""Output safety: one atomic write, exact run-file ownership, the run lock, dead runs' leftovers, a full disk and
damaged state files."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam.atomic import atomic_create, write_bytes
from newsbeam.partfiles import owns, owns_temporary, part_name, reserved_run_id
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

    write(tmp_path, "nightly-2", dead(3))
    (tmp_path / "dead_letters" / "ingest_date=2026-11-21" / ".part-nightly-2-00000.parquet.0123.inprogress").write_bytes(b"")
    counters = write(tmp_path, "nightly", dead(2))
    names = sorted(p.name for p in (tmp_path / "dead_letters" / "ingest_date=2026-11-21").iterdir())
    assert names == [".part-nightly-2-00000.parquet.0123.inprogress", "part-nightly-00000.parquet",
                     "part-nightly-2-00000.parquet"]
    assert rows(tmp_path).num_rows == 5
    assert counters.get("written.dead_letters.stale_files_deleted", 0) == 0
    # and the state of `nightly` claims only its own URLs
    assert read_run_files(str(tmp_path), "dead_letters", 1, "nightly", ["url"]).num_rows == 2
