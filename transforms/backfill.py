"""Backfill controls: a publication-date window and a cap on the number of articles fetched per run."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from datetime import datetime
from typing import List, Optional

import apache_beam as beam

from newsbeam.dates import believable_listed_date
from newsbeam.schemas.records import Article, FeedItem
from newsbeam.sitemap_plan import newest_first_key
from newsbeam.transforms.common import counter


@dataclass(frozen=True)
class Window:
    since: Optional[datetime] = None  # inclusive
    until: Optional[datetime] = None  # exclusive

    @property
    def active(self) -> bool:
        return self.since is not None or self.until is not None

    def admits(self, moment: Optional[datetime]) -> bool:
        """An unknown date is admitted: it cannot be shown to lie outside."""
        if moment is None:
            return True
        return (self.since is None or moment >= self.since) and (self.until is None or moment < self.until)


class _WindowFn(beam.DoFn):
    def __init__(self, window: Window, metric: str, date_of):
        self._window = window
        self._date_of = date_of
        self._outside = counter(metric)

    def process(self, element):
        if self._window.admits(self._date_of(element)):
            yield element
        else:
            self._outside.inc()


class ItemsInWindow(beam.PTransform):
    """Before fetching: drops items whose feed date lies outside the window. With `now` (the run's start), a date
    more than an hour later is not believed: the item is undated, so admitted (its page's date decides later)."""

    def __init__(self, window: Window, now: Optional[datetime] = None):
        super().__init__()
        self._window = window
        self._now = now

    def expand(self, items):
        return items | "FeedDateWindow" >> beam.ParDo(
            _WindowFn(self._window, "items.skipped.outside_window", partial(_feed_date, now=self._now)))


class ArticlesInWindow(beam.PTransform):
    """After extraction: drops articles whose publication date lies outside the window."""

    def __init__(self, window: Window):
        super().__init__()
        self._window = window

    def expand(self, articles):
        return articles | "PublishedWindow" >> beam.ParDo(
            _WindowFn(self._window, "articles.dropped.outside_window", _published))


def _feed_date(item: FeedItem, now: Optional[datetime] = None) -> Optional[datetime]:
    return believable_listed_date(item.published_at, now)


def _published(article: Article) -> Optional[datetime]:
    return article.extracted.published_at


def newest_first(items: List[FeedItem], now: Optional[datetime] = None) -> List[FeedItem]:
    """Deterministic order for a cap: newest feed date first, undated last, then by canonical URL. With `now` (the
    run's start), a date more than an hour later ranks as undated (newsbeam.sitemap_plan.newest_first_key)."""
    return sorted(items, key=lambda item: newest_first_key(item, now))


class _CapFn(beam.DoFn):
    def __init__(self, limit: int, now: Optional[datetime]):
        self._limit = limit
        self._now = now
        self._over = counter("items.skipped.over_limit")

    def process(self, items: List[FeedItem]):
        ordered = newest_first(items, self._now)
        self._over.inc(max(0, len(ordered) - self._limit))
        yield from ordered[: self._limit]


class CapItems(beam.PTransform):
    """Keeps the `limit` newest items; the rest are left for later runs (they are not marked as seen). `now`, the
    run's start: an item dated more than an hour after it ranks as undated (not first)."""

    def __init__(self, limit: int, now: Optional[datetime] = None):
        super().__init__()
        self._limit = limit
        self._now = now

    def expand(self, items):
        return (items | "AllItems" >> beam.combiners.ToList()
                | "KeepNewest" >> beam.ParDo(_CapFn(self._limit, self._now)))
