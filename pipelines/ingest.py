"""The batch ingestion pipeline: sources -> feed items -> dedup -> core -> partitioned Parquet.

`run(argv)` is what the CLI and the tests call; `python -m newsbeam.pipelines.ingest ...` works too.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, List, Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from newsbeam.extraction import EXTRACTOR_NAME
from newsbeam.manifest import Accounting, account, library_versions, manifest_path, write_json
from newsbeam.runtime import limit_malloc_arenas
from newsbeam.pipelines.options import IngestConfig, NewsbeamOptions, UsageError, build_config
from newsbeam.schemas.datasets import ARTICLES, DEAD_LETTERS as DEAD_LETTERS_DATASET, RunContext
from newsbeam.transforms.archive import (
    ArchiveResponses,
    AttachPointers,
    article_pointer,
    dead_letter_pointer,
    with_article_pointer,
    with_dead_letter_pointer,
)
from newsbeam.transforms.common import DEAD_LETTERS, NAMESPACE
from newsbeam.transforms.fetch import EXCHANGES
from newsbeam.transforms.backfill import ArticlesInWindow, CapItems, ItemsInWindow
from newsbeam.transforms.core import ProcessArticles, ProcessPages
from newsbeam.transforms.dedup import DeduplicateItems
from newsbeam.transforms.incremental import CommitState, DropKnownArticles, DueRetries, FeedValidators, NearDuplicates, SkipSeen
from newsbeam.transforms.sources import VALIDATORS, ReadFeeds, ReadUrlLists
from newsbeam.transforms.warc_input import PagesFromWarc
from newsbeam.transforms.write import WriteDataset

LOG = logging.getLogger(__name__)

# The DirectRunner of Beam 2.77 first tries to download the Prism binary; FnApiRunner never touches the network.
DEFAULT_RUNNER = "FnApiRunner"

EXIT_OK = 0
EXIT_PIPELINE_FAILED = 1
EXIT_USAGE = 2
EXIT_ACCOUNTING = 3


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    output: str
    status: str
    exit_code: int
    counters: Dict[str, int]
    accounting: Optional[Accounting]
    seconds: float
    error: Optional[str] = None


def build_pipeline(pipeline: beam.Pipeline, config: IngestConfig) -> None:
    """Wires the batch graph onto `pipeline` (no I/O happens here)."""
    run = RunContext(run_id=config.run_id, ingest_date=config.ingest_date, extractor=EXTRACTOR_NAME)
    state = config.state
    feed_items = [pipeline | "RetryDue" >> DueRetries(state)]
    dead_letters = []
    validators = []
    exchanges = []
    if config.feeds:
        feeds = (
            pipeline
            | "FeedSources" >> beam.Create(list(config.feeds))
            | "ReadFeeds" >> ReadFeeds(config.core.fetch, validators=pipeline | "KnownFeeds" >> FeedValidators(state),
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
        items = items | "ItemsInWindow" >> ItemsInWindow(config.window)
    if config.max_articles is not None:
        items = items | "CapItems" >> CapItems(config.max_articles)
    core = items | "Core" >> ProcessArticles(config.core)
    dead_letters.append(core[DEAD_LETTERS])
    exchanges.append(core[EXCHANGES])
    extracted = [core["articles"]]
    if config.warc_files:
        archived = pipeline | "WarcFiles" >> beam.Create(list(config.warc_files)) | "ReadWarc" >> PagesFromWarc()
        from_warc = archived["pages"] | "WarcCore" >> ProcessPages(config.core)
        extracted.append(from_warc["articles"])
        dead_letters.extend([archived[DEAD_LETTERS], from_warc[DEAD_LETTERS]])
    known = extracted | "AllExtracted" >> beam.Flatten() | "DropKnownArticles" >> DropKnownArticles(state)
    dead_letters.append(known[DEAD_LETTERS])
    articles = known.articles
    if config.window.active:
        articles = articles | "ArticlesInWindow" >> ArticlesInWindow(config.window)
    near = articles | "NearDuplicates" >> NearDuplicates(state)
    articles, dead_letters = near["articles"], dead_letters | "AllDeadLetters" >> beam.Flatten()
    # without archiving, the (empty) archive step still removes what an earlier attempt of the run archived
    pointers = exchanges | "AllExchanges" >> beam.Flatten() | "Archive" >> ArchiveResponses(config.output, run,
                                                                                              config.buckets)
    if config.archive != "off":
        articles = articles | "ArticlePointers" >> AttachPointers(pointers, article_pointer, with_article_pointer)
        dead_letters = dead_letters | "DeadLetterPointers" >> AttachPointers(
            pointers, dead_letter_pointer, with_dead_letter_pointer)
    article_files = articles | "WriteArticles" >> WriteDataset(ARTICLES, config.output, run, config.buckets)
    dead_letter_files = dead_letters | "WriteDeadLetters" >> WriteDataset(
        DEAD_LETTERS_DATASET, config.output, run, config.buckets)
    no_validators = pipeline | "NoValidators" >> beam.Create([])
    {
        "article_files": article_files,
        "dead_letter_files": dead_letter_files,
        "validators": (validators or [no_validators]) | "AllValidators" >> beam.Flatten(),
        "near_dup_rows": near["state_rows"],
    } | "CommitState" >> CommitState(state, record_feeds=not config.backfill)


def counters_of(result) -> Dict[str, int]:
    """newsbeam's counters summed over steps (committed where the runner has them)."""
    totals: Dict[str, int] = {}
    for item in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        value = item.committed if item.committed is not None else item.attempted
        totals[item.key.metric.name] = totals.get(item.key.metric.name, 0) + (value or 0)
    return dict(sorted(totals.items()))


