"""The WARC archive as a Beam composite: raw responses -> `OUT/warc/ingest_date=D/<run_id>-<bucket>.warc.gz`, and
the pointers (file, offset, length) joined into the article and dead-letter rows.

Written like the Parquet datasets (newsbeam.transforms.write): keyed by bucket with crc32, grouped, one file per
bucket to a hidden temporary name through FileSystems, renamed into place, then this run's stale files deleted.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import TaggedOutput

from newsbeam.atomic import atomic_create
from newsbeam.recordstore import RecordStore, Ref
from newsbeam.warc import WarcFileWriter, final_truncation, warc_file_name
from newsbeam.schemas.datasets import RunContext
from newsbeam.schemas.records import Article, DeadLetter, WarcPointer
from newsbeam.transforms.common import counter, timed
from newsbeam.transforms.spool import AppendingFn
from newsbeam.transforms.write import bucket_of, delete_stale, window_tag

WARC_FOLDER = "warc"
_FILES = "files"


def warc_folder(run: RunContext) -> str:
    return f"{WARC_FOLDER}/ingest_date={run.ingest_date}"


def windowed_run(run: RunContext, window) -> Tuple[RunContext, str]:
    """The run as a window sees it (streaming: its files go to the date the window starts on), and the window's
    tag ('' in batch)."""
    tag = window_tag(window)
    if tag:
        run = replace(run, ingest_date=window.start.to_utc_datetime(has_tz=True).strftime("%Y-%m-%d"))
    return run, tag


def _entry_order(entry):
    """The same responses give the same file, whatever the order they came in."""
    return entry.url, entry.exchanges[0].requested_at if entry.exchanges else None, entry.role


@dataclass(frozen=True)
class ArchiveWritten:
    """What the driver wrote to the archive before the pipeline (discovery's responses), for the run's counters."""

    entries: int = 0
    files: int = 0
    records: int = 0
    bytes: int = 0


def discovery_file_name(run_id: str) -> str:
    # no bucket digits: the pipeline's clean-up of the run's bucket files (`<run_id>-NNNNN`) leaves it alone
    return f"{run_id}-discovery.warc.gz"


def write_discovery_archive(root: str, run: RunContext, entries: Sequence) -> ArchiveWritten:
    """`--sites` discovery runs in the driver: its responses (newsbeam.warc.ArchiveEntry) go straight to
    `warc/ingest_date=D/<run_id>-discovery.warc.gz` there, not through the job graph (where thousands of homepages
    would be pickled into it). Whole or not at all, replacing the file of an earlier attempt of the run; without
    entries (e.g. a re-run with --archive off) an earlier attempt's file is removed."""
    name = discovery_file_name(run.run_id)
    written, result = [], ArchiveWritten()
    if entries:
        final = FileSystems.join(root, warc_folder(run), name)
        with atomic_create(final, mime_type="application/warc") as handle:
            writer = WarcFileWriter(handle, name, run.run_id)
            for entry in sorted(entries, key=_entry_order):
                writer.write_entry(entry)
        written.append(final)
        result = ArchiveWritten(entries=len(entries), files=1, records=writer.records, bytes=writer.offset)
    base = FileSystems.join(root, WARC_FOLDER)
    delete_stale([f"{base}/*/{name}", f"{base}/*/.{name}.*.inprogress"], written)
    return result


class CountWrittenArchive(beam.PTransform):
    """Adds what the driver archived (ArchiveWritten) to the run's counters, as if the pipeline had written it."""

    def __init__(self, written: ArchiveWritten):
        super().__init__()
        self._written = written

    def expand(self, pipeline):
        return pipeline | "Written" >> beam.Create([self._written]) | "Count" >> beam.ParDo(_CountWrittenFn())


class _CountWrittenFn(beam.DoFn):
    def __init__(self):
        self._counters = {name: counter(f"warc.{name}") for name in ("entries", "entries_written", "files",
                                                                         "records", "bytes")}

    def process(self, written: ArchiveWritten):
        for name, value in (("entries", written.entries), ("entries_written", written.entries),
                            ("files", written.files), ("records", written.records), ("bytes", written.bytes)):
            self._counters[name].inc(value)
        yield written.entries


class _KeyByFileFn(AppendingFn):
    """Each entry stored (in the spool: appended to one file per bundle, see newsbeam.recordstore), keyed by its
    WARC file, with its order in that file."""

    def __init__(self, buckets: int, store: RecordStore):
        super().__init__(store)
        self._buckets = buckets

    def process(self, entry):
        yield bucket_of(entry.url, self._buckets), (_entry_order(entry), self._appender.put(entry))


class _WriteWarcFn(beam.DoFn):
    def __init__(self, root: str, run: RunContext, store: RecordStore):
        self._root = root
        self._run = run
        self._store = store
        self._files = counter("warc.files")
        self._written = counter("warc.entries_written")
        self._bytes = counter("warc.bytes")
        self._records = counter("warc.records")
        self._time = counter("stage_us.archive")

    def process(self, element: Tuple[int, Iterable[Tuple[Any, Ref]]], window=beam.DoFn.WindowParam):
        bucket, keyed = element
        # the same responses give the same file, whatever the grouping order; sorted by the key that came with each
        # reference, and read back one at a time: a whole file's responses are never in memory at once
        ordered = sorted(keyed)
        run, tag = windowed_run(self._run, window)
        name = warc_file_name(run.run_id, bucket, tag)
        relative = f"{warc_folder(run)}/{name}"
        directory = FileSystems.join(self._root, warc_folder(run))
        final = FileSystems.join(directory, name)
        pointers: List[Tuple[str, WarcPointer]] = []
        with timed(self._time):
            # whole or not at all (newsbeam.atomic): `.<name>.<hex>.inprogress`, renamed into place
            with atomic_create(final, mime_type="application/warc") as handle:
                writer = WarcFileWriter(handle, name, self._run.run_id)
                for _, ref in ordered:
                    entry = self._store.get(ref)
                    where = writer.write_entry(entry)
                    if where is not None:
                        pointers.append((entry.final_record_id, WarcPointer(
                            entry.final_record_id, relative, where[0], where[1], final_truncation(entry))))
        self._files.inc()
        self._written.inc(len(ordered))
        self._bytes.inc(writer.offset)
        self._records.inc(writer.records)
        yield TaggedOutput(_FILES, final)
        yield from pointers


class _FinalizeWarcFn(beam.DoFn):
    def __init__(self, root: str, run: RunContext):
        self._root = root
        self._run = run
        self._deleted = counter("warc.stale_files_deleted")

    def process(self, written: List[str], window=beam.DoFn.WindowParam):
        base = FileSystems.join(self._root, WARC_FOLDER)
        tag = window_tag(window)
        # the bucket digits keep run 'r1' from matching the files of run 'r1-b' (and a batch run's pattern from
        # matching its windows' files: the window tag has letters)
        name = f"{self._run.run_id}-{tag + '-' if tag else ''}[0-9][0-9][0-9][0-9][0-9].warc.gz"
        stale = delete_stale([f"{base}/*/{name}", f"{base}/*/.{name}.*.inprogress"], written)
        self._deleted.inc(len(stale))
        yield from sorted(written)


class ArchiveResponses(beam.PTransform):
    """newsbeam.warc.ArchiveEntry -> (record id, WarcPointer) of every archived final response.

    `windowed` (the unbounded graph): one file per window and bucket, `<run_id>-<window start>-<bucket>.warc.gz`
    under the date the window starts on, each window committed and finalized on its own, as WriteDataset does."""

    def __init__(self, root: str, run: RunContext, buckets: int = 1, windowed: bool = False,
                 store: Optional[RecordStore] = None):
        super().__init__()
        self._root = root
        self._run = run
        self._buckets = buckets
        self._global = not windowed
        # not compressed, in the element or in the spool: the raw bodies are mostly gzip already, zlib would only
        # spend CPU on them (the caller's store may compress: its directory is what is kept)
        self._store = RecordStore(store.directory if store else None, compress=False)

    def expand(self, entries):
        written = (
            entries
            | "KeyByFile" >> beam.ParDo(_KeyByFileFn(self._buckets, self._store)).with_output_types(
                Tuple[int, Tuple[Any, Ref]])
            | "GroupByFile" >> beam.GroupByKey()
            | "WriteWarc" >> beam.ParDo(_WriteWarcFn(self._root, self._run, self._store)).with_outputs(
                _FILES, main="pointers")
        )
        _ = (written[_FILES]
             | "CollectWritten" >> (beam.combiners.ToList() if self._global else
                                    beam.CombineGlobally(beam.combiners.ToListCombineFn()).without_defaults())
             | "Finalize" >> beam.ParDo(_FinalizeWarcFn(self._root, self._run)))
        return written.pointers


def article_pointer(article: Article) -> Optional[WarcPointer]:
    return article.extracted.warc


def with_article_pointer(article: Article, found: WarcPointer) -> Article:
    return replace(article, extracted=replace(article.extracted, warc=found))


def dead_letter_pointer(dead: DeadLetter) -> Optional[WarcPointer]:
    return dead.warc


def with_dead_letter_pointer(dead: DeadLetter, found: WarcPointer) -> DeadLetter:
    return replace(dead, warc=found)


class _JoinFn(beam.DoFn):
    def __init__(self):
        self._missing = counter("warc.pointers_missing")

    def process(self, element):
        _, joined = element
        found = list(joined["pointers"])
        for ref in joined["rows"]:
            # the pointer travels next to the reference and is attached where the row is read back (`Load`):
            # reading and storing the row again here would cost an unpack and a pack per row for the same result
            if found:
                yield ref, found[0]
            else:  # cannot happen while every entry is written; counted so that it would show
                self._missing.inc()
                yield ref, None


class _StoreRowFn(AppendingFn):
    """Each row stored (in the spool: appended to one file per bundle): (its record id, the reference) with `get`,
    else (the reference, no pointer)."""

    def __init__(self, store: RecordStore, get=None):
        super().__init__(store)
        self._get = get

    def process(self, row):
        ref = self._appender.put(row)
        yield (self._get(row).record_id, ref) if self._get else (ref, None)


class AttachPointers(beam.PTransform):
    """Rows (articles or dead letters) whose WarcPointer has only its record id get the file, offset and length
    of that record; rows without a pointer pass through."""

    def __init__(self, pointers, get, attach, store: Optional[RecordStore] = None):
        super().__init__()
        self._pointers = pointers
        self._get = get
        self._attach = attach
        self._store = store or RecordStore()

    def expand(self, rows):
        get, store = self._get, self._store
        # pages read from WARC input already point to their record; only pointers of this run's archive are joined
        split = rows | "HasPointer" >> beam.Partition(
            lambda row, _: 0 if get(row) is not None and get(row).filename is None else 1, 2)
        keyed = split[0] | "KeyByRecord" >> beam.ParDo(_StoreRowFn(store, get)).with_output_types(Tuple[str, Ref])
        joined = (
            {"rows": keyed, "pointers": self._pointers}
            | "Join" >> beam.CoGroupByKey()
            | "Attach" >> beam.ParDo(_JoinFn()).with_output_types(Tuple[Ref, Optional[WarcPointer]])
        )
        # the two branches end in different stages, so the runner holds what the Flatten gathers: references too
        passed = split[1] | "StoreOthers" >> beam.ParDo(_StoreRowFn(store)).with_output_types(
            Tuple[Ref, Optional[WarcPointer]])
        return (joined, passed) | "Rows" >> beam.Flatten() | "Load" >> beam.Map(_loaded, store, self._attach)


def _loaded(pair: Tuple[Ref, Optional[WarcPointer]], store: RecordStore, attach):
    """The row read back, with the pointer the join found for it (None: it keeps its own)."""
    ref, found = pair
    row = store.get(ref)
    return row if found is None else attach(row, found)
