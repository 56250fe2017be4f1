"""The unbounded graph, for streaming runners (Dataflow, Flink, Spark, Prism, any portable job service):

```
PeriodicImpulse(start = the run's start) ─► OnTimePolls ─┬─► feed sources ─► PollFeeds (conditional GET) ─┐
                                                         └─► --urls files ─► PollUrlFiles ─────────────────┴─►
  FirstSeen (keyed by canonical URL, TTL timer) ─► FixedWindows ─► SkipSeen ─► ProcessArticles ─► DropKnownArticles
  ─► WriteDataset(articles, windowed)              every stage ─► dead letters ─► WriteDataset(dead_letters, windowed)
```

`newsbeam stream --runner <streaming runner> ...` calls `run_unbounded`; without such a runner `newsbeam stream`
keeps using the local polling driver of `newsbeam.pipelines.stream` (one bounded run per poll), because no runner on
these machines executes an unbounded Python pipeline.

Batch-only stages are left out: `DueRetries`, `FeedValidators` and `CommitState` start from `Create([None])` and
`NearDuplicates` and `CapItems` gather a whole run with `ToList` in the global window, none of which means anything
for a graph that never ends. The seen index of batch runs (`SkipSeen`, `DropKnownArticles`) is read once per worker
when it starts, so the stream skips what batch runs wrote before it started.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Tuple

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.transforms.window import FixedWindows
from apache_beam.utils.timestamp import MAX_TIMESTAMP, Duration, Timestamp

from newsbeam.extraction import EXTRACTOR_NAME
from newsbeam.pipelines.lifecycle import (
    CANCELLED,
    EXIT_OK,
    EXIT_PIPELINE_FAILED,
    FAILED,
    STOP_SIGNALS,
    STOPPED,
    RunManifest,
    counters_of,
    signal_exit_code,
)
from newsbeam.pipelines.ingest import archive_discovery, with_discovery
from newsbeam.pipelines.view_options import ViewCachingOptions
from newsbeam.pipelines.options import IngestConfig, NewsbeamOptions, UsageError, build_config
from newsbeam.pipelines.stream import StreamOptions
from newsbeam.schemas.datasets import ARTICLES, DEAD_LETTERS as DEAD_LETTERS_DATASET, RunContext
from newsbeam.transforms.archive import (
    ArchiveResponses,
    AttachPointers,
    CountWrittenArchive,
    article_pointer,
    dead_letter_pointer,
    with_article_pointer,
    with_dead_letter_pointer,
)
from newsbeam.transforms.common import DEAD_LETTERS
from newsbeam.transforms.core import ProcessArticles
from newsbeam.transforms.fetch import EXCHANGES
from newsbeam.transforms.incremental import DropKnownArticles, SkipSeen
from newsbeam.transforms.streaming import (
    DEFAULT_DEDUP_TTL,
    DEFAULT_FEED_STATE_TTL,
    FirstSeen,
    OnTimePolls,
    PollFeeds,
    PollUrlFiles,
)
from newsbeam.transforms.write import WriteDataset
from newsbeam.warc import ROLE_FEED

LOG = logging.getLogger(__name__)

# Runners that execute an unbounded Python pipeline. The local ones (FnApiRunner, BundleBasedDirectRunner) do not:
# `newsbeam stream` without one of these uses the polling driver.
STREAMING_RUNNERS = ("DataflowRunner", "FlinkRunner", "SparkRunner", "PrismRunner", "PortableRunner")
# Runners whose `run()` hands the job to a remote service that keeps it running after this process exits.
DETACHED_RUNNERS = ("DataflowRunner",)


class UnboundedOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        group = parser.add_argument_group("streaming runners")
        group.add_argument("--dedup-days", "--dedup_days", dest="dedup_days", type=float,
                           default=DEFAULT_DEDUP_TTL.total_seconds() / 86400,
                           help="With a streaming runner: an article URL is written once, then ignored until no "
                                "feed has listed it for this many days (default 30).")
        group.add_argument("--window-seconds", "--window_seconds", dest="window_seconds", type=float, default=None,
                           help="With a streaming runner: seconds of polls per output file (default: the poll "
                                "interval, one file per partition and poll).")


def requested_runner(argv: List[str]) -> Optional[str]:
    """The short name of the `--runner` in `argv`, if any (e.g. 'DataflowRunner' for a dotted path too)."""
    runner = PipelineOptions(argv).view_as(StandardOptions).runner
    return runner.rsplit(".", 1)[-1] if runner else None


def is_streaming_runner(argv: List[str]) -> bool:
    return requested_runner(argv) in STREAMING_RUNNERS


def _at_first_poll(_, dead_letters, first: Timestamp, timestamp=beam.DoFn.TimestampParam):
    return dead_letters if timestamp == first else []


def poll_start(config: IngestConfig) -> Timestamp:
    """The first impulse: the run's start, to the whole second, so that window starts (in file names) are too."""
    return Timestamp(seconds=int(config.started_at.timestamp()))


