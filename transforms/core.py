"""The core every pipeline reuses: fetch -> extract -> language -> entities."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
from newsbeam.schemas.records import DeadLetter, FeedItem, FetchFailure, FetchRequest
from newsbeam.transforms.common import DEAD_LETTERS, counter
from newsbeam.transforms.entities import EntityStageSettings, TagEntities
from newsbeam.transforms.extract import ExtractArticles
from newsbeam.transforms.fetch import EXCHANGES, FAILURES, FetchUrls
from newsbeam.transforms.language import DetectLanguage
from newsbeam.transforms.spool import RedistributePages
from newsbeam.transforms.warmup import WarmUp

from newsbeam import reasons
from newsbeam.extraction import ExtractionSettings
from newsbeam.fetching import HTML_ACCEPT, html_only
from newsbeam.http import FetchSettings
from newsbeam.language import LanguageSettings
from newsbeam.urls import fetch_url
from newsbeam.warc import ROLE_ARTICLE


@dataclass(frozen=True)
class CoreSettings:
    fetch: FetchSettings = FetchSettings()
    extraction: ExtractionSettings = ExtractionSettings()
    language: LanguageSettings = LanguageSettings()
    entities: Optional[EntityStageSettings] = EntityStageSettings()  # None: no entity stage
    redistribute: bool = True  # reshuffle fetched pages so that extraction does not follow the hosts
    # load the later stages' models in the background while fetching (transforms/warmup); the host gate counts
    # its delay from each request's sending, so the loading thread's hold on the GIL cannot bring requests closer
    warm_up: bool = True
    spool_dir: Optional[str] = None  # local directory the redistributed pages' bodies wait in (transforms/spool)
    # with a spool: the local runner's bundles a stage (its workers), which extract the pages while they are
    # fetched, with no barrier after the fetch (transforms/share.ShareAsListed); 0: after it, past a barrier
    extract_while_fetching: int = 0
    archive: bool = False  # article responses go to the `exchanges` output, for the WARC archive


def fetch_dead_letter(failure: FetchFailure) -> DeadLetter:
    item: FeedItem = failure.request.context
    return DeadLetter(
        url=item.url, feed_url=item.feed_url, stage=reasons.STAGE_FETCH, reason=failure.reason,
        detail=failure.detail, failed_at=failure.failed_at, http_status=failure.http_status,
        attempts=failure.attempts, warc=failure.warc)


class ProcessArticles(beam.PTransform):
    """FeedItem (one per canonical URL) -> {'articles': Article, 'dead_letters': DeadLetter, 'exchanges':
    newsbeam.warc.ArchiveEntry (empty unless archiving)}.

    Each input ends as exactly one article or dead letter."""

    def __init__(self, settings: CoreSettings):
        super().__init__()
        self._settings = settings

    def expand(self, items):
        to_fetch = counter("items.to_fetch")

        def request(item: FeedItem) -> FetchRequest:
            to_fetch.inc()
            # the URL as listed, minus tracking parameters: the canonical form is a dedup key, and servers may
            # tell apart what it merges (`?1001` and `?1002`, `;jsessionid=`, `//` in a Wayback URL)
            return FetchRequest(url=fetch_url(item.url), context=item)

        fetched = (
            items
            | "ToRequests" >> beam.Map(request)
            | "Fetch" >> FetchUrls(self._settings.fetch, HTML_ACCEPT, html_only, "pages",
                                   archive_role=ROLE_ARTICLE if self._settings.archive else None)
        )
        pages = fetched.pages
        settings = self._settings
        # no barrier after the fetch: the stages after it run while the pages are fetched (transforms/share)
        while_fetching = settings.redistribute and settings.spool_dir is not None and settings.extract_while_fetching
        if settings.warm_up:
            # set up with the fetch step, on every worker: the models of the stages after it load while the pages
            # are fetched (the step stays in use, and holds them, until fetching ends)
            pages = pages | "WarmUp" >> WarmUp(settings.language, settings.entities, defer=not while_fetching)
        if settings.redistribute:
            # fetching is grouped by host (politeness) and a runner gives each group to one worker: without this
            # a one-site run would extract on one core
            pages = pages | "Redistribute" >> RedistributePages(settings.spool_dir, settings.extract_while_fetching)
        processed = pages | "Pages" >> ProcessPages(settings)
        dead_letters = (
            fetched[FAILURES] | "FetchDeadLetters" >> beam.Map(fetch_dead_letter),
            processed[DEAD_LETTERS],
        ) | "CoreDeadLetters" >> beam.Flatten()
        return {"articles": processed["articles"], DEAD_LETTERS: dead_letters, EXCHANGES: fetched[EXCHANGES]}


class ProcessPages(beam.PTransform):
    """FetchedPage -> {'articles': Article, 'dead_letters': DeadLetter}: extract -> language -> entities. The part
    of the core after fetching, shared with the pipelines that read pages from WARC files."""

    def __init__(self, settings: CoreSettings):
        super().__init__()
        self._settings = settings

    def expand(self, pages):
        extracted = pages | "Extract" >> ExtractArticles(self._settings.extraction)
        articles = extracted.articles | "Language" >> DetectLanguage(self._settings.language)
        if self._settings.entities is not None:
            articles = articles | "Entities" >> TagEntities(self._settings.entities)
        return {"articles": articles, DEAD_LETTERS: extracted[DEAD_LETTERS]}
