"""Text and metadata of PDF documents, with pypdfium2 (pure functions, no I/O).

PDF text comes out as positioned lines: the repairs here rebuild what a reader sees. Running headers and footers
(the same line at the top or bottom of most pages) are dropped; a word hyphenated across a line end is joined; a
drop capital set apart from its word ("I" + "t is estimated") is put back; lines are joined into paragraphs.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Tuple

from newsbeam.mediatypes import is_pdf_type

_PASSWORD_ERROR = 4  # FPDF_ERR_PASSWORD
_HYPHENATED = re.compile(r"(\w)[-\u00ad]\n(?=[a-zà-öø-ÿß])")
# pdfium marks a hyphen it found at a line end as U+FFFE (older builds: U+0002) and joins the lines itself
_PDFIUM_HYPHEN = re.compile(r"[\ufffe\x02]\s*")
_DROP_CAP = re.compile(r"^([A-ZÀ-ÖØ-Þ])\n+(?=[a-zà-öø-ÿ])", re.M)
_DIGITS = re.compile(r"\d+")
_SENTENCE_END = re.compile(r"[.!?:;\"'”’)»]$")
# PDF dates: D:YYYYMMDDHHmmSS followed by Z, or by +HH'mm' / -HH'mm'
_PDF_DATE = re.compile(r"^D?:?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?\s*(Z|[+-]\d{2}'?\d{2}'?)?")


class PdfEncrypted(ValueError):
    """The PDF needs a password to be read."""


class PdfError(ValueError):
    """The body is not a readable PDF (corrupt, truncated)."""


class PdfTooLarge(ValueError):
    """More pages than the limit."""


@dataclass(frozen=True)
class PdfContent:
    title: Optional[str]
    authors: Tuple[str, ...]
    created_at: Optional[datetime]  # aware when the PDF states its offset
    page_count: int
    text: str


def is_pdf(content_type: Optional[str], body: bytes) -> bool:
    """A PDF type declared (newsbeam.mediatypes.PDF_TYPES), or a body that starts as one whatever is declared."""
    return is_pdf_type(content_type) or body[:1024].lstrip().startswith(b"%PDF-")


def parse_pdf_date(value: Optional[str]) -> Optional[datetime]:
    """`D:20240305100000+01'00'` and its shorter forms down to a day; None when unreadable or vaguer than a day
    (`D:2019`, `D:201903`: a publication date is a day, and the first of the year would be made up)."""
    match = _PDF_DATE.match((value or "").strip())
    if not match or match.group(3) is None:
        return None
    parts = [int(p) if p else default for p, default in zip(match.groups()[:6], (0, 1, 1, 0, 0, 0))]
    zone = match.group(7)
    try:
        moment = datetime(*parts)
        if zone == "Z":
            return moment.replace(tzinfo=timezone.utc)
        if zone:
            digits = zone.replace("'", "")
            minutes = int(digits[1:3]) * 60 + int(digits[3:5])
            return moment.replace(tzinfo=timezone(timedelta(minutes=minutes if digits[0] == "+" else -minutes)))
    except ValueError:
        return None
    return moment


def _page_lines(text: str) -> List[str]:
    text = _PDFIUM_HYPHEN.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = unicodedata.normalize("NFC", text)
    return [line.strip() for line in text.split("\n")]


def _running_lines(pages: List[List[str]]) -> set:
    """Lines repeated at the top or bottom (2 lines each) of at least half the pages (page numbers aside)."""
    if len(pages) < 2:
        return set()
    counts: Counter = Counter()
    for lines in pages:
        kept = [line for line in lines if line]
        edge = {_DIGITS.sub("#", line) for line in kept[:2] + kept[-2:]}
        counts.update(edge)
    return {line for line, n in counts.items() if n >= max(2, (len(pages) + 1) // 2)}


def _paragraphs(lines: List[str]) -> List[str]:
    """Lines to paragraphs: a blank line, or a short line ending a sentence, closes a paragraph."""
    width = max((len(line) for line in lines if line), default=0)
    paragraphs, current = [], []
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
                current = []
            continue
        current.append(line)
        if len(line) < 0.7 * width and _SENTENCE_END.search(line):
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return ["\n".join(p) for p in paragraphs]


def _join_lines(paragraph: str) -> str:
    paragraph = _DROP_CAP.sub(r"\1", paragraph)
    paragraph = _HYPHENATED.sub(r"\1", paragraph)
    return re.sub(r"\s*\n\s*", " ", paragraph).strip()


def repair_text(pages: List[str]) -> str:
    """Page texts as pdfium gives them to clean paragraphs (see the module's docstring)."""
    page_lines = [_page_lines(page) for page in pages]
    running = _running_lines(page_lines)
    paragraphs: List[str] = []
    for lines in page_lines:
        kept = [line for line in lines if not line or _DIGITS.sub("#", line) not in running]
        # a drop capital is a one-letter line before its word: join across the blank lines pdfium puts there
        text = _DROP_CAP.sub(r"\1", "\n".join(kept))
        paragraphs += [p for p in (_join_lines(p) for p in _paragraphs(text.split("\n"))) if p]
    return "\n".join(paragraphs)


def _names(value: str) -> Tuple[str, ...]:
    return tuple(dict.fromkeys(n.strip() for n in re.split(r"\s*[;,]\s*|\s+and\s+", value) if n.strip()))


def extract_pdf(body: bytes, max_pages: int) -> PdfContent:
    """Raises PdfEncrypted, PdfError or PdfTooLarge."""
    # imported on the first PDF: every process that extracts pages imports this module (the workers, each
    # extraction watchdog's child), and most never meet a PDF
    import pypdfium2 as pdfium

    if not body.strip():
        raise PdfError(f"empty body ({len(body)} bytes): no PDF document was served")
    try:
        document = pdfium.PdfDocument(body)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == _PASSWORD_ERROR:
            raise PdfEncrypted("the PDF needs a password") from None
        raise PdfError(str(exc)) from None
    try:
        count = len(document)
        if count > max_pages:
            raise PdfTooLarge(f"{count} pages (limit {max_pages}, --max-pdf-pages)")
        pages = []
        for index in range(count):
            page = document[index]
            try:
                textpage = page.get_textpage()
                pages.append(textpage.get_text_range())
                textpage.close()
            finally:
                page.close()
        metadata = document.get_metadata_dict(skip_empty=True)
    except pdfium.PdfiumError as exc:
        raise PdfError(str(exc)) from None
    finally:
        document.close()
    title = (metadata.get("Title") or "").strip() or None
    return PdfContent(
        title=title,
        authors=_names(metadata.get("Author") or ""),
        created_at=parse_pdf_date(metadata.get("CreationDate")),
        page_count=count,
        text=repair_text(pages),
    )
