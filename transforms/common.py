"""What the transforms share: metric names, output tags, per-process resources."""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Callable, Optional, TypeVar

from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.utils import shared

from newsbeam import beam_s3_clients, beam_signatures
from newsbeam.progress import PROGRESS_ENV, Heartbeat

NAMESPACE = "newsbeam"
DEAD_LETTERS = "dead_letters"

T = TypeVar("T")

# every module of transforms imports this one: the driver that builds a pipeline and each worker that unpickles its
# DoFns then introspect each DoFn method once, not at every ParDo and stage (newsbeam/beam_signatures.py)
beam_signatures.install()
# ... and share one boto3 client per process for Beam's S3 filesystem, not one per call (newsbeam/beam_s3_clients.py)
beam_s3_clients.install()


# One heartbeat per worker process and progress folder (newsbeam.progress), shared by every counter of the process.
_HEARTBEATS = shared.Shared()


class _Counter:
    """A Beam counter that also feeds the live progress of a local run, when the driver asked for it."""

    def __init__(self, name: str):
        self._name = name
        self._metric = Metrics.counter(NAMESPACE, name)
        self._folder: Optional[str] = None
        self._heartbeat: Optional[Heartbeat] = None

    def __getstate__(self):
        return {"_name": self._name, "_metric": self._metric}  # the heartbeat belongs to the process

    def __setstate__(self, state):
        self.__init__(state["_name"])

    def inc(self, value: int = 1) -> None:
        self._metric.inc(value)
        folder = os.environ.get(PROGRESS_ENV)
        if not folder:
            return
        if folder != self._folder:  # the first count of this run in this process
            self._heartbeat = acquire_shared(_HEARTBEATS, lambda: Heartbeat(folder), folder)
            self._folder = folder
        self._heartbeat.add(self._name, value)


def counter(name: str) -> _Counter:
    return _Counter(name)


def acquire_shared(handle: shared.Shared, build: Callable[[], T], key: object) -> T:
    """The process's instance for `key`, whatever the number of DoFn instances and threads.

    A `shared.Shared` handle keeps one object, not one per key: acquiring with another key builds a new object, which
    the handle keeps from then on (DoFns that hold the old one keep it until they let go), and going back to the
    first key builds that one again. One key per handle and process is what a run has (its settings); two pipelines
    of different settings alternating in one process rebuild. The object must be weak-referenceable (instances of
    ordinary classes are)."""
    return handle.acquire(build, tag=repr(key))


class CounterSet:
    """Counters named at run time (per reason, per stage), each created once per DoFn instance."""

    def __init__(self):
        self._counters = {}

    def inc(self, name: str, value: int = 1) -> None:
        if name not in self._counters:
            self._counters[name] = counter(name)
        self._counters[name].inc(value)


@contextmanager
def timed(stage_counter):
    """Adds the wall time of the block, in microseconds, to a `stage_us.<stage>` counter."""
    started = time.perf_counter()
    try:
        yield
    finally:
        stage_counter.inc(int((time.perf_counter() - started) * 1e6))


def emit_url_list(outcome, counters: CounterSet):
    """What a DoFn yields for a read URL list (`source_core.url_file_outcome`): its counts go to `counters`, its
    dead letters to the dead-letter tag, its items to the main output. Batch and streaming share it."""
    for name, value in outcome.counts:
        counters.inc(name, value)
    for dead in outcome.dead_letters:
        yield TaggedOutput(DEAD_LETTERS, dead)
    yield from outcome.items
