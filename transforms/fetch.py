"""Polite concurrent fetching as a Beam composite: key by host, group, fetch each host's URLs on lanes."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Iterable, Optional, Tuple

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput
from apache_beam.utils import shared
from apache_beam.utils.windowed_value import WindowedValue

from newsbeam.fetching import ConcurrentFetcher, FetchContext
from newsbeam.http import ContentCheck, FetchSettings
from newsbeam.urls import host_key
from newsbeam.warc import ROLE_FEED, ArchiveEntry, entry_of, final_exchange, source_role
from newsbeam.schemas.records import FetchedPage, FetchRequest, WarcPointer
from newsbeam.transforms.common import acquire_shared, counter

FAILURES = "failures"
EXCHANGES = "exchanges"  # newsbeam.warc.ArchiveEntry of each result, when archiving

# One handle for every fetch step of a pipeline, so that feed and article fetches in a worker process share one
# connection pool, one set of per-host gates and one robots.txt cache (per FetchSettings).
_FETCH_CONTEXTS = shared.Shared()


def shared_fetch_context(settings: FetchSettings) -> FetchContext:
    """The process's FetchContext for `settings`, the same object the fetch DoFns of this process use."""
    return acquire_shared(_FETCH_CONTEXTS, lambda: FetchContext(settings), settings)


def split_for_archive(outcome, archive_role: Optional[str]) -> Tuple[Optional[ArchiveEntry], object]:
    """A fetch result's archive entry (None without `archive_role` or without a response) and the result without
    its raw exchanges, pointing at its final response when archived: raw bytes are only kept for the archive."""
    if not outcome.exchanges:
        return None, outcome
    if not archive_role:
        return None, replace(outcome, exchanges=())
    # a source fetched as a feed may be a sitemap: its role is known once it arrived
    entry = entry_of(outcome, source_role(outcome) if archive_role == ROLE_FEED else archive_role)
    final = final_exchange(outcome)
    pointer = WarcPointer(final.record_id, truncated=final.truncated) if final else None
    return entry, replace(outcome, exchanges=(), warc=pointer)


class _FetchHostsFn(beam.DoFn):
    """Fetches the URLs of each host element on the shared thread pool; a host's results may come out while
    later hosts are still arriving, the rest in `finish_bundle`, each in its own element's window."""

    def __init__(self, settings: FetchSettings, accept: str, check: ContentCheck, metric_prefix: str,
                 archive_role: Optional[str]):
        self._settings = settings
        self._accept = accept
        self._check = check
        self._archive_role = archive_role
        self._entries = counter("warc.entries")
        self._fetched = counter(f"{metric_prefix}.fetched")
        self._failed = counter(f"{metric_prefix}.fetch_failed")
        self._hosts = counter(f"{metric_prefix}.hosts")
        # wall time while this worker has fetches in flight: the manifest's stage_seconds 'fetch' (pages) and
        # 'fetch_feeds'; per-request times would add up the concurrent lanes
        self._time = counter("stage_us.fetch" if metric_prefix == "pages" else f"stage_us.fetch_{metric_prefix}")
        self._started = None

    def setup(self):
        # kept as an attribute: Shared holds only a weak reference
        self._context = shared_fetch_context(self._settings)
        self._fetcher = ConcurrentFetcher(self._context)

    def process(self, element: Tuple[str, Iterable[FetchRequest]], window=beam.DoFn.WindowParam,
                timestamp=beam.DoFn.TimestampParam):
        _, requests = element
        self._hosts.inc()
        if self._started is None:
            self._started = time.perf_counter()
        self._fetcher.submit(list(requests), self._accept, self._check, (window, timestamp))
        yield from self._emit(self._fetcher.ready())

    def finish_bundle(self):
        yield from self._emit(self._fetcher.drain())
        if self._started is not None:
            self._time.inc(int((time.perf_counter() - self._started) * 1e6))
            self._started = None

    def _emit(self, results):
        for (window, timestamp), outcome in results:
            entry, outcome = split_for_archive(outcome, self._archive_role)
            if entry is not None:
                self._entries.inc()
                yield TaggedOutput(EXCHANGES, WindowedValue(entry, timestamp, (window,)))
            value = WindowedValue(outcome, timestamp, (window,))
            if isinstance(outcome, FetchedPage):
                self._fetched.inc()
                yield value
            else:
                self._failed.inc()
                yield TaggedOutput(FAILURES, value)

    def teardown(self):
        fetcher = getattr(self, "_fetcher", None)
        if fetcher is not None:
            fetcher.close()


class FetchUrls(beam.PTransform):
    """FetchRequest -> FetchedPage (main), FetchFailure (tag `failures`) and, with `archive_role`, the responses
    as received (tag `exchanges`, newsbeam.warc.ArchiveEntry; the results then carry their WarcPointer's id).

    Grouping by host puts every request for a host in one element, so the per-host concurrency limit, the
    delay between requests and the single robots.txt download hold for the whole run, on any runner.
    """

    def __init__(self, settings: FetchSettings, accept: str, check: ContentCheck, metric_prefix: str,
                 archive_role: Optional[str] = None):
        super().__init__()
        self._settings = settings
        self._accept = accept
        self._check = check
        self._metric_prefix = metric_prefix
        self._archive_role = archive_role

    def expand(self, requests):
        return (
            requests
            | "KeyByHost" >> beam.Map(lambda request: (host_key(request.url), request)).with_output_types(
                Tuple[str, FetchRequest]
            )
            | "GroupByHost" >> beam.GroupByKey()
            | "FetchHosts"
            >> beam.ParDo(_FetchHostsFn(self._settings, self._accept, self._check, self._metric_prefix,
                                        self._archive_role)).with_outputs(FAILURES, EXCHANGES, main="pages")
        )
