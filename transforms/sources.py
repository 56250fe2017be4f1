"""Feed sources to feed items: read or fetch each `--feeds` source (feeds, JSON Feeds, sitemaps, lists), expand
subscription lists one level, follow sitemap indexes down to their depth limit."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Optional, Tuple

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from newsbeam.feedstate import conditional_headers
from newsbeam.fetching import FEED_ACCEPT, feed_like, utcnow
from newsbeam.http import FetchSettings
from newsbeam.sitemap_plan import MAX_DEPTH, MAX_SITEMAPS_PER_SITE, root_visit
from newsbeam.source_core import (
    document_from_page,
    document_from_path,
    fetch_failure_dead_letter,
    plan_sitemaps,
    read_document,
    read_path,
    source_key,
    unreadable_dead_letter,
    url_file_outcome,
)
from newsbeam.source_core import SOURCE_MAX_BYTES
from newsbeam.urls import is_http_url
from newsbeam.warc import ROLE_FEED, ROLE_SITEMAP
from newsbeam.schemas.records import FeedDocument, FeedFetch, FetchRequest
from newsbeam.transforms.common import DEAD_LETTERS, CounterSet, counter, emit_url_list
from newsbeam.transforms.fetch import EXCHANGES, FAILURES, FetchUrls

LOG = logging.getLogger(__name__)
TO_FETCH = "to_fetch"
LISTED = "listed"
VALIDATORS = "validators"
SITEMAPS = "sitemaps"


def feed_request(url: str, depth: int, validators, as_sitemap: bool = False) -> FetchRequest:
    """A conditional GET when an earlier run recorded validators for this feed."""
    previous = validators.get(url) if validators else None
    return FetchRequest(url=url, context=FeedFetch(depth=depth, previous=previous, as_sitemap=as_sitemap),
                        headers=conditional_headers(previous) if previous else (), max_bytes=SOURCE_MAX_BYTES)


class _OpenSourceFn(beam.DoFn):
    """A `--feeds` value: URLs go on to be fetched; paths (local or any FileSystems scheme) are read here."""

    def __init__(self):
        self._read = counter("sources.read")

    def process(self, source: Tuple[str, bool], validators=None):
        source, as_sitemap = source
        if is_http_url(source):
            yield TaggedOutput(TO_FETCH, feed_request(source, 0, validators, as_sitemap))
            return
        body = read_path(source)
        if isinstance(body, str):
            yield TaggedOutput(DEAD_LETTERS, unreadable_dead_letter(source, body, utcnow()))
            return
        self._read.inc()
        yield document_from_path(source, body, 0, utcnow(), as_sitemap=as_sitemap)


class _ReadDocumentFn(beam.DoFn):
    """Feeds become items; subscription lists given by the user are expanded one level (`read_document`)."""

    def __init__(self):
        self._counters = CounterSet()

    def process(self, document: FeedDocument):
        outcome = read_document(document, utcnow())
        for name, value in outcome.counts:
            self._counters.inc(name, value)
        for dead in outcome.dead_letters:
            yield TaggedOutput(DEAD_LETTERS, dead)
        if outcome.validator is not None:
            yield TaggedOutput(VALIDATORS, outcome.validator)
        yield from outcome.items
        for url in outcome.listed:
            yield TaggedOutput(LISTED, url)
        if outcome.index is not None:
            yield TaggedOutput(SITEMAPS, (outcome.index.site, (outcome.index, outcome.sitemaps)))


class _PlanSitemapsFn(beam.DoFn):
    """(site, [(index visit, its sitemaps)]) -> the sitemaps to fetch next, within the site's budget for the run
    (what earlier levels used comes as a side input), and dead letters for loops and depth."""

    def __init__(self, since: Optional[datetime], max_per_site: int):
        self._since = since
        self._max = max_per_site
        self._counters = CounterSet()

    def process(self, element, used, given, validators=None):
        site, indexes = element
        plan = plan_sitemaps(list(indexes), self._max - used.get(site, 0), self._since, utcnow(), validators,
                             given=frozenset(given))
        for name, value in plan.counts:
            self._counters.inc(name, value)
        for dead in plan.dead_letters:
            yield TaggedOutput(DEAD_LETTERS, dead)
        yield from plan.requests


class _NotGivenFn(beam.DoFn):
    """A listed feed that is also given directly is fetched once, as a given source."""

    def __init__(self):
        self._also_given = counter("sources.listed_also_given")

    def process(self, url: str, given):
        if source_key(url) in given:
            self._also_given.inc()
            return
        yield url


class ReadFeeds(beam.PTransform):
    """`--feeds` values -> {'items': FeedItem, 'dead_letters': DeadLetter, 'validators': FeedValidator}.

    `validators`, if given, is a PCollection of (feed URL, FeedValidator) from earlier runs: those feeds are
    fetched with a conditional GET. `sitemaps` are sources known to be sitemaps (found by discovery): plain text
    there is a text sitemap. Sitemap indexes are followed level by level (unrolled: the depth is bounded), each
    level planned per site (`plan_sitemaps`: budget, loops, --since on lastmod, news and newest first)."""

    def __init__(self, settings: FetchSettings, validators=None, since: Optional[datetime] = None,
                 sitemaps: Tuple[str, ...] = (), max_depth: int = MAX_DEPTH,
                 max_sitemaps_per_site: int = MAX_SITEMAPS_PER_SITE, archive: bool = False):
        super().__init__()
        self._settings = settings
        self._validators = validators
        self._since = since
        self._sitemaps = tuple(sitemaps)
        self._max_depth = max_depth
        self._max_per_site = max_sitemaps_per_site
        self._archive_role = ROLE_FEED if archive else None
        self._sitemap_role = ROLE_SITEMAP if archive else None

    def expand(self, sources):
        known = beam.pvalue.AsDict(self._validators) if self._validators is not None else None
        tagged = sources | "AsFeedSources" >> beam.Map(lambda source: (source, False))
        if self._sitemaps:
            tagged = (tagged, sources.pipeline | "SitemapSources" >> beam.Create(
                [(url, True) for url in self._sitemaps])) | "AllSources" >> beam.Flatten()
        opened = tagged | "OpenSources" >> beam.ParDo(_OpenSourceFn(), validators=known).with_outputs(
            TO_FETCH, DEAD_LETTERS, main="documents")
        fetched = opened[TO_FETCH] | "FetchSources" >> FetchUrls(self._settings, FEED_ACCEPT, feed_like, "feeds",
                                                                       self._archive_role)
        given = (
            (opened.documents, fetched.pages | "SourcePagesAsDocuments" >> beam.Map(document_from_page))
            | "GivenDocuments" >> beam.Flatten()
            | "ReadGiven" >> beam.ParDo(_ReadDocumentFn()).with_outputs(
                LISTED, DEAD_LETTERS, VALIDATORS, SITEMAPS, main="items")
        )
        given_sources = tagged | "GivenSourceKeys" >> beam.Map(lambda source: (source_key(source[0]), True))
        listed_fetched = (
            given[LISTED]
            | "DistinctListedFeeds" >> beam.Distinct()
            | "NotGivenDirectly" >> beam.ParDo(_NotGivenFn(), given=beam.pvalue.AsDict(given_sources))
            | "ListedFeedRequests" >> beam.Map(feed_request, 1, known)
            | "FetchListedFeeds" >> FetchUrls(self._settings, FEED_ACCEPT, feed_like, "feeds", self._archive_role)
        )
        listed = (
            listed_fetched.pages
            | "ListedPagesAsDocuments" >> beam.Map(document_from_page)
            | "ReadListed" >> beam.ParDo(_ReadDocumentFn()).with_outputs(
                LISTED, DEAD_LETTERS, VALIDATORS, SITEMAPS, main="items")
        )
        items = [given.items, listed.items]
        validators = [given[VALIDATORS], listed[VALIDATORS]]
        dead_letters = [
            opened[DEAD_LETTERS],
            fetched[FAILURES] | "SourceFetchDeadLetters" >> beam.Map(fetch_failure_dead_letter),
            given[DEAD_LETTERS],
            listed_fetched[FAILURES] | "ListedFetchDeadLetters" >> beam.Map(fetch_failure_dead_letter),
            listed[DEAD_LETTERS],
        ]
        # sitemap indexes: level n plans the sitemaps the indexes of level n - 1 list; the last plan only rejects
        exchanges = [fetched[EXCHANGES], listed_fetched[EXCHANGES]]
        pending = (given[SITEMAPS], listed[SITEMAPS]) | "IndexesLevel0" >> beam.Flatten()
        planned_so_far = []
        for level in range(1, self._max_depth + 2):
            used = (planned_so_far or [sources.pipeline | f"NoSitemapsBeforeLevel{level}" >> beam.Create([])]) \
                | f"PlannedBeforeLevel{level}" >> beam.Flatten() \
                | f"CountPlannedBeforeLevel{level}" >> beam.combiners.Count.PerKey()
            planned = (
                pending
                | f"GroupIndexesBySite{level}" >> beam.GroupByKey()
                | f"PlanSitemaps{level}" >> beam.ParDo(
                    _PlanSitemapsFn(self._since, self._max_per_site), used=beam.pvalue.AsDict(used),
                    given=beam.pvalue.AsDict(given_sources), validators=known).with_outputs(
                    DEAD_LETTERS, main="requests")
            )
            dead_letters.append(planned[DEAD_LETTERS])
            if level > self._max_depth:
                break  # every sitemap listed this deep was rejected (sitemap_depth) by the plan
            planned_so_far.append(planned.requests | f"SiteOfPlanned{level}" >> beam.Map(
                lambda request: (_site_of(request), request.url)))
            fetched_level = planned.requests | f"FetchSitemaps{level}" >> FetchUrls(
                self._settings, FEED_ACCEPT, feed_like, "feeds", self._sitemap_role)
            exchanges.append(fetched_level[EXCHANGES])
            read_level = (
                fetched_level.pages
                | f"SitemapPagesAsDocuments{level}" >> beam.Map(document_from_page)
                | f"ReadSitemaps{level}" >> beam.ParDo(_ReadDocumentFn()).with_outputs(
                    LISTED, DEAD_LETTERS, VALIDATORS, SITEMAPS, main="items")
            )
            items.append(read_level.items)
            validators.append(read_level[VALIDATORS])
            dead_letters += [
                fetched_level[FAILURES] | f"SitemapFetchDeadLetters{level}" >> beam.Map(fetch_failure_dead_letter),
                read_level[DEAD_LETTERS],
            ]
            pending = read_level[SITEMAPS]
        return {
            "items": items | "AllItems" >> beam.Flatten(),
            DEAD_LETTERS: dead_letters | "FeedDeadLetters" >> beam.Flatten(),
            VALIDATORS: validators | "FeedValidators" >> beam.Flatten(),
            EXCHANGES: exchanges | "FeedExchanges" >> beam.Flatten(),
        }


def _site_of(request: FetchRequest) -> str:
    chain = request.context.sitemap_chain
    return root_visit(chain[0] if chain else request.url).site


class _UrlFileFn(beam.DoFn):
    """A `--urls` file, read whole so that a bad line's dead letter can name its line number."""

    def __init__(self):
        self._counters = CounterSet()

    def process(self, path: str):
        body = read_path(path, compression_type="auto")  # .gz and .bz2 lists too
        if isinstance(body, str):
            yield TaggedOutput(DEAD_LETTERS, unreadable_dead_letter(path, body, utcnow()))
            return
        yield from emit_url_list(url_file_outcome(path, body, utcnow()), self._counters)


class ReadUrlLists(beam.PTransform):
    """`--urls` files (one article URL a line) -> {'items': FeedItem, 'dead_letters': DeadLetter}."""

    def expand(self, paths):
        parsed = paths | "ReadUrlFiles" >> beam.ParDo(_UrlFileFn()).with_outputs(DEAD_LETTERS, main="items")
        return {"items": parsed.items, DEAD_LETTERS: parsed[DEAD_LETTERS]}
