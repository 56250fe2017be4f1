"""The JSON-LD objects of an HTML page (pure): what publishers state about a page in schema.org terms."""
from __future__ import annotations

import json
import re
from typing import Iterator, List

from lxml.etree import XPath

_LD_JSON = XPath('//script[@type="application/ld+json"]/text()')
# XHTML-era pages wrap script bodies in CDATA sections or HTML comments
_WRAPPER = re.compile(r"^\s*(<!\[CDATA\[|<!--)|(\]\]>|-->)\s*$")
_ARTICLE_TYPE = re.compile(r"(Article|Posting|Report|Blog|NewsArticle|WebPage|Review)$", re.I)


def _walk(node) -> Iterator[dict]:
    if isinstance(node, list):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, dict):
        yield node
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if isinstance(node.get(key), (list, dict)):
                yield from _walk(node[key])


def is_article(node: dict) -> bool:
    kinds = node.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return any(isinstance(kind, str) and _ARTICLE_TYPE.search(kind) for kind in kinds)


def article_objects(tree) -> List[dict]:
    """The article-like objects (NewsArticle, BlogPosting, WebPage, ...) of the page's JSON-LD, in page order;
    scripts that are not valid JSON are skipped."""
    found = []
    for script in _LD_JSON(tree):
        try:
            data = json.loads(_WRAPPER.sub("", script))
        except ValueError:
            continue
        found += [node for node in _walk(data) if is_article(node)]
    return found
