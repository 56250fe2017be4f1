"""Incremental runs: skip what earlier runs wrote, retry due failures, drop articles already known under their
canonical URL, group near duplicates, and commit this run's state once its data is committed."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Iterable, Optional, Tuple

import apache_beam as beam
import numpy as np
from apache_beam.pvalue import AsIter, AsList, TaggedOutput
from apache_beam.utils import shared

from newsbeam import reasons
from newsbeam.feedstate import feed_table, load_validators, validator_rows
from newsbeam.neardup import (
    NearDupSettings,
    assign_in_order,
    band_rows,
    fingerprint,
    load_prior,
    near_dup_table,
)
from newsbeam.recordstore import RecordStore, Ref
from newsbeam.seen import DUE, GIVEN_UP, WAITING, WRITTEN, RetryPolicy, load_seen, rows_for_run, seen_table, url_key
from newsbeam.urls import article_id, canonicalize_url
from newsbeam.schemas.records import Article, DeadLetter, FeedItem
from newsbeam.transforms.common import DEAD_LETTERS, acquire_shared, counter, timed
from newsbeam.transforms.spool import AppendingFn

# One handle for every step that reads the seen index, so a worker process loads it once per run.
_SEEN_INDEXES = shared.Shared()
_SKIPPED = {WRITTEN: "written", WAITING: "waiting_retry", GIVEN_UP: "given_up"}


@dataclass(frozen=True)
class StateSettings:
    output: str
    run_id: str
    now: datetime  # the run's start: retry schedules and windows are judged against it, not the wall clock
    retry: RetryPolicy = RetryPolicy()
    near_dup: NearDupSettings = NearDupSettings()
    near_dup_window: timedelta = timedelta(days=30)
    max_segments: int = 48  # state files per table before they are compacted into one


class _SeenIndexFn(beam.DoFn):
    def __init__(self, state: StateSettings):
        self._state = state
        self._shared = _SEEN_INDEXES

    def setup(self):
        state = self._state
        self._index = acquire_shared(self._shared,
                                     lambda: load_seen(state.output, state.run_id, state.now, state.retry),
                                     (state.output, state.run_id, state.now))


class _SkipSeenFn(_SeenIndexFn):
    def __init__(self, state: StateSettings):
        super().__init__(state)
        self._new = counter("items.new")
        self._retried = counter("items.retried")
        self._skipped = {status: counter(f"items.skipped.{name}") for status, name in _SKIPPED.items()}

    def process(self, item: FeedItem):
        status = self._index.status(url_key(item.canonical_url))
        if status in self._skipped:
            self._skipped[status].inc()
            return
        (self._retried if status == DUE else self._new).inc()
        yield item


class SkipSeen(beam.PTransform):
    """FeedItem -> FeedItem not yet written by an earlier run, nor failed there for good or too recently."""

    def __init__(self, state: StateSettings):
        super().__init__()
        self._state = state

    def expand(self, items):
        return items | "SkipSeen" >> beam.ParDo(_SkipSeenFn(self._state))


class _DueRetriesFn(_SeenIndexFn):
    def process(self, _):
        for url, feed_url, _reason in self._index.due_retries():
            yield FeedItem(url=url, canonical_url=canonicalize_url(url), feed_url=feed_url)


class DueRetries(beam.PTransform):
    """The failures of earlier runs that are due for another try, as items (even if no feed lists them now)."""

    def __init__(self, state: StateSettings):
        super().__init__()
        self._state = state

    def expand(self, pipeline):
        return pipeline | "Start" >> beam.Create([None]) | "DueRetries" >> beam.ParDo(_DueRetriesFn(self._state))


def _duplicate(article: Article, reason: str, detail: str) -> TaggedOutput:
    """A listing that turned out to be an article already written: a dead letter, so that the URL is accounted
    for and later runs do not fetch it again."""
    ex = article.extracted
    return TaggedOutput(DEAD_LETTERS, DeadLetter(
        url=ex.item.url, feed_url=ex.item.feed_url, stage=reasons.STAGE_DEDUP, reason=reason, detail=detail,
        failed_at=ex.fetched_at, http_status=ex.http_status, attempts=ex.attempts, warc=ex.warc))


class _DropKnownFn(_SeenIndexFn):
    def __init__(self, state: StateSettings, store: RecordStore, earlier_runs: bool = True):
        super().__init__(state)
        self._store = store
        self._earlier_runs = earlier_runs

    def setup(self):
        if self._earlier_runs:
            super().setup()

    def process(self, element: Tuple[str, Iterable[Ref]]):
        canonical, refs = element
        ordered = sorted((self._store.get(ref) for ref in refs),
                         key=lambda a: (a.extracted.item.url != a.extracted.canonical_url, a.extracted.item.url))
        article, others = ordered[0], ordered[1:]
        for other in others:
            yield _duplicate(other, reasons.DUPLICATE_CANONICAL, f"the page names {canonical} as its canonical URL, "
                                                                 f"as does {article.extracted.item.url}")
        if self._earlier_runs and article.extracted.canonical_url != article.extracted.item.canonical_url and \
                self._index.status(url_key(canonical)) == WRITTEN:
            yield _duplicate(article, reasons.SEEN_CANONICAL, f"an earlier run wrote {canonical}")
            return
        yield article


class _KeyByCanonicalFn(AppendingFn):
    def process(self, article: Article):
        # in the spool, appended to one file per bundle: the group's order comes from the articles (_DropKnownFn)
        yield article.extracted.canonical_url, self._appender.put(article)


class DropKnownArticles(beam.PTransform):
    """One article per canonical URL (a page's own <link rel=canonical> may merge listings that looked different),
    and none that an earlier run already wrote under that canonical URL. The listings dropped become dead letters
    of stage `dedup` (main output: articles; tag `dead_letters`). Input: one PCollection of articles, or a tuple
    of them. `earlier_runs=False` (reprocess) keeps only the within-run rule: a reprocessed article is one an
    earlier run wrote, by design, and must not become a `seen_canonical` dead letter for it."""

    def __init__(self, state: StateSettings, store: Optional[RecordStore] = None, earlier_runs: bool = True):
        super().__init__()
        self._state = state
        self._store = store or RecordStore()
        self._earlier_runs = earlier_runs

    def expand(self, articles):
        store = self._store
        # stored: the grouping holds every article of the run (see newsbeam.recordstore). Several inputs (fetched
        # and WARC-read articles) are stored each on its own before they meet: a Flatten of inputs made in
        # different stages is a barrier of its own on the local runner, which would hold the articles whole.
        inputs = articles if isinstance(articles, (tuple, list)) else (articles,)
        each = [pcoll | (f"KeyByCanonical{n}" if n else "KeyByCanonical") >> beam.ParDo(
            _KeyByCanonicalFn(store)).with_output_types(Tuple[str, Ref]) for n, pcoll in enumerate(inputs)]
        refs = each[0] if len(each) == 1 else each | "AllKeyed" >> beam.Flatten()
        return (
            refs
            | "GroupByCanonical" >> beam.GroupByKey()
            | "KeepOne" >> beam.ParDo(_DropKnownFn(self._state, store, self._earlier_runs)).with_outputs(
                DEAD_LETTERS, main="articles")
        )


class _FingerprintFn(AppendingFn):
    """Stores the article and its signature (each store's records appended to one file per bundle)."""

    def __init__(self, settings: NearDupSettings, store: RecordStore):
        # MinHash values are random bits: zstd cannot shrink them
        super().__init__(store, RecordStore(store.directory, compress=False))
        self._settings = settings
        self._time = counter("stage_us.near_duplicates")

    def process(self, article: Article):
        with timed(self._time):
            found = fingerprint(article_id(article.extracted.canonical_url), article.extracted.text, self._settings)
        # what the grouping needs, ~0.4 KB: the id, the band keys packed (256 bytes), the fetch time for the state
        # row, and where the 1 KB MinHash waits (read back only if the article shares a band key with another)
        bands = np.asarray(found.bands, dtype=np.uint64).tobytes()
        signature = self._appenders[1].put(found.signature.tobytes())
        yield TaggedOutput(_FINGERPRINTS, (found.article_id, bands, article.extracted.fetched_at, signature))
        # the article waits, stored, until the run's groups are known
        yield found.article_id, self._appender.put(article)


_FINGERPRINTS = "fingerprints"


class _AssignGroupsFn(beam.DoFn):
    """Sees the whole run's band keys at once (groups may span any two articles), plus earlier runs' bands; reads
    back only the signatures of articles that share a band key, one linked set at a time
    (newsbeam.neardup.assign_in_order)."""

    def __init__(self, state: StateSettings, store: RecordStore):
        self._state = state
        self._signatures = RecordStore(store.directory, compress=False)
        self._groups = counter("near_duplicates.grouped")

    def process(self, _, fingerprints: Iterable[Tuple[str, bytes, datetime, Ref]]):
        state = self._state
        ids, bands, fetched_at, signatures = [], bytearray(), [], []
        for found, keys, at, signature in fingerprints:  # a side input: the runner hands it over in pages
            ids.append(found)
            bands += keys
            fetched_at.append(at)
            signatures.append(signature)
        # by article id, the order the grouping needs (whatever order the fingerprints came in)
        order = sorted(range(len(ids)), key=ids.__getitem__)
        ids, fetched_at, signatures = ([values[i] for i in order] for values in (ids, fetched_at, signatures))
        bands = np.frombuffer(bytes(bands), dtype=np.uint64).reshape(len(order), state.near_dup.bands)[order]
        prior = load_prior(state.output, state.run_id, state.now - state.near_dup_window, state.near_dup)
        groups = assign_in_order(
            ids, bands, lambda position: np.frombuffer(self._signatures.get(signatures[position]), dtype=np.uint64),
            prior, state.near_dup)
        joined = {found: group for found, group in zip(ids, groups) if found != group}
        self._groups.inc(len(joined))
        # only the articles that joined another's group: the others are their own
        yield joined, band_rows(state.run_id, ids, groups, bands, fetched_at)


class NearDuplicates(beam.PTransform):
    """Article -> Article with `duplicate_group`; also returns the state rows for CommitState."""

    def __init__(self, state: StateSettings, store: Optional[RecordStore] = None):
        super().__init__()
        self._state = state
        self._store = store or RecordStore()

    def expand(self, articles):
        store = self._store
        fingerprinted = articles | "Fingerprint" >> beam.ParDo(
            _FingerprintFn(self._state.near_dup, store)).with_outputs(_FINGERPRINTS, main="waiting")
        # one step sees the run's compact entries (a side input, never one list of fingerprints); it runs once
        # also when there are none, so an empty run still commits its (empty) state rows
        assigned = (
            articles.pipeline
            | "StartGrouping" >> beam.Create([None])
            | "AssignGroups" >> beam.ParDo(_AssignGroupsFn(self._state, store),
                                           AsIter(fingerprinted[_FINGERPRINTS]))
        )
        groups = assigned | "Groups" >> beam.Map(lambda pair: pair[0])
        grouped = fingerprinted.waiting | "SetGroup" >> beam.Map(
            lambda waiting, groups: replace(store.get(waiting[1]), duplicate_group=groups.get(waiting[0], waiting[0])),
            groups=beam.pvalue.AsSingleton(groups, default_value={}))
        return {"articles": grouped, "state_rows": assigned | "StateRows" >> beam.Map(lambda pair: pair[1])}


class _LoadValidatorsFn(beam.DoFn):
    def __init__(self, state: StateSettings):
        self._state = state

    def process(self, _):
        yield from load_validators(self._state.output, self._state.run_id).items()


class FeedValidators(beam.PTransform):
    """(feed URL, FeedValidator) recorded by earlier runs."""

    def __init__(self, state: StateSettings):
        super().__init__()
        self._state = state

    def expand(self, pipeline):
        return pipeline | "Start" >> beam.Create([None]) | "Load" >> beam.ParDo(_LoadValidatorsFn(self._state))


class _CommitFn(beam.DoFn):
    """Runs after both datasets are committed (their file lists are side inputs), so the state never claims
    more than the data holds. The seen rows are read back from this run's committed files: the same code
    rebuilds them for a run that was killed before it got here."""

    def __init__(self, state: StateSettings, record_feeds: bool):
        self._state = state
        self._record_feeds = record_feeds
        self._rows = counter("state.seen_rows")
        self._validators = counter("state.feed_validators")
        self._time = counter("stage_us.commit_state")
        self._committed = counter("run.committed")  # always 1 for a finished run: proof the runner reports counters

    def process(self, _, article_files, dead_letter_files, validators, near_dup_tables):
        state = self._state
        with timed(self._time):
            seen = rows_for_run(state.output, state.run_id)
            table = seen_table(state.output)
            table.write_segment(state.run_id, seen)
            table.compact(state.run_id, state.max_segments)
            self._rows.inc(seen.num_rows)
            for rows in near_dup_tables:
                near = near_dup_table(state.output)
                near.write_segment(state.run_id, rows)
                near.compact(state.run_id, state.max_segments)
            if self._record_feeds:
                feeds = feed_table(state.output)
                feeds.write_segment(state.run_id, validator_rows(state.run_id, validators))
                feeds.compact(state.run_id, state.max_segments)
                self._validators.inc(len(validators))
        self._committed.inc()
        yield state.run_id


class CommitState(beam.PTransform):
    """Writes this run's state segments once `article_files` and `dead_letter_files` (the writers' outputs) are
    complete. Feed validators are recorded only when `record_feeds`: a run that left items of a feed
    unprocessed on purpose (a backfill window, a cap) must not let the next run skip that feed as unchanged."""

    def __init__(self, state: StateSettings, record_feeds: bool):
        super().__init__()
        self._state = state
        self._record_feeds = record_feeds

    def expand(self, inputs):
        return (
            inputs["article_files"].pipeline
            | "Start" >> beam.Create([None])
            | "Commit" >> beam.ParDo(_CommitFn(self._state, self._record_feeds), AsList(inputs["article_files"]),
                                     AsList(inputs["dead_letter_files"]), AsList(inputs["validators"]),
                                     AsList(inputs["near_dup_rows"]))
        )