def poll_windows(start: Timestamp, size_seconds: float) -> FixedWindows:
    """Fixed windows aligned on the first poll: a window's start is the time of a poll."""
    size = Duration(micros=int(size_seconds * 1e6))
    return FixedWindows(size, offset=Timestamp(micros=start.micros % size.micros))


def build_stream_pipeline(pipeline: beam.Pipeline, config: IngestConfig, poll_interval: float, impulses=None,
                          dedup_ttl=DEFAULT_DEDUP_TTL, window_seconds: Optional[float] = None,
                          feed_state_ttl=DEFAULT_FEED_STATE_TTL, stop_at: Optional[Timestamp] = None) -> Dict:
    """Wires the unbounded graph onto `pipeline`; returns the writers' outputs (committed file paths per window).

    `impulses` replaces the PeriodicImpulse (tests pass a TestStream): any elements, whose timestamps are the
    polls' times, in the global window."""
    if poll_interval < 1:
        raise ValueError("the poll interval must be at least 1 second (file names carry the window start in seconds)")
    size = window_seconds or poll_interval
    if size < poll_interval:
        raise ValueError("a window must hold at least one poll")
    if config.backfill:
        raise ValueError("--since, --until and --max-articles are for batch runs, not for the unbounded graph")
    start = poll_start(config)
    windows = poll_windows(start, size)
    if impulses is None:
        # the start is explicit: PeriodicImpulse's default start (Timestamp.now()) is evaluated at construction
        impulses = pipeline | "Poll" >> PeriodicImpulse(
            start_timestamp=start, stop_timestamp=stop_at or MAX_TIMESTAMP, fire_interval=poll_interval,
            apply_windowing=False)
    polls = impulses | "OnTimePolls" >> OnTimePolls(windows)
    run = RunContext(run_id=config.run_id, ingest_date=config.ingest_date, extractor=EXTRACTOR_NAME)
    items, poll_dead_letters, poll_exchanges = [], [], []
    if config.feeds or config.sitemaps:
        # a sitemap found by discovery carries its (empty) chain of indexes: plain text there is a text sitemap
        given = [(source, "") for source in config.feeds] + [(url, ()) for url in config.sitemaps]
        feeds = (
            polls
            | "FeedSources" >> beam.FlatMap(lambda _, sources: list(sources), given).with_output_types(
                Tuple[str, Any])
            | "PollFeeds" >> PollFeeds(config.core.fetch, feed_state_ttl, given=config.feeds,
                                       archive_role=ROLE_FEED if config.archive == "all" else None)
        )
        items.append(feeds["items"])
        poll_dead_letters.append(feeds[DEAD_LETTERS])
        poll_exchanges.append(feeds[EXCHANGES])
    if config.source_dead_letters:  # what discovery could not use: reported with the first poll, once
        poll_dead_letters.append(polls | "DiscoveryDeadLetters" >> beam.FlatMap(
            _at_first_poll, list(config.source_dead_letters), start))
    if config.url_files:
        listed = (
            polls
            | "UrlFiles" >> beam.FlatMap(lambda _, paths: [(path, "") for path in paths],
                                         list(config.url_files)).with_output_types(Tuple[str, str])
            | "PollUrlFiles" >> PollUrlFiles(feed_state_ttl)
        )
        items.append(listed["items"])
        poll_dead_letters.append(listed[DEAD_LETTERS])
    # Items carry their poll's timestamp, which OnTimePolls admitted while its window was open: nothing reaches the
    # windows late, so they allow no lateness and fire once, at the watermark (one pane, one set of files each).
    fresh = (
        items
        | "AllItems" >> beam.Flatten()
        | "FirstSeen" >> FirstSeen(dedup_ttl)
        | "WindowItems" >> beam.WindowInto(windows, allowed_lateness=Duration(0))
        | "SkipSeen" >> SkipSeen(config.state)
    )
    # responses are archived per window: the article pages', and with `--archive all` the polled feeds' too
    archive = config.archive != "off"
    core = fresh | "Core" >> ProcessArticles(replace(config.core, archive=archive))
    known = core["articles"] | "DropKnownArticles" >> DropKnownArticles(config.state)
    articles = known.articles
    polled_dead = (
        poll_dead_letters
        | "AllPollDeadLetters" >> beam.Flatten()
        | "WindowPollDeadLetters" >> beam.WindowInto(windows, allowed_lateness=Duration(0))
    )
    dead_letters = (polled_dead, core[DEAD_LETTERS], known[DEAD_LETTERS]) | "AllDeadLetters" >> beam.Flatten()
    if config.discovery_written is not None:  # what the driver archived for --sites discovery, counted as batch does
        _ = pipeline | "DiscoveryArchive" >> CountWrittenArchive(config.discovery_written)
    if archive:
        exchanges = [core[EXCHANGES]]
        if poll_exchanges:
            exchanges.append(poll_exchanges | "AllPollExchanges" >> beam.Flatten()
                             | "WindowPollExchanges" >> beam.WindowInto(windows, allowed_lateness=Duration(0)))
        pointers = (exchanges | "AllExchanges" >> beam.Flatten()
                    | "Archive" >> ArchiveResponses(config.output, run, config.buckets, windowed=True))
        articles = articles | "ArticlePointers" >> AttachPointers(pointers, article_pointer, with_article_pointer)
        dead_letters = dead_letters | "DeadLetterPointers" >> AttachPointers(
            pointers, dead_letter_pointer, with_dead_letter_pointer)
    article_files = articles | "WriteArticles" >> WriteDataset(
        ARTICLES, config.output, run, config.buckets, windowed=True)
    dead_letter_files = dead_letters | "WriteDeadLetters" >> WriteDataset(
        DEAD_LETTERS_DATASET, config.output, run, config.buckets, windowed=True)
    return {"article_files": article_files, "dead_letter_files": dead_letter_files}


