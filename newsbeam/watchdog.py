"""Calls with a time limit: a function runs in a child process that is killed when a call overruns.

Why a process: the time goes into libxml2's C code (quadratic in the attributes of one element), which neither a
thread nor a signal can interrupt, and Beam runs DoFns on worker threads where `signal.alarm` is not available.
The child is started on first use and after each kill; a call costs one round trip of its arguments and result
through a pipe (well under a millisecond for a news page).
"""
from __future__ import annotations

import logging
import multiprocessing
from typing import Any, Callable, Optional

LOGGER = logging.getLogger(__name__)
_READY = "ready"
_START_LIMIT = 300.0  # seconds for a child to import its function's module on a loaded machine


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


class Watchdog:
    """Runs `function(*args)` in a child process, at most `timeout` seconds per call.

    Not thread-safe: one instance per DoFn instance (Beam gives each worker thread its own).
    """

    def __init__(self, function: Callable[..., Any], timeout: float):
        self._function = function
        self._timeout = timeout
        # spawn: a fork of a Beam worker would copy its threads' locks in whatever state they are
        self._context = multiprocessing.get_context("spawn")
        self._process: Optional[multiprocessing.process.BaseProcess] = None
        self._connection = None

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(child, self._function), daemon=True,
                                        name="newsbeam-watchdog")
        process.start()
        child.close()
        self._process, self._connection = process, parent
        # the child's start-up is not a page's fault: the time limit starts once it is ready
        try:
            ready = parent.poll(_START_LIMIT) and parent.recv() == _READY
        except EOFError:
            ready = False
        if not ready:
            self._kill()
            raise ChildDied(f"extraction process not ready after {_START_LIMIT:g} s")
        LOGGER.debug("watchdog process %s ready", process.pid)

    def call(self, *args: Any) -> Any:
        if self._process is None or not self._process.is_alive():
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
        process = self._process
        if process is not None and process.is_alive():
            process.kill()
            process.join(5)
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            if self._process.is_alive():
                self._process.terminate()
            self._process.join(5)
        self._process, self._connection = None, None
