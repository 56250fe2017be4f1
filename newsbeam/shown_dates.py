"""Whether a page shows its readers a given day (pure): the text outside scripts, styles and the head (with where its
`<h1>` headlines start), searched for the day written the ways news pages write days (numeric, or with a month name
in the languages of European and American news, Turkish and Arabic), always with its year so that a bare "5 May" of
a sidebar does not count; and whether a day is written as an update note ("Updated Jul 24, 2018") rather than as
the page's date."""
from __future__ import annotations

import re
from datetime import date
from typing import Dict, FrozenSet, Iterable, Iterator, List, Optional, Tuple

from lxml.etree import XPath

# full names, January first (their 3- and 4-letter abbreviations are derived)
_MONTHS = (
    "january february march april may june july august september october november december",  # en
    "januar februar märz april mai juni juli august september oktober november dezember",  # de
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",  # fr
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",  # es
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",  # it
    "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",  # pt
    "januari februari maart april mei juni juli augustus september oktober november december",  # nl
    "ocak şubat mart nisan mayıs haziran temmuz ağustos eylül ekim kasım aralık",  # tr (oca, şub, ... kas, ara)
)
_EXTRA = {1: ("jänner",), 2: ("feber",)}  # Austrian German
# Arabic: the Levantine and Iraqi names (Syriac), then the ones Egypt, the Maghreb and the Gulf write (from the
# French and English), with the spellings news sites use (hamza or not, يونيه / يوليه); never abbreviated, so no
# prefixes are derived (three letters of تشرين are October's and November's). "15 تشرين الثاني/نوفمبر 2026"
# names the month twice: see _OTHER_NAME.
_ARABIC = {
    1: ("كانون الثاني", "يناير", "جانفي"), 2: ("شباط", "فبراير", "فيفري"), 3: ("آذار", "اذار", "مارس"),
    4: ("نيسان", "أبريل", "إبريل", "ابريل", "أفريل", "افريل"), 5: ("أيار", "ايار", "مايو", "ماي"),
    6: ("حزيران", "يونيو", "يونيه", "جوان"), 7: ("تموز", "يوليو", "يوليه", "جويلية"),
    8: ("آب", "اب", "أغسطس", "اغسطس", "أوت", "اوت"), 9: ("أيلول", "ايلول", "سبتمبر"),
    10: ("تشرين الأول", "تشرين الاول", "أكتوبر", "اكتوبر"), 11: ("تشرين الثاني", "نوفمبر", "نونبر"),
    12: ("كانون الأول", "كانون الاول", "ديسمبر", "دجنبر"),
}
# Arabic-Indic and Persian digits (١٤ نوفمبر ٢٠٢٦) as ASCII ones: one character for one, so positions hold
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "0123456789" * 2)
_INVISIBLE = {"script", "style", "noscript", "template", "head", "title", "meta", "link"}
_BODY = XPath("//body")
# the non-blank text nodes of a subtree outside invisible elements, and its <h1>s, in document order
_WALK_PATH = ("descendant-or-self::text()[normalize-space()][not(" + " or ".join(
    f"parent::{tag}" for tag in sorted(_INVISIBLE)) + ")] | descendant-or-self::h1")
_WALK = XPath(_WALK_PATH, smart_strings=False)  # plain strings: ~25 % faster
_WALK_WITH_PARENTS = XPath(_WALK_PATH)  # strings that know their element


def _month_names() -> Dict[int, FrozenSet[str]]:
    names: Dict[int, set] = {month: set() for month in range(1, 13)}
    for language in _MONTHS:
        for month, name in enumerate(language.split(), start=1):
            names[month] |= {name, name[:3]} | ({name[:4]} if len(name) > 4 else set())
    for month, extra in (*_EXTRA.items(), *_ARABIC.items()):
        names[month] |= set(extra)
    return {month: frozenset(found) for month, found in names.items()}


def _alternation(names: Iterable[str]) -> str:
    """Names as one regex alternation, the longest first; a name's space matches any one blank."""
    return "|".join(re.escape(name).replace(r"\ ", r"\s") for name in sorted(names, key=len, reverse=True))


def _fold(name: str) -> str:
    """A month name as written ('KASIM', 'Kasım', 'تشرين  الثاني') as the key it is looked up by: lower case,
    the Turkish dotted and dotless i as 'i' (the regexes match them alike, str.lower() does not), blanks folded."""
    return " ".join(name.lower().replace("i\u0307", "i").replace("ı", "i").split())


_NAMES_OF_MONTH = _month_names()
_MONTH_NAMES = {month: _alternation(names) for month, names in _NAMES_OF_MONTH.items()}
# a second name of the same month after a slash, as Levantine and Iraqi news write it: "تشرين الثاني/نوفمبر"
_OTHER_NAME = r"(?:\s?/\s?(?:{}))?"