def run_unbounded(argv: List[str], now: Optional[datetime] = None, allowed_runners=STREAMING_RUNNERS) -> int:
    """Builds the unbounded graph and runs it with `--streaming` on the streaming runner named by `--runner`.

    Writes `OUT/_runs/<run_id>.json` ('running') first: batch runs on the same output then read this job's files
    back into their seen index, so they do not write its articles again. `--max-cycles N` stops the impulses after N
    polls (the job then drains and ends); `--duration S` cancels it after S seconds. Without either, a detached
    runner (Dataflow) returns once the job is submitted, the others wait for the job to end. Returns the exit code."""
    options = ViewCachingOptions(argv)
    standard = options.view_as(StandardOptions)
    runner = requested_runner(argv)
    if runner not in allowed_runners:
        raise UsageError(f"--runner {runner!r} does not run unbounded pipelines; use one of "
                         f"{', '.join(STREAMING_RUNNERS)}, or leave --runner out for the local polling driver")
    standard.streaming = True
    stream = options.view_as(StreamOptions)
    unbounded = options.view_as(UnboundedOptions)
    if stream.poll_interval < 1:
        raise UsageError("--poll-interval must be at least 1 second with a streaming runner")
    if stream.max_cycles is not None and stream.max_cycles < 1:
        raise UsageError("--max-cycles must be at least 1")
    if unbounded.window_seconds is not None and unbounded.window_seconds < stream.poll_interval:
        raise UsageError("--window-seconds must be at least the poll interval")
    if unbounded.dedup_days <= 0:
        raise UsageError("--dedup-days must be positive")
    config = build_config(options.view_as(NewsbeamOptions), now=now)
    if config.backfill:
        raise UsageError("--since, --until and --max-articles apply to batch runs only")
    if config.sites:  # discovered once, when the job starts (a long job is restarted to rediscover)
        # discovery's responses are archived by this process, as batch runs do: to <run_id>-discovery.warc.gz
        config = archive_discovery(with_discovery(config))
    start = poll_start(config)
    stop_at = None
    if stream.max_cycles is not None:
        stop_at = start + Duration(micros=int(stream.max_cycles * stream.poll_interval * 1e6))
    manifest = RunManifest(config, options, extra={"mode": "unbounded"})
    manifest.start()
    pipeline = beam.Pipeline(options=options)
    build_stream_pipeline(pipeline, config, stream.poll_interval, dedup_ttl=timedelta(days=unbounded.dedup_days),
                          window_seconds=unbounded.window_seconds, stop_at=stop_at)
    started = time.monotonic()
    result = None
    status = STOPPED
    received: List[int] = []
    previous = _cancel_on_signals(received)
    try:
        result = pipeline.run()
        if stream.duration is not None:
            state = result.wait_until_finish(duration=int(stream.duration * 1000))
            if not _terminal(state):
                result.cancel()
        elif runner in DETACHED_RUNNERS and stop_at is None:
            # the manifest stays 'running' on purpose: the job goes on on the service after this process ends
            LOG.warning("run %s submitted to %s; it runs until cancelled there", config.run_id, runner)
            return EXIT_OK
        else:
            result.wait_until_finish()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM while waiting: the job must not outlive the command
        LOG.warning("interrupted: cancelling run %s", config.run_id)
        status = CANCELLED
        if result is not None:
            result.cancel()
    except Exception as exc:
        LOG.exception("unbounded run %s failed", config.run_id)
        manifest.finish(FAILED, error=f"{type(exc).__name__}: {exc}")
        return EXIT_PIPELINE_FAILED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    counters = counters_of(result) if result is not None else {}
    manifest.finish(status, counters=counters, seconds=round(time.monotonic() - started, 3))
    return signal_exit_code(received[0]) if status == CANCELLED and received else EXIT_OK


def _cancel_on_signals(received: List[int]) -> Dict:
    """SIGTERM (what schedulers send) cancels the job like Ctrl-C does; only the main thread may install this."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def interrupt(signum, _frame):
        received.append(signum)
        raise KeyboardInterrupt

    return {sig: signal.signal(sig, interrupt) for sig in STOP_SIGNALS}


def _terminal(state) -> bool:
    from apache_beam.runners.runner import PipelineState

    return state in (PipelineState.DONE, PipelineState.FAILED, PipelineState.CANCELLED, PipelineState.UPDATED,
                     PipelineState.DRAINED)
