"""Within-run dedup: one item per canonical URL, whichever feeds list it."""
from __future__ import annotations

from typing import Iterable, Tuple

import apache_beam as beam

from newsbeam.schemas.records import FeedItem
from newsbeam.transforms.common import counter


def pick_representative(items: Iterable[FeedItem]) -> Tuple[FeedItem, int]:
    """The item to keep and how many others were dropped. Deterministic whatever the arrival order: prefer
    the listing whose URL already is canonical, then the first feed URL in sort order."""
    ordered = sorted(items, key=lambda i: (i.url != i.canonical_url, i.feed_url or "", i.url, i.guid or ""))
    return ordered[0], len(ordered) - 1


class _PickFn(beam.DoFn):
    def __init__(self):
        self._unique = counter("items.unique")
        self._duplicates = counter("items.duplicate")

    def process(self, element):
        _, items = element
        item, dropped = pick_representative(items)
        self._unique.inc()
        self._duplicates.inc(dropped)
        yield item


class DeduplicateItems(beam.PTransform):
    """FeedItem -> FeedItem, one per canonical URL (`items.in` = `items.unique` + `items.duplicate`)."""

    def expand(self, items):
        seen = counter("items.in")

        def key(item: FeedItem) -> Tuple[str, FeedItem]:
            seen.inc()
            return item.canonical_url, item

        return (
            items
            | "KeyByCanonicalUrl" >> beam.Map(key).with_output_types(Tuple[str, FeedItem])
            | "GroupByCanonicalUrl" >> beam.GroupByKey()
            | "PickOne" >> beam.ParDo(_PickFn())
        )
