"""The `--progress` option and the driver's side of live progress (newsbeam.progress) around one local run."""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from typing import Iterator, Optional

from apache_beam.options.pipeline_options import PipelineOptions

from newsbeam.progress import MODES, PROGRESS_ENV, ProgressReporter

LOG = logging.getLogger(__name__)
# Runners whose workers are this process or its children, so they see the progress folder (in the environment).
LOCAL_RUNNERS = ("FnApiRunner", "DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner")


class ProgressOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--progress", choices=MODES, default="auto",
            help="Live progress on stderr: 'bar' redraws one line in place, 'log' writes a log line every 10 s, "
                 "'off'. Default 'auto': 'bar' on a terminal, else 'log'. Local runners only.")


@contextmanager
def live_progress(mode: str, runner: str) -> Iterator[Optional[ProgressReporter]]:
    """Shows progress while the block runs; the block calls `stop(counters)` for the last line.

    The per-run folder reaches the workers through the environment: in-process workers read it, the runner's
    worker subprocesses inherit it."""
    if mode == "off" or runner not in LOCAL_RUNNERS:
        if mode not in ("off", "auto"):
            LOG.warning("--progress %s: live progress needs a local runner, not %s", mode, runner)
        yield None
        return
    folder = tempfile.mkdtemp(prefix="newsbeam-progress-")
    previous = os.environ.get(PROGRESS_ENV)
    os.environ[PROGRESS_ENV] = folder
    reporter = ProgressReporter(folder, mode)
    try:
        yield reporter.start()
    finally:
        reporter.stop()  # no-op when the block already stopped it
        if previous is None:
            os.environ.pop(PROGRESS_ENV, None)
        else:
            os.environ[PROGRESS_ENV] = previous
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def quiet_worker_logs(runner: str) -> Iterator[None]:
    """Keeps the local runner's worker subprocesses (`--direct_running_mode multi_processing`) at this process's log
    level, with Beam's own start-up lines only from DEBUG up.

    Those workers get no pipeline options from FnApiRunner and log at INFO to the terminal whatever --log-level
    says; the options file they read at start-up (PIPELINE_OPTIONS_FILE, inherited) sets their levels. A file the
    user set is kept."""
    if runner not in LOCAL_RUNNERS or "PIPELINE_OPTIONS_FILE" in os.environ:
        yield
        return
    level = logging.getLogger().getEffectiveLevel()
    overrides = {} if level <= logging.DEBUG else {"apache_beam": "WARNING", "__main__": "ERROR"}
    handle, path = tempfile.mkstemp(prefix="newsbeam-worker-options-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump({"options": {"default_sdk_harness_log_level": logging.getLevelName(level),
                               "sdk_harness_log_level_overrides": overrides}}, file)
    os.environ["PIPELINE_OPTIONS_FILE"] = path
    try:
        yield
    finally:
        os.environ.pop("PIPELINE_OPTIONS_FILE", None)
        os.unlink(path)
