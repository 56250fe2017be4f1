"""Scratch directories (the page spool): a killed run's directory is swept by the next run, a live run's never."""
from __future__ import annotations

import os
import subprocess
import sys

from newsbeam.scratch import PREFIX, scratch_directory, sweep_dead

_HOLDER = """
import sys, time
from newsbeam.scratch import scratch_directory
with scratch_directory(sys.argv[1]) as path:
    open(path + "/page", "wb").write(b"x" * 100)
    print(path, flush=True)
    time.sleep(600)
"""


def _holder(parent):
    process = subprocess.Popen([sys.executable, "-c", _HOLDER, str(parent)], stdout=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()


def test_a_killed_runs_directory_is_swept_and_a_live_ones_kept(tmp_path):
    dead, dead_path = _holder(tmp_path)
    live, live_path = _holder(tmp_path)
    try:
        dead.kill()  # SIGKILL: no clean-up of its own
        dead.wait(30)
        assert os.path.exists(os.path.join(dead_path, "page"))
        foreign = tmp_path / f"{PREFIX}not-ours"  # no lock file: never ours to remove
        foreign.mkdir()
        (tmp_path / "other").mkdir()
        with scratch_directory(str(tmp_path)) as mine:
            assert not os.path.exists(dead_path)
            assert os.path.exists(os.path.join(live_path, "page")) and foreign.exists()
            assert sweep_dead(str(tmp_path)) == []  # its own directory is locked too
        assert not os.path.exists(mine)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [os.path.basename(live_path), foreign.name, "other"])
    finally:
        live.kill()
        live.wait(30)


def test_a_symlink_is_never_followed(tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    (target / ".owner").write_bytes(b"")
    (tmp_path / "parent").mkdir()
    os.symlink(target, tmp_path / "parent" / f"{PREFIX}link")
    assert sweep_dead(str(tmp_path / "parent")) == []
    assert (target / ".owner").exists()


def test_a_missing_parent_sweeps_nothing(tmp_path):
    assert sweep_dead(str(tmp_path / "absent")) == []

