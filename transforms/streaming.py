"""The stages only the unbounded graph needs: a clock gate for late polls, per-feed polling with conditional GETs,
per-file polling of article URL lists, and first-seen dedup with a TTL.

Each is a stateful DoFn keyed by a string (type hints give Beam a deterministic key coder), in the global window,
with event-time timers. Event time here is the poll's time: every element carries the timestamp of the impulse
that polled it, and the windows downstream are aligned on the polls, so a window's start is the time of a poll.

The pure work (fetching, sniffing, parsing) is the same as batch: `newsbeam.fetching.PoliteFetcher` on the
process-shared fetch context, and the source core `newsbeam.source_core` (what a source's bytes come to: items,
listed feeds, dead letters, validators, counters), which batch's `newsbeam.transforms.sources` calls too.

FirstSeen stays in the global window (state is per key *and* window, so a windowed dedup would forget at every
window boundary); `newsbeam.pipelines.stream_graph` windows the items after it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Optional, Tuple

import apache_beam as beam
from apache_beam.coders import BooleanCoder, PickleCoder, VarIntCoder
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import WindowFn
from apache_beam.utils.timestamp import Duration, Timestamp

from newsbeam import reasons
from newsbeam.feedstate import body_hash, conditional_headers
from newsbeam.fetching import FEED_ACCEPT, PoliteFetcher, feed_like, utcnow
from newsbeam.http import FetchSettings
from newsbeam.sitemap_plan import MAX_DEPTH, MAX_SITEMAPS_PER_SITE
from newsbeam.source_core import (
    SOURCE_MAX_BYTES,
    document_from_page,
    document_from_path,
    fetch_failure_dead_letter,
    given_keys,
    plan_sitemaps,
    read_document,
    read_path,
    source_key,
    unreadable_dead_letter,
    url_file_outcome,
)
from newsbeam.urls import is_http_url
from newsbeam.schemas.records import DeadLetter, FeedFetch, FeedItem, FeedValidator, FetchFailure, FetchRequest
from newsbeam.transforms.common import DEAD_LETTERS, CounterSet, counter, emit_url_list
from newsbeam.transforms.fetch import EXCHANGES, shared_fetch_context, split_for_archive

LISTED = "listed"
SITEMAPS = "sitemaps"
CLOCK_KEY = "clock"
DEFAULT_DEDUP_TTL = timedelta(days=30)
DEFAULT_FEED_STATE_TTL = timedelta(days=7)
_UNREADABLE = "unreadable"


def _duration(value) -> Duration:
    if isinstance(value, Duration):
        return value
    if isinstance(value, timedelta):
        return Duration(micros=int(value.total_seconds() * 1e6))
    return Duration(micros=int(float(value) * 1e6))


# --------------------------------------------------------------------------------------------------------------
# Late polls


class _OnTimePollsFn(beam.DoFn):
    """One key for the whole clock (one element per poll, so no hot key).

    A poll opens its window: the window gets a close timer at its last millisecond, and that pending timer holds
    this step's output watermark, so a poll that passes here cannot find its window already fired downstream.
    `closed_until` is what this step knows of the watermark: the end of the latest window whose timer has fired.
    A poll is late, counted and dropped before it fetches anything, when its window has closed, or when its window
    was never opened although a later window was (polls out of order: a replay; PeriodicImpulse never does that).
    What is not recognised: a poll later than every window opened so far and already behind the watermark, which
    takes a source whose watermark runs ahead of its elements (the windows downstream would then drop it)."""

    CLOSED_UNTIL = ReadModifyWriteStateSpec("closed_until", VarIntCoder())  # micros
    OPEN_ENDS = ReadModifyWriteStateSpec("open_ends", PickleCoder())  # sorted tuple of window ends, micros
    NEWEST_START = ReadModifyWriteStateSpec("newest_start", VarIntCoder())  # micros, of the newest window opened
    CLOSE = TimerSpec("close", TimeDomain.WATERMARK)

    def __init__(self, windowfn: WindowFn):
        self._windowfn = windowfn
        self._on_time = counter("polls.on_time")
        self._late = counter("polls.late")

    def process(self, element: Tuple[str, Any], timestamp=beam.DoFn.TimestampParam,
                closed_until=beam.DoFn.StateParam(CLOSED_UNTIL), open_ends=beam.DoFn.StateParam(OPEN_ENDS),
                newest_start=beam.DoFn.StateParam(NEWEST_START), close=beam.DoFn.TimerParam(CLOSE)):
        window = self._windowfn.assign(WindowFn.AssignContext(timestamp))[0]
        start, end = window.start.micros, window.end.micros
        ends = set(open_ends.read() or ())
        closed, newest = closed_until.read(), newest_start.read()
        if (closed is not None and end <= closed) or (newest is not None and end <= newest and end not in ends):
            self._late.inc()
            return
        ends = tuple(sorted(ends | {end}))
        open_ends.write(ends)
        newest_start.write(max(start, newest if newest is not None else start))
        close.set(_close_time(ends[0]))
        self._on_time.inc()
        yield timestamp

    @on_timer(CLOSE)
    def on_close(self, fired=beam.DoFn.TimestampParam, closed_until=beam.DoFn.StateParam(CLOSED_UNTIL),
                 open_ends=beam.DoFn.StateParam(OPEN_ENDS), close=beam.DoFn.TimerParam(CLOSE)):
        # Timers travel with millisecond precision through the portable protocol: compare as they were set.
        ends = open_ends.read() or ()
        closed = [end for end in ends if _close_time(end) <= fired]
        remaining = tuple(end for end in ends if _close_time(end) > fired)
        if closed:
            closed_until.write(max(closed + [closed_until.read() or 0]))
        if remaining:
            open_ends.write(remaining)
            close.set(_close_time(remaining[0]))
        else:
            open_ends.clear()


def _close_time(end_micros: int) -> Timestamp:
    """A window's close timer: its last millisecond (timers have millisecond precision on portable runners)."""
    return Timestamp(micros=(end_micros - 1000) // 1000 * 1000)


class OnTimePolls(beam.PTransform):
    """Impulses -> the timestamps of the impulses whose window (of `windowfn`) has not closed yet.

    Late data is decided once, here, at the clock: a poll behind the watermark (a replayed or restarted source, a
    TestStream) is dropped whole and counted (`polls.late`). It has fetched nothing and marked nothing as seen, so
    what it would have found is found by the next on-time poll. Everything downstream carries an on-time timestamp,
    which is why the windows allow no lateness and each window's files are written exactly once."""

    def __init__(self, windowfn: WindowFn):
        super().__init__()
        self._windowfn = windowfn

    def expand(self, impulses):
        return (
            impulses
            | "OnClock" >> beam.Map(lambda tick: (CLOCK_KEY, tick)).with_output_types(Tuple[str, Any])
            | "DropLatePolls" >> beam.ParDo(_OnTimePollsFn(self._windowfn))
        )


# --------------------------------------------------------------------------------------------------------------
# Feed polling


@dataclass(frozen=True)
class FeedPollState:
    """What one feed source's key remembers between polls."""

    validator: Optional[FeedValidator] = None  # for the next conditional GET, and the body hash
    listed: Tuple[str, ...] = ()  # a subscription list's feeds, polled again while the list is unchanged
    failing: Optional[str] = None  # the reason already reported for a source that keeps failing the same way
    polled_at: Optional[int] = None  # micros of the impulse that last polled it: one poll per impulse
    sitemaps: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()  # an index's planned sitemaps (URL, chain), polled again


class _PollFeedFn(beam.DoFn):
    """(source, listed in) -> FeedItem, and on tag `listed` the (feed URL, list) pairs of a subscription list.

    `depth` 0 polls the configured sources and expands lists one level; `depth` 1 polls the listed feeds and reports
    a list found there as `nested_list_ignored`, as batch does. Each source keeps its own state: the validator of
    its last answer (conditional GET, body hash), and for a list the feeds it lists, so that a 304 still polls them.
    A source not polled for `forget_after` (a feed dropped from its list) forgets its state."""

    FEED_STATE = ReadModifyWriteStateSpec("feed", PickleCoder())
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)

    def __init__(self, settings: FetchSettings, depth: int, forget_after, given=(), archive_role=None):
        self._settings = settings
        self._depth = depth
        self._archive_role = archive_role
        self._forget_after = _duration(forget_after)
        self._given = given_keys(given)
        self._polls = counter("feeds.polls")
        self._repeats = counter("feeds.polled_twice_in_one_poll")
        self._forgotten = counter("feeds.state_forgotten")
        self._counters = CounterSet()

    def setup(self):
        # kept as an attribute: Shared holds only a weak reference
        self._context = shared_fetch_context(self._settings)
        self._fetcher = PoliteFetcher(self._context.client, self._context.gates, self._context.robots)

    def process(self, element: Tuple[str, Any], timestamp=beam.DoFn.TimestampParam,
                feed_state=beam.DoFn.StateParam(FEED_STATE), forget=beam.DoFn.TimerParam(FORGET)):
        # the value: '' or the list it was listed in, for a feed; for a sitemap, the tuple of indexes above it
        source, meta = element
        chain = meta if isinstance(meta, tuple) else None
        previous: FeedPollState = feed_state.read() or FeedPollState()
        if previous.polled_at == timestamp.micros:  # listed twice, or by two lists: this poll already saw it
            self._repeats.inc()
            return
        forget.set(timestamp + self._forget_after)
        self._polls.inc()
        outputs = []
        state = self._poll(source, previous, outputs, chain)
        feed_state.write(replace(state, polled_at=timestamp.micros))
        yield from outputs

    @on_timer(FORGET)
    def on_forget(self, feed_state=beam.DoFn.StateParam(FEED_STATE)):
        feed_state.clear()
        self._forgotten.inc()

    def _poll(self, source: str, previous: FeedPollState, out: list, chain=None) -> FeedPollState:
        """Reads or fetches `source`; appends the outputs to `out` and returns the new state. What the bytes come
        to is decided by the source core (`read_document`), as in batch. `chain` (not None): a sitemap, under
        these indexes."""
        as_sitemap = chain is not None
        if is_http_url(source):
            validator = previous.validator
            request = FetchRequest(url=source, context=FeedFetch(depth=self._depth, previous=validator,
                                                                 sitemap_chain=chain or (), as_sitemap=as_sitemap),
                                   headers=conditional_headers(validator) if validator else (),
                                   max_bytes=SOURCE_MAX_BYTES)
            entry, fetched = split_for_archive(self._fetcher.fetch(request, FEED_ACCEPT, feed_like),
                                               self._archive_role)
            if entry is not None:  # the feed's response (a 304 too) and any robots.txt answer it needed
                self._counters.inc("warc.entries")
                out.append(TaggedOutput(EXCHANGES, entry))
            if isinstance(fetched, FetchFailure):
                self._counters.inc("feeds.fetch_failed")
                return self._failure(previous, source, out, fetched.reason, fetch_failure_dead_letter(fetched))
            self._counters.inc("feeds.fetched")
            document = document_from_page(fetched)
        else:
            body = read_path(source)
            if isinstance(body, str):
                return self._failure(previous, source, out, reasons.SOURCE_UNREADABLE,
                                     unreadable_dead_letter(source, body, utcnow()))
            self._counters.inc("sources.read")
            # a path's validator is its body hash: the same bytes at the next poll are not read again
            document = document_from_path(source, body, self._depth, utcnow(), previous.validator, remember=True,
                                          as_sitemap=as_sitemap)
        outcome = read_document(document, utcnow())
        for name, value in outcome.counts:
            self._counters.inc(name, value)
        out.extend(TaggedOutput(DEAD_LETTERS, dead) for dead in outcome.dead_letters)
        if not outcome.changed:
            self._relist(previous, source, out)
            return replace(previous, validator=document.validator, failing=None)
        # the validator is kept even when the body is unusable: the same bytes give the same dead letter, once
        out.extend(outcome.items)
        planned = ()
        if outcome.index is not None:  # an index is planned on its own here (the budget is per index)
            plan = plan_sitemaps([(outcome.index, outcome.sitemaps)], MAX_SITEMAPS_PER_SITE, None, utcnow())
            for name, value in plan.counts:
                self._counters.inc(name, value)
            out.extend(TaggedOutput(DEAD_LETTERS, dead) for dead in plan.dead_letters)
            planned = tuple((request.url, request.context.sitemap_chain) for request in plan.requests)
        state = FeedPollState(validator=document.validator, listed=outcome.listed, sitemaps=planned)
        self._relist(state, source, out)
        return state

    def _failure(self, previous: FeedPollState, source: str, out: list, reason: str,
                 dead: DeadLetter) -> FeedPollState:
        """One dead letter when a source starts failing (or fails another way), not one every poll."""
        if previous.failing == reason:
            self._counters.inc("feeds.failure_repeated")
        else:
            out.append(TaggedOutput(DEAD_LETTERS, dead))
        self._relist(previous, source, out)  # a list that cannot be read now still lists its feeds
        return replace(previous, failing=reason)

    def _relist(self, previous: FeedPollState, source: str, out: list) -> None:
        out.extend(TaggedOutput(SITEMAPS, pair) for pair in previous.sitemaps)
        for url in previous.listed:
            if source_key(url) in self._given:  # polled as a given source already
                self._counters.inc("sources.listed_also_given")
                continue
            out.append(TaggedOutput(LISTED, (url, source)))


