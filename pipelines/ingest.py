"""The batch ingestion pipeline: sources -> feed items -> dedup -> core -> partitioned Parquet.

`run(argv)` is what the CLI and the tests call; `python -m newsbeam.pipelines.ingest ...` works too.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Dict, List, Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from newsbeam.atomic import failure_reason
from newsbeam.extraction import EXTRACTOR_NAME
from newsbeam.manifest import Accounting, account, library_versions, manifest_path, write_json
from newsbeam.runlock import RunLock, hold_run_lock
from newsbeam.runtime import limit_malloc_arenas
from newsbeam.site_discovery import run_discovery
from newsbeam.state import StateDamaged, check_state
from newsbeam.pipelines.options import IngestConfig, NewsbeamOptions, UsageError, build_config
from newsbeam.schemas.datasets import ARTICLES, DEAD_LETTERS as DEAD_LETTERS_DATASET, RunContext
from newsbeam.transforms.common import DEAD_LETTERS, NAMESPACE
from newsbeam.transforms.backfill import ArticlesInWindow, CapItems, ItemsInWindow
from newsbeam.transforms.core import ProcessArticles
from newsbeam.transforms.dedup import DeduplicateItems
from newsbeam.transforms.incremental import CommitState, DropKnownArticles, DueRetries, FeedValidators, NearDuplicates, SkipSeen
from newsbeam.transforms.sources import VALIDATORS, ReadFeeds, ReadUrlLists
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
    if config.source_dead_letters:
        dead_letters.append(pipeline | "DiscoveryDeadLetters" >> beam.Create(list(config.source_dead_letters)))
    if config.feeds or config.sitemaps:
        feeds = (
            pipeline
            | "FeedSources" >> beam.Create(list(config.feeds))
            | "ReadFeeds" >> ReadFeeds(config.core.fetch, validators=pipeline | "KnownFeeds" >> FeedValidators(state),
                                       since=config.window.since, sitemaps=config.sitemaps)
        )
        feed_items.append(feeds["items"])
        dead_letters.append(feeds[DEAD_LETTERS])
        validators.append(feeds[VALIDATORS])
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
    known = core["articles"] | "DropKnownArticles" >> DropKnownArticles(state)
    dead_letters.append(known[DEAD_LETTERS])
    articles = known.articles
    if config.window.active:
        articles = articles | "ArticlesInWindow" >> ArticlesInWindow(config.window)
    near = articles | "NearDuplicates" >> NearDuplicates(state)
    article_files = near["articles"] | "WriteArticles" >> WriteDataset(ARTICLES, config.output, run, config.buckets)
    dead_letter_files = (
        dead_letters
        | "AllDeadLetters" >> beam.Flatten()
        | "WriteDeadLetters" >> WriteDataset(DEAD_LETTERS_DATASET, config.output, run, config.buckets)
    )
    no_validators = pipeline | "NoValidators" >> beam.Create([])
    {
        "article_files": article_files,
        "dead_letter_files": dead_letter_files,
        "validators": (validators or [no_validators]) | "AllValidators" >> beam.Flatten(),
        "near_dup_rows": near["state_rows"],
    } | "CommitState" >> CommitState(state, record_feeds=not config.backfill)


def with_discovery(config: IngestConfig) -> IngestConfig:
    """`--sites` resolved: the feeds and sitemaps found (or recorded by an earlier run) become sources."""
    found = run_discovery(config.sites, config.output, config.core.fetch, config.started_at, config.rediscover_days)
    return replace(config, feeds=tuple(dict.fromkeys(config.feeds + found.feeds)),
                   sitemaps=tuple(url for url in found.sitemaps if url not in config.feeds),
                   source_dead_letters=found.dead_letters, discovery=found.record)


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
                    **({"sites": config.sites, "sitemaps": list(config.sitemaps), "discovered": config.discovery}
                       if config.sites else {})},
        "options": {key: value for key, value in options.get_all_options(drop_default=True).items()},
        "versions": library_versions(),
        **extra,
    }


def run(argv: Optional[List[str]] = None, now: Optional[datetime] = None,
        lock: Optional[RunLock] = None) -> RunOutcome:
    """Runs one batch ingestion. Raises UsageError before anything starts if the run cannot proceed, e.g. while
    another run writes to the same output.

    `now` (default: the clock) is the run's start: retry schedules are judged against it. `lock`: the output's
    lock, if the caller already holds it (the stream driver)."""
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
    # one live run per output: a concurrent one would write every article again (newsbeam.runlock)
    with hold_run_lock(config.output, config.run_id, held=lock, error=UsageError):
        try:
            check_state(config.output)
        except StateDamaged as exc:  # a truncated or foreign state file: say which and how to recover
            raise UsageError(str(exc)) from None
        if config.sites:
            config = with_discovery(config)
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
            error = failure_reason(exc)
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
        try:
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
        except Exception as exc:  # e.g. a full disk: the outcome still says why, and no manifest claims success
            LOG.error("run %s: cannot update its manifest %s: %s", config.run_id, path, exc)
            status, code = "failed", code or EXIT_PIPELINE_FAILED
            error = f"{error + '; ' if error else ''}the manifest {path} still says 'running': {failure_reason(exc)}"
        return RunOutcome(config.run_id, config.output, status, code, counters, accounting, seconds, error)


def main(argv: Optional[List[str]] = None) -> int:
    from newsbeam.pipelines.cli import main as cli_main

    return cli_main(["ingest", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
