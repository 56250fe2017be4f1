"""Process-level tuning of worker processes: malloc arenas (the local runner) and the garbage collector (every
runner).

glibc gives every thread that allocates under contention its own malloc arena (up to 8 per core), and memory freed
in an arena mostly stays with the process. Beam's local runner moves each stage's data through gRPC threads, so
those buffers land in many arenas: measured on this project's post-core stages with 8,000 articles and two worker
processes, limiting the arenas to 2 cut the growth of peak memory by a third (+811 MB to +538 MB over 1,000
articles). A value the user set is left alone.

Python's cyclic garbage collector scans every tracked object at each full collection. Once a worker has set up,
most of its objects (imported modules, models, gazetteer, caches) live as long as the process, yet each full
collection would walk them all again: ~0.1 s a collection in a worker that extracts text, ~0.2 s with the spaCy
models. `gc.freeze()` moves the objects alive at that moment out of the collector's reach (reference counting still
frees them), so full collections walk only what the work itself creates.

Loading a large structure (the gazetteer's cache, the language profiles) creates hundreds of thousands of
container objects, none of them garbage, and each few hundred allocations start a collection that walks the young
ones, each full one the whole heap: pausing the collector for the load cut the gazetteer's from ~0.7 to ~0.2 s of
CPU, the language profiles' from ~0.84 to ~0.48 s (benchmarks/RESULTS.md, "Scale").

The same heap is not freed object by object when the process ends: a worker that froze it ends at once when its
interpreter exits (`os._exit` from the first exit handler, after flushing its logs and output). Beam's local runner
stops its workers one after the other and waits for each process to end, and the teardown of a worker with the
spaCy models and the gazetteer loaded took ~0.2-0.3 s of every run's serial end (its extraction watchdog's child
~0.1 s more, waited for by its worker).
"""
from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import gc
import logging
import os
import sys
from contextlib import contextmanager
from typing import Iterator

from newsbeam.process_exit import exit_finished

LOG = logging.getLogger(__name__)

ARENA_ENV = "MALLOC_ARENA_MAX"
LOCAL_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h
WORKER_ENV = "CONTROL_API_SERVICE_DESCRIPTOR"  # set by Beam for every SDK worker process it starts


def limit_malloc_arenas(arenas: int = LOCAL_ARENAS) -> bool:
    """Limits glibc malloc arenas in this process and in the worker processes it starts; True if it did."""
    if not sys.platform.startswith("linux") or ARENA_ENV in os.environ:
        return False
    os.environ[ARENA_ENV] = str(arenas)  # read by glibc when each worker process starts
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        applied = bool(libc.mallopt(_M_ARENA_MAX, arenas))  # this process: arenas it creates from now on
    except (OSError, AttributeError):  # not glibc (musl has no arenas to limit)
        applied = False
    LOG.debug("malloc arenas limited to %d (this process: %s)", arenas, applied)
    return True


def freeze_set_up_heap() -> bool:
    """Called at the end of a worker's set-up steps (and after models load): in a process that exists to run Beam
    work, every object alive now is left out of later garbage collections, and the process will end without
    freeing its heap (above). True if it froze.

    Only there: in a process that also drives pipelines (the in-process runner, `stream`'s polls, tests) the
    objects of the run under way would be frozen too, and a frozen cycle is never reclaimed after its run ends."""
    if not is_worker_process():
        return False
    gc.freeze()
    _end_at_once_on_exit()
    return True


def _end_at_once_on_exit() -> None:
    # unregistered first: one registration however many steps set up, and the latest, so it runs first
    atexit.unregister(_exit_at_once)
    atexit.register(_exit_at_once)


def _exit_at_once() -> None:
    """The process is exiting (its work done, files closed by the steps' finish_bundle and teardown): skip
    freeing the heap. Exit handlers registered before this one are skipped with it; none of them matters to a
    worker (the watchdog's child ends when its pipe closes, which `os._exit` does)."""
    # an uncaught exception was printed just before the exit handlers run: its exit status stays 1
    failed = getattr(sys, "last_value", None) is not None or getattr(sys, "last_exc", None) is not None
    exit_finished(1 if failed else 0)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a large, long-lived structure loads (reference counting still frees
    what dies). Left as found: a collector that was already off (by the caller, or by a load under way on another
    thread) is not turned back on here."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def is_worker_process() -> bool:
    """A Beam SDK worker (Beam gives it its control endpoint; the processes it starts inherit it)."""
    return bool(os.environ.get(WORKER_ENV))


def set_up_extraction_child() -> None:
    """The extraction watchdog's child process: dateparser's stored expressions, then the heap frozen as above."""
    from newsbeam import dateparser_cache

    dateparser_cache.load_default()
    freeze_set_up_heap()
