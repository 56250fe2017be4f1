"""Calls with a time limit: a function runs in a child process that is killed when a call overruns.

Why a process: the time goes into libxml2's C code (quadratic in the attributes of one element), which neither a
thread nor a signal can interrupt, and Beam runs DoFns on worker threads where `signal.alarm` is not available.
The child is started on first use and after each kill; a call costs one round trip of its arguments and result
through a pipe (well under a millisecond for a news page).

How the child starts: a fresh interpreter (`subprocess`, not `multiprocessing`) that imports only the function's
module. `multiprocessing`'s spawn also re-imports the parent's `__main__` module in the child, which in a Beam
worker is Beam's whole SDK harness (~1.1 s of CPU, most of the child's start-up); fork is not an option either,
since gRPC (Beam's data plane) does not support forking a process it runs threads in. The child inherits only its
two pipe ends, no socket of the worker, and ends when the parent's end of its pipe closes.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import weakref
from multiprocessing.connection import Connection
from typing import Any, Callable, List, Optional

LOG = logging.getLogger(__name__)
_READY = "ready"
_START_LIMIT = 300.0  # seconds for a child to import its function's module on a loaded machine
_CHILD_CODE = "from newsbeam.watchdog import child_main; child_main()"


class CallTimedOut(Exception):
    """The call ran longer than its limit; the child process was killed."""


class ChildDied(Exception):
    """The child process ended during a call (out of memory, a crash in C code)."""


def _serve(connection, function: Callable[..., Any]) -> None:
    connection.send(_READY)  # `function` is unpickled, so its module and imports are loaded
    while True:
        try:
            args = connection.recv()
        except EOFError:
            return
        try:
            reply = (True, function(*args))
        except Exception as exc:  # noqa: BLE001 - carried back and re-raised in the parent
            reply = (False, exc)
        try:
            connection.send(reply)
        except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
            connection.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


def child_main(argv: Optional[List[str]] = None) -> None:
    """The child's entry point: `python -c _CHILD_CODE READ_FD WRITE_FD`. The parent sends its `sys.path` (so the
    function's module is found as in the parent), the function, the initializer (or None), then argument tuples."""
    read_fd, write_fd = (int(value) for value in (argv or sys.argv[1:])[:2])
    incoming, outgoing = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    try:
        sys.path[:] = incoming.recv()
        function = incoming.recv()
        initializer = incoming.recv()
    except EOFError:
        return
    if initializer is not None:
        initializer()
    _serve(_Duplex(incoming, outgoing), function)


class _Duplex:
    """Two one-way pipe ends as one connection (`os.pipe` gives one-way pipes)."""

    def __init__(self, incoming: Connection, outgoing: Connection):
        self._incoming, self._outgoing = incoming, outgoing

    def send(self, value: Any) -> None:
        self._outgoing.send(value)

    def recv(self) -> Any:
        return self._incoming.recv()

    def poll(self, timeout: float) -> bool:
        return self._incoming.poll(timeout)

    def close(self) -> None:
        self._incoming.close()
        self._outgoing.close()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a kill that did not take within 5 s
            LOG.warning("watchdog process %s did not end after kill", process.pid)


class Watchdog:
    """Runs `function(*args)` in a child process, at most `timeout` seconds per call.

    Not thread-safe: one instance per DoFn instance (Beam gives each worker thread its own).
    """

    def __init__(self, function: Callable[..., Any], timeout: float,
                 initializer: Optional[Callable[[], Any]] = None):
        self._function = function
        self._initializer = initializer  # run once in each child before it is ready (outside the time limit)
        self._timeout = timeout
        self._process: Optional[subprocess.Popen] = None
        self._connection: Optional[_Duplex] = None
        self._finalizer = None
        self.starts = 0  # child processes started so far (one, unless calls overran or a child died)

    def _start(self) -> None:
        to_child_read, to_child_write = os.pipe()
        from_child_read, from_child_write = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _CHILD_CODE, str(to_child_read), str(from_child_write)],
                pass_fds=(to_child_read, from_child_write), stdin=subprocess.DEVNULL, close_fds=True)
        except BaseException:
            for fd in (to_child_read, to_child_write, from_child_read, from_child_write):
                os.close(fd)
            raise
        os.close(to_child_read)
        os.close(from_child_write)
        self.starts += 1
        connection = _Duplex(Connection(from_child_read, writable=False), Connection(to_child_write, readable=False))
        self._process, self._connection = process, connection
        # killed with the worker too, not only by `close()` (interpreter exit runs finalizers)
        self._finalizer = weakref.finalize(self, _stop, process)
        # the child's start-up is not a page's fault: the time limit starts once it is ready
        try:
            connection.send(list(sys.path))
            connection.send(self._function)
            connection.send(self._initializer)
            ready = connection.poll(_START_LIMIT) and connection.recv() == _READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            self._kill()
            raise ChildDied(f"extraction process not ready after {_START_LIMIT:g} s")
        LOG.debug("watchdog process %s ready", process.pid)

    def call(self, *args: Any) -> Any:
        if self._process is None or self._process.poll() is not None:
            self.close()
            self._start()
        try:
            self._connection.send(args)
            if not self._connection.poll(self._timeout):
                self._kill()
                raise CallTimedOut(f"no result after {self._timeout:g} s")
            ok, value = self._connection.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError) as exc:
            self.close()
            raise ChildDied(f"extraction process ended: {type(exc).__name__}") from None
        if ok:
            return value
        raise value

    def _kill(self) -> None:
        if self._process is not None:
            _stop(self._process)
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()  # the child reads EOF and ends
        process = self._process
        if process is not None and process.poll() is None:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:  # busy on a page: it is not waited for
                _stop(process)
        if self._finalizer is not None:
            self._finalizer.detach()
        self._process, self._connection, self._finalizer = None, None, None
