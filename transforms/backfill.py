"""Backfill controls: a publication-date window and a cap on the number of articles fetched per run."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional

import apache_beam as beam

from newsbeam.schemas.records import Article, FeedItem
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
    """Before fetching: drops items whose feed date lies outside the window."""

    def __init__(self, window: Window):
        super().__init__()
        self._window = window

    def expand(self, items):
        return items | "FeedDateWindow" >> beam.ParDo(
            _WindowFn(self._window, "items.skipped.outside_window", _feed_date))


class ArticlesInWindow(beam.PTransform):
    """After extraction: drops articles whose publication date lies outside the window."""

    def __init__(self, window: Window):
        super().__init__()
        self._window = window

    def expand(self, articles):
        return articles | "PublishedWindow" >> beam.ParDo(
            _WindowFn(self._window, "articles.dropped.outside_window", _published))


def _feed_date(item: FeedItem) -> Optional[datetime]:
    return item.published_at


def _published(article: Article) -> Optional[datetime]:
    return article.extracted.published_at


def newest_first(items: List[FeedItem]) -> List[FeedItem]:
    """Deterministic order for a cap: newest feed date first, undated last, then by canonical URL."""
    return sorted(items, key=lambda i: (i.published_at is None, -(i.published_at.timestamp() if i.published_at else 0),
                                        i.canonical_url))


class _CapFn(beam.DoFn):
    def __init__(self, limit: int):
        self._limit = limit
        self._over = counter("items.skipped.over_limit")

    def process(self, items: List[FeedItem]):
        ordered = newest_first(items)
        self._over.inc(max(0, len(ordered) - self._limit))
        yield from ordered[: self._limit]


class CapItems(beam.PTransform):
    """Keeps the `limit` newest items; the rest are left for later runs (they are not marked as seen)."""

    def __init__(self, limit: int):
        super().__init__()
        self._limit = limit

    def expand(self, items):
        return items | "AllItems" >> beam.combiners.ToList() | "KeepNewest" >> beam.ParDo(_CapFn(self._limit))
