"""What a source document is, decided from its bytes (pure functions).

Servers mislabel content types too often to trust them, and substrings lie (`<opml` in a comment or a CDATA block),
so a document is classified by its root element: the first start tag, after the byte-order mark, the encoding, junk
before the markup (a PHP warning, whitespace, a NUL), the XML declaration, comments, processing instructions and
the DOCTYPE. Text without markup is a candidate URL list; a document starting with `{` is JSON.

Also here, because they need the decoded text too: the repair of character references that crash feedparser's
fallback parser, and the bound on internal entity expansion.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

# kinds
FEED = "feed"
OPML = "opml"
URL_LIST = "url_list"
HTML = "html"
JSON = "json"  # JSON Feed, or other JSON (refused)
SITEMAP = "sitemap"  # an XML sitemap: urlset (Google News ones too) or sitemapindex
UNKNOWN = "unknown"

# Root element (local name, lower case) -> kind. A new XML kind is one more entry here plus a reader in
# `newsbeam.sources.READERS`.
ROOT_KINDS: Dict[str, str] = {
    "rss": FEED,
    "rdf": FEED,
    "feed": FEED,
    "channel": FEED,  # CDF and some RSS 0.9x without the <rss> wrapper
    "opml": OPML,
    "urlset": SITEMAP,
    "sitemapindex": SITEMAP,
    "html": HTML,
    "head": HTML,
    "body": HTML,
}

SNIFF_CHARS = 65536  # how far into the text the root element is looked for
EXPANSION_LIMIT = 1_000_000  # characters that internal entities may add to a document when expanded

_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_EBCDIC_XML = b"\x4c\x6f\xa7\x94"  # '<?xm' in EBCDIC
WIDE_ENCODINGS = ("utf-16-be", "utf-16-le", "utf-32-be", "utf-32-le")
_XML_ENCODING = re.compile(rb"<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']")
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f]")  # control characters no text list has
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})", re.IGNORECASE)
# what may stand before the root element and is not it
_MARKUP = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<\?.*?(?:\?>|\Z)"
    r"|<!\[CDATA\[.*?(?:\]\]>|\Z)"
    r"|<!DOCTYPE(?P<doctype>(?:[^\[>]|\[.*?(?:\]|\Z))*)(?:>|\Z)"
    r"|<(?P<tag>[A-Za-z_][\w.:-]*)",
    re.DOTALL | re.IGNORECASE,
)


@dataclass(frozen=True)
class Sniffed:
    kind: str
    encoding: str  # what the text was decoded with
    text: str  # the decoded document (undecodable bytes replaced)
    root: Optional[str] = None  # the root element's local name, lower case


def bom_encoding(body: bytes) -> Tuple[Optional[str], int]:
    """(encoding, length of the byte-order mark) or (None, 0)."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return encoding, len(bom)
    return None, 0


def _wide_without_bom(body: bytes) -> Optional[str]:
    """UTF-16/32 without a byte-order mark, from where the zero bytes of ASCII markup fall."""
    head = body[:64]
    head = head[: len(head) - len(head) % 4]
    if len(head) < 4:
        return None

    def zeros(positions) -> bool:
        return all(head[i] == 0 for i in range(len(head)) if i % 4 in positions)

    for encoding, positions in (("utf-32-be", (0, 1, 2)), ("utf-32-le", (1, 2, 3)), ("utf-16-be", (0, 2)),
                                ("utf-16-le", (1, 3))):
        if zeros(positions) and any(head[i] for i in range(len(head)) if i % 4 not in positions):
            return encoding
    return None


def _known(encoding: Optional[str]) -> Optional[str]:
    if not encoding:
        return None
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return None


def candidate_encodings(body: bytes, content_type: Optional[str] = None) -> List[str]:
    """Encodings to try, most trustworthy first: byte-order mark, zero-byte pattern, XML declaration, HTTP
    charset, UTF-8."""
    bom, _ = bom_encoding(body)
    if bom:
        return [bom]
    if body.startswith(_EBCDIC_XML):
        declared = _XML_ENCODING.search(body[:1024].decode("cp037").encode("ascii", "replace"))
        return [(_known(declared.group(1).decode("ascii")) if declared else None) or "cp037"]
    found = [_wide_without_bom(body)]
    declared = _XML_ENCODING.search(body[:1024].replace(b"\x00", b""))
    found.append(_known(declared.group(1).decode("ascii")) if declared else None)
    charset = _CHARSET.search(content_type or "")
    found.append(_known(charset.group(1)) if charset else None)
    found.append("utf-8")
    ordered: List[str] = []
    for encoding in found:
        # UTF-16 declared in a document whose bytes are not UTF-16 (it happens) would decode to noise
        if encoding and encoding not in ordered and not (encoding.startswith(("utf-16", "utf-32"))
                                                         and encoding not in WIDE_ENCODINGS):
            ordered.append(encoding)
    return ordered


def decode(body: bytes, encoding: str) -> str:
    _, skip = bom_encoding(body)
    return body[skip:].decode(encoding, errors="replace")


def root_element(text: str) -> Tuple[Optional[str], bool]:
    """(the first known root element's local name, whether any start tag was seen) in the first SNIFF_CHARS.

    Unknown start tags before a known root are junk (PHP prints `<br />\\n<b>Warning</b>` before the feed);
    without a known root, the first start tag is the root."""
    first, html_doctype, prolog = None, False, 0
    for match in _MARKUP.finditer(text):
        if match.start() - prolog > SNIFF_CHARS:  # comments and a DOCTYPE, however long, are not counted
            break
        tag = match.group("tag")
        if tag is None:
            prolog += match.end() - match.start()
            doctype = match.group("doctype")
            html_doctype = html_doctype or (doctype is not None and doctype.strip().lower().startswith("html"))
            continue
        local = tag.rsplit(":", 1)[-1].lower()
        if local in ROOT_KINDS:
            return local, True
        first = first or local
    if html_doctype:  # HTML may leave out <html>, <head> and <body>
        return "html", True
    return first, first is not None


