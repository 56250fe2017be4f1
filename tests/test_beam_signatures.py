"""newsbeam.beam_signatures: Beam's DoFn introspection memoised, with the answers Beam's own function gives."""
import functools
import gc
import inspect
import keyword

import apache_beam as beam
import pytest
from apache_beam.transforms import core
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam import beam_signatures
from newsbeam.beam_signatures import MemoizedArgsDefaults
from newsbeam.transforms.fetch import _FetchHostsFn
from tests.pipeline_helpers import around_unpickling_a_dofn

ORIGINAL = core.get_function_args_defaults.original if isinstance(
    core.get_function_args_defaults, MemoizedArgsDefaults) else core.get_function_args_defaults

NAMES = st.text(alphabet="abcdefghij_", min_size=1, max_size=6).filter(
    lambda name: name.isidentifier() and not keyword.iskeyword(name))
KINDS = st.sampled_from(["plain", "default", "param", "varargs", "kwonly", "varkw"])


def _function(parameters):
    """A function with the parameters drawn (name, kind), in an order Python accepts."""
    names, seen = [], set()
    for name, kind in parameters:
        if name not in seen:
            seen.add(name)
            names.append((name, kind))
    positional = [n for n, k in names if k == "plain"] + [f"{n}=1" for n, k in names if k == "default"]
    positional += [f"{n}=beam.DoFn.ElementParam" for n, k in names if k == "param"]
    rest = [f"*{n}" for n, k in names if k == "varargs"][:1] or (["*"] if any(k == "kwonly" for _, k in names) else [])
    rest += [f"{n}=2" for n, k in names if k == "kwonly"]
    rest += [f"**{n}" for n, k in names if k == "varkw"][:1]
    namespace = {"beam": beam}
    exec(f"def f({', '.join(positional + rest)}):\n    return None", namespace)  # noqa: S102 - test-made source
    return namespace["f"]


class _Holder:
    def method(self, element, window=beam.DoFn.WindowParam, *rest, flag=True):
        return element

    @classmethod
    def klass(cls, element, timestamp=beam.DoFn.TimestampParam):
        return element

    @staticmethod
    def static(element, side=None):
        return element


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(NAMES, KINDS), max_size=6), st.booleans())
def test_memoised_answers_are_beams_for_any_signature(parameters, bound):
    memo = MemoizedArgsDefaults(ORIGINAL)
    f = _function(parameters)
    if bound:
        if not ORIGINAL(f)[0]:  # nothing to bind the instance to
            return
        f = f.__get__(object())
    for _ in range(2):  # computed, then remembered
        assert memo(f) == ORIGINAL(f)


def test_methods_builtins_partials_and_callables_get_beams_answers():
    memo = MemoizedArgsDefaults(ORIGINAL)
    holder = _Holder()
    wrapped = beam.Map(len).fn
    callables = [holder.method, _Holder.method, holder.klass, holder.static, len, str.strip,
                 functools.partial(_Holder.static, 1), wrapped.process, wrapped._process_argspec_fn(),
                 _FetchHostsFn.process, lambda x, y=3: x]
    for f in callables * 2:
        assert memo(f) == ORIGINAL(f), f


def test_the_method_of_another_instance_is_answered_from_memory_and_its_lists_are_its_own():
    memo = MemoizedArgsDefaults(ORIGINAL)
    first, second = _Holder(), _Holder()
    args, defaults = memo(first.method)
    args.append("changed")
    defaults.clear()
    calls = []
    memo.original = lambda f: calls.append(f) or ORIGINAL(f)
    assert memo(second.method) == ORIGINAL(second.method) == (["element", "window"], [beam.DoFn.WindowParam])
    assert calls == []  # the same function: not inspected again


def test_a_function_that_goes_away_takes_its_entry_with_it():
    memo = MemoizedArgsDefaults(ORIGINAL)
    f = _function([("a", "plain"), ("b", "default")])
    memo(f)
    assert len(memo._functions) == 1
    del f
    gc.collect()
    assert len(memo._functions) == 0


def _signatures_while(build) -> int:
    count = []
    signature = inspect.signature

    def counting(*args, **kwargs):
        count.append(1)
        return signature(*args, **kwargs)

    inspect.signature = counting
    try:
        build()
    finally:
        inspect.signature = signature
    return len(count)


def _build_and_translate():
    pipeline = beam.Pipeline()
    pcoll = pipeline | beam.Create([1, 2, 3])
    for number in range(20):
        pcoll = pcoll | f"Step{number}" >> beam.ParDo(_FetchHostsFn(None, "", None, "pages", None))
    pipeline.to_runner_api()


def test_building_a_pipeline_inspects_each_method_once_not_at_every_use(monkeypatch):
    monkeypatch.setattr(core, "get_function_args_defaults", ORIGINAL)
    before = _signatures_while(_build_and_translate)
    assert beam_signatures.install()
    after = _signatures_while(_build_and_translate)
    assert after * 20 < before, (before, after)


def test_an_unchecked_beam_release_is_left_as_it_is(monkeypatch):
    monkeypatch.setattr(core, "get_function_args_defaults", ORIGINAL)
    monkeypatch.setattr(beam, "__version__", "2.99.0")
    assert not beam_signatures.install()
    assert core.get_function_args_defaults is ORIGINAL


def test_a_worker_that_unpickles_a_newsbeam_dofn_has_the_memo():
    """An SDK worker imports newsbeam's transforms to unpickle the DoFns of a stage: that puts the memo in place
    before Beam introspects them."""
    seen = around_unpickling_a_dofn(
        "type(__import__('apache_beam.transforms.core', fromlist=['core']).get_function_args_defaults).__name__")
    assert seen == ["function", "MemoizedArgsDefaults"]


@pytest.mark.parametrize("attribute", ["process", "setup", "finish_bundle"])
def test_newsbeam_dofn_methods_get_beams_answers(attribute):
    dofn = _FetchHostsFn(None, "", None, "pages", None)
    memo = MemoizedArgsDefaults(ORIGINAL)
    assert memo(getattr(dofn, attribute)) == ORIGINAL(getattr(dofn, attribute))
