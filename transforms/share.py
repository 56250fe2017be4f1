"""Sharing out work among the local runner's workers as they go, instead of in the fixed shares the runner deals.

Beam's local runner (FnApiRunner, several workers) splits a stage's input into one bundle per worker with the same
number of elements each (`ParallelBundleManager`), whatever they cost. Where elements cost very different amounts
(pages: heavy-tailed; byte ranges of a WARC file) or a worker starts late (the one that fetched a one-site run loads
its models after fetching), one worker ran out of work while another still had seconds to minutes of it
(benchmarks/RESULTS.md, "Scale"). Beam's own remedy, dynamic splitting, loses elements with several local workers
in Beam 2.77.

`ShareOut` is a Reshuffle that also lists every element it hands out, in a directory all the workers see (the run's
spool, on the disk the local runner's processes share): an index file per bundle before the barrier, put in place
when the bundle ends (a bundle that failed lists nothing). After the barrier an element is processed by whichever
worker claims it first: a worker claims each element it is given and, once those are done (`finish_bundle`),
claims the elements still unclaimed in the index, while the other workers go on with theirs and skip what was
taken. A claim is a file created with O_EXCL, so each element goes on exactly once whatever the number of workers.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import uuid
from typing import Any, Iterator, Optional

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from newsbeam.transforms.common import counter

_INDEX = "index"
_CLAIMS = "claims"


def _claim_name(element: Any) -> str:
    # elements here are small and pickle the same way in every process (references, byte ranges)
    return hashlib.blake2b(pickle.dumps(element, protocol=4), digest_size=16).hexdigest()


class _ListFn(beam.DoFn):
    def __init__(self, index_dir: str):
        self._index_dir = index_dir

    def start_bundle(self):
        self._listed = []

    def process(self, element, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        self._listed.append((element, timestamp, window))
        yield element

    def finish_bundle(self):
        if self._listed:
            os.makedirs(self._index_dir, exist_ok=True)
            final = os.path.join(self._index_dir, uuid.uuid4().hex)
            with open(f"{final}.tmp", "xb") as file:
                pickle.dump(self._listed, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(f"{final}.tmp", final)
        self._listed = []


class _ClaimFn(beam.DoFn):
    def __init__(self, index_dir: str, claims_dir: str, metric: str):
        self._index_dir = index_dir
        self._claims_dir = claims_dir
        self._taken_over = counter(metric)

    def setup(self):
        os.makedirs(self._claims_dir, exist_ok=True)

    def _claim(self, element) -> bool:
        path = os.path.join(self._claims_dir, _claim_name(element))
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    def process(self, element) -> Iterator[Any]:
        if self._claim(element):
            yield element

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for element, timestamp, window in self._unclaimed():
            if self._claim(element):
                self._taken_over.inc()
                yield WindowedValue(element, timestamp, (window,))

    def _unclaimed(self):
        try:
            names = sorted(os.listdir(self._index_dir))
        except FileNotFoundError:
            return
        claimed = set(os.listdir(self._claims_dir))
        for name in names:
            if name.endswith(".tmp"):
                continue
            with open(os.path.join(self._index_dir, name), "rb") as file:
                listed = pickle.load(file)
            # from the end: the other workers go through the elements they were given from the start
            for element, timestamp, window in reversed(listed):
                if _claim_name(element) not in claimed:
                    yield element, timestamp, window


class ShareOut(beam.PTransform):
    """Elements -> the same elements, each once, shared out among the workers as they go (see the module's
    docstring). `directory`: one every worker process can read and write, removed by the caller after the run;
    None (other runners, no spool): a plain Reshuffle, the runner deals them. `metric`: the counter of elements a
    worker took over from another."""

    def __init__(self, directory: Optional[str], metric: str):
        super().__init__()
        # this step's index and claims, apart from any other step's in the same directory
        self._root = os.path.join(directory, f"share-{uuid.uuid4().hex}") if directory is not None else None
        self._metric = metric

    def expand(self, elements):
        if self._root is None:
            return elements | "Reshuffle" >> beam.Reshuffle()
        index_dir = os.path.join(self._root, _INDEX)
        return (
            elements
            | "List" >> beam.ParDo(_ListFn(index_dir))
            | "Reshuffle" >> beam.Reshuffle()
            | "Claim" >> beam.ParDo(_ClaimFn(index_dir, os.path.join(self._root, _CLAIMS), self._metric))
        )