def sniff(body: bytes, content_type: Optional[str] = None) -> Sniffed:
    """Decodes `body` and decides its kind (FEED, OPML, HTML, JSON, URL_LIST or UNKNOWN)."""
    encodings = candidate_encodings(body, content_type)
    fallback = None
    for encoding in encodings:
        text = decode(body, encoding)
        root, tagged = root_element(text)
        if root in ROOT_KINDS:
            return Sniffed(ROOT_KINDS[root], encoding, text, root)
        if tagged and fallback is None:
            fallback = Sniffed(FEED, encoding, text, root)  # some XML: feedparser decides and says why not
    if fallback is not None:
        return fallback
    text = decode(body, encodings[0])
    stripped = text.lstrip("\x00 \t\r\n")
    if stripped.startswith(("{", "[")):
        return Sniffed(JSON, encodings[0], text)
    if stripped and not _BINARY.search(stripped[:4096]):
        return Sniffed(URL_LIST, encodings[0], text)  # confirmed or refused line by line by its reader
    return Sniffed(UNKNOWN, encodings[0], text)


# --------------------------------------------------------------------------------------------------------------
# Character references feedparser's fallback parser cannot take

_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_REPLACEMENT = b"&#65533;"


def _code(match: "re.Match[bytes]") -> int:
    hexadecimal, decimal = match.groups()
    return int(hexadecimal, 16) if hexadecimal is not None else int(decimal)


def _repair_ascii(data: bytes) -> bytes:
    """Surrogate pairs written as two references (`&#55357;&#56832;`) become one; lone surrogates and
    references beyond U+10FFFF become U+FFFD. Everything else is left byte for byte."""
    matches = list(_CHARREF.finditer(data))
    if not matches:
        return data
    out, position, index = [], 0, 0
    while index < len(matches):
        match = matches[index]
        code = _code(match)
        replacement = None
        if 0xD800 <= code <= 0xDBFF and index + 1 < len(matches) and matches[index + 1].start() == match.end() \
                and 0xDC00 <= _code(matches[index + 1]) <= 0xDFFF:
            low = _code(matches[index + 1])
            combined = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            out.append(data[position:match.start()])
            out.append(b"&#%d;" % combined)
            position = matches[index + 1].end()
            index += 2
            continue
        if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            replacement = _REPLACEMENT
        if replacement is not None:
            out.append(data[position:match.start()])
            out.append(replacement)
            position = match.end()
        index += 1
    out.append(data[position:])
    return b"".join(out)


def repair_character_references(body: bytes, encoding: str) -> bytes:
    """`body` with the character references repaired, in its own encoding (references are ASCII, so ASCII-
    compatible encodings are repaired on the bytes; UTF-16/32 through the text)."""
    if encoding not in WIDE_ENCODINGS:
        return _repair_ascii(body)
    bom, skip = bom_encoding(body)
    text = body[skip:].decode(encoding, errors="replace")
    repaired = _repair_ascii(text.encode("utf-8")).decode("utf-8")
    return body[:skip] + repaired.encode(encoding) if repaired != text else body


# --------------------------------------------------------------------------------------------------------------
# Internal entities

_ENTITY = re.compile(r"<!ENTITY\s+(%\s+)?([\w.:-]+)\s+(?:\"([^\"]*)\"|'([^']*)'|(SYSTEM|PUBLIC)\b)",
                     re.IGNORECASE)
_REFERENCE = re.compile(r"&([A-Za-z_][\w.:-]*);")


def entity_problem(text: str, limit: int = EXPANSION_LIMIT) -> Optional[str]:
    """Why the document's internal entities are refused, or None.

    A DOCTYPE may declare entities that expand to many times the document's size (a 72 KB feed can become
    gigabytes in feedparser's fallback parser). Counted here before any parser sees the document: the text the
    references would add, nested entities included; parameter entities and self-referencing entities are
    refused outright."""
    doctype = re.search(r"<!DOCTYPE[^\[>]*\[(.*?)\]\s*>", text[:SNIFF_CHARS * 4], re.DOTALL | re.IGNORECASE)
    if doctype is None:
        return None
    values: Dict[str, str] = {}
    for match in _ENTITY.finditer(doctype.group(1)):
        if match.group(1):
            if match.group(5) is None:  # external ones are never fetched; internal ones can inject declarations
                return "the DOCTYPE declares internal parameter entities"
            continue
        if match.group(5) is None:
            values[match.group(2)] = match.group(3) if match.group(3) is not None else match.group(4)
    if not values:
        return None
    sizes: Dict[str, int] = {}

    def size(name: str, trail: Tuple[str, ...]) -> int:
        if name in sizes:
            return sizes[name]
        if name in trail:
            raise ValueError(f"entity {name!r} refers to itself")
        total = len(values[name])
        for reference in _REFERENCE.findall(values[name]):
            if reference in values:
                total += size(reference, trail + (name,)) - len(reference) - 2
            if total > limit:
                raise ValueError(f"entity {name!r} expands to more than {limit} characters")
        sizes[name] = total
        return total

    body = text[doctype.end():]
    added = 0
    try:
        for reference in _REFERENCE.findall(body):
            if reference in values:
                added += size(reference, ())
                if added > limit:
                    return f"internal entities would add more than {limit} characters when expanded"
    except ValueError as exc:
        return str(exc)
    return None
