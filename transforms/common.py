"""What the transforms share: metric names, output tags, per-process resources."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, TypeVar

from apache_beam.metrics import Metrics
from apache_beam.utils import shared

NAMESPACE = "newsbeam"
DEAD_LETTERS = "dead_letters"

T = TypeVar("T")


def counter(name: str):
    return Metrics.counter(NAMESPACE, name)


def acquire_shared(handle: shared.Shared, build: Callable[[], T], key: object) -> T:
    """One instance per worker process and `key`, whatever the number of DoFn instances and threads.

    `shared.Shared` keeps it alive while any DoFn holds it; the object must be weak-referenceable
    (instances of ordinary classes are)."""
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