def run_manifest(config: IngestConfig, options: PipelineOptions, status: str, **extra) -> Dict:
    """The manifest `OUT/_runs/<run_id>.json` of a run (batch, or an unbounded job with mode='unbounded')."""
    return {
        "run_id": config.run_id,
        "status": status,
        "started_at": config.started_at.isoformat(),
        "ingest_date": config.ingest_date,
        "output": config.output,
        "sources": {"feeds": list(config.feeds), "url_files": list(config.url_files),
                    "warc": [path for path, _ in config.warc_files]},
        "options": {key: value for key, value in options.get_all_options(drop_default=True).items()},
        "versions": library_versions(),
        **extra,
    }


def run(argv: Optional[List[str]] = None, now: Optional[datetime] = None) -> RunOutcome:
    """Runs one batch ingestion. Raises UsageError before anything starts if the run cannot proceed.

    `now` (default: the clock) is the run's start: retry schedules are judged against it."""
    options = PipelineOptions(argv)
    standard = options.view_as(StandardOptions)
    if not standard.runner:
        standard.runner = DEFAULT_RUNNER
    if standard.runner == DEFAULT_RUNNER:
        limit_malloc_arenas()  # before the runner starts its worker processes
    # FileSystems learns options (e.g. an S3 endpoint) only when a Pipeline is built; the input checks and the
    # 'running' manifest come before that
    FileSystems.set_options(options)
    config = build_config(options.view_as(NewsbeamOptions), now=now)
    path = manifest_path(config.output, config.run_id)
    try:
        write_json(path, run_manifest(config, options, "running"))
    except Exception as exc:
        raise UsageError(f"cannot write to output {config.output!r}: {exc}") from None
    LOG.info("run %s: %d feed source(s), %d URL file(s) -> %s", config.run_id, len(config.feeds),
             len(config.url_files), config.output)
    started = time.monotonic()
    error = None
    counters: Dict[str, int] = {}
    try:
        pipeline = beam.Pipeline(options=options)
        build_pipeline(pipeline, config)
        result = pipeline.run()
        result.wait_until_finish()
        counters = counters_of(result)
    except Exception as exc:  # the manifest must say the run failed, whatever failed
        LOG.exception("run %s failed", config.run_id)
        error = f"{type(exc).__name__}: {exc}"
    seconds = round(time.monotonic() - started, 3)
    accounting = account(counters) if error is None else None
    if error is not None:
        status, code = "failed", EXIT_PIPELINE_FAILED
    elif not accounting.balanced or not counters.get("run.committed"):
        # a runner that reports no counters has not shown that anything balances
        status, code = "accounting_mismatch", EXIT_ACCOUNTING
        error = (f"accounting does not balance: {accounting.as_dict()}" if counters.get("run.committed")
                 else "the runner returned no newsbeam counters: the run's accounting could not be checked")
        LOG.error("run %s: %s", config.run_id, error)
    else:
        status, code = "succeeded", EXIT_OK
    write_json(path, run_manifest(
        config, options, status,
        finished_at=datetime.now(timezone.utc).isoformat(),
        seconds=seconds,
        counters=counters,
        stage_seconds={name.split(".", 1)[1]: round(value / 1e6, 3)
                       for name, value in counters.items() if name.startswith("stage_us.")},
        accounting=accounting.as_dict() if accounting else None,
        error=error,
    ))
    return RunOutcome(config.run_id, config.output, status, code, counters, accounting, seconds, error)


def main(argv: Optional[List[str]] = None) -> int:
    from newsbeam.pipelines.cli import main as cli_main

    return cli_main(["ingest", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
