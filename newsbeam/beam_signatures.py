"""Beam's DoFn introspection, remembered per function instead of recomputed on every call.

Beam finds out what a DoFn's methods take (`DoFn.StateParam`, `TimerParam`, `ElementParam` ...) by calling
`inspect.signature` on every method of the DoFn (`userstate.get_dofn_specs` walks `dir(dofn)`), and it does that
several times for each ParDo while a pipeline is built and again whenever a worker starts a stage: ~32,000
signature computations for the ~130 DoFns of one small ingest run, about a third of that run's CPU (a cProfile of
one `ingest` of four pages: `get_dofn_specs` 2.9 s of 9.0 s). The answer depends only on the function: a method's
signature is its function's, less the bound first argument. The same memoisation was proposed upstream
(apache/beam#9925) and closed unmerged.

`install()` replaces `apache_beam.transforms.core.get_function_args_defaults` (which every one of those paths calls
through the module's global name) by a memoised wrapper, in the process that calls it: newsbeam's transforms call
it when imported, so the driver and each SDK worker (which imports them to unpickle the DoFns) both have it. Only
plain functions and methods bound to them are remembered (weakly: a function that goes away takes its entry with
it); anything else (builtins, partials, callable objects) goes to Beam's own function. Each call gets new lists,
as from Beam's own function. It installs only on the Beam versions it was checked against; others run unchanged.
"""
from __future__ import annotations

import logging
import types
import weakref
from typing import Any, Callable, List, Tuple

import apache_beam
from apache_beam.transforms import core

LOG = logging.getLogger(__name__)

CHECKED_BEAM_VERSIONS = ("2.77.",)  # the function replaced, and its callers, as read in these releases

ArgsDefaults = Tuple[List[str], List[Any]]


class MemoizedArgsDefaults:
    """`get_function_args_defaults` with its answers kept per function (bound methods: per underlying function)."""

    def __init__(self, original: Callable[[Any], ArgsDefaults]):
        self.original = original
        self._functions: "weakref.WeakKeyDictionary[types.FunctionType, tuple]" = weakref.WeakKeyDictionary()
        self._methods: "weakref.WeakKeyDictionary[types.FunctionType, tuple]" = weakref.WeakKeyDictionary()

    def __call__(self, f) -> ArgsDefaults:
        if type(f) is types.FunctionType:
            cache, key = self._functions, f
        elif type(f) is types.MethodType and type(f.__func__) is types.FunctionType:
            cache, key = self._methods, f.__func__
        else:
            return self.original(f)
        found = cache.get(key)
        if found is None:
            args, defaults = self.original(f)
            found = cache[key] = (tuple(args), tuple(defaults))
        # callers may change the lists they get, as Beam's own function gives new ones each time
        return list(found[0]), list(found[1])


def install() -> bool:
    """Memoises Beam's function in this process (once); True if it is (now or already) in place."""
    current = core.get_function_args_defaults
    if isinstance(current, MemoizedArgsDefaults):
        return True
    if not apache_beam.__version__.startswith(CHECKED_BEAM_VERSIONS):
        LOG.debug("Beam %s: its DoFn introspection left as it is", apache_beam.__version__)
        return False
    core.get_function_args_defaults = MemoizedArgsDefaults(current)
    return True
