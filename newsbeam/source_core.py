"""The one source-reading core that batch (`ReadFeeds`, `ReadUrlLists`), the local poll driver (which runs the
batch graph once per poll) and the unbounded graph (`PollFeeds`, `PollUrlFiles`) all call, so that every source
kind behaves the same in `ingest`, `stream` and on a streaming runner.

The model is Beam's `MatchFiles` -> `ReadMatches`: the transforms only decide *when* a source is opened or fetched
(once per run, or once per poll with state); what a source's bytes come to (items, listed feeds, dead letters, the
validator to remember, the counters to add) is decided here, by pure functions of the document.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Tuple, Union
from urllib.parse import urljoin

from apache_beam.io.filesystems import FileSystems

from newsbeam import reasons
from newsbeam.feedstate import body_hash, conditional_headers
from newsbeam.listings import SubSitemap
from newsbeam.sitemap_plan import PlanLimits, SitemapVisit, plan_index
from newsbeam.sources import (
    JSON,
    MAX_INFLATED_BYTES,
    SITEMAP,
    Rejected,
    bad_line_detail,
    read_source,
    sniff,
    url_list_lines,
)
from newsbeam.urls import canonicalize_url, host_key, is_http_url
from newsbeam.schemas.records import DeadLetter, FeedDocument, FeedFetch, FeedItem, FeedValidator, FetchedPage, \
    FetchFailure, FetchRequest, WarcPointer

Counts = Tuple[Tuple[str, int], ...]
# the body cap of a source fetch (FetchRequest.max_bytes): sitemaps may be 50 MB, more than --max-bytes (pages)
SOURCE_MAX_BYTES = MAX_INFLATED_BYTES


@dataclass(frozen=True)
class SourceOutcome:
    """What one source document comes to."""

    items: Tuple[FeedItem, ...] = ()
    listed: Tuple[str, ...] = ()  # feed URLs of a subscription list, to fetch at depth 1
    dead_letters: Tuple[DeadLetter, ...] = ()
    validator: Optional[FeedValidator] = None  # to remember for the next conditional GET (feeds only)
    changed: bool = True  # False: a 304, or the same bytes as last time; nothing was read
    counts: Counts = ()  # counters to add: ('feeds.parsed', 1), ...
    index: Optional[SitemapVisit] = None  # a sitemap index: where it stands in its chain ...
    sitemaps: Tuple[SubSitemap, ...] = ()  # ... and the sitemaps it lists, to plan (`plan_sitemaps`)


def rejected_dead_letter(rejected: Rejected, failed_at: datetime, warc: Optional[WarcPointer] = None) -> DeadLetter:
    return DeadLetter(url=rejected.url, feed_url=rejected.feed_url, stage=rejected.stage, reason=rejected.reason,
                      detail=rejected.detail, failed_at=failed_at, warc=warc)


def fetch_failure_dead_letter(failure: FetchFailure) -> DeadLetter:
    """A feed source that could not be fetched: the fetch reason prefixed with `feed_`."""
    return DeadLetter(url=failure.request.url, feed_url=failure.request.url, stage=reasons.STAGE_FEED,
                      reason=reasons.feed_reason(failure.reason), detail=failure.detail, failed_at=failure.failed_at,
                      http_status=failure.http_status, attempts=failure.attempts, warc=failure.warc)


def unreadable_dead_letter(path: str, detail: str, failed_at: datetime) -> DeadLetter:
    return DeadLetter(url=path, feed_url=path, stage=reasons.STAGE_SOURCE, reason=reasons.SOURCE_UNREADABLE,
                      detail=detail, failed_at=failed_at)


def read_path(path: str, compression_type: str = "uncompressed") -> Union[bytes, str]:
    """The bytes of a local or FileSystems path (gs://, s3://), or why it cannot be read (a str)."""
    try:
        with FileSystems.open(path, compression_type=compression_type) as handle:
            return handle.read()
    except Exception as exc:  # any filesystem's error: one dead letter, not a failed run
        return f"{type(exc).__name__}: {exc}"


def document_from_page(page: FetchedPage) -> FeedDocument:
    """A fetched feed source (200 or 304) as a document, with the validators to remember."""
    context: FeedFetch = page.request.context
    previous = context.previous
    if page.not_modified and previous is not None:
        validator = FeedValidator(page.request.url, page.etag or previous.etag,
                                  page.last_modified or previous.last_modified, previous.body_sha256, page.fetched_at)
    else:
        validator = FeedValidator(page.request.url, page.etag, page.last_modified, body_hash(page.body),
                                  page.fetched_at)
    return FeedDocument(source=page.request.url, body=page.body, content_type=page.content_type,
                        depth=context.depth, validator=validator, previous=previous,
                        not_modified=page.not_modified, base_url=base_url(page),
                        sitemap_chain=context.sitemap_chain, as_sitemap=context.as_sitemap, warc=page.warc)


def base_url(page: FetchedPage) -> str:
    """What relative item links resolve against (after xml:base): the Content-Location header, itself resolved
    against the final URL, when it is an http(s) URL; else the final URL after redirects."""
    if page.content_location:
        location = urljoin(page.final_url, page.content_location.strip())
        if is_http_url(location):
            return location
    return page.final_url


def document_from_path(path: str, body: bytes, depth: int, read_at: datetime,
                       previous: Optional[FeedValidator] = None, remember: bool = False,
                       as_sitemap: bool = False) -> FeedDocument:
    """A source read from a path; `remember` gives it a validator (its body hash) so that a poll can tell the same
    bytes from new ones."""
    validator = FeedValidator(path, None, None, body_hash(body), read_at) if remember else None
    return FeedDocument(source=path, body=body, depth=depth, validator=validator, previous=previous,
                        as_sitemap=as_sitemap)


def read_document(document: FeedDocument, now: datetime) -> SourceOutcome:
    """Items, listed feeds and dead letters of one source document.

    An answer that says nothing changed (304, or the same bytes behind a new ETag) costs no parsing: its items
    were handled last time. Validators are kept for feeds only (empty ones too, so an empty feed is not parsed
    again), so a subscription list is always read afresh."""
    if document.not_modified:
        return SourceOutcome(validator=document.validator, changed=False, counts=(("feeds.not_modified", 1),))
    if (document.previous is not None and document.validator is not None
            and document.previous.body_sha256 == document.validator.body_sha256):
        return SourceOutcome(validator=document.validator, changed=False, counts=(("feeds.unchanged", 1),))
    contents = read_source(document.body, document.source, document.content_type, document.depth,
                           document.base_url, as_sitemap=document.as_sitemap)
    # the document itself rejected (not a feed, a nested list, ...) points to the response it came in; an item
    # rejected inside it had no response of its own
    dead = tuple(rejected_dead_letter(rejected, now, document.warc if rejected.url == document.source else None)
                 for rejected in contents.rejected)
    if not contents.read:
        return SourceOutcome(dead_letters=dead)
    if contents.sitemap_index:  # read afresh every run, as a subscription list is: no validator kept
        return SourceOutcome(dead_letters=dead, index=visit_of(document), sitemaps=contents.sitemaps,
                             counts=(("sitemaps.indexes", 1), ("sitemaps.listed", len(contents.sitemaps))))
    if contents.lists_articles:
        counts = (("feeds.parsed", 1), ("feeds.items", len(contents.items)), *_KIND_COUNTS.get(contents.kind, ()))
        if contents.empty_feed:
            counts += (("feeds.empty", 1),)
        return SourceOutcome(items=contents.items, dead_letters=dead, validator=document.validator, counts=counts)
    return SourceOutcome(listed=contents.listed, dead_letters=dead,
                         counts=(("sources.subscription_lists", 1), ("sources.listed_feeds", len(contents.listed))))


_KIND_COUNTS = {JSON: (("feeds.json_feeds", 1),), SITEMAP: (("sitemaps.read", 1),)}


# --------------------------------------------------------------------------------------------------------------
# Sitemap indexes: their own depth rule (sitemap_plan), apart from the one level of subscription lists


def visit_of(document: FeedDocument) -> SitemapVisit:
    """Where a fetched sitemap stands: its chain of indexes, and its site (the budget unit: the origin of the
    sitemap its chain started from)."""
    chain = document.sitemap_chain
    first = chain[0] if chain else document.source
    return SitemapVisit(url=document.source, site=host_key(first) if is_http_url(first) else first,
                        depth=len(chain), ancestors=chain)


@dataclass(frozen=True)
class SitemapPlan:
    requests: Tuple[FetchRequest, ...] = ()
    dead_letters: Tuple[DeadLetter, ...] = ()
    counts: Counts = ()
    budget_left: int = 0


def plan_sitemaps(indexes, budget: int, since: Optional[datetime], now: datetime, validators=None,
                  limits: PlanLimits = PlanLimits(), given: frozenset = frozenset()) -> SitemapPlan:
    """The sitemaps to fetch next for one site's indexes [(SitemapVisit, sub-sitemaps)], planned in parent-URL order
    (deterministic) against the site's remaining `budget`: requests, dead letters (loops, too deep) and counts
    (`sitemaps.not_modified`: lastmod before --since; `sitemaps.over_budget`). Sitemaps whose canonical URL is in
    `given` are read as given sources already: not again."""
    requests, dead, seen = [], [], frozenset(given)
    not_modified = over_budget = 0
    for parent, children in sorted(indexes, key=lambda pair: pair[0].url):
        plan = plan_index(parent, children, budget, since=since, seen=seen, limits=limits)
        budget = plan.budget_left
        seen = seen | {canonicalize_url(visit.url) for visit in plan.visits}
        not_modified += len(plan.not_modified)
        over_budget += len(plan.over_budget)
        requests.extend(sitemap_request(visit, validators) for visit in plan.visits)
        dead.extend(DeadLetter(url=unusable.value, feed_url=parent.url, stage=reasons.STAGE_FEED,
                               reason=unusable.reason, detail=unusable.detail, failed_at=now)
                    for unusable in plan.rejected)
    counts = (("sitemaps.planned", len(requests)), ("sitemaps.not_modified", not_modified),
              ("sitemaps.over_budget", over_budget))
    return SitemapPlan(tuple(requests), tuple(dead), counts, budget)


def sitemap_request(visit: SitemapVisit, validators=None) -> FetchRequest:
    """A fetch of a sitemap listed by an index, conditional when an earlier run recorded validators for it."""
    previous = validators.get(visit.url) if validators else None
    return FetchRequest(url=visit.url, context=FeedFetch(depth=1, previous=previous,
                                                         sitemap_chain=visit.ancestors, as_sitemap=True),
                        headers=conditional_headers(previous) if previous else (), max_bytes=SOURCE_MAX_BYTES)


def url_file_outcome(path: str, body: bytes, now: datetime) -> SourceOutcome:
    """A `--urls` file: each line an article URL, or its own `invalid_url` dead letter with its line number."""
    items, dead = [], []
    for line in url_list_lines(sniff(body).text):
        if line.is_url:
            items.append(FeedItem(url=line.text, canonical_url=canonicalize_url(line.text)))
        else:
            dead.append(DeadLetter(url=None, feed_url=None, stage=reasons.STAGE_SOURCE, reason=reasons.INVALID_URL,
                                   detail=bad_line_detail(path, line), failed_at=now))
    return SourceOutcome(items=tuple(items), dead_letters=tuple(dead), counts=(("sources.direct_urls", len(items)),))


def source_key(url: str) -> str:
    """What makes two spellings of a feed URL the same source (a feed given directly and listed in an OPML)."""
    if not is_http_url(url):
        return url
    try:
        return canonicalize_url(url)
    except Exception:  # courlan on an odd URL: compare as written
        return url


def given_keys(sources) -> frozenset:
    return frozenset(source_key(source) for source in sources)