def visible_text(tree) -> Tuple[str, List[int]]:
    """The page's text as a reader sees it (no scripts, styles or head; whitespace folded; Arabic-Indic digits as
    ASCII ones), and where in it each first-level heading (`<h1>`) starts. libxml2 walks the tree (its text nodes
    and `<h1>`s, in document order): ~1.5 x faster than visiting every element from Python."""
    parts: List[str] = []
    headings: List[int] = []
    size = 0
    for root in _BODY(tree) or [tree]:
        hidden = {inner for outer in root.iter("noscript", "template", "head") for inner in outer.iterdescendants()}
        # text within them (not directly in them: the walk leaves that out) is rare: a <noscript> usually holds
        # an <iframe> or an <img> alone
        hidden_text = any(_has_text(inner.text) or _has_text(inner.tail) for inner in hidden)
        for node in (_WALK_WITH_PARENTS if hidden_text else _WALK)(root):
            if not isinstance(node, str):  # an <h1>
                if node not in hidden:
                    headings.append(size)
                continue
            if hidden_text:
                owner = node.getparent()
                if node.is_tail:  # a tail is the text of its element's parent
                    owner = owner.getparent()
                if owner in hidden:
                    continue
            text = " ".join(node.split())
            if text:
                parts.append(text)
                size += len(text) + 1
        text = " ".join((root.tail or "").split())
        if text:
            parts.append(text)
            size += len(text) + 1
    return " ".join(parts).translate(_DIGITS), headings


def _has_text(text: Optional[str]) -> bool:
    return bool(text) and not text.isspace()


# the longest a written day reaches before its year ("30 de septiembre de ") and after it ("-12-31")
_BEFORE_YEAR, _AFTER_YEAR = 60, 20


def day_pattern(day: date) -> "re.Pattern[str]":
    """A pattern for `day` with its year: 06.01.2020, 6/1/20, 2020-01-06, 01/06/2020 (US), 6. Januar 2020,
    6 de enero de 2020, January 6th, 2020, Jan. 6 2020."""
    d, m, y = rf"0?{day.day}", rf"0?{day.month}", rf"{day.year}(?!\d)"
    yy = rf"(?:{day.year}|{day.year % 100:02d})(?!\d)"
    names = _MONTH_NAMES[day.month]
    forms = (
        rf"{d}\s?[./-]\s?{m}\s?[./-]\s?{yy}",  # day first
        rf"{m}/{d}/{yy}",  # the US order
        rf"{y}\s?[-/.]\s?{m}\s?[-/.]\s?{d}(?![\dT])",  # ISO and kin; not a machine timestamp (`2021-10-27T20:35`)
        rf"{d}(?:\.|st|nd|rd|th|er|º)?\s*(?:de\s+)?(?:{names}){_OTHER_NAME.format(names)}\.?,?\s*(?:de\s+)?{y}",
        rf"(?<![^\W\d_])(?:{names})\.?\s*{d}(?:st|nd|rd|th)?,?\s+{y}",  # not inside a word (Benjan 6, 2020)
    )
    return re.compile(rf"(?<![\d.])(?:{'|'.join(forms)})", re.IGNORECASE)


def day_matches(text: str, day: date) -> Iterator["re.Match[str]"]:
    """Where `text` (whitespace folded) writes `day` with its year. Only the text around the year is searched with
    `day_pattern`: its alternatives, tried at every position of a page's text, cost ~5 ms where this costs ~0.1."""
    pattern = day_pattern(day)
    seen = set()
    for year in re.finditer(rf"(?<!\d)(?:{day.year}|{day.year % 100:02d})(?!\d)", text):
        for match in pattern.finditer(text, max(0, year.start() - _BEFORE_YEAR), year.end() + _AFTER_YEAR):
            if match.start() <= year.start() and year.end() <= match.end() and match.start() not in seen:
                seen.add(match.start())
                yield match


def shows_day(text: str, day: date) -> bool:
    """Whether `text` (a page's visible text) writes `day` with its year."""
    return next(day_matches(text, day), None) is not None


# words that present a day as a revision of the page rather than its date
_UPDATE_NOTE = re.compile(
    r"(updated|update|last edited|edited|modified|revised|aktualisiert|geändert|überarbeitet|mis à jour|modifié"
    r"|actualizado|actualización|aggiornato|aggiornamento|atualizado|bijgewerkt|güncelle\w*|تحديث|حدث في|عدل في)"
    r"\W{0,3}(?:\w+\W{1,3}){0,3}$",
    re.IGNORECASE)


def shows_day_as_date(text: str, day: date) -> bool:
    """Whether `text` writes `day` other than as an update note ("Updated Jul 24, 2018", "last edited on ...")."""
    return any(not is_update_note(text, match.start()) for match in day_matches(text, day))


# words that present a day as the page's publication
_PUBLICATION_WORD = re.compile(
    r"\b(?:published|posted|veröffentlicht|erschienen|erstellt|publié|publicado|publicada|pubblicato|gepubliceerd"
    r"|yayı[nm]lan\w*|yayın tarihi|نشر|تاريخ النشر)",
    re.IGNORECASE)