class PollFeeds(beam.PTransform):
    """(feed source, '') at every poll -> {'items': FeedItem, 'dead_letters': DeadLetter, 'exchanges':
    newsbeam.warc.ArchiveEntry}, in the poll's timestamp; exchanges only with `archive_role` (ROLE_FEED: each
    source's response, a 304 too, with any robots.txt answer it needed, as batch archives its feeds).

    Sources given by the user are polled by one keyed stateful step; the feeds their subscription lists name are
    polled by a second one with its own per-feed state, in the same poll. (A feed cannot be sent back into the
    first step: a Beam graph has no cycles, and waiting for the next impulse would delay every listed feed by a
    poll interval.) A feed given directly and also listed in a list is polled once, as a given source, as in
    batch: `given` names the sources given directly."""

    def __init__(self, settings: FetchSettings, forget_after=DEFAULT_FEED_STATE_TTL, given=(),
                 archive_role: Optional[str] = None):
        super().__init__()
        self._settings = settings
        self._forget_after = forget_after
        self._given = tuple(given)
        self._archive_role = archive_role

    def expand(self, sources):
        given = (
            sources
            | "KeyBySource" >> beam.Map(lambda pair: (pair[0], pair[1])).with_output_types(Tuple[str, Any])
            | "PollGiven" >> beam.ParDo(self._poller(0)).with_outputs(
                LISTED, DEAD_LETTERS, SITEMAPS, EXCHANGES, main="items")
        )
        listed = (
            given[LISTED]
            | "KeyByListedFeed" >> beam.Map(lambda pair: (pair[0], pair[1])).with_output_types(Tuple[str, Any])
            | "PollListed" >> beam.ParDo(self._poller(1)).with_outputs(
                LISTED, DEAD_LETTERS, SITEMAPS, EXCHANGES, main="items")
        )
        items = [given.items, listed.items]
        dead_letters = [given[DEAD_LETTERS], listed[DEAD_LETTERS]]
        exchanges = [given[EXCHANGES], listed[EXCHANGES]]
        # sitemaps listed by indexes: one keyed step per level (a graph has no cycles; the depth is bounded)
        pending = (given[SITEMAPS], listed[SITEMAPS]) | "IndexedSitemaps0" >> beam.Flatten()
        for level in range(1, MAX_DEPTH + 1):
            polled = (
                pending
                | f"KeyBySitemap{level}" >> beam.Map(lambda pair: (pair[0], pair[1])).with_output_types(
                    Tuple[str, Any])
                | f"PollSitemaps{level}" >> beam.ParDo(self._poller(1)).with_outputs(
                    LISTED, DEAD_LETTERS, SITEMAPS, EXCHANGES, main="items")
            )
            items.append(polled.items)
            dead_letters.append(polled[DEAD_LETTERS])
            exchanges.append(polled[EXCHANGES])
            pending = polled[SITEMAPS]
        return {"items": items | "FeedItems" >> beam.Flatten(),
                DEAD_LETTERS: dead_letters | "FeedDeadLetters" >> beam.Flatten(),
                EXCHANGES: exchanges | "FeedExchanges" >> beam.Flatten()}

    def _poller(self, depth: int) -> _PollFeedFn:
        return _PollFeedFn(self._settings, depth, self._forget_after, self._given, self._archive_role)


