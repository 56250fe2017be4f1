"""Pipeline options whose views are built once per options class.

Beam's `PipelineOptions.view_as(cls)` builds a new view each time, and with it a fresh argparse parser of that
class's options, parsed again over every flag (~5 ms). While Beam constructs newsbeam's pipeline it asks for
views about 1,150 times (a TypeOptions view for each applied transform's type checks), about a second of CPU per
run and per stream poll, paid before the first element moves. A view holds no state of its own: it reads and
writes the `_all_options` dict it shares with the object it came from, so one view per class is the same view.
"""
from __future__ import annotations

from typing import Dict, TypeVar

from apache_beam.options.pipeline_options import PipelineOptions

_View = TypeVar("_View", bound=PipelineOptions)


class ViewCachingOptions(PipelineOptions):
    """`PipelineOptions` for a run's own `Pipeline`. Adds no option (no `_add_argparse_args`)."""

    def view_as(self, cls: type[_View]) -> _View:
        views: Dict[type, PipelineOptions] = self.__dict__.setdefault("_views", {})
        view = views.get(cls)
        if view is None:
            view = views[cls] = super().view_as(cls)
        return view

    def __getstate__(self):
        # Copies and pickles (Beam deep-copies the options into its Pipeline) make their own views: a copied view
        # would point into the original's options, not the copy's.
        state = dict(super().__getstate__())
        state.pop("_views", None)
        return state
