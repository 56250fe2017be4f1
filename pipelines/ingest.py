"""The batch ingestion pipeline: sources -> feed items -> dedup -> core -> partitioned Parquet.

`run(argv)` is what the CLI (`newsbeam ingest ...`) and the tests call.
"""
from __future__ import annotations

import logging
import multiprocessing
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Dict, List, Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

from newsbeam.atomic import failure_reason
from newsbeam.extraction import EXTRACTOR_NAME
from newsbeam.recordstore import RecordStore
from newsbeam.runlock import RunLock, hold_run_lock
from newsbeam.runtime import limit_malloc_arenas
from newsbeam.scratch import remove_tree, scratch_directory
from newsbeam.site_discovery import run_discovery
from newsbeam.state import StateDamaged, check_state
from newsbeam.pipelines.lifecycle import (
    ACCOUNTING_MISMATCH,
    EXIT_PIPELINE_FAILED,
    FAILED,
    NO_INPUT,
    RunControl,
    RunManifest,
    RunOutcome,
    counters_of,
    decide,
    interruptible,
    stage_seconds,
)
from newsbeam.pipelines.view_options import ViewCachingOptions
from newsbeam.pipelines.options import IngestConfig, NewsbeamOptions, UsageError, build_config
from newsbeam.pipelines.progress_options import ProgressOptions, live_progress, quiet_worker_logs
from newsbeam.schemas.datasets import ARTICLES, DEAD_LETTERS as DEAD_LETTERS_DATASET, RunContext
from newsbeam.transforms.archive import (
    ArchiveResponses,
    AttachPointers,
    CountWrittenArchive,
    article_pointer,
    dead_letter_pointer,
    with_article_pointer,
    with_dead_letter_pointer,
    write_discovery_archive,
)
from newsbeam.transforms.common import DEAD_LETTERS
from newsbeam.transforms.fetch import EXCHANGES
from newsbeam.transforms.backfill import ArticlesInWindow, CapItems, ItemsInWindow
from newsbeam.transforms.core import ProcessArticles, ProcessPages
from newsbeam.transforms.dedup import DeduplicateItems
from newsbeam.transforms.incremental import (
    CommitState,
    DropKnownArticles,
    DueRetries,
    FeedValidators,
    NearDuplicates,
    SkipSeen,
)
from newsbeam.transforms.sources import VALIDATORS, ReadFeeds, ReadUrlLists
from newsbeam.transforms.warc_input import PagesFromWarc
from newsbeam.transforms.write import WriteDataset

LOG = logging.getLogger(__name__)

# The DirectRunner of Beam 2.77 first tries to download the Prism binary; FnApiRunner never touches the network.
DEFAULT_RUNNER = "FnApiRunner"


def build_pipeline(pipeline: beam.Pipeline, config: IngestConfig) -> None:
    """Wires the batch graph onto `pipeline` (no I/O happens here)."""
    run = RunContext(run_id=config.run_id, ingest_date=config.ingest_date, extractor=EXTRACTOR_NAME)
    state = config.state
    # on the local runner, what crosses the barriers after the core waits in the run's spool, not in the runner
    store = RecordStore(config.core.spool_dir)
    dead_letters = []
    validators = []
    exchanges = []
    extracted = []
    if config.source_dead_letters:
        dead_letters.append(pipeline | "DiscoveryDeadLetters" >> beam.Create(list(config.source_dead_letters)))
    if config.discovery_written is not None:  # the responses --sites discovery archived before the pipeline
        _ = pipeline | "DiscoveryArchive" >> CountWrittenArchive(config.discovery_written)
    # a run given only archives makes no request: earlier runs' due retries wait for the next run that fetches
    if config.feeds or config.sitemaps or config.url_files or config.sites or not config.warc_files:
        extracted.append(_fetched_articles(pipeline, config, state, dead_letters, validators, exchanges))
    if config.warc_files:
        archived = pipeline | "WarcFiles" >> beam.Create(list(config.warc_files)) | "ReadWarc" >> PagesFromWarc(
            share_dir=config.core.spool_dir)
        from_warc = archived["pages"] | "WarcCore" >> ProcessPages(config.core)
        extracted.append(from_warc["articles"])
        dead_letters.extend([archived[DEAD_LETTERS], from_warc[DEAD_LETTERS]])
    known = tuple(extracted) | "DropKnownArticles" >> DropKnownArticles(state, store)
    dead_letters.append(known[DEAD_LETTERS])
    articles = known.articles
    if config.window.active:
        articles = articles | "ArticlesInWindow" >> ArticlesInWindow(config.window)
    near = articles | "NearDuplicates" >> NearDuplicates(state, store)
    articles, dead_letters = near["articles"], dead_letters | "AllDeadLetters" >> beam.Flatten()
    # a run that fetches nothing (--warc only) has no pointer of its own to attach: its rows point into the input
    fetches = bool(exchanges)
    # without archiving, the (empty) archive step still removes what an earlier attempt of the run archived
    exchanges = exchanges or [pipeline | "NoExchanges" >> beam.Create([])]
    pointers = exchanges | "AllExchanges" >> beam.Flatten() | "Archive" >> ArchiveResponses(
        config.output, run, config.buckets, store=store)
    if config.archive != "off" and fetches:
        articles = articles | "ArticlePointers" >> AttachPointers(
            pointers, article_pointer, with_article_pointer, store)
        dead_letters = dead_letters | "DeadLetterPointers" >> AttachPointers(
            pointers, dead_letter_pointer, with_dead_letter_pointer)
    article_files = articles | "WriteArticles" >> WriteDataset(
        ARTICLES, config.output, run, config.buckets, store=store)
    dead_letter_files = dead_letters | "WriteDeadLetters" >> WriteDataset(
        DEAD_LETTERS_DATASET, config.output, run, config.buckets)
    no_validators = pipeline | "NoValidators" >> beam.Create([])
    {
        "article_files": article_files,
        "dead_letter_files": dead_letter_files,
        "validators": (validators or [no_validators]) | "AllValidators" >> beam.Flatten(),
        "near_dup_rows": near["state_rows"],
    } | "CommitState" >> CommitState(state, record_feeds=not config.backfill)


