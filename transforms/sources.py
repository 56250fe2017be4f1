"""Feed sources to feed items: read or fetch each `--feeds` source, expand subscription lists, parse feeds."""
from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from newsbeam.feedstate import conditional_headers
from newsbeam.fetching import FEED_ACCEPT, feed_like, utcnow
from newsbeam.http import FetchSettings
from newsbeam.source_core import (
    document_from_page,
    document_from_path,
    fetch_failure_dead_letter,
    read_document,
    read_path,
    source_key,
    unreadable_dead_letter,
    url_file_outcome,
)
from newsbeam.urls import is_http_url
from newsbeam.schemas.records import FeedDocument, FeedFetch, FetchRequest
from newsbeam.transforms.common import DEAD_LETTERS, CounterSet, counter, emit_url_list
from newsbeam.transforms.fetch import FAILURES, FetchUrls

LOG = logging.getLogger(__name__)
TO_FETCH = "to_fetch"
LISTED = "listed"
VALIDATORS = "validators"


def feed_request(url: str, depth: int, validators) -> FetchRequest:
    """A conditional GET when an earlier run recorded validators for this feed."""
    previous = validators.get(url) if validators else None
    return FetchRequest(url=url, context=FeedFetch(depth=depth, previous=previous),
                        headers=conditional_headers(previous) if previous else ())


class _OpenSourceFn(beam.DoFn):
    """A `--feeds` value: URLs go on to be fetched; paths (local or any FileSystems scheme) are read here."""

    def __init__(self):
        self._read = counter("sources.read")

    def process(self, source: str, validators=None):
        if is_http_url(source):
            yield TaggedOutput(TO_FETCH, feed_request(source, 0, validators))
            return
        body = read_path(source)
        if isinstance(body, str):
            yield TaggedOutput(DEAD_LETTERS, unreadable_dead_letter(source, body, utcnow()))
            return
        self._read.inc()
        yield document_from_path(source, body, 0, utcnow())


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
    fetched with a conditional GET."""

    def __init__(self, settings: FetchSettings, validators=None):
        super().__init__()
        self._settings = settings
        self._validators = validators

    def expand(self, sources):
        known = beam.pvalue.AsDict(self._validators) if self._validators is not None else None
        opened = sources | "OpenSources" >> beam.ParDo(_OpenSourceFn(), validators=known).with_outputs(
            TO_FETCH, DEAD_LETTERS, main="documents")
        fetched = opened[TO_FETCH] | "FetchSources" >> FetchUrls(self._settings, FEED_ACCEPT, feed_like, "feeds")
        given = (
            (opened.documents, fetched.pages | "SourcePagesAsDocuments" >> beam.Map(document_from_page))
            | "GivenDocuments" >> beam.Flatten()
            | "ReadGiven" >> beam.ParDo(_ReadDocumentFn()).with_outputs(
                LISTED, DEAD_LETTERS, VALIDATORS, main="items")
        )
        given_sources = sources | "GivenSourceKeys" >> beam.Map(lambda source: (source_key(source), True))
        listed_fetched = (
            given[LISTED]
            | "DistinctListedFeeds" >> beam.Distinct()
            | "NotGivenDirectly" >> beam.ParDo(_NotGivenFn(), given=beam.pvalue.AsDict(given_sources))
            | "ListedFeedRequests" >> beam.Map(feed_request, 1, known)
            | "FetchListedFeeds" >> FetchUrls(self._settings, FEED_ACCEPT, feed_like, "feeds")
        )
        listed = (
            listed_fetched.pages
            | "ListedPagesAsDocuments" >> beam.Map(document_from_page)
            | "ReadListed" >> beam.ParDo(_ReadDocumentFn()).with_outputs(
                LISTED, DEAD_LETTERS, VALIDATORS, main="items")
        )
        items = (given.items, listed.items) | "AllItems" >> beam.Flatten()
        validators = (given[VALIDATORS], listed[VALIDATORS]) | "FeedValidators" >> beam.Flatten()
        dead_letters = (
            opened[DEAD_LETTERS],
            fetched[FAILURES] | "SourceFetchDeadLetters" >> beam.Map(fetch_failure_dead_letter),
            given[DEAD_LETTERS],
            listed_fetched[FAILURES] | "ListedFetchDeadLetters" >> beam.Map(fetch_failure_dead_letter),
            listed[DEAD_LETTERS],
        ) | "FeedDeadLetters" >> beam.Flatten()
        return {"items": items, DEAD_LETTERS: dead_letters, VALIDATORS: validators}


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
