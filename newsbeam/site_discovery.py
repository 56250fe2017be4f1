"""`--sites`: finds each homepage's feeds and sitemaps through the polite fetcher, once per `--rediscover-days`.

The parsing is `newsbeam.discovery` (pure); this module does the I/O around it: the sites file, robots.txt, the
homepage, probes of the conventional sitemap locations, and the record of what was found, kept in
`OUT/_state/discovery/sites.json` (one JSON document, rewritten atomically) so that the next runs poll the sources
directly. Deleting it only makes the next run discover again.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Optional, Tuple

from apache_beam.io.filesystems import FileSystems

from newsbeam import reasons
from newsbeam.discovery import (
    DiscoveryLimits,
    discover,
    needs_rediscovery,
    read_sites,
    robots_url,
)
from newsbeam.fetching import FEED_ACCEPT, FetchContext, PoliteFetcher, feed_like
from newsbeam.http import FetchSettings
from newsbeam.manifest import write_json
from newsbeam.schemas.records import DeadLetter, FetchFailure, FetchRequest
from newsbeam.sitemaps import sitemap_kind
from newsbeam.source_core import SOURCE_MAX_BYTES, read_path
from newsbeam.urls import is_http_url
from newsbeam.warc import ROLE_DISCOVERY, entry_of

LOG = logging.getLogger(__name__)
STATE_PATH = ("_state", "discovery", "sites.json")
HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"


@dataclass(frozen=True)
class SiteSources:
    """What was found for one homepage, and when."""

    homepage: str
    discovered_at: str  # ISO 8601, UTC
    feeds: Tuple[str, ...] = ()
    sitemaps: Tuple[str, ...] = ()
    homepage_problem: Optional[str] = None  # why the homepage was not read this run (not recorded)

    def as_dict(self) -> Dict:
        return {"discovered_at": self.discovered_at, "feeds": list(self.feeds), "sitemaps": list(self.sitemaps)}


@dataclass(frozen=True)
class DiscoveryOutcome:
    feeds: Tuple[str, ...]
    sitemaps: Tuple[str, ...]
    dead_letters: Tuple[DeadLetter, ...]
    record: Dict  # for the run manifest: per homepage, the sources and whether they were discovered this run
    archive: Tuple = ()  # newsbeam.warc.ArchiveEntry of every response discovery received (with archive=True)


class _ArchivingFetcher:
    """A PoliteFetcher that keeps each fetch's responses as received, for the WARC archive."""

    def __init__(self, fetcher: PoliteFetcher):
        self._fetcher = fetcher
        self.entries: List = []

    def fetch(self, request, accept, check):
        outcome = self._fetcher.fetch(request, accept, check)
        if outcome.exchanges:
            self.entries.append(entry_of(outcome, ROLE_DISCOVERY))
        return outcome


def state_path(output: str) -> str:
    return FileSystems.join(output, *STATE_PATH)


def load_record(output: str) -> Dict[str, SiteSources]:
    """What earlier runs found; an unreadable record is rediscovered, not an error."""
    try:
        with FileSystems.open(state_path(output)) as handle:
            data = json.loads(handle.read().decode("utf-8"))
        return {home: SiteSources(home, value["discovered_at"], tuple(value.get("feeds", ())),
                                  tuple(value.get("sitemaps", ()))) for home, value in data["sites"].items()}
    except Exception as exc:  # absent (first run) or damaged: discover again
        LOG.debug("no discovery record in %s: %s", output, exc)
        return {}


def _read_sites_source(source: str, fetcher: PoliteFetcher) -> bytes | str:
    if is_http_url(source):
        fetched = fetcher.fetch(FetchRequest(url=source, context=None), "text/plain,*/*;q=0.1", None)
        return f"{fetched.reason}: {fetched.detail}" if isinstance(fetched, FetchFailure) else fetched.body
    return read_path(source)


def _get(fetcher: PoliteFetcher, url: str, accept: str, check=None, max_bytes: Optional[int] = None) -> Optional[bytes]:
    fetched = fetcher.fetch(FetchRequest(url=url, context=None, max_bytes=max_bytes), accept, check)
    return None if isinstance(fetched, FetchFailure) else fetched.body


