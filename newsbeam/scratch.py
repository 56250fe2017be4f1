"""Scratch directories of a run on this machine's disk (the page spool), and the sweep of those whose run died.

A run normally removes its scratch directory at the end, or when a signal stops it. A run killed with SIGKILL
(or by the OOM killer, or a power cut) cannot: its directory would stay in `$TMPDIR` for ever, ~34 KB a page.
Each directory holds an exclusive `flock` on a file inside it while its run lives; the kernel drops that lock when
the process dies, however it dies. The next run sweeps the directories it can lock: their owners are gone. A
PID check would not do: PIDs are reused, and a live stranger's PID would keep a dead run's files.
"""
from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from typing import Iterator, List, Optional

LOG = logging.getLogger(__name__)

PREFIX = "newsbeam-spool-"
_LOCK_NAME = ".owner"


def sweep_dead(parent: Optional[str] = None) -> List[str]:
    """Removes the scratch directories under `parent` (default: the temp directory) whose run has died; returns
    them. Directories of live runs, and anything not ours, are left alone."""
    parent = parent or tempfile.gettempdir()
    removed = []
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return removed
    for name in names:
        path = os.path.join(parent, name)
        if not name.startswith(PREFIX) or os.path.islink(path) or not os.path.isdir(path):
            continue
        try:
            descriptor = os.open(os.path.join(path, _LOCK_NAME), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:  # no lock file: made by another version, or being created right now
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its run is alive
            os.close(descriptor)
            continue
        try:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            os.close(descriptor)
    if removed:
        LOG.info("removed %d scratch director%s left by killed runs under %s", len(removed),
                 "y" if len(removed) == 1 else "ies", parent)
    return removed


@contextmanager
def scratch_directory(parent: Optional[str] = None) -> Iterator[str]:
    """A new scratch directory under `parent`, locked for as long as the block runs, then removed. Directories that
    dead runs left under the same parent are swept first."""
    if parent:
        os.makedirs(parent, exist_ok=True)
    sweep_dead(parent)
    path = tempfile.mkdtemp(prefix=PREFIX, dir=parent)
    descriptor = os.open(os.path.join(path, _LOCK_NAME), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(descriptor)
