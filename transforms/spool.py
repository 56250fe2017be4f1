"""Redistributing fetched pages over the workers, their bodies spooled to local disk on the way.

A one-site run fetches every page on one worker (fetching is grouped by host, for politeness); a Reshuffle after
it lets every worker extract. The local runner holds what crosses that barrier in memory until the next stage
starts: whole pages, ~170 KB each, would make memory grow with the run. With a spool directory (shared by the
workers: the local runner's processes share the disk), each page is written there once, compressed, and only
where it is (file, offset, length) crosses the barrier. The pages of a bundle are appended to one file
(`RecordStore.appender`): a file per page cost more CPU than the HTTP client, on the one worker that fetches a
one-host run.

The workers share out the references as they go (transforms/share.ShareOut), not in the fixed halves the local
runner deals: pages cost very different amounts, and in a one-site run the worker that fetched loads its models
after fetching. With `while_fetching` there is no barrier at all (transforms/share.ShareAsListed): the steps after
this one are fused with the fetch, and the workers extract the pages as they are listed, during the fetch.
"""
from __future__ import annotations

from typing import Optional

import apache_beam as beam

from newsbeam.recordstore import RecordStore, Ref
from newsbeam.schemas.records import FetchedPage
from newsbeam.transforms.common import counter
from newsbeam.transforms.share import ShareAsListed, ShareOut


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
    def __init__(self, directory: str):
        super().__init__(RecordStore(directory))
        self._bytes = counter("spool.bytes")

    def process(self, page: FetchedPage):
        # zstd level 1 (newsbeam.packing): HTML shrinks ~4.7x for ~0.25 ms a page, next to ~40 ms of extraction
        ref = self._appender.put(page)
        self._bytes.inc(ref[2])
        yield ref


def _unspool(ref: Ref, store: RecordStore) -> FetchedPage:
    # the file stays until the run ends (the caller removes the directory): a retried bundle can read it again
    return store.get(ref)


class RedistributePages(beam.PTransform):
    """FetchedPage -> the same FetchedPage, spread over the workers (Reshuffle). With `spool_dir`, only a path
    crosses the barrier, and the workers share out the pages as they go (transforms/share); without,
    the pages themselves, as the runner deals them. With `spool_dir` and `while_fetching` (the number of bundles
    the local runner runs a stage in: its workers), nothing crosses a barrier: every worker takes pages as the
    fetch lists them (transforms/share.ShareAsListed)."""

    def __init__(self, spool_dir: Optional[str] = None, while_fetching: int = 0):
        super().__init__()
        self._spool_dir = spool_dir
        self._while_fetching = while_fetching

    def expand(self, pages):
        if self._spool_dir is None:
            return pages | "Reshuffle" >> beam.Reshuffle()
        if self._while_fetching:
            share = ShareAsListed(self._spool_dir, self._while_fetching, "spool.pages_taken_over",
                                  "spool.pages_while_fetching", "spool.pages_kept_while_fetching")
        else:
            share = ShareOut(self._spool_dir, "spool.pages_taken_over")
        return (
            pages
            | "Spool" >> beam.ParDo(_SpoolFn(self._spool_dir))
            | "Share" >> share
            | "Unspool" >> beam.Map(_unspool, RecordStore(self._spool_dir))
        )
