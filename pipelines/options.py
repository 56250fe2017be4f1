"""newsbeam's pipeline options, and their validation into typed settings."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Tuple

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from newsbeam.entities import EntitySettings
from newsbeam.extraction import STRATEGIES, ExtractionSettings
from newsbeam.http import DEFAULT_USER_AGENT, FetchSettings
from newsbeam.language import LanguageSettings
from newsbeam.partfiles import reserved_run_id
from newsbeam.topics import TopicMatcher
from newsbeam.urls import is_http_url
from newsbeam.transforms.backfill import Window
from newsbeam.transforms.core import CoreSettings
from newsbeam.transforms.entities import EntityStageSettings
from newsbeam.transforms.incremental import StateSettings

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # with fullmatch: '$' would accept a trailing newline


class UsageError(Exception):
    """The run cannot start: bad arguments, unreadable inputs or an unwritable output."""


class NewsbeamOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        group = parser.add_argument_group("newsbeam sources and output")
        group.add_argument("--feeds", action="append", default=None, metavar="SOURCE",
                           help="Repeatable. A feed (RSS 0.9x/1.0/2.0, Atom, JSON Feed), a sitemap or sitemap index "
                                "(gzip too), an OPML subscription list (nested outlines count) or a text file of feed "
                                "URLs; a URL or a file.")
        group.add_argument("--urls", action="append", default=None, metavar="FILE",
                           help="Repeatable. A text file of article URLs, one per line ('#' starts a comment).")
        group.add_argument("--sites", default=None, metavar="FILE_OR_URL",
                           help="A text file (or URL) of site homepages or host names, one a line: their feeds "
                                "(<link rel=alternate>) and sitemaps (robots.txt, /sitemap.xml) are found and read; "
                                "what was found is kept in OUT/_state/discovery/ and polled directly next time.")
        group.add_argument("--rediscover-days", "--rediscover_days", dest="rediscover_days", type=float, default=7.0,
                           help="Look for a --sites homepage's feeds and sitemaps again after this many days "
                                "(default 7).")
        group.add_argument("--output", default=None, metavar="DIR",
                           help="Output root (local path, gs://, s3://): articles/, dead_letters/, _runs/.")
        group.add_argument("--run-id", "--run_id", dest="run_id", default=None,
                           help="Names the run; a re-run with the same id replaces its files. "
                                "Default: a fresh id from the UTC start time.")
        group.add_argument("--warc", action="append", default=None, metavar="PATH_OR_GLOB",
                           help="Repeatable. WARC/ARC files (.warc, .warc.gz, .arc.gz; local, gs://, s3://; globs "
                                "such as crawl-data/CC-NEWS/2024/05/*.warc.gz) whose HTML responses are extracted "
                                "like fetched pages. A run with only --warc input makes no network request.")
        group.add_argument("--archive", choices=["all", "articles", "off"], default="all",
                           help="Keep every HTTP response as received in OUT/warc/ (WARC 1.1): 'all' (default), "
                                "'articles' (article pages only, not feeds), 'off'. See docs/archive.md.")
        fetch = parser.add_argument_group("fetching")
        fetch.add_argument("--host-concurrency", "--host_concurrency", dest="host_concurrency", type=int, default=2,
                           help="Requests in flight per host (default 2).")
        fetch.add_argument("--host-delay", "--host_delay", dest="host_delay", type=float, default=1.0,
                           help="Minimum seconds between request starts to one host (default 1.0); "
                                "a larger robots.txt Crawl-delay wins, up to 30 s.")
        fetch.add_argument("--max-connections", "--max_connections", dest="max_connections", type=int, default=16,
                           help="Fetch threads per worker process, across hosts (default 16).")
        fetch.add_argument("--user-agent", dest="http_user_agent", default=DEFAULT_USER_AGENT,
                           help="User-Agent header, also the name matched in robots.txt.")
        fetch.add_argument("--connect-timeout", "--connect_timeout", dest="connect_timeout", type=float, default=10.0,
                           help="Seconds to connect (default 10).")
        fetch.add_argument("--read-timeout", "--read_timeout", dest="read_timeout", type=float, default=20.0,
                           help="Seconds of silence while reading before giving up (default 20).")
        fetch.add_argument("--deadline", type=float, default=60.0,
                           help="Seconds for one whole request, headers to last byte (default 60).")
        fetch.add_argument("--max-bytes", "--max_bytes", dest="max_bytes", type=int, default=10 * 1024 * 1024,
                           help="Largest accepted body after decompression, in bytes (default 10 MB).")
        fetch.add_argument("--max-attempts", "--max_attempts", dest="max_attempts", type=int, default=3,
                           help="Attempts per URL on 429, 5xx and connection errors (default 3).")
        fetch.add_argument("--retry-backoff", "--retry_backoff", dest="retry_backoff", type=float, default=1.0,
                           help="Seconds before the first retry, doubling each time up to 30 s, unless the server "
                                "sends Retry-After (default 1.0).")
        fetch.add_argument("--host-failure-limit", "--host_failure_limit", dest="host_failure_limit", type=int,
                           default=5, help="After this many attempts in a row to one host get no answer at all "
                                           "(refused, connect or header timeout), its other URLs are dead letters "
                                           "'host_unreachable' without a request (default 5; 0: never).")
        fetch.add_argument("--host-failure-pause", "--host_failure_pause", dest="host_failure_pause", type=float,
                           default=300.0, help="Seconds such a host is not asked; then one request probes it, and "
                                               "an answer lets the rest through (default 300).")
        fetch.add_argument("--max-redirects", "--max_redirects", dest="max_redirects", type=int, default=5,
                           help="Redirects followed per URL (default 5).")
        fetch.add_argument("--ignore-robots", "--ignore_robots", dest="ignore_robots", action="store_true",
                           default=False, help="Do not obey robots.txt (only for sites you own).")
        fetch.add_argument("--allow-private-addresses", "--allow_private_addresses", dest="allow_private_addresses",
                           action="store_true", default=False,
                           help="Fetch from loopback, private, link-local and other internal addresses (intranets, "
                                "local tests). By default they are dead letters 'blocked_address'.")
        process = parser.add_argument_group("processing")
        process.add_argument("--min-text-chars", "--min_text_chars", dest="min_text_chars", type=int, default=200,
                             help="Pages with less main text are dead letters 'empty_text' (default 200).")
        process.add_argument("--extract-timeout", "--extract_timeout", dest="extract_timeout", type=float,
                             default=30.0, help="Seconds of extraction per page; a page over it is a dead letter "
                                                "'extraction_timeout' (default 30; 0: no limit).")
        process.add_argument("--extraction-strategy", "--extraction_strategy", dest="extraction_strategy",
                             choices=list(STRATEGIES), default=STRATEGIES[0],
                             help="How the main text is chosen (default 'learned'; 'guarded' is the rule-based one "
                                  "before it; see docs/extraction.md).")
        process.add_argument("--max-pdf-pages", "--max_pdf_pages", dest="max_pdf_pages", type=int, default=200,
                             help="PDF documents with more pages are dead letters 'too_large' (default 200).")
        process.add_argument("--entities", choices=["ner", "gazetteer", "off"], default="ner",
                             help="Entity tagging: 'ner' (spaCy NER for English and French, gazetteer linking in "
                                  "every language; the default), 'gazetteer' (linking only, about twice as fast), "
                                  "or 'off' (empty entity and topic columns).")
        process.add_argument("--topics", default=None, metavar="FILE",
                             help="Topic watchlists (YAML); default: the bundled watchlists for foreign fighters, "
                                  "defectors, returnees, repatriation, detention, recruitment and attacks.")
        process.add_argument("--redistribute", choices=["on", "off"], default="on",
                             help="Spread fetched pages over every worker before extraction (default on), so that "
                                  "CPU work uses every core however few hosts a run has; 'off' keeps each host's "
                                  "pages on the worker that fetched them (the old behaviour, for comparison).")
        process.add_argument("--warm-up", "--warm_up", dest="warm_up", choices=["on", "off"], default="on",
                             help="'on' (the default): load the language, entity and topic models in the background "
                                  "while pages are fetched, so that extraction starts with them loaded; 'off': "
                                  "they load when the first page reaches them.")
        process.add_argument("--extract-while-fetching", "--extract_while_fetching", dest="extract_while_fetching",
                             choices=["on", "off"], default="on",
                             help="Local runner with a spool: 'on' (the default) lets workers extract pages while "
                                  "they are still being fetched (a one-site run fetches on one worker); 'off' "
                                  "starts extraction when the whole fetch has ended.")
        process.add_argument("--spool-dir", "--spool_dir", dest="spool_dir", default=None, metavar="DIR",
                             help="Local runner: where redistributed pages wait, compressed, between fetching and "
                                  "extraction, and the articles, rows and archived responses crossing the barriers "
                                  "after it (default: a temporary directory under $TMPDIR, removed at the end "
                                  "of the run); 'off' keeps them in memory.")
        process.add_argument("--buckets", type=int, default=1,
                             help="Parquet files per partition and run (default 1); raise for very large runs.")
        backfill = parser.add_argument_group("backfill and incremental state")
        backfill.add_argument("--since", default=None, metavar="DATE",
                              help="Only articles published on or after DATE (YYYY-MM-DD or ISO 8601, UTC). "
                                   "Articles with no known date are kept.")
        backfill.add_argument("--until", default=None, metavar="DATE",
                              help="Only articles published before the end of DATE (a bare date includes the "
                                   "whole day).")
        backfill.add_argument("--max-articles", "--max_articles", dest="max_articles", type=int, default=None,
                              help="Fetch at most N new articles in this run, newest first; the rest wait for "
                                   "the next run (0: read the sources only).")
        backfill.add_argument("--near-dup-days", "--near_dup_days", dest="near_dup_days", type=float, default=30.0,
                              help="How far back near-duplicate groups reach across runs, in days (default 30).")


@dataclass(frozen=True)
class IngestConfig:
    feeds: Tuple[str, ...]
    url_files: Tuple[str, ...]
    output: str
    run_id: str
    started_at: datetime
    core: CoreSettings
    buckets: int
    window: Window = Window()
    max_articles: Optional[int] = None
    near_dup_window: timedelta = timedelta(days=30)
    sites: Optional[str] = None  # --sites: resolved into `feeds` and `sitemaps` by discovery when the run starts
    rediscover_days: float = 7.0
    sitemaps: Tuple[str, ...] = ()  # sources known to be sitemaps (found by discovery)
    source_dead_letters: Tuple = ()  # DeadLetters found before the pipeline (discovery)
    discovery: Optional[dict] = None  # what discovery found, for the manifest
    discovery_archive: Tuple = ()  # newsbeam.warc.ArchiveEntry of discovery's responses (with --archive all)
    discovery_written: Optional[object] = None  # transforms.archive.ArchiveWritten: those written by the driver
    archive: str = "all"  # all | articles | off
    warc_files: Tuple[Tuple[str, int], ...] = ()  # (path, size) of --warc input files

    @property
    def backfill(self) -> bool:
        """A run that leaves listed items aside on purpose."""
        return self.window.active or self.max_articles is not None

    @property
    def state(self) -> StateSettings:
        return StateSettings(output=self.output, run_id=self.run_id, now=self.started_at,
                             near_dup_window=self.near_dup_window)

    @property
    def ingest_date(self) -> str:
        return self.started_at.strftime("%Y-%m-%d")


def default_run_id(started_at: datetime) -> str:
    return started_at.strftime("%Y%m%dT%H%M%S") + f"{started_at.microsecond // 1000:03d}Z"


def _local_or_remote(path: str) -> str:
    """Local paths become absolute (workers may run elsewhere); other schemes pass unchanged."""
    return path if "://" in path else os.path.abspath(path)


def _require_readable(kind: str, path: str) -> None:
    try:
        exists = FileSystems.exists(path)
    except Exception as exc:
        raise UsageError(f"cannot read {kind} {path!r}: {exc}") from None
    if not exists:
        raise UsageError(f"cannot read {kind} {path!r}: no such file")
    if "://" not in path and not os.path.isfile(path):
        raise UsageError(f"cannot read {kind} {path!r}: not a file")
    if "://" not in path and not os.access(path, os.R_OK):
        raise UsageError(f"cannot read {kind} {path!r}: permission denied")


def _require_filesystem(output: str) -> None:
    """An output whose scheme no installed Beam filesystem handles (foo://, or gs:// without the GCP extra)."""
    if "://" not in output:
        return
    try:
        FileSystems.get_filesystem(output)
    except Exception as exc:
        raise UsageError(f"--output {output!r}: {exc}") from None


def _positive(name: str, value, minimum=1):
    if value < minimum:
        raise UsageError(f"--{name} must be at least {minimum}, got {value}")
    return value


def parse_moment(option: str, value: Optional[str], end_of_day: bool = False) -> Optional[datetime]:
    """A date or ISO 8601 time, in UTC unless it says otherwise; a bare date as `until` covers the whole day."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--{option} {value!r}: expected YYYY-MM-DD or an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if end_of_day and len(value.strip()) == 10:
        moment += timedelta(days=1)
    return moment.astimezone(timezone.utc)


def build_config(options: NewsbeamOptions, now: Optional[datetime] = None) -> IngestConfig:
    """Validates the options; raises UsageError with a message for the user."""
    started_at = now or datetime.now(timezone.utc)
    if not options.output:
        raise UsageError("--output is required")
    _require_filesystem(options.output)
    feeds: List[str] = []
    for source in options.feeds or []:
        source = source.strip()
        if is_http_url(source):
            feeds.append(source)
        elif "://" in source and source.split("://")[0] in ("http", "https"):
            raise UsageError(f"not a valid URL: {source!r}")
        else:
            path = _local_or_remote(source)
            _require_readable("feed source", path)
            feeds.append(path)
    url_files = []
    for path in options.urls or []:
        path = _local_or_remote(path)
        _require_readable("URL list", path)
        url_files.append(path)
    sites = None
    if options.sites:
        sites = options.sites.strip() if is_http_url(options.sites.strip()) else _local_or_remote(options.sites)
        if not is_http_url(sites):
            _require_readable("sites file", sites)
    warc_files = _warc_inputs(options.warc or [])
    if not feeds and not url_files and not sites and not warc_files:
        raise UsageError("no sources given: pass --feeds, --urls, --sites and/or --warc")
    run_id = default_run_id(started_at) if options.run_id is None else options.run_id
    if not _RUN_ID.fullmatch(run_id):
        raise UsageError(f"--run-id {run_id!r}: use letters, digits, '.', '_' and '-', starting with a letter or digit")
    if reserved_run_id(run_id):
        raise UsageError(f"--run-id {run_id!r}: must not end in '-YYYYMMDDTHHMMSSZ' (streaming window file names)")
    fetch = FetchSettings(
        user_agent=options.http_user_agent,
        connect_timeout=_positive("connect-timeout", options.connect_timeout, 0.001),
        read_timeout=_positive("read-timeout", options.read_timeout, 0.001),
        deadline=_positive("deadline", options.deadline, 0.001),
        max_bytes=_positive("max-bytes", options.max_bytes),
        max_redirects=_positive("max-redirects", options.max_redirects, 0),
        max_attempts=_positive("max-attempts", options.max_attempts),
        backoff_base=_positive("retry-backoff", options.retry_backoff, 0.0),
        obey_robots=not options.ignore_robots,
        allow_private_addresses=options.allow_private_addresses,
        host_concurrency=_positive("host-concurrency", options.host_concurrency),
        host_delay=_positive("host-delay", options.host_delay, 0.0),
        max_connections=_positive("max-connections", options.max_connections),
        host_failure_limit=_positive("host-failure-limit", options.host_failure_limit, 0),
        host_failure_pause=_positive("host-failure-pause", options.host_failure_pause, 0.0),
    )
    topics = None
    if options.topics:
        topics = _local_or_remote(options.topics)
        _require_readable("topics file", topics)
        try:
            TopicMatcher(topics)  # a malformed watchlist must stop the run here, with its reason
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    entities = None
    if options.entities != "off":
        entities = EntityStageSettings(tagger=EntitySettings(use_ner=options.entities == "ner"), topics_path=topics)
    core = CoreSettings(
        fetch=fetch,
        extraction=ExtractionSettings(min_text_chars=_positive("min-text-chars", options.min_text_chars, 0),
                                      timeout=_positive("extract-timeout", options.extract_timeout, 0.0),
                                      max_pdf_pages=_positive("max-pdf-pages", options.max_pdf_pages),
                                      strategy=options.extraction_strategy),
        language=LanguageSettings(),
        entities=entities,
        redistribute=options.redistribute == "on",
        warm_up=options.warm_up == "on",
        spool_dir=options.spool_dir,
        # the local runner's worker count replaces it once the run knows it has a spool (pipelines/ingest)
        extract_while_fetching=int(options.extract_while_fetching == "on"),
        archive=options.archive != "off",
    )
    window = Window(parse_moment("since", options.since), parse_moment("until", options.until, end_of_day=True))
    if window.since and window.until and window.since >= window.until:
        raise UsageError("--since must be before --until")
    max_articles = options.max_articles
    if max_articles is not None:
        _positive("max-articles", max_articles, minimum=0)  # 0: read and check the sources, fetch nothing
    return IngestConfig(
        feeds=tuple(dict.fromkeys(feeds)),
        url_files=tuple(dict.fromkeys(url_files)),
        output=_local_or_remote(options.output.rstrip("/") or "/"),
        run_id=run_id,
        started_at=started_at,
        core=core,
        buckets=_positive("buckets", options.buckets),
        window=window,
        max_articles=max_articles,
        near_dup_window=timedelta(days=_positive("near-dup-days", options.near_dup_days, 0.0)),
        sites=sites,
        rediscover_days=_positive("rediscover-days", options.rediscover_days, 0.0),
        archive=options.archive,
        warc_files=warc_files,
    )


_WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")


def _warc_inputs(patterns: List[str]) -> Tuple[Tuple[str, int], ...]:
    """(path, size) of the files each --warc pattern matches; a pattern matching none is a usage error."""
    found = {}
    for pattern in patterns:
        pattern = _local_or_remote(pattern.strip())
        try:
            metadata = FileSystems.match([pattern])[0].metadata_list
        except Exception as exc:  # unreachable bucket, bad scheme
            raise UsageError(f"--warc {pattern!r}: {exc}") from None
        # a folder named like a file (`x.warc.gz/`) is no file: reading it would fail the run
        matched = [meta for meta in metadata if meta.path.endswith(_WARC_SUFFIXES) and not os.path.isdir(meta.path)]
        if not matched:
            folder = f" (a folder: pass a glob such as {pattern.rstrip('/') + '/*.warc.gz'!r})" \
                if os.path.isdir(pattern) else ""
            raise UsageError(f"--warc {pattern!r} matches no .warc, .warc.gz, .arc or .arc.gz file{folder}")
        found.update((meta.path, meta.size_in_bytes) for meta in matched)
    return tuple(sorted(found.items()))
