"""Synthetic but realistic article pages for the benchmark, built from the bundled sample site.

Every page keeps the full page furniture of one of the sample site's 30 real article pages (cookie banner,
navigation, share bar, newsletter box, related links, comments, footer: about 12 KB of HTML, 4 languages), and
gets a new article body: paragraphs recombined from sentences of the same language drawn at random (seeded by the
page number) and a unique reference number. So every page has its own text and content hash, its language is
unchanged, and two pages share few word 3-grams (like unrelated stories, not syndicated copies, which would make
near-duplicate detection do unrealistic work). The page's canonical link and og:url point at its own URL.
"""
from __future__ import annotations

import html
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from newsbeam.sample_site import SITE_DIR

TEASERS = {"en-subscribers-only.html", "fr-reserve-abonnes.html"}  # no main text: not article templates
_ARTICLE = re.compile(r"(<article>)(.*?)(</article>)", re.S)
_PARAGRAPH = re.compile(r"^(\s*)<p>(.*?)</p>\s*$", re.M)
_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+")
_TITLE = re.compile(r"<title>(.*?)( \| [^<]*)?</title>", re.S)
_H1 = re.compile(r"<h1>(.*?)</h1>", re.S)
_OG_TITLE = re.compile(r'(<meta property="og:title" content=")([^"]*)(")')


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    html: str
    paragraphs: int


def load_templates(site_dir: Path = SITE_DIR) -> Tuple[List[Template], Dict[str, List[str]]]:
    """The article templates and, per language, the pool of body sentences."""
    templates: List[Template] = []
    pools: Dict[str, List[str]] = {}
    for path in sorted((site_dir / "articles").glob("*.html")):
        if path.name in TEASERS:
            continue
        text = path.read_text(encoding="utf-8")
        language = path.name.split("-", 1)[0]
        body = _ARTICLE.search(text)
        if body is None:
            continue
        paragraphs = [m.group(2) for m in _PARAGRAPH.finditer(body.group(2))]
        if len(paragraphs) < 3:
            continue
        for paragraph in paragraphs:
            pools.setdefault(language, []).extend(s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip())
        templates.append(Template(path.name, language, text, len(paragraphs)))
    return templates, pools


def _numbered(title: str, number: int) -> str:
    return f"{title} ({number})"


def render_page(number: int, path: str, templates: List[Template], pools: Dict[str, List[str]]) -> str:
    """Page `number`, served at `path`; '{{BASE_URL}}' is left for the server to fill in."""
    template = templates[number % len(templates)]
    rng = random.Random(number)
    pool = pools[template.language]
    sentences = rng.sample(pool, min(len(pool), template.paragraphs * 3))
    paragraphs = []
    for index in range(template.paragraphs):
        chunk = sentences[index * 3:(index + 1) * 3] or rng.sample(pool, 3)
        paragraphs.append(" ".join(chunk))
    paragraphs[0] += f" (Ref. {number:07d}-{rng.randrange(10**6):06d})"

    text = template.html
    head, article, tail = _ARTICLE.search(text).group(1, 2, 3)
    kept = _PARAGRAPH.sub("", article)  # h1 and meta line stay, old paragraphs go
    new_body = kept.rstrip() + "\n" + "".join(f"  <p>{p}</p>\n" for p in paragraphs)
    text = _ARTICLE.sub(lambda _: head + new_body + tail, text, count=1)
    text = _TITLE.sub(lambda m: f"<title>{_numbered(m.group(1), number)}{m.group(2) or ''}</title>", text, count=1)
    text = _H1.sub(lambda m: f"<h1>{_numbered(m.group(1), number)}</h1>", text, count=1)
    text = _OG_TITLE.sub(lambda m: m.group(1) + html.escape(_numbered(html.unescape(m.group(2)), number),
                                                            quote=True) + m.group(3), text, count=1)
    return text.replace(f"/articles/{template.name}", path)


def page_path(number: int) -> str:
    return f"/news/{number // 1000:03d}/story-{number:07d}.html"