_PUBLICATION_STEMS = ("publi", "pubbl", "posted", "veröffentlicht", "erschienen", "erstellt", "yayın", "yayım", "yayin",
                      "yayim", "نشر")
_PUBLICATION_NOTE = re.compile(_PUBLICATION_WORD.pattern + r"\W{0,3}(?:\w+\W{1,3}){0,2}$", re.IGNORECASE)


def is_publication_note(text: str, start: int) -> bool:
    """Whether the day written at `start` of `text` follows a publication word ("Veröffentlicht am 16.08.2019")."""
    return _PUBLICATION_NOTE.search(text, max(0, start - 40), start) is not None


def published_days(text: str, month_first: bool = False) -> List[date]:
    """The days `text` writes as publication notes, in order (only the text after each publication word is read)."""
    lowered = text.lower()
    if not any(stem in lowered for stem in _PUBLICATION_STEMS):  # most pages: a substring search, no regex
        return []
    found: List[date] = []
    for word in _PUBLICATION_WORD.finditer(text):
        after = text[word.start():word.end() + 80]
        found += [day for start, _, day in written_days(after, month_first) if is_publication_note(after, start)]
    return found


def is_update_note(text: str, start: int) -> bool:
    """Whether the day written at `start` of `text` follows an update word ("Updated Jul 24, 2018")."""
    return _UPDATE_NOTE.search(text, max(0, start - 40), start) is not None


_MONTH_OF_NAME = {_fold(name): month for month, names in _NAMES_OF_MONTH.items() for name in names}
_ANY_NAME = _alternation(name for names in _NAMES_OF_MONTH.values() for name in names)
# any day written with its year, in the forms `day_pattern` knows; numbers are read day first, except a slashed
# date that can only be month first (06/13/2019), or when `month_first` (an American page)
_ANY_DAY = re.compile(
    r"(?<![\d.])(?:"
    r"(?P<a>\d{1,2})\s?(?P<sep>[./-])\s?(?P<b>\d{1,2})\s?(?P=sep)\s?(?P<ab_y>\d{4}|\d{2})(?!\d)"
    r"|(?P<iso_y>\d{4})\s?(?P<isep>[-/.])\s?(?P<iso_m>\d{1,2})\s?(?P=isep)\s?(?P<iso_d>\d{1,2})(?![\dT])"
    rf"|(?P<n_d>\d{{1,2}})(?:\.|st|nd|rd|th|er|º)?\s*(?:de\s+)?(?P<n_m>{_ANY_NAME}){_OTHER_NAME.format(_ANY_NAME)}"
    r"\.?,?\s*(?:de\s+)?(?P<n_y>\d{4})(?!\d)"
    rf"|(?<![^\W\d_])(?P<m_m>{_ANY_NAME})\.?\s*(?P<m_d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<m_y>\d{{4}})(?!\d)"
    r")", re.IGNORECASE)


# where a year can be written: four digits, or two after a date's separator (28.09.19)
_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)|(?<=[./-])\s?\d{2}(?!\d)")


def _year_regions(text: str) -> Iterator[Tuple[int, int]]:
    """The stretches of `text` around its possible years, merged: every written day lies within one."""
    start = end = -1
    for year in _YEAR.finditer(text):
        low, high = max(0, year.start() - _BEFORE_YEAR), year.end() + _AFTER_YEAR
        if low > end:
            if end >= 0:
                yield start, end
            start = low
        end = max(end, high)
    if end >= 0:
        yield start, end


def written_days(text: str, month_first: bool = False) -> Iterator[Tuple[int, int, date]]:
    """Every day `text` (whitespace folded) writes with its year, as (start, end, day), in order; impossible dates
    are skipped. A two-digit year is of this century. Only the stretches around possible years are searched (as in
    `day_matches`), with the same result as the whole text."""
    for start, end in _year_regions(text):
        # a match that reaches the stretch's end read a cut-off number (`2000` of `20000`); real ones end earlier
        yield from _read_days((match for match in _ANY_DAY.finditer(text, start, end)
                               if match.end() < end or end >= len(text)), month_first)


def _read_days(matches, month_first: bool) -> Iterator[Tuple[int, int, date]]:
    for match in matches:
        group = match.group
        try:
            if group("a"):
                first, second, year = int(group("a")), int(group("b")), int(group("ab_y"))
                if group("sep") == "/" and (second > 12 or (month_first and first <= 12)):
                    first, second = second, first
                day = date(year + 2000 if len(group("ab_y")) == 2 else year, second, first)
            elif group("iso_y"):
                day = date(int(group("iso_y")), int(group("iso_m")), int(group("iso_d")))
            elif group("n_d"):
                day = date(int(group("n_y")), _MONTH_OF_NAME[_fold(group("n_m"))], int(group("n_d")))
            else:
                day = date(int(group("m_y")), _MONTH_OF_NAME[_fold(group("m_m"))], int(group("m_d")))
        except ValueError:
            continue
        yield match.start(), match.end(), day
