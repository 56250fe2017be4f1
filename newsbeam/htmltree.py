"""A page's text parsed into the lxml.html tree that trafilatura, htmldate and newsbeam's readers walk.

`trafilatura.utils.load_html` parses with an `lxml.html.HTMLParser`, which picks each element's class with a Python
method (`HtmlElementClassLookup.lookup`) each time it makes an element's Python object (whenever Python code reaches
an element whose object is not alive): trafilatura's XPath pruning, htmldate and the DOM signals of the paragraph
decision make ~5,000 a page, ~3 % of extraction's CPU (benchmarks/RESULTS.md, "Extraction"). `parse_html` does what
`load_html` does with text, with a parser of the same options whose lookups are lxml's own C ones (by tag name,
then the lxml.html defaults): every element gets the class it gets from `load_html`, trafilatura takes the tree as
its own (`load_html` returns an `HtmlElement` as it is), and the copies it makes keep the parser.
"""
from __future__ import annotations

import logging
import threading
from typing import Optional

from lxml import etree
from lxml import html as lxml_html
from lxml.html import defs
from trafilatura.utils import is_dubious_html, repair_faulty_html

LOG = logging.getLogger(__name__)


def new_parser() -> lxml_html.HTMLParser:
    # the options of trafilatura.utils.HTML_PARSER
    parser = lxml_html.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
                                  remove_pis=True)
    lookup = etree.ElementNamespaceClassLookup(etree.ElementDefaultClassLookup(
        element=lxml_html.HtmlElement, comment=lxml_html.HtmlComment, pi=lxml_html.HtmlProcessingInstruction,
        entity=lxml_html.HtmlEntity))
    special = lookup.get_namespace(None)
    python_lookup = lxml_html.HtmlElementClassLookup()
    for tag in sorted(defs.tags):  # form, input, select, textarea, label: the classes lxml.html gives those tags
        found = python_lookup.lookup("element", None, None, tag)
        if found is not lxml_html.HtmlElement:
            special[tag] = found
    parser.set_element_class_lookup(lookup)
    return parser


class _Parsers(threading.local):
    # an lxml parser must not parse in two threads at once: one per thread, made on its first page
    def __init__(self):
        self.parser = new_parser()


_PER_THREAD = _Parsers()


def parse_html(text: str) -> Optional[lxml_html.HtmlElement]:
    """`trafilatura.utils.load_html(text)` for decoded text: the same tree, or None where it gives None."""
    parser = _PER_THREAD.parser
    beginning = text[:50].lower()
    dubious = is_dubious_html(beginning)
    text = repair_faulty_html(text, beginning)
    tree, as_bytes = None, False
    try:
        tree = lxml_html.fromstring(text, parser=parser)
    except ValueError:  # "Unicode strings with encoding declaration are not supported."
        tree, as_bytes = _from_bytes(text, parser), True
    except Exception as error:  # noqa: BLE001 - as load_html: an unparseable page has no tree
        LOG.debug("lxml could not parse the page: %s", error)
    if (tree is None or len(tree) < 1) and not as_bytes:
        tree = _from_bytes(text, parser)
    if tree is not None and dubious and len(tree) < 2:  # not HTML at all (load_html's rejection test)
        return None
    return tree


def _from_bytes(text: str, parser) -> Optional[lxml_html.HtmlElement]:
    try:
        return lxml_html.fromstring(text.encode("utf8", "surrogatepass"), parser=parser)
    except Exception as error:  # noqa: BLE001 - as load_html
        LOG.debug("lxml could not parse the page's bytes: %s", error)
        return None
