"""Which sitemaps of a sitemap index to read this run, and which of a sitemap's items to keep (pure functions).

The Beam wiring fetches a sitemap, reads it with `newsbeam.sitemaps.read_sitemap`, and for an index calls
`plan_index` to learn which sub-sitemaps to fetch next (depth limit, loop detection by canonical URL, a per-site
budget, news and newest first, `--since` on their `lastmod`); for a urlset it may call `select_items` to apply
`--since/--until` and a per-sitemap cap before the pipeline's global newest-first cap.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from heapq import nsmallest
from urllib.parse import urlsplit

from newsbeam.dates import believable_listed_date
from newsbeam.listings import SITEMAP_DEPTH, SITEMAP_LOOP, Unusable
from newsbeam.schemas.records import FeedItem
from newsbeam.sitemaps import SubSitemap
from newsbeam.urls import canonicalize_url, host_key

MAX_DEPTH = 3  # index -> index -> index -> sitemap; real sites use one level, rarely two
MAX_SITEMAPS_PER_SITE = 100  # sub-sitemaps fetched per site and run (an index may list hundreds of archives)


@dataclass(frozen=True)
class PlanLimits:
    max_depth: int = MAX_DEPTH
    max_sitemaps_per_site: int = MAX_SITEMAPS_PER_SITE


@dataclass(frozen=True)
class SitemapVisit:
    """A sitemap to fetch, with the path that led to it."""

    url: str
    site: str  # the budget unit: the origin of the sitemap the chain started from
    depth: int = 0  # 0: given or discovered; n: listed by an index at depth n - 1
    ancestors: tuple[str, ...] = ()  # canonical URLs of the indexes above it, outermost first
    lastmod: datetime | None = None


@dataclass(frozen=True)
class IndexPlan:
    """What to do with the sub-sitemaps of one index.

    `visits` are fetched, in this order; `rejected` become dead letters (loops, too deep); `not_modified` (lastmod
    before `--since`) and `over_budget` (past the site's budget; the newest come first, so these are the oldest)
    are not fetched this run and are only counted.
    """

    visits: tuple[SitemapVisit, ...] = ()
    rejected: tuple[Unusable, ...] = ()
    not_modified: tuple[str, ...] = ()
    over_budget: tuple[str, ...] = ()
    budget_left: int = 0


def root_visit(url: str, lastmod: datetime | None = None) -> SitemapVisit:
    """The visit for a sitemap given by the user, found in robots.txt or guessed by discovery."""
    return SitemapVisit(url=url, site=host_key(url), lastmod=lastmod)


def order_sitemaps(children: Iterable[SubSitemap]) -> list[SubSitemap]:
    """News sitemaps first, then newest `lastmod` first, undated after dated, then document order (stable)."""
    indexed = list(enumerate(children))
    indexed.sort(key=lambda pair: (
        "news" not in urlsplit(pair[1].url).path.lower(),
        pair[1].lastmod is None,
        -pair[1].lastmod.timestamp() if pair[1].lastmod else 0.0,
        pair[0],
    ))
    return [child for _, child in indexed]


def plan_index(parent: SitemapVisit, children: Sequence[SubSitemap], budget: int, since: datetime | None = None,
               seen: frozenset[str] = frozenset(), limits: PlanLimits = PlanLimits()) -> IndexPlan:
    """The sub-sitemaps of the index `parent` to fetch, given the site's remaining `budget` of sitemaps.

    A child is rejected as SITEMAP_LOOP when its canonical URL is the parent's or an ancestor's (a longer cycle
    is cut by the depth limit anyway), and as SITEMAP_DEPTH when it would lie deeper than `limits.max_depth`.
    Children already in `seen` (canonical URLs planned elsewhere this run for the site, when the caller tracks
    them) and repeats within the index are dropped silently: they are read once. With `since`, a child whose
    `lastmod` is before it cannot hold newer entries and is not fetched.
    """
    chain = parent.ancestors + (canonicalize_url(parent.url),)
    depth = parent.depth + 1
    visits: list[SitemapVisit] = []
    rejected: list[Unusable] = []
    not_modified: list[str] = []
    over_budget: list[str] = []
    planned = set(seen)
    for child in order_sitemaps(children):
        key = canonicalize_url(child.url)
        if key in chain:
            rejected.append(Unusable(child.url, SITEMAP_LOOP, f"listed by {parent.url}, which it leads to"))
            continue
        if key in planned:
            continue
        planned.add(key)
        if depth > limits.max_depth:
            rejected.append(Unusable(child.url, SITEMAP_DEPTH,
                                     f"listed by {parent.url} at depth {depth}, past the limit {limits.max_depth}"))
            continue
        if since is not None and child.lastmod is not None and child.lastmod < since:
            not_modified.append(child.url)
            continue
        if budget <= 0:
            over_budget.append(child.url)
            continue
        budget -= 1
        visits.append(SitemapVisit(child.url, parent.site, depth, chain, child.lastmod))
    return IndexPlan(tuple(visits), tuple(rejected), tuple(not_modified), tuple(over_budget), max(budget, 0))


@dataclass(frozen=True)
class Selection:
    items: tuple[FeedItem, ...]
    outside_window: int = 0  # dated outside [since, until)
    over_limit: int = 0  # in the window but past the cap


def newest_first_key(item: FeedItem, now: datetime | None = None):
    """The order `transforms.backfill.newest_first` uses (newest feed date first, undated last, then canonical
    URL): a per-sitemap cap in this order never drops an item the pipeline's global cap would keep. With `now`
    (the run's start), a date more than `dates.LISTED_DATE_SLACK` later ranks as undated: a wrong clock or a
    scheduled post must not take the cap from what was really published last."""
    moment = believable_listed_date(item.published_at, now)
    return (moment is None, -(moment.timestamp() if moment else 0), item.canonical_url)


def select_items(items: Iterable[FeedItem], since: datetime | None = None, until: datetime | None = None,
                 limit: int | None = None, now: datetime | None = None) -> Selection:
    """Items dated in [since, until) (undated ones are kept: they cannot be shown to lie outside), the `limit`
    newest of them when a limit is given, newest first (`newest_first_key` with `now`). Memory is bounded by
    `limit`, not by the input."""
    outside = 0
    admitted_count = 0

    def admitted():
        nonlocal outside, admitted_count
        for item in items:
            moment = item.published_at
            if moment is not None and ((since is not None and moment < since)
                                       or (until is not None and moment >= until)):
                outside += 1
                continue
            admitted_count += 1
            yield item

    if limit is None:
        kept = sorted(admitted(), key=lambda item: newest_first_key(item, now))
    else:
        kept = nsmallest(max(limit, 0), admitted(), key=lambda item: newest_first_key(item, now))
    return Selection(tuple(kept), outside, admitted_count - len(kept))
