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
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterator, List, Optional

LOG = logging.getLogger(__name__)

PREFIX = "newsbeam-spool-"
_LOCK_NAME = ".owner"
_REMOVERS = 8  # threads unlinking at once


def remove_tree(path: str) -> None:
    """`shutil.rmtree(path, ignore_errors=True)`, with the files unlinked by several threads at once.

    A run's spool holds ~6 files an article, written long before the end, so that the disk has them by then: one
    at a time, each unlink waits for the disk (7,000 such files on this machine's virtual disk: 5.6-9.1 s, in the
    serial tail of the run, against 0.9 s with 4 threads; benchmarks/RESULTS.md, "Scale"). Symbolic links are
    removed, never followed."""
    files: List[str] = []
    directories: List[str] = []
    for root, subdirectories, names in os.walk(path, topdown=False):  # os.walk does not follow links
        files.extend(os.path.join(root, name) for name in names)
        for name in subdirectories:
            child = os.path.join(root, name)
            (files if os.path.islink(child) else directories).append(child)
    if files:
        with ThreadPoolExecutor(min(_REMOVERS, len(files))) as pool:
            list(pool.map(_unlink, files, chunksize=16))
    for directory in directories:  # deepest first (os.walk bottom-up)
        try:
            os.rmdir(directory)
        except OSError:
            pass
    shutil.rmtree(path, ignore_errors=True)  # whatever is left (e.g. files that appeared meanwhile), and `path`


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


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
            remove_tree(path)
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
        remove_tree(path)
        os.close(descriptor)