# --------------------------------------------------------------------------------------------------------------
# Article URL lists (--urls)


class _PollUrlFileFn(beam.DoFn):
    """(path, '') -> FeedItem for each article URL of a `--urls` file, read at every poll through FileSystems; a file
    whose bytes did not change yields nothing (its URLs were handled), a changed one is read in full (FirstSeen
    drops the URLs it already admitted)."""

    BODY_HASH = ReadModifyWriteStateSpec("body_sha256", PickleCoder())
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)

    def __init__(self, forget_after):
        self._forget_after = _duration(forget_after)
        self._unchanged = counter("sources.url_files_unchanged")
        self._counters = CounterSet()

    def process(self, element: Tuple[str, str], timestamp=beam.DoFn.TimestampParam,
                body_sha256=beam.DoFn.StateParam(BODY_HASH), forget=beam.DoFn.TimerParam(FORGET)):
        path, _ = element
        forget.set(timestamp + self._forget_after)
        body = read_path(path, compression_type="auto")
        if isinstance(body, str):  # reported once, not at every poll, until the file is readable again
            if body_sha256.read() != _UNREADABLE:
                body_sha256.write(_UNREADABLE)
                yield TaggedOutput(DEAD_LETTERS, replace(unreadable_dead_letter(path, body, utcnow()), feed_url=None))
            return
        digest = body_hash(body)
        if body_sha256.read() == digest:
            self._unchanged.inc()
            return
        body_sha256.write(digest)
        yield from emit_url_list(url_file_outcome(path, body, utcnow()), self._counters)

    @on_timer(FORGET)
    def on_forget(self, body_sha256=beam.DoFn.StateParam(BODY_HASH)):
        body_sha256.clear()