def _fetched_articles(pipeline: beam.Pipeline, config: IngestConfig, state, dead_letters: list, validators: list,
                      exchanges: list):
    """The fetching branch: feeds, sitemaps, URL lists and due retries -> items -> the core's articles (its dead
    letters, feed validators and HTTP exchanges are appended to the lists given)."""
    feed_items = [pipeline | "RetryDue" >> DueRetries(state)]
    if config.feeds or config.sitemaps:
        feeds = (
            pipeline
            | "FeedSources" >> beam.Create(list(config.feeds))
            | "ReadFeeds" >> ReadFeeds(config.core.fetch, validators=pipeline | "KnownFeeds" >> FeedValidators(state),
                                       since=config.window.since, sitemaps=config.sitemaps,
                                       archive=config.archive == "all")
        )
        feed_items.append(feeds["items"])
        dead_letters.append(feeds[DEAD_LETTERS])
        validators.append(feeds[VALIDATORS])
        exchanges.append(feeds[EXCHANGES])
    if config.url_files:
        listed = (
            pipeline
            | "UrlFiles" >> beam.Create(list(config.url_files))
            | "ReadUrlLists" >> ReadUrlLists()
        )
        feed_items.append(listed["items"])
        dead_letters.append(listed[DEAD_LETTERS])
    items = (
        feed_items
        | "AllItems" >> beam.Flatten()
        | "Deduplicate" >> DeduplicateItems()
        | "SkipSeen" >> SkipSeen(state)
    )
    if config.window.active:
        items = items | "ItemsInWindow" >> ItemsInWindow(config.window, config.started_at)
    if config.max_articles is not None:
        items = items | "CapItems" >> CapItems(config.max_articles, config.started_at)
    core = items | "Core" >> ProcessArticles(config.core)
    dead_letters.append(core[DEAD_LETTERS])
    exchanges.append(core[EXCHANGES])
    return core["articles"]


def archive_discovery(config: IngestConfig) -> IngestConfig:
    """Discovery ran in the driver: its responses go to their own archive file from there (an earlier attempt's
    file of this run id is replaced, or removed when there is nothing to archive this time)."""
    run = RunContext(run_id=config.run_id, ingest_date=config.ingest_date, extractor=EXTRACTOR_NAME)
    entries = config.discovery_archive if config.archive == "all" else ()
    return replace(config, discovery_written=write_discovery_archive(config.output, run, entries),
                   discovery_archive=())


def with_discovery(config: IngestConfig) -> IngestConfig:
    """`--sites` resolved: the feeds and sitemaps found (or recorded by an earlier run) become sources."""
    found = run_discovery(config.sites, config.output, config.core.fetch, config.started_at, config.rediscover_days,
                          archive=config.archive == "all")
    return replace(config, feeds=tuple(dict.fromkeys(config.feeds + found.feeds)),
                   sitemaps=tuple(url for url in found.sitemaps if url not in config.feeds),
                   source_dead_letters=found.dead_letters, discovery=found.record,
                   discovery_archive=found.archive)


def run(argv: Optional[List[str]] = None, now: Optional[datetime] = None,
        control: Optional[RunControl] = None, lock: Optional[RunLock] = None) -> RunOutcome:
    """Runs one batch ingestion. Raises UsageError before anything starts if the run cannot proceed, e.g. while
    another run writes to the same output.

    `now` (default: the clock) is the run's start: retry schedules are judged against it. `control` (the CLI's)
    lets a SIGINT/SIGTERM mark this run 'interrupted' (see `lifecycle.supervise`). `lock`: the output's lock, if
    the caller already holds it (the stream driver)."""
    options = ViewCachingOptions(argv)
    standard = options.view_as(StandardOptions)
    if not standard.runner:
        standard.runner = DEFAULT_RUNNER
    if standard.runner == DEFAULT_RUNNER:
        limit_malloc_arenas()  # before the runner starts its worker processes
    # FileSystems learns options (e.g. an S3 endpoint) only when a Pipeline is built; the input checks and the
    # 'running' manifest come before that
    FileSystems.set_options(options)
    config = build_config(options.view_as(NewsbeamOptions), now=now)
    # one live run per output: a concurrent one would write every article again (newsbeam.runlock)
    with hold_run_lock(config.output, config.run_id, held=lock, error=UsageError) as held:
        # a stop ends the process at once (newsbeam.process_exit): the lock this run took goes with it
        release = control.on_interrupt(lambda reason: held.release()) if control and lock is None else None
        try:
            try:
                check_state(config.output)
            except StateDamaged as exc:  # a truncated or foreign state file: say which and how to recover
                raise UsageError(str(exc)) from None
            if config.sites:
                config = with_discovery(config)
            manifest = RunManifest(config, options)
            # the one place that wraps the whole run, manifest included
            with interruptible(manifest, control), _page_spool(config, options, control) as spooled:
                return _execute(options, spooled, manifest, str(standard.runner))
        finally:
            if release is not None:
                release()


