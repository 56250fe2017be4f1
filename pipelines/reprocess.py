"""`newsbeam reprocess`: re-extract, re-detect, re-tag and re-group archived pages with today's code, no network.

Reads OUT/warc (newsbeam's own archive), replays every archived article URL as a page (or as the fetch dead letter
it was) through the same core and writers as `ingest`, as a new run whose manifest names its source runs.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import List, Optional, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from newsbeam.entities import EntitySettings
from newsbeam.extraction import EXTRACTOR_NAME, STRATEGIES, ExtractionSettings
from newsbeam.manifest import library_versions, manifest_path, read_manifests, write_json
from newsbeam.recordstore import RecordStore
from newsbeam.pipelines.ingest import DEFAULT_RUNNER, page_spool
from newsbeam.pipelines.lifecycle import RunControl, RunOutcome, counters_of, decide
from newsbeam.pipelines.view_options import ViewCachingOptions
from newsbeam.pipelines.options import UsageError, default_run_id, parse_moment
from newsbeam.replace import replace_older_rows
from newsbeam.runlock import hold_run_lock
from newsbeam.schemas.datasets import ARTICLES, DEAD_LETTERS as DEAD_LETTERS_DATASET, RunContext
from newsbeam.transforms.common import DEAD_LETTERS, counter
from newsbeam.transforms.core import CoreSettings, ProcessPages
from newsbeam.transforms.entities import EntityStageSettings
from newsbeam.transforms.incremental import DropKnownArticles, NearDuplicates, StateSettings
from newsbeam.transforms.warc_input import PagesFromWarc
from newsbeam.transforms.write import WriteDataset

LOG = logging.getLogger(__name__)
# a batch run's `<run>-<bucket>`, a streaming window's `<run>-<window start>-<bucket>`
_FILE = re.compile(r"ingest_date=(\d{4}-\d{2}-\d{2})/(.+?)(?:-\d{8}T\d{6}Z)?-\d{5}\.warc\.gz$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", required=True, metavar="OUT",
                        help="An output root written by newsbeam with its WARC archive (local, gs://, s3://).")
    parser.add_argument("--output", required=True, metavar="OUT2", help="Where the new run writes.")
    parser.add_argument("--since", default=None, metavar="DATE", help="Only archives of ingest dates from DATE on.")
    parser.add_argument("--until", default=None, metavar="DATE", help="Only archives of ingest dates up to DATE.")
    parser.add_argument("--run-id", dest="run_ids", action="append", default=None, metavar="RUN",
                        help="Repeatable. Only the archives of these source runs.")
    parser.add_argument("--new-run-id", dest="new_run_id", default=None,
                        help="Names the new run (default: reprocess-<UTC start time>).")
    parser.add_argument("--replace", action="store_true",
                        help="With --output equal to --from: the new rows replace the older rows of the same "
                             "article ids. Without it, reprocessing into the source output is refused.")
    parser.add_argument("--entities", choices=["ner", "gazetteer", "off"], default="ner")
    parser.add_argument("--min-text-chars", dest="min_text_chars", type=int, default=200)
    parser.add_argument("--extraction-strategy", dest="extraction_strategy", choices=list(STRATEGIES),
                        default=STRATEGIES[0])
    parser.add_argument("--buckets", type=int, default=1)
    parser.add_argument("--spool-dir", "--spool_dir", dest="spool_dir", default=None, metavar="DIR",
                        help="Local runner: where the articles and rows crossing the barriers wait, compressed "
                             "(default: a temporary directory under $TMPDIR, removed at the end of the run); 'off' "
                             "keeps them, and the archived pages, in memory.")


def archive_files(source: str) -> Tuple[List[Tuple[str, int, str, str]], List[str]]:
    """(path, size, ingest date, run id) of the committed archive files under `source`, in name order, and the
    paths of unfinished ones: hidden temporaries (`.<name>.<hex>.inprogress`) of a run killed while writing them,
    or still writing them, which are never read."""
    pattern = FileSystems.join(source, "warc", "ingest_date=*", "*")
    committed, unfinished = [], []
    for result in FileSystems.match([pattern]):
        for meta in result.metadata_list:
            match = _FILE.search(meta.path)
            if match:
                committed.append((meta.path, meta.size_in_bytes, *match.groups()))
            elif meta.path.endswith(".inprogress"):
                unfinished.append(meta.path)
    return sorted(committed), sorted(unfinished)


def source_files(committed: List[Tuple[str, int, str, str]], since: Optional[datetime], until: Optional[datetime],
                 run_ids: Optional[List[str]]) -> List[Tuple[str, int]]:
    """(path, size) of the archive files the selection takes, in name order."""
    first, last = since.strftime("%Y-%m-%d") if since else None, until.strftime("%Y-%m-%d") if until else None
    return [(path, size) for path, size, day, run in committed
            if not (first and day < first or last and day > last or run_ids and run not in run_ids)]


def _nothing_selected(source: str, committed, args) -> str:
    """Why there is nothing to read: no archive at all, or what the archive holds that the selection missed."""
    if not committed:
        return (f"no WARC archive files under {source}/warc: not a newsbeam output, or its runs had --archive off "
                f"(or were killed before their archive was committed)")
    chosen = " ".join(f"--{name.replace('_', '-')} {value}" for name, value in
                      (("since", args.since), ("until", args.until)) if value)
    chosen += "".join(f" --run-id {run}" for run in args.run_ids or ())
    runs = sorted({run for *_, run in committed})
    days = sorted({day for _, _, day, _ in committed})
    listed = ", ".join(runs[:10]) + (f" and {len(runs) - 10} more" if len(runs) > 10 else "")
    return (f"no WARC archive files under {source}/warc match the selection ({chosen.strip()}): the archive holds "
            f"runs {listed}, ingest dates {days[0]} to {days[-1]}")


def build_pipeline(pipeline: beam.Pipeline, files, core: CoreSettings, state: StateSettings,
                   run: RunContext, output: str, source: str, buckets: int) -> None:
    # pointers stay relative when the new rows live next to the archive, else they name the source files in full
    root = source if source == output else None
    # pages are extracted where they are read; on the local runner articles cross the barriers after the core as
    # references into the run's spool, as in ingest
    store = RecordStore(core.spool_dir)
    pages = pipeline | "ArchiveFiles" >> beam.Create(files) | "Pages" >> PagesFromWarc(
        root, reprocess=True, share_dir=core.spool_dir)
    processed = pages["pages"] | "Core" >> ProcessPages(core)
    known = processed["articles"] | "DropKnownArticles" >> DropKnownArticles(state, store, earlier_runs=False)
    near = known.articles | "NearDuplicates" >> NearDuplicates(state, store)
    article_files = near["articles"] | "WriteArticles" >> WriteDataset(ARTICLES, output, run, buckets, store=store)
    dead_letter_files = (
        (pages[DEAD_LETTERS], processed[DEAD_LETTERS], known[DEAD_LETTERS])
        | "AllDeadLetters" >> beam.Flatten()
        | "WriteDeadLetters" >> WriteDataset(DEAD_LETTERS_DATASET, output, run, buckets)
    )
    _ = (pipeline | "CommitMarker" >> beam.Create([None])
         | "Committed" >> beam.ParDo(_CommittedFn(), beam.pvalue.AsList(article_files),
                                     beam.pvalue.AsList(dead_letter_files)))


class _CommittedFn(beam.DoFn):
    """`run.committed` once both datasets are committed (their file lists are side inputs), as CommitState does
    for ingest (reprocess keeps no state): `lifecycle.decide` wants it as proof that the runner reports counters."""

    def __init__(self):
        self._committed = counter("run.committed")

    def process(self, _, article_files, dead_letter_files):
        self._committed.inc()
        yield len(article_files) + len(dead_letter_files)


def run(argv: List[str], control: Optional[RunControl] = None) -> RunOutcome:
    """Runs one reprocessing. Raises UsageError before anything starts if it cannot proceed, e.g. while another
    run (ingest or reprocess) writes to the same output. `control` (the CLI's) releases the lock on a stop."""
    parser = argparse.ArgumentParser(prog="newsbeam reprocess")
    add_arguments(parser)
    args, beam_args = parser.parse_known_args(argv)
    options = ViewCachingOptions(beam_args)
    standard = options.view_as(StandardOptions)
    standard.runner = standard.runner or DEFAULT_RUNNER
    FileSystems.set_options(options)
    started_at = datetime.now(timezone.utc)
    # one spelling per place: `out` and `./out/` are the same output (else --replace is bypassed), and the rows of
    # another output point to the source files by absolute paths (a relative one would read as under that output)
    source, output = _where(args.source), _where(args.output)
    if source == output and not args.replace:
        raise UsageError("--output is the source output: pass --replace to replace older rows, or another --output")
    since, until = parse_moment("since", args.since), parse_moment("until", args.until, end_of_day=True)
    committed, unfinished = archive_files(source)
    files = source_files(committed, since, until, args.run_ids)
    if not files:
        raise UsageError(_nothing_selected(source, committed, args))
    if unfinished:
        LOG.warning("skipped %d unfinished archive file(s), never committed (a run killed while writing, or one "
                    "still writing): %s", len(unfinished), ", ".join(unfinished))
    run_id = args.new_run_id or "reprocess-" + default_run_id(started_at)
    # a run of the same id is replaced whole (its files, its manifest): a fetching run's rows that the archive does
    # not hold (robots_disallowed, feed dead letters ...) would be lost, and its manifest with them
    fetching = any(m.get("run_id") == run_id and m.get("mode") != "reprocess" for m in read_manifests(output))
    if fetching or source == output and any(run == run_id for *_, run in committed):
        raise UsageError(f"--new-run-id {run_id!r} is a fetching run of {output}: reprocessing under its id would "
                         f"replace that run's files and manifest; choose another id")
    # one live run per output, as for ingest (newsbeam.runlock): two would write every article twice
    with hold_run_lock(output, run_id, error=UsageError) as held:
        # a stop ends the process at once (newsbeam.process_exit): the lock goes with it
        release = control.on_interrupt(lambda reason: held.release()) if control else None
        try:
            return _reprocess(args, options, files, source, output, run_id, started_at, control, unfinished)
        finally:
            if release is not None:
                release()


def _where(path: str) -> str:
    return path.rstrip("/") if "://" in path else os.path.realpath(path)


def _reprocess(args, options: PipelineOptions, files: List[Tuple[str, int]], source: str, output: str, run_id: str,
               started_at: datetime, control: Optional[RunControl], unfinished: List[str]) -> RunOutcome:
    run = RunContext(run_id=run_id, ingest_date=started_at.strftime("%Y-%m-%d"), extractor=EXTRACTOR_NAME)
    entities = None if args.entities == "off" else EntityStageSettings(
        tagger=EntitySettings(use_ner=args.entities == "ner"))
    extraction = ExtractionSettings(min_text_chars=args.min_text_chars, strategy=args.extraction_strategy)
    core = CoreSettings(extraction=extraction, entities=entities)
    state = StateSettings(output=output, run_id=run_id, now=started_at)
    source_runs = sorted({_FILE.search(path).group(2) for path, _ in files})
    sources = {m["run_id"]: {"extractor": m.get("versions", {}).get("trafilatura"), "status": m.get("status")}
               for m in read_manifests(source) if m.get("run_id") in source_runs}
    manifest = {"run_id": run_id, "mode": "reprocess", "started_at": started_at.isoformat(),
                "ingest_date": run.ingest_date, "output": output, "extractor": EXTRACTOR_NAME,
                "sources": {"reprocessed_from": source, "runs": source_runs, "source_runs": sources,
                            "files": [path for path, _ in files], "skipped_unfinished": unfinished},
                "options": vars(args), "versions": library_versions()}
    path = manifest_path(output, run_id)
    write_json(path, {**manifest, "status": "running"})
    began = time.monotonic()
    error, counters = None, {}
    try:
        with page_spool(args.spool_dir, options.view_as(StandardOptions).runner, control) as spool:
            pipeline = beam.Pipeline(options=options)
            build_pipeline(pipeline, files, replace(core, spool_dir=spool), state, run, output, source, args.buckets)
            result = pipeline.run()
            result.wait_until_finish()
            counters = counters_of(result)
        if args.replace:
            counters.update(replace_older_rows(output, run_id))
    except Exception as exc:
        LOG.exception("reprocess %s failed", run_id)
        error = f"{type(exc).__name__}: {exc}"
    # the same verdict as ingest's: accounting, counters reported at all, no input
    status, code, accounting, error = decide(counters, error)
    seconds = round(time.monotonic() - began, 3)
    write_json(path, {**manifest, "status": status, "finished_at": datetime.now(timezone.utc).isoformat(),
                      "seconds": seconds, "counters": counters,
                      "accounting": accounting.as_dict() if accounting else None, "error": error})
    return RunOutcome(run_id, output, status, code, counters, accounting, seconds, error)
