"""Redistributing fetched pages over the workers, their bodies spooled to local disk on the way.

A one-site run fetches every page on one worker (fetching is grouped by host, for politeness); a Reshuffle after
it lets every worker extract. The local runner holds what crosses that barrier in memory until the next stage
starts: whole pages, ~170 KB each, would make memory grow with the run. With a spool directory (shared by the
workers: the local runner's processes share the disk), each page is written there once, compressed, and only
where it is (file, offset, length) crosses the barrier. The pages of a bundle are appended to one file
(`RecordStore.appender`): a file per page cost more CPU than the HTTP client, on the one worker that fetches a
one-host run.

Balancing. The local runner deals each worker a fixed share of the references (`ParallelBundleManager`: one bundle
per worker, the same number of elements each), whatever the pages cost; page costs are heavy-tailed, and in a
one-site run the worker that fetched loads its models only after fetching, so one worker ran out of pages while
the other still had seconds to minutes of them (benchmarks/RESULTS.md, "Scale"). Beam's own remedy, dynamic
splitting, loses elements with several local workers in Beam 2.77. So the spool lists every reference it hands
out (an index file per bundle, in place once the bundle ends), and a page is processed by whichever worker claims
it first: a worker claims the page of each reference it is given, and once its own are done it claims the pages
still unclaimed in the index, while the other workers go on with theirs, skipping what was taken. A claim is a
file created with O_EXCL in the spool, so each page is processed exactly once on any number of workers.
"""
from __future__ import annotations

import os
import pickle
import uuid
from typing import Iterator, Optional, Tuple

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from newsbeam.recordstore import RecordStore, Ref
from newsbeam.schemas.records import FetchedPage
from newsbeam.transforms.common import counter

_INDEX = "index"
_CLAIMS = "claims"


class AppendingFn(beam.DoFn):
    """A DoFn that stores its records in `store` (and `others`), appended to one file per bundle and store
    (`self._appender.put`, then `self._appenders[1]`...); the files are closed when the bundle ends."""

    def __init__(self, store: RecordStore, *others: RecordStore):
        self._stores = (store, *others)

    def start_bundle(self):
        self._appenders = [store.appender() for store in self._stores]
        self._appender = self._appenders[0]

    def finish_bundle(self):
        for appender in self._appenders:
            appender.close()

    def teardown(self):
        for appender in getattr(self, "_appenders", ()):
            appender.close()


class _SpoolFn(AppendingFn):
    """Each page appended to the bundle's file; its reference, with the element's window, also goes to the bundle's
    index, which is renamed into place when the bundle ends (a bundle that failed lists nothing)."""

    def __init__(self, directory: str, balance: str):
        super().__init__(RecordStore(directory))
        self._index_dir = os.path.join(directory, balance, _INDEX)
        self._bytes = counter("spool.bytes")

    def start_bundle(self):
        super().start_bundle()
        self._listed = []

    def process(self, page: FetchedPage, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        # zstd level 1 (newsbeam.packing): HTML shrinks ~4.7x for ~0.25 ms a page, next to ~40 ms of extraction
        ref = self._appender.put(page)
        self._bytes.inc(ref[2])
        self._listed.append((ref, timestamp, window))
        yield ref

    def finish_bundle(self):
        super().finish_bundle()
        if self._listed:
            os.makedirs(self._index_dir, exist_ok=True)
            final = os.path.join(self._index_dir, uuid.uuid4().hex)
            with open(f"{final}.tmp", "xb") as file:
                pickle.dump(self._listed, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(f"{final}.tmp", final)
        self._listed = []


def _claim_name(ref: Tuple[str, int, int]) -> str:
    path, offset, _ = ref
    return f"{os.path.basename(path)}-{offset}"


class _ClaimFn(beam.DoFn):
    """Reference -> its page, if this worker claims it first; then, when the bundle's own references are done, the
    pages nobody has claimed yet (see the module's docstring)."""

    def __init__(self, directory: str, balance: str):
        self._store = RecordStore(directory)
        self._index_dir = os.path.join(directory, balance, _INDEX)
        self._claims_dir = os.path.join(directory, balance, _CLAIMS)
        self._taken_over = counter("spool.pages_taken_over")

    def setup(self):
        os.makedirs(self._claims_dir, exist_ok=True)

    def _claim(self, ref) -> bool:
        try:
            os.close(os.open(os.path.join(self._claims_dir, _claim_name(ref)), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    def process(self, ref: Ref) -> Iterator[FetchedPage]:
        # the file stays until the run ends (the caller removes the directory)
        if self._claim(ref):
            yield self._store.get(ref)

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for ref, timestamp, window in self._unclaimed():
            if self._claim(ref):
                self._taken_over.inc()
                yield WindowedValue(self._store.get(ref), timestamp, (window,))

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
            # from the end: the other workers go through their references from the start
            for ref, timestamp, window in reversed(listed):
                if _claim_name(ref) not in claimed:
                    yield ref, timestamp, window


class RedistributePages(beam.PTransform):
    """FetchedPage -> the same FetchedPage, spread over the workers (Reshuffle). With `spool_dir`, only a path
    crosses the barrier, and the workers share out the pages as they go (see the module's docstring); without,
    the pages themselves, as the runner deals them."""

    def __init__(self, spool_dir: Optional[str] = None):
        super().__init__()
        self._spool_dir = spool_dir
        # the index and claims of this step's pages, apart from any other step's in the same spool
        self._balance = f"balance-{uuid.uuid4().hex}"

    def expand(self, pages):
        if self._spool_dir is None:
            return pages | "Reshuffle" >> beam.Reshuffle()
        return (
            pages
            | "Spool" >> beam.ParDo(_SpoolFn(self._spool_dir, self._balance))
            | "Reshuffle" >> beam.Reshuffle()
            | "Unspool" >> beam.ParDo(_ClaimFn(self._spool_dir, self._balance))
        )
