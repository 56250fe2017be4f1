"""Derived columns of the output contract: how `article_id`, `source_domain` and `entity_ids` are computed.

They live here, at the bottom of the dependency order, because `datasets` computes them while converting records
to rows; the library code (`newsbeam.urls`, `newsbeam.entities`) imports them from here.
"""
from __future__ import annotations

import hashlib
from typing import Iterable, List, Optional
from urllib.parse import urlsplit

import idna
from courlan.urlutils import extract_domain

from newsbeam.schemas.records import EntityMention


def article_id(canonical_url: str) -> str:
    """A stable 32-hex-digit id: the same canonical URL gives the same id on every run and machine."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


def registered_domain(url: str) -> Optional[str]:
    """The registered domain (`news.bbc.co.uk` -> `bbc.co.uk`), from the public-suffix list bundled with `tld`;
    the bare host for IP addresses and hosts without a public suffix."""
    domain = extract_domain(url, fast=False)
    if domain:
        return _unicode_labels(domain)
    return urlsplit(url).hostname


def _unicode_labels(domain: str) -> str:
    """Punycode labels shown in Unicode, as `canonical_url` shows them (`xn--bcher-kva.de` -> `bücher.de`), so that
    one site has one `source_domain` however a URL spelled it; an undecodable label stays as it is."""
    if "xn--" not in domain:
        return domain
    labels = []
    for label in domain.split("."):
        try:
            labels.append(idna.ulabel(label) if label.startswith("xn--") else label)
        except (idna.IDNAError, UnicodeError):
            labels.append(label)
    return ".".join(labels)


def entity_ids(mentions: Iterable[EntityMention]) -> List[str]:
    """Sorted distinct linked ids, for a flat filter column."""
    return sorted({mention.entity_id for mention in mentions if mention.entity_id})
