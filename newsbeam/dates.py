"""Publication dates from HTML pages, with the publisher's UTC offset and where the date came from (pure).

Order of trust: the page's JSON-LD `datePublished` of an article-like object, then publication meta tags
(`article:published_time` and kin) and `<time itemprop=datePublished>`: both state a full timestamp, usually with
its offset, which is kept. Then htmldate's search (the value trafilatura's metadata carries, extensive search on),
labelled by the step of htmldate that finds that day: `url`, `html:meta`, `html:json-ld`, else `html:text`. A
timestamp stated in UTC, or without offset, does not say the publisher's day: when htmldate finds a day on which
that instant falls somewhere on Earth, or the headline shows one instead of the stated day, that day is the
publisher's. When the page states several days (JSON-LD and meta tags disagree, or a modification on another day)
and its visible text nowhere shows the chosen one, the stated day it shows by its headline, not as an update note,
wins: a republished page shows its readers the new day. htmldate's day from the page's text is checked against
what the page shows: a day written as the publication ("Erschienen am ...") or, failing that, by the headline wins
over it; one read day-first from a meta tag whose other reading the page shows is swapped; the first of a month
that the page never writes (a month or a year alone) is no day. A date after the fetch, or before 1995, is no date.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import List, Optional, Tuple

from htmldate.core import examine_header
from htmldate.extractors import extract_url_date, json_search
from htmldate.utils import Extractor as DateOptions
from lxml.etree import XPath

from newsbeam.jsonld import article_objects
from newsbeam.shown_dates import (is_update_note, published_days, shows_day, shows_day_as_date, visible_text,
                                  written_days)

# date_source values (a column analysts filter on: add values, never rename them)
SOURCE_JSON_LD = "html:json-ld"
SOURCE_META = "html:meta"
SOURCE_TEXT = "html:text"
SOURCE_URL = "url"
SOURCE_FEED = "feed"
SOURCE_SITEMAP = "sitemap"
SOURCE_PDF = "pdf:metadata"  # a PDF's CreationDate
SOURCE_NONE = "none"

EARLIEST = datetime(1995, 1, 1, tzinfo=timezone.utc)
# A listed (feed, sitemap) date this far after the fetch or the run's start is the publisher's clock or time zone
# going wrong, or a scheduled post: not a publication date.
LISTED_DATE_SLACK = timedelta(hours=1)


def believable_listed_date(moment: Optional[datetime], now: Optional[datetime]) -> Optional[datetime]:
    """A feed's or sitemap's date, or None when it lies more than LISTED_DATE_SLACK after `now` (None: no check)."""
    if moment is None or now is None or moment <= now + LISTED_DATE_SLACK:
        return moment
    return None
# lower-cased property/name/itemprop values that state the first publication (never the modification)
_PUBLISHED_NAMES = (
    "article:published_time", "og:article:published_time", "og:published_time", "datepublished",
    "article.published", "published_time", "publishdate", "publish-date", "publish_date", "pubdate",
    "dc.date.issued", "dcterms.issued", "dcterms.created", "sailthru.date", "parsely-pub-date",
    "cxenseparse:recs:publishtime", "date.published", "original-publish-date", "article_date_original",
)
# lower-cased property/name/itemprop values that state the last modification
_MODIFIED_NAMES = (
    "article:modified_time", "og:article:modified_time", "og:updated_time", "og:modified_time", "datemodified",
    "dateupdated", "dc.modified", "dcterms.modified", "last-modified", "lastmodified", "modified_time",
    "updated_time", "article:modified", "article:modified_date", "parsely-updated",
)
# a date of the page, publication or revision (Dublin Core's `date`): only ever a second opinion
_OTHER_DATE_NAMES = ("date", "dc.date", "dcterms.date")
_META = XPath("//meta[@content]")
# characters of visible text before and after a page's <h1> searched for the date it shows (robust: 300/700 to
# 1000/2000 give the same figures on htmldate's labelled pages)
_BEFORE_HEADLINE, _AFTER_HEADLINE = 500, 1000
_TIME = XPath('//time[@datetime][@itemprop="datePublished" or @pubdate]/@datetime')
_TIME_ANY = XPath('//time[not(ancestor::*[contains(@class, "comment") or contains(@id, "comment")])]/@datetime')
_LANGUAGE = XPath('/html/@lang | //meta[@property="og:locale"]/@content')
_LEADING_DATE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})([T ][0-9:.,]+)?\s*(Z|[+-]\d{2}:?\d{2})?")


class _Page:
    """A parsed page, with its visible text and headlines read once, when a rule first needs them."""

    def __init__(self, tree):
        self.tree = tree
        self._text: Optional[Tuple[str, List[int]]] = None

    @property
    def month_first(self) -> bool:
        """Whether the page is American English (`lang="en-US"`, `og:locale` en_US): 06/07/2019 is June 7th."""
        return any(value.strip().lower().replace("_", "-").startswith("en-us") for value in _LANGUAGE(self.tree))

    @property
    def text(self) -> str:
        return self.shown()[0]

    def shown(self) -> Tuple[str, List[int]]:
        if self._text is None:
            self._text = visible_text(self.tree)
        return self._text


@dataclass(frozen=True)
class FoundDate:
    published_at: datetime  # UTC; a value without offset is taken as UTC
    local_date: date  # the day as the publisher stated it (before conversion to UTC)
    utc_offset_minutes: Optional[int]  # the publisher's offset; None when the value carried none
    source: str


def parse_moment(value: Optional[str]) -> Optional[datetime]:
    """An ISO-8601-like timestamp or date, aware when it states an offset, naive when not; None if unreadable."""
    if not value:
        return None
    match = _LEADING_DATE.match(value)
    if not match:
        return None
    day, clock, zone = match.group(1), (match.group(2) or " ")[1:].strip().replace(",", "."), match.group(3)
    text = day + ("T" + clock if clock else "")
    if zone and clock:
        text += "+00:00" if zone == "Z" else zone
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def checked_date(moment: datetime, source: str, fetched_at: datetime) -> Optional[FoundDate]:
    """`moment` as a FoundDate, or None when it lies after the fetch or before 1995."""
    offset = moment.utcoffset()
    local_date = moment.date()
    utc = moment.astimezone(timezone.utc) if offset is not None else moment.replace(tzinfo=timezone.utc)
    if utc > fetched_at:
        # a wall-clock time without offset may be ahead of UTC: keep its day when that day has begun somewhere
        if offset is not None or local_date > (fetched_at + timedelta(hours=14)).date():
            return None
        utc = min(datetime(local_date.year, local_date.month, local_date.day, tzinfo=timezone.utc), fetched_at)
    if utc < EARLIEST:
        return None
    minutes = int(offset.total_seconds() // 60) if offset is not None else None
    return FoundDate(utc, local_date, minutes, source)


def json_ld_published(tree, objects: Optional[List[dict]] = None) -> Optional[datetime]:
    for node in article_objects(tree) if objects is None else objects:
        if isinstance(node.get("datePublished"), str):
            moment = parse_moment(node["datePublished"])
            if moment is not None:
                return moment
    return None


def meta_published(tree) -> Optional[datetime]:
    for element in _META(tree):
        key = (element.get("property") or element.get("name") or element.get("itemprop") or "").strip().lower()
        if key in _PUBLISHED_NAMES:
            moment = parse_moment(element.get("content"))
            if moment is not None:
                return moment
    for value in _TIME(tree):
        moment = parse_moment(value)
        if moment is not None:
            return moment
    return None


def find_publication_date(tree, url: Optional[str], htmldate_value: Optional[str], fetched_at: datetime,
                          objects: Optional[List[dict]] = None) -> Optional[FoundDate]:
    """The page's publication date; `htmldate_value` is htmldate's answer (trafilatura's metadata); `objects`:
    the page's `article_objects`, when the caller has them already (parsing them is ~0.3 ms a page)."""
    page = _Page(tree)
    found = _found(page, url, htmldate_value, fetched_at, article_objects(tree) if objects is None else objects)
    if (found is not None and found.source in (SOURCE_META, SOURCE_JSON_LD) and not found.utc_offset_minutes
            and found.published_at.time() != datetime.min.time()):  # a timestamp, not a day
        return _publishers_shown_day(page, found)
    return found


def _found(page: _Page, url: Optional[str], htmldate_value: Optional[str], fetched_at: datetime,
           objects: List[dict]) -> Optional[FoundDate]:
    tree = page.tree
    moment = parse_moment(htmldate_value)
    stated, refused = _stated(tree, moment, fetched_at, objects)
    if refused:  # a statement after the fetch is a clock error: the date is unknown, not htmldate's next guess
        return None
    if stated is not None:
        shown = _shown_instead(page, stated, fetched_at, objects)
        if shown is not stated:
            return shown
    searched = checked_date(moment, "", fetched_at) if moment is not None else None
    if searched is None:
        return stated
    day = searched.local_date
    if stated is None:
        found = replace(searched, source=_htmldate_source(tree, url, day.isoformat(), fetched_at))
        if found.source != SOURCE_URL:
            found = _transposed(page, found, moment, fetched_at)
        if found.source == SOURCE_TEXT:
            cued = _published_day(page, found, fetched_at)
            found = cued if cued is not found else _shown_by_headline(page, found, fetched_at)
            if _month_only(page, found, moment):
                return None
        return found if found.source == SOURCE_URL else _shown_instead(page, found, fetched_at, objects)
    if stated.local_date != day and not stated.utc_offset_minutes and _same_instant_elsewhere(stated.published_at,
                                                                                              day):
        # a timestamp in UTC, or without offset, does not say the publisher's day (`2023-11-09T03:28:35Z` for a
        # New York page of the 8th): htmldate's day (the URL's `/2023/11/08/`, a local time in a meta tag) does
        return FoundDate(stated.published_at, day, None, _htmldate_source(tree, url, day.isoformat(), fetched_at))
    return stated


def _statements(tree, objects: List[dict]) -> List[Tuple[datetime, str]]:
    """Every publication and modification timestamp the page's JSON-LD and meta tags state, in order of trust
    (`<time>` elements are left out: comments and teasers carry them too)."""
    found = []
    for key in ("datePublished", "dateModified"):
        found += [(parse_moment(node[key]), SOURCE_JSON_LD) for node in objects if isinstance(node.get(key), str)]
    published, modified = [], []
    for element in _META(tree):
        key = (element.get("property") or element.get("name") or element.get("itemprop") or "").strip().lower()
        if key in _PUBLISHED_NAMES:
            published.append(element.get("content"))
        elif key in _MODIFIED_NAMES or key in _OTHER_DATE_NAMES:
            modified.append(element.get("content"))
    found += [(parse_moment(value), SOURCE_META) for value in published + modified]
    return [(moment, source) for moment, source in found if moment is not None]


def _shown_instead(page: _Page, found: FoundDate, fetched_at: datetime, objects: List[dict]) -> FoundDate:
    """The first other JSON-LD or meta-tag statement whose day the page shows by its headline, other than as an
    update note, when `found`'s day is nowhere in its visible text (a republished page shows the new day; its
    JSON-LD may keep the first one); else `found` itself. The text is only read when the page states two days."""
    others = [(moment, source) for moment, source in _statements(page.tree, objects)
              if moment.date() != found.local_date]
    if not others:
        return found
    text, headings = page.shown()
    if not headings or shows_day(text, found.local_date):
        return found
    # where a page shows its own date: by its headline (a dateline above it, a byline and lede below), not in
    # teasers, reference lists or footers ("Retrieved 26 September 2019", "Today in history")
    byline = " | ".join(window for _, _, window in _headline_windows(text, headings))
    for moment, source in others:
        if shows_day_as_date(byline, moment.date()):
            other = checked_date(moment, source, fetched_at)
            if other is not None:
                return other
    return found


def _shown_by_headline(page: _Page, found: FoundDate, fetched_at: datetime) -> FoundDate:
    """htmldate's day from the page's text, or the day written nearest to a headline (not as an update note) when
    the headline area does not show htmldate's: text search picks a plausible day of the whole page (a comment's, a
    teaser's, a sidebar's), while a page writes its own date in its dateline or byline. A `<time>` element (outside
    comments) that states htmldate's day keeps it; so does a page without `<h1>` or without a day by its headline."""
    if _time_element_states(page.tree, found.local_date):
        return found
    text, headings = page.shown()
    windows = _headline_windows(text, headings)
    if any(shows_day_as_date(window, found.local_date) for _, _, window in windows):
        return found
    day = _headline_day(windows, page.month_first)
    if day is None:
        return found
    return checked_date(datetime(day.year, day.month, day.day), SOURCE_TEXT, fetched_at) or found


def _publishers_shown_day(page: _Page, found: FoundDate) -> FoundDate:
    """A timestamp in UTC, or without offset, whose day the page does not write by its headline, on the day it
    shows there instead when the same instant falls on that day somewhere on Earth (`2020-12-05T23:15Z` on an
    Italian page whose dateline says 6 December): the publisher's day, as with htmldate's day above; the instant is
    kept, the offset unknown. A `<time>` element (outside comments) that states the timestamp's day keeps it."""
    if _time_element_states(page.tree, found.local_date):
        return found
    windows = _headline_windows(*page.shown())
    if any(shows_day(window, found.local_date) for _, _, window in windows):
        return found
    day = _headline_day(windows, page.month_first)
    if day is None or abs(day - found.local_date) != timedelta(days=1) or not _same_instant_elsewhere(
            found.published_at, day):
        return found
    return FoundDate(found.published_at, day, None, found.source)


def _transposed(page: _Page, found: FoundDate, moment: datetime, fetched_at: datetime) -> FoundDate:
    """htmldate's day with its month and day swapped, when both readings are days, the page's text writes that
    one and never htmldate's: numbers in markup are read day first, but `11/01/2023 12:43:42` in a meta tag of a
    page that shows "01.11.2023" is American (and vice versa)."""
    day = found.local_date
    if found.source != SOURCE_META or day.day > 12 or day.day == day.month:  # text search reads what is shown
        return found
    swapped = day.replace(month=day.day, day=day.month)
    text, _ = page.shown()
    if shows_day(text, day) or not shows_day(text, swapped):
        return found
    return checked_date(moment.replace(month=swapped.month, day=swapped.day), found.source, fetched_at) or found


def _published_day(page: _Page, found: FoundDate, fetched_at: datetime) -> FoundDate:
    """The first day the page's text writes as its publication ("Veröffentlicht am 16.08.2019", "Erschienen am:
    01.11.2023", "Published on ...") instead of htmldate's from the text, when htmldate's is not one of those:
    text search may pick a revision ("Letzte Änderung: 31.10.2023") or a later day of the page."""
    text, _ = page.shown()
    cued = published_days(text, page.month_first)
    if not cued or found.local_date in cued:
        return found
    day = cued[0]
    return checked_date(datetime(day.year, day.month, day.day), SOURCE_TEXT, fetched_at) or found


def _month_only(page: _Page, found: FoundDate, moment: datetime) -> bool:
    """Whether htmldate's day from the text is the first of a month, without a time, that the page writes nowhere:
    a reading of a month or a year alone (`Comunicato n. 03/2020`, `© 2022`, `Vogel des Jahres 2021`), no day."""
    if found.local_date != moment.date() or found.local_date.day != 1 or moment.time() != datetime.min.time():
        return False
    return not shows_day(page.text, found.local_date)


def _time_element_states(tree, day: date) -> bool:
    for value in _TIME_ANY(tree):
        moment = parse_moment(value)
        if moment is not None and moment.date() == day:
            return True
    return False


def _headline_windows(text: str, headings: List[int]) -> List[Tuple[int, int, str]]:
    """(where the headline starts, where its window starts, the window's text) for each `<h1>`."""
    windows = []
    for start in headings:
        low = max(0, start - _BEFORE_HEADLINE)
        windows.append((start, low, text[low:start + _AFTER_HEADLINE]))
    return windows


def _headline_day(windows: List[Tuple[int, int, str]], month_first: bool) -> Optional[date]:
    """The day written nearest to a headline (a dateline, a byline), not as an update note; None if none is."""
    nearest: Optional[Tuple[int, date]] = None
    for start, low, window in windows:
        for begin, _, day in written_days(window, month_first):
            if not is_update_note(window, begin) and (nearest is None or abs(low + begin - start) < nearest[0]):
                nearest = (abs(low + begin - start), day)
    return None if nearest is None else nearest[1]


def _stated(tree, searched: Optional[datetime], fetched_at: datetime,
            objects: List[dict]) -> Tuple[Optional[FoundDate], bool]:
    """The page's own JSON-LD or meta-tag timestamp (first found; a UTC one on the publisher's clock when the page
    states that too, in its meta tags or as htmldate's `searched` value), checked, and whether one was refused for
    lying after the fetch (a value before 1995 is a placeholder: the next one is tried)."""
    meta = meta_published(tree)
    for moment, source in ((json_ld_published(tree, objects), SOURCE_JSON_LD), (meta, SOURCE_META)):
        if moment is not None:
            if moment.utcoffset() == timedelta(0):
                moment = _publisher_clock(moment, (meta, searched))
            found = checked_date(moment, source, fetched_at)
            if found is not None or moment.year >= EARLIEST.year:
                return found, found is None
    return None, False


def _same_instant_elsewhere(instant: datetime, day: date) -> bool:
    """Whether UTC `instant` falls on `day` somewhere on Earth (offsets run from -12:00 to +14:00)."""
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return start - timedelta(hours=14) <= instant < start + timedelta(hours=36)


def _publisher_clock(moment: datetime, others: Tuple[Optional[datetime], ...]) -> datetime:
    """A UTC timestamp seen on the publisher's clock, when the page states the same moment in local time too.

    Many CMSs write JSON-LD in UTC and their meta tags in local time: an evening article in New York is then dated
    the next day. Another statement of the page counts when it is the same instant with its offset, or a local
    wall-clock time without offset that differs from the UTC one by whole quarter hours (at most 14 hours) to the
    second: the day and the offset are then the publisher's."""
    for other in others:
        if other is None:
            continue
        if other.utcoffset() is not None:
            if other == moment and other.utcoffset() != timedelta(0):
                return other
            continue
        shift = other - moment.replace(tzinfo=None)
        if shift and abs(shift) <= timedelta(hours=14) and shift % timedelta(minutes=15) == timedelta(0) and (
                other.time() != datetime.min.time()):
            return other.replace(tzinfo=timezone(shift))
    return moment


def _htmldate_source(tree, url: Optional[str], day: str, fetched_at: datetime) -> str:
    """Which of htmldate's steps gives `day`, in its own order: URL, meta tags, JSON, else the page's text."""
    options = DateOptions(False, fetched_at.replace(tzinfo=None), EARLIEST.replace(tzinfo=None), True, "%Y-%m-%d")
    if url and extract_url_date(url, options) == day:
        return SOURCE_URL
    if examine_header(tree, options) == day:
        return SOURCE_META
    if json_search(tree, options) == day:
        return SOURCE_JSON_LD
    return SOURCE_TEXT
