"""Ending a `newsbeam` process at once: stdout and stderr flushed, then `os._exit`.

Callers: a stop (SIGINT/SIGTERM) must not wait for Beam's and the fetcher's non-daemon threads, which would keep
the process alive (`exit_now`). And a finished process has nothing left to do (`exit_finished`, which also flushes
its logs): a command's files are closed, its state committed, its worker processes gone, and a Beam worker's steps
have closed what they wrote (newsbeam.runtime), so Python's own teardown would only free every module, model and
cache one object at a time: 1.2-2.5 s from the summary line to the end of a small CLI run (spaCy models loaded),
during which a cron job or an Airflow task still waits.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed pipe must not turn a clean end into a traceback
            pass
    os._exit(code)


def exit_finished(code: int) -> NoReturn:
    """A process whose work is done: its logs flushed as the interpreter's exit would have, then `exit_now`."""
    logging.shutdown()
    exit_now(code)