def discover_site(homepage: str, fetcher: PoliteFetcher, now: datetime,
                  limits: DiscoveryLimits = DiscoveryLimits()) -> SiteSources:
    """Fetches robots.txt and the homepage, and, when robots.txt names no sitemap, probes the conventional
    locations: only those that answer with a sitemap are kept (a 404 there is expected, not an error, and many
    sites answer any path with an HTML page)."""
    robots = _get(fetcher, robots_url(homepage), "text/plain,*/*;q=0.1")
    page = fetcher.fetch(FetchRequest(url=homepage, context=None), HTML_ACCEPT, None)
    failed = isinstance(page, FetchFailure)
    # a homepage that redirects (to /en/, to www., to another host): its relative feed links are relative to
    # where it was finally fetched from
    found = discover(homepage, None if failed else page.body, robots, limits, None if failed else page.final_url)
    sitemaps = [source.url for source in found.sitemaps]
    if found.fallback:
        sitemaps = [url for url in sitemaps
                    if sitemap_kind(_get(fetcher, url, FEED_ACCEPT, feed_like, SOURCE_MAX_BYTES) or b"")]
    return SiteSources(homepage, now.isoformat(), tuple(source.url for source in found.feeds), tuple(sitemaps),
                       f"the homepage could not be fetched ({page.reason}: {page.detail}) and no sitemap was found"
                       if failed else None)


def run_discovery(sites_source: str, output: str, settings: FetchSettings, now: datetime,
                  rediscover_days: float, archive: bool = False) -> DiscoveryOutcome:
    """The feeds and sitemaps of every `--sites` homepage: recorded ones while fresh, else discovered now (and
    recorded). Lines that are not sites, and sites where nothing was found, become dead letters. With `archive`,
    the outcome carries every response received (the sites list, robots.txt, homepages, probed sitemaps)."""
    recording = _ArchivingFetcher(PoliteFetcher(*_fetch_parts(settings)))
    fetcher = recording if archive else recording._fetcher
    body = _read_sites_source(sites_source, fetcher)
    if isinstance(body, str):
        return DiscoveryOutcome((), (), (DeadLetter(
            url=sites_source, feed_url=None, stage=reasons.STAGE_SOURCE, reason=reasons.SOURCE_UNREADABLE,
            detail=f"--sites: {body}", failed_at=now),), {}, tuple(recording.entries))
    homepages, invalid = read_sites(body)
    dead: List[DeadLetter] = [
        DeadLetter(url=None, feed_url=None, stage=reasons.STAGE_SOURCE, reason=reasons.INVALID_URL,
                   detail=f"a line of {sites_source} is not a site: {line!r}", failed_at=now) for line in invalid]
    recorded = load_record(output)
    feeds: Dict[str, None] = {}
    sitemaps: Dict[str, None] = {}
    record: Dict[str, Dict] = {}
    changed = False
    for home in homepages:
        known = recorded.get(home)
        fresh = known is not None and not needs_rediscovery(
            datetime.fromisoformat(known.discovered_at), now, rediscover_days)
        if not fresh:
            known = discover_site(home, fetcher, now)
            if known.feeds or known.sitemaps:  # a site down today is tried again next run, not in a week
                recorded[home] = known
                changed = True
        record[home] = {**known.as_dict(), "discovered_this_run": not fresh}
        if not known.feeds and not known.sitemaps:
            dead.append(DeadLetter(url=home, feed_url=None, stage=reasons.STAGE_SOURCE,
                                   reason=reasons.DISCOVERY_NOTHING_FOUND,
                                   detail=known.homepage_problem or
                                   "no feed link on the homepage and no sitemap (robots.txt, /sitemap.xml)",
                                   failed_at=now))
        feeds.update(dict.fromkeys(known.feeds))
        sitemaps.update(dict.fromkeys(known.sitemaps))
    if changed:
        write_json(state_path(output), {"sites": {home: value.as_dict() for home, value in sorted(recorded.items())}})
    LOG.info("--sites: %d site(s), %d feed(s), %d sitemap(s)", len(homepages), len(feeds), len(sitemaps))
    return DiscoveryOutcome(tuple(feeds), tuple(sitemaps), tuple(dead), record, tuple(recording.entries))


def _fetch_parts(settings: FetchSettings):
    context = FetchContext(settings)
    return context.client, context.gates, context.robots
