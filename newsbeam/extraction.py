"""Article text and metadata from HTML bytes, with trafilatura (pure functions, no I/O)."""
from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from html import unescape
from typing import List, Optional, Tuple

import trafilatura
from charset_normalizer import from_bytes
from lxml.etree import XPath
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLParserException
from trafilatura.settings import Extractor

from newsbeam import dates
from newsbeam.dates import find_publication_date
from newsbeam.htmltree import parse_html
from newsbeam.jsonld import article_objects
from newsbeam.metadata import page_metadata, page_title, undated_author
from newsbeam.paragraphs import BOILERPLATE as _BOILERPLATE
from newsbeam.paragraphs import Candidate, decide, fast_vote
from newsbeam.paragraphs import folded as _folded

# bounded, so that a head of unclosed "<meta" tags costs linear time, not quadratic
_META_CHARSET = re.compile(rb"""<meta[^>]{1,1024}charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE)
# Where a <meta charset> is looked for: the document's head. Browsers honour one found while parsing the head (the
# HTML parser's "change the encoding"), so one after long inline scripts or styles counts too; past the first 8 KB,
# not one in the body.
_HEAD_END = re.compile(rb"<body[\s>/]", re.IGNORECASE)
_HEAD_SEARCH_BYTES = 262144
_WORD = re.compile(r"\w+", re.UNICODE)
# <link rel="canonical" href>, whatever the case and the other rel tokens (trafilatura drops relative ones)
_CANONICAL_LINK = XPath(
    "//link[contains(concat(' ', normalize-space(translate(@rel, 'CANONICAL', 'canonical')), ' '), ' canonical ')]"
    "/@href")
_SPACE = re.compile(r"\s+")
# Page furniture the guard drops, in two kinds. Consent, subscription and newsletter boxes and copyright lines: a
# paragraph up to 200 characters that names one is such a box. Share, comment, "related" and "read more" bars are
# short: prose of 100-200 characters names them too ("the shareholders", "drug-related charges", "take down comments"),
# and the share/related words count as whole words only ("codeshare", "shared"). Measured on the development corpora
# (benchmarks/RESULTS.md, Extraction: recall up, precision kept).
_BOX = re.compile(r"cookie|newsletter|subscri|sign up|consent|abonn|inscri|Datenschutz|Einwilligung|anmelden|"
                  r"all rights reserved|alle rechte|©", re.I)
_BOX_MAX_CHARS = 200
_BAR = re.compile(r"\b(read more|weiterlesen|lire la suite|comments?|kommentare?|share|teilen|related|verwandte|"
                  r"copyright|inbox)\b", re.I)
_BAR_MAX_CHARS = 100
_BOILERPLATE_EVERY_CHARS = 250
_BODY_CHECK_BELOW = 100  # paragraphs shorter than this must appear in the page's JSON-LD articleBody, if any
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))

STRATEGIES = ("learned", "guarded", "balanced", "precision")
EXTRACTOR_NAME = f"trafilatura {trafilatura.__version__}"


@dataclass(frozen=True)
class ExtractionSettings:
    """The one place extraction is configured; becomes a trafilatura `Extractor` per page."""

    favor_precision: bool = True  # news pages: better to lose a caption than to keep the cookie banner
    # trafilatura's fallback extractors (readability, jusText) step in when the main text is short, and on a
    # paywalled or teaser page they return the cookie banner or the newsletter box instead (seen on the
    # sample site); without them such a page is an honest `empty_text`
    fallback_extractors: bool = False
    # 'learned': 'guarded', plus the paragraphs only resiliparse found where a small model trained on the
    # development half of trafilatura's evaluation set keeps them (held-out F 0.933 against 0.924: see
    # docs/extraction.md); 'guarded': fast standard mode, with the fallbacks only where resiliparse finds much more
    # text; 'balanced': standard mode with fallbacks on every page; all three with a chrome filter; 'precision':
    # precision mode, rescued by the other modes when it keeps almost nothing
    strategy: str = "learned"
    include_comments: bool = False
    include_tables: bool = True
    min_text_chars: int = 200  # shorter main text is a teaser, paywall or error page: `empty_text`
    # htmldate's extensive search: +4.1 points of right days and coverage 0.94 -> 0.99 on htmldate's 995 labelled
    # pages, for ~2 ms a page (benchmarks/eval_dates.py)
    date_search_extensive: bool = True
    # a precision-mode text shorter than this is checked against the other modes (see `main_text`)
    rescue_below_chars: int = 500
    rescue_min_chars: int = 500  # ... and another mode's text must be at least this long to be taken
    # 'guarded': a fast-mode text shorter than this share of resiliparse's main content is doubtful (fallbacks run)
    doubt_below_share: float = 0.5
    timeout: float = 30.0  # seconds per page (in a watchdog process); 0: no limit, extraction in-process
    # smaller bodies are extracted in the worker itself: a handoff to the watchdog's process costs about as much
    # as extracting a small page on a loaded machine, and the known pathologies (libxml2's quadratic attribute
    # parsing) need a megabyte to cost seconds (see docs/extraction.md)
    timeout_min_bytes: int = 256 * 1024
    max_pdf_pages: int = 200  # a longer PDF is a `too_large` dead letter

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown extraction strategy {self.strategy!r}; one of {', '.join(STRATEGIES)}")


@dataclass(frozen=True)
class DecodedHtml:
    text: str
    encoding: str
    encoding_source: str  # 'bom', 'utf-8', 'meta', 'header', 'detected', 'fallback'


@dataclass(frozen=True)
class PageContent:
    canonical_url: Optional[str]  # <link rel=canonical>, as the page states it (maybe relative)
    title: Optional[str]
    authors: Tuple[str, ...]
    published_at: Optional[datetime]  # UTC
    published_local_date: Optional[date]  # the publisher's day, before conversion to UTC
    published_utc_offset_minutes: Optional[int]  # None when the page states no offset
    date_source: str  # see newsbeam.dates
    sitename: Optional[str]
    description: Optional[str]
    tags: Tuple[str, ...]
    text: str


class EmptyText(ValueError):
    """The page has no usable main text."""


class NotHtml(ValueError):
    """The body is not an HTML document."""


def _decodes(body: bytes, encoding: str) -> Optional[str]:
    try:
        return body.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        return None


def decode_html(body: bytes, header_charset: Optional[str]) -> DecodedHtml:
    """Bytes to text without mojibake, whatever the HTTP header claims.

    Order: a BOM; strict UTF-8 (valid UTF-8 with non-ASCII bytes is practically never anything else); the
    document's own <meta charset>; the header's charset; statistical detection; UTF-8 with replacement.
    Each candidate must decode the whole body strictly to be used.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            text = _decodes(body, encoding)
            if text is not None:
                return DecodedHtml(text, encoding.replace("-sig", ""), "bom")
    text = _decodes(body, "utf-8")
    if text is not None:
        return DecodedHtml(text, "utf-8", "utf-8")
    match = _META_CHARSET.search(body[:8192]) or _META_CHARSET.search(_head_bytes(body))
    candidates = []
    if match:
        candidates.append((match.group(1).decode("ascii", "ignore").lower(), "meta"))
    if header_charset:
        candidates.append((header_charset.lower(), "header"))
    for encoding, source in candidates:
        if _latin1_alias(encoding):
            encoding = "windows-1252"  # what browsers do: cp1252 is a superset of latin-1's printable range
        text = _decodes(body, encoding)
        if text is not None:
            return DecodedHtml(text, codecs.lookup(encoding).name, source)
    best = from_bytes(body[:262144]).best()
    if best is not None:
        text = _decodes(body, best.encoding)
        if text is not None:
            return DecodedHtml(text, codecs.lookup(best.encoding).name, "detected")
    return DecodedHtml(body.decode("utf-8", errors="replace"), "utf-8", "fallback")


def _head_bytes(body: bytes) -> bytes:
    """The bytes before <body> (at most 256 KB): where a page declares its charset, however long its head."""
    head = body[:_HEAD_SEARCH_BYTES]
    end = _HEAD_END.search(head)
    return head[: end.start()] if end else head


def _latin1_alias(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name in ("latin-1", "iso8859-1")
    except LookupError:
        return False


def normalize_text(text: str) -> str:
    """NFC, whitespace runs folded: the form hashed for `content_hash`."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def content_hash(text: str) -> str:
    return hashlib.sha256(normalize_text(text).casefold().encode("utf-8")).hexdigest()


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def _split_names(value: Optional[str]) -> Tuple[str, ...]:
    if not value:
        return ()
    seen = []
    for name in re.split(r"\s*;\s*", value):
        name = name.strip()
        if name and name not in seen:
            seen.append(name)
    return tuple(seen)


def _date_params(settings: ExtractionSettings, fetched_at: datetime) -> dict:
    return {
        "original_date": True,
        "extensive_search": settings.date_search_extensive,
        "outputformat": "%Y-%m-%dT%H:%M:%S%z",
        # a date after the fetch is wrong by definition
        "max_date": fetched_at.strftime("%Y-%m-%d"),
    }


def _run_mode(tree, url: str, settings: ExtractionSettings, fast: bool, precision: bool) -> str:
    options = Extractor(output_format="python", fast=fast, precision=precision, comments=settings.include_comments,
                        tables=settings.include_tables, with_metadata=False, url=url)
    document = trafilatura.bare_extraction(tree, options=options)
    return normalize_paragraphs(document.text) if document is not None and document.text else ""


def main_text(tree, url: str, settings: ExtractionSettings, html: Optional[str] = None,
              objects: Optional[List[dict]] = None) -> str:
    """The page's main text (see docs/extraction.md for the measurements behind the choice of strategy);
    `objects`: the page's `article_objects`, when the caller has them already."""
    objects = article_objects(tree) if objects is None else objects
    if settings.strategy == "precision":
        return _precision_text(tree, url, settings)
    if settings.strategy in ("learned", "guarded"):
        text = _run_mode(tree, url, settings, fast=True, precision=False)
        # resiliparse is an independent extractor (its own parser and heuristics, ~2 ms a page): when it finds
        # far more main content than fast mode kept, fast mode probably missed part of the article, and
        # trafilatura's fallback extractors (the bulk of the cost of its default mode) get their say
        other = resiliparse_text(html) if html is not None else ""
        doubtful = len(text) < settings.doubt_below_share * len(other)
        if other and settings.strategy == "learned":
            if doubtful:
                text = _run_mode(tree, url, settings, fast=False, precision=False)
            # fast mode's paragraphs (standard mode's with its fallbacks where fast mode is doubtful) by the vote
            # below, less those the learned models (newsbeam/paragraphs.py) drop by their place in the page's
            # DOM, and resiliparse's that they lack where the models keep them
            body = article_body(objects)
            return guard_text(decide(text, normalize_paragraphs(other), body, tree), body, settings)
        if not doubtful:
            if other:
                found = f" {_folded(other)} "
                text = "\n".join(line for line in text.splitlines()
                                 if fast_vote(Candidate(line, True, f" {_folded(line)} " in found)))
            return guard_text(text, article_body(objects), settings)
    # balanced: trafilatura's standard mode with its fallback extractors
    return guard_text(_run_mode(tree, url, settings, fast=False, precision=False), article_body(objects), settings)


def resiliparse_text(html: str) -> str:
    """resiliparse's main-content text (an extractor independent of trafilatura); empty when it cannot parse."""
    try:
        return extract_plain_text(html, preserve_formatting=True, main_content=True, list_bullets=False,
                                  alt_texts=False, comments=False)
    except (HTMLParserException, ValueError, TypeError):
        return ""  # no second opinion


def guard_text(text: str, body: Optional[str], settings: ExtractionSettings) -> str:
    """Short chrome paragraphs dropped; a page whose text is mostly consent, subscription or newsletter boxes (a
    teaser) keeps nothing. `body`: the page's JSON-LD articleBody (`article_body`), if any."""
    lines = [line for line in text.splitlines() if not _furniture(line)]
    if body:
        # the publisher's own articleBody is a second opinion on the short paragraphs, where it is this text (it
        # has one of them at least): one in another language or another article's would drop every short
        # paragraph (an article of short paragraphs became empty_text)
        in_body = [_SPACE.sub(" ", line)[:60] in body for line in lines]
        if any(in_body):
            lines = [line for line, found in zip(lines, in_body) if found or len(line) >= _BODY_CHECK_BELOW]
    return "\n".join(lines) if _prose_reaches(lines, settings.min_text_chars) else ""


def _furniture(line: str) -> bool:
    """Whether a paragraph reads like page furniture: a consent, subscription or newsletter box, a copyright line,
    or a short share, comment or "related" bar."""
    return ((len(line) <= _BOX_MAX_CHARS and _BOX.search(line) is not None)
            or (len(line) <= _BAR_MAX_CHARS and _BAR.search(line) is not None))


def article_body(objects: List[dict]) -> Optional[str]:
    """JSON-LD `articleBody` when a page states one of some length (`objects`: its `article_objects`), whitespace
    folded."""
    for node in objects:
        body = node.get("articleBody")
        if isinstance(body, str) and len(body) >= 500:
            return _SPACE.sub(" ", unescape(body))
    return None


def _precision_text(tree, url: str, settings: ExtractionSettings) -> str:
    """Precision mode first; a short result there is not yet proof of an empty page: on
    some ordinary articles precision mode keeps a fragment or nothing. Standard mode then gets a say, and
    trafilatura's fallback extractors after it, each accepted only with a clearly longer text (a teaser page's
    other modes add the site's tagline, newsletter box or cookie banner, never an article's worth of prose)."""
    text = _run_mode(tree, url, settings, fast=not settings.fallback_extractors, precision=settings.favor_precision)
    if len(text) >= settings.rescue_below_chars:
        return text
    accept = max(settings.rescue_min_chars, settings.min_text_chars, 2 * len(text))
    for fast in (True, False):
        other = _run_mode(tree, url, settings, fast=fast, precision=False)
        if len(other) >= accept and _prose_reaches(other.splitlines(), accept):
            return other
    return text


def _prose_reaches(lines: List[str], chars: int) -> bool:
    """Whether the paragraphs that do not read like a consent, subscription or newsletter box (such a box names its
    subject every few words; an article that mentions privacy once is prose), one a line, make `chars` characters;
    reads no further than it needs to."""
    size = -1  # no newline before the first paragraph
    for line in lines:
        if len(_BOILERPLATE.findall(line)) * _BOILERPLATE_EVERY_CHARS < len(line):
            size += len(line) + 1
            if size >= chars:
                return True
    return max(size, 0) >= chars


def extract_page(html: str, url: str, settings: ExtractionSettings, fetched_at: datetime) -> PageContent:
    """Main text and metadata of one page; raises `EmptyText` when there is no usable text."""
    tree = parse_html(html)
    if tree is None:
        raise EmptyText("not parseable as HTML")
    stated = _CANONICAL_LINK(tree)
    # metadata on its own: a page whose text extraction fails still has its title and date
    metadata = page_metadata(tree, url, _date_params(settings, fetched_at))
    objects = article_objects(tree)  # read by the date finder and the text's guards
    found = find_publication_date(tree, metadata.url or url, metadata.date, fetched_at, objects)
    text = main_text(tree, url, settings, html, objects)
    if len(text) < settings.min_text_chars:
        dated = f"; published {found.local_date.isoformat()}" if found else ""
        raise EmptyText(f"{len(text)} characters of main text (minimum {settings.min_text_chars}){dated}")
    tags = tuple(dict.fromkeys(t.strip() for t in (metadata.categories or []) + (metadata.tags or []) if t.strip()))
    return PageContent(
        canonical_url=stated[0].strip() if stated and stated[0].strip() else None,
        title=(page_title(tree, metadata.title) or None),
        authors=_split_names(undated_author(tree, metadata.author)),
        published_at=found.published_at if found else None,
        published_local_date=found.local_date if found else None,
        published_utc_offset_minutes=found.utc_offset_minutes if found else None,
        date_source=found.source if found else dates.SOURCE_NONE,
        sitename=metadata.sitename or None,
        description=metadata.description or None,
        tags=tags,
        text=text,
    )


def normalize_paragraphs(text: str) -> str:
    """NFC; spaces folded inside lines, one newline between paragraphs."""
    lines = (_SPACE.sub(" ", line).strip() for line in unicodedata.normalize("NFC", text).splitlines())
    return "\n".join(line for line in lines if line)