@contextmanager
def _page_spool(config: IngestConfig, options: PipelineOptions, control: Optional[RunControl] = None):
    # WARC input: its articles cross the barriers after the core through the spool (transforms/warc_input)
    enabled = config.core.redistribute or bool(config.warc_files)
    runner = str(options.view_as(StandardOptions).runner)
    with page_spool(config.core.spool_dir, runner, control, enabled=enabled) as directory:
        # extraction while fetching shares the pages through the spool, and waits for every bundle of the stage
        bundles = local_workers(options) if directory is not None and config.core.extract_while_fetching else 0
        yield replace(config, core=replace(config.core, spool_dir=directory, extract_while_fetching=bundles))


def local_workers(options: PipelineOptions) -> int:
    """How many bundles the local runner (FnApiRunner) runs a stage in: its worker count, as it reads it."""
    workers = options.view_as(DirectOptions).direct_num_workers
    return multiprocessing.cpu_count() if workers == 0 else workers or 1


@contextmanager
def page_spool(chosen: Optional[str], runner: str, control: Optional[RunControl] = None, enabled: bool = True):
    """The local runner's workers share this machine's disk: pages redistributed after fetching (or reading a
    WARC file), and the records that cross the barriers after the core, wait in a scratch directory under
    `chosen` (default: the temp directory), removed at the end of the run or when a signal stops it, not in the
    runner's memory. None (nothing spooled) for other runners, which shuffle them themselves, and for
    `--spool-dir off`."""
    if runner != DEFAULT_RUNNER or not enabled or chosen == "off":
        yield None
        return
    with scratch_directory(chosen) as directory:
        # a stop ends the process at once (newsbeam.process_exit), past this block's own clean-up
        forget = control.on_interrupt(lambda reason: remove_tree(directory)) if control else None
        try:
            yield directory
        finally:
            if forget is not None:
                forget()


def _execute(options: PipelineOptions, config: IngestConfig, manifest: RunManifest, runner: str) -> RunOutcome:
    manifest.start()
    LOG.info("run %s: %d feed source(s), %d URL file(s) -> %s", config.run_id, len(config.feeds),
             len(config.url_files), config.output)
    started = time.monotonic()
    error = None
    counters: Dict[str, int] = {}
    try:
        config = archive_discovery(config)
        pipeline = beam.Pipeline(options=options)
        build_pipeline(pipeline, config)
        with quiet_worker_logs(runner), \
                live_progress(options.view_as(ProgressOptions).progress, runner) as progress:
            result = pipeline.run()
            result.wait_until_finish()
            counters = counters_of(result)
            if progress is not None:
                progress.stop(counters)
    except Exception as exc:  # the manifest must say the run failed, whatever failed
        # the error reaches the manifest and the CLI's one line; the traceback only at DEBUG
        LOG.debug("run %s failed", config.run_id, exc_info=True)
        error = failure_reason(exc)
    seconds = round(time.monotonic() - started, 3)
    status, code, accounting, error = decide(counters, error)
    if status in (ACCOUNTING_MISMATCH, NO_INPUT):
        LOG.info("run %s: %s", config.run_id, error)  # the outcome carries it; the CLI prints it once
    try:
        manifest.finish(
            status,
            seconds=seconds,
            counters=counters,
            stage_seconds=stage_seconds(counters),
            accounting=accounting.as_dict() if accounting else None,
            error=error,
        )
    except Exception as exc:  # e.g. a full disk: the outcome still says why, and no manifest claims success
        LOG.error("run %s: cannot update its manifest %s: %s", config.run_id, manifest.path, exc)
        status, code = FAILED, code or EXIT_PIPELINE_FAILED
        error = (f"{error + '; ' if error else ''}the manifest {manifest.path} still says 'running': "
                 f"{failure_reason(exc)}")
    return RunOutcome(config.run_id, config.output, status, code, counters, accounting, seconds, error)


if __name__ == "__main__":
    # `python -m newsbeam.pipelines.ingest ...` is `newsbeam ingest ...`; only this entry point reaches the CLI,
    # the module itself never imports it
    import sys

    from newsbeam.pipelines.cli import main

    sys.exit(main(["ingest", *sys.argv[1:]]))