class PollUrlFiles(beam.PTransform):
    """(path, '') at every poll -> {'items': FeedItem, 'dead_letters': DeadLetter}."""

    def __init__(self, forget_after=DEFAULT_FEED_STATE_TTL):
        super().__init__()
        self._forget_after = forget_after

    def expand(self, paths):
        read = (
            paths
            | "KeyByPath" >> beam.Map(lambda pair: (pair[0], pair[1])).with_output_types(Tuple[str, str])
            | "ReadChanged" >> beam.ParDo(_PollUrlFileFn(self._forget_after)).with_outputs(DEAD_LETTERS, main="items")
        )
        return {"items": read.items, DEAD_LETTERS: read[DEAD_LETTERS]}


# --------------------------------------------------------------------------------------------------------------
# First-seen dedup


class _FirstSeenFn(beam.DoFn):
    """Keyed by canonical URL: the first listing passes, re-appearances are dropped while the key is held. Each
    appearance pushes the expiry to `ttl` after it (event time), so the key is held for as long as feeds keep listing
    the URL, and cleared `ttl` after the last listing: state does not grow with every URL ever seen."""

    SEEN = ReadModifyWriteStateSpec("seen", BooleanCoder())
    EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)

    def __init__(self, ttl):
        self._ttl = _duration(ttl)
        self._in = counter("items.in")
        self._unique = counter("items.unique")
        self._duplicates = counter("items.duplicate")
        self._forgotten = counter("items.forgotten")

    def process(self, element: Tuple[str, FeedItem], timestamp=beam.DoFn.TimestampParam,
                seen=beam.DoFn.StateParam(SEEN), expire=beam.DoFn.TimerParam(EXPIRE)):
        _, item = element
        self._in.inc()
        expire.set(timestamp + self._ttl)
        if seen.read():
            self._duplicates.inc()
            return
        seen.write(True)
        self._unique.inc()
        yield item

    @on_timer(EXPIRE)
    def on_expire(self, seen=beam.DoFn.StateParam(SEEN)):
        seen.clear()
        self._forgotten.inc()


class FirstSeen(beam.PTransform):
    """FeedItem -> FeedItem, once per canonical URL per `ttl` of event time since it was last listed
    (`items.in` = `items.unique` + `items.duplicate`, as batch's DeduplicateItems counts them)."""

    def __init__(self, ttl=DEFAULT_DEDUP_TTL):
        super().__init__()
        if _duration(ttl) <= Duration(0):
            raise ValueError("the dedup TTL must be positive")
        self._ttl = ttl

    def expand(self, items):
        return (
            items
            | "KeyByCanonicalUrl" >> beam.Map(lambda item: (item.canonical_url, item)).with_output_types(
                Tuple[str, FeedItem])
            | "FirstListing" >> beam.ParDo(_FirstSeenFn(self._ttl))
        )

