"""Output safety: one atomic write, exact run-file ownership, the run lock, dead runs' leftovers, a full disk and
damaged state files."""
import pytest

from newsbeam.atomic import atomic_create, write_bytes


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
