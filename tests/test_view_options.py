"""ViewCachingOptions: one view per options class, the same values as Beam's own views, and far fewer argparse
parses while Beam builds and runs a pipeline."""
import copy
import pickle

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, TypeOptions
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.pipelines.options import NewsbeamOptions
from newsbeam.pipelines.view_options import ViewCachingOptions

ARGV = ["--runner", "FnApiRunner", "--host-delay", "0.5", "--entities", "gazetteer", "--output", "/tmp/out"]


def test_one_view_per_class_sharing_the_options_values():
    options = ViewCachingOptions(ARGV)
    standard = options.view_as(StandardOptions)
    assert options.view_as(StandardOptions) is standard
    assert options.view_as(NewsbeamOptions).host_delay == PipelineOptions(ARGV).view_as(NewsbeamOptions).host_delay
    standard.runner = "SomeRunner"  # a write through one view is seen through every other, and by the object
    assert options.view_as(StandardOptions).runner == "SomeRunner"
    assert options.get_all_options()["runner"] == "SomeRunner"
    assert options.view_as(NewsbeamOptions).entities == "gazetteer"


def test_copies_and_pickles_make_their_own_views():
    options = ViewCachingOptions(ARGV)
    options.view_as(StandardOptions)
    for other in (copy.deepcopy(options), pickle.loads(pickle.dumps(options))):
        assert isinstance(other, ViewCachingOptions)
        other.view_as(StandardOptions).runner = "Elsewhere"
        assert options.view_as(StandardOptions).runner == "FnApiRunner"  # the original is untouched
        assert other.get_all_options()["runner"] == "Elsewhere"


def _views_built(options_class, monkeypatch) -> int:
    built = []
    original = PipelineOptions.__init__

    def counting(self, *args, **kwargs):
        built.append(type(self))
        original(self, *args, **kwargs)

    monkeypatch.setattr(PipelineOptions, "__init__", counting)
    options = options_class(["--runner", "FnApiRunner"])
    with beam.Pipeline(options=options) as pipeline:
        numbers = pipeline | "Create" >> beam.Create(range(10))
        for step in range(20):  # every applied transform asks for a TypeOptions view for its type checks
            numbers = numbers | f"Step{step}" >> beam.Map(lambda n: n + 1).with_output_types(int)
        assert_that(numbers, equal_to(list(range(20, 30))))
    monkeypatch.setattr(PipelineOptions, "__init__", original)
    return built.count(TypeOptions)


def test_a_pipeline_builds_far_fewer_views(monkeypatch):
    plain, caching = _views_built(PipelineOptions, monkeypatch), _views_built(ViewCachingOptions, monkeypatch)
    assert plain >= 40 and caching <= 5, (plain, caching)
