"""Signals for the paragraphs both extractors keep (issue 13, goal 2), measured on the development half only: a
second, conservative model that drops fast mode's kept paragraphs, over the text features alone or with features
of the paragraph's place in the page's DOM; the learned decision on doubtful pages too. Exploration: a cheaper form
of its best variant ships since extract5 (`newsbeam.paragraphs.drop_rows`, trained by `benchmarks.train_paragraphs`;
see benchmarks/RESULTS.md, Extraction, "The `learned` strategy").

    python -m benchmarks.explore_paragraph_signals            # the dev CV figures (~5 min after train_paragraphs)
    python -m benchmarks.explore_paragraph_signals --cost     # CPU a page of the DOM signals' extra work

Same pages, folds (page i in fold i % 5), labels and scoring as `benchmarks.train_paragraphs --cv`; the texts come
from its cache in --work. Needs scikit-learn (the `test` extra).
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from trafilatura.utils import load_html

from benchmarks import eval_extraction as ev
from benchmarks import train_paragraphs as tp
from newsbeam import extraction as ex
from newsbeam import paragraphs as pg

# class/id tokens of the paragraph's ancestors, by kind of page furniture (plus the article's own containers)
TOKENS = {
    "related": r"related|recommend|more-?stories|also|teaser|card|promo|trending|popular|read-?more|more-?from|next|prev",
    "subscribe": r"newsletter|subscri|signup|sign-up|optin|opt-in|register|paywall|cta|call-?to-?action|donat|member",
    "author": r"author|byline|bio\b|profile|contributor|writer|avatar",
    "share": r"share|social|sharing|follow|facebook|twitter|whatsapp",
    "ad": r"\bad\b|ads\b|advert|sponsor|banner|commercial|anzeige|affiliate|disclaimer|disclosure",
    "caption": r"caption|figure|credit|photo|image|img|media|gallery",
    "footer": r"footer|foot\b|bottom|copyright|legal|imprint|impressum",
    "comment": r"comment|discuss|reply|respon",
    "nav": r"nav|menu|breadcrumb|pagination|tags?\b|categor|topic|widget|sidebar|aside|rail",
    "meta": r"meta|date|time|info|header|head\b|subline|kicker|dateline|timestamp",
    "body": r"article|content|body|entry|post|story|text|main|prose|richtext",
}
_TOKENS = [re.compile(pattern, re.I) for pattern in TOKENS.values()]
TAGS = ("article", "aside", "footer", "header", "nav", "figure", "a", "li", "h")
DOM_FEATURES = tuple(TOKENS) + tuple(f"in_{tag}" for tag in TAGS) + (
    "in_article_body", "link_density", "in_main", "in_long_ancestor", "long_sibling")
# the subset that told the labels apart best (tokens hardly did: trafilatura already drops elements by them)
STRONG = ("body", "in_article", "in_article_body", "in_figure", "in_a", "in_li", "in_h", "link_density", "in_main",
          "in_long_ancestor", "long_sibling")
# the shipped lexicon (newsbeam.paragraphs), matched here case-insensitively on the text as it is, as extract4's
# table was made (the shipped code lowercases the text instead, with the same counts)
CALL_TO_ACTION = re.compile(pg.CALL_TO_ACTION.pattern, re.I)
_BLOCK = {"p", "div", "li", "td", "section", "article", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "dd",
          "figcaption", "pre"}
_SPACE = re.compile(r"\s+")
MISSING = -1.0


def text_index(tree) -> Dict[str, object]:
    """The element that holds each text of the page, by its first 20 characters (and by its first word); the first
    such element wins, so paragraphs that begin alike all map to the first."""
    index: Dict[str, object] = {}
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for text, owner in ((element.text, element), (element.tail, element.getparent())):
            if text and owner is not None:
                text = _SPACE.sub(" ", text).strip()
                if text:
                    index.setdefault(text[:20], owner)
                    index.setdefault("word:" + text.split(" ")[0], owner)
    return index


def element_of(index: Dict[str, object], text: str):
    found = index.get(text[:20])
    return found if found is not None else index.get("word:" + text.split(" ")[0])


def ancestors(element) -> List:
    out = []
    while element is not None:
        out.append(element)
        element = element.getparent()
    return out


def dom_rows(tree, cands: Sequence[pg.Candidate], only: Sequence[int]) -> List[List[float]]:
    """`DOM_FEATURES` of the candidates `only` (all MISSING where the text is not found in the DOM)."""
    index = text_index(tree)
    elements = [element_of(index, cand.text) for cand in cands]
    longest = max(range(len(cands)), key=lambda i: len(cands[i].text) if cands[i].in_fast else 0)
    main = elements[longest]
    for _ in range(2):  # the longest paragraph's grandparent: the article's container, roughly
        main = main.getparent() if main is not None and main.getparent() is not None else main
    longs = [elements[i] for i, c in enumerate(cands)
             if c.in_fast and c.in_other and len(c.text) >= 200 and elements[i] is not None]
    common: List = []
    if longs:
        common = ancestors(longs[0])
        for element in longs[1:]:
            held = set(ancestors(element))
            common = [a for a in common if a in held]
    parents = {element.getparent() for element in longs}
    rows = []
    for i in only:
        element = elements[i]
        if element is None:
            rows.append([MISSING] * len(DOM_FEATURES))
            continue
        tokens = [0.0] * len(TOKENS)
        tags = dict.fromkeys(TAGS, 0.0)
        in_body = in_main = 0.0
        block = None
        line = ancestors(element)
        for node in line:
            tag = node.tag if isinstance(node.tag, str) else ""
            if block is None and tag in _BLOCK:
                block = node
            in_main = 1.0 if node is main else in_main
            key = "h" if re.fullmatch(r"h[1-6]", tag) else "figure" if tag == "figcaption" else tag
            if key in tags:
                tags[key] = 1.0
            if "articlebody" in (node.get("itemprop") or "").lower():
                in_body = 1.0
            names = f"{node.get('class') or ''} {node.get('id') or ''}"
            if names.strip():
                tokens = [1.0 if hit or pattern.search(names) else 0.0 for hit, pattern in zip(tokens, _TOKENS)]
        block = block if block is not None else element
        text = block.text_content()
        linked = sum(len(a.text_content()) for a in block.iter("a"))
        rows.append(tokens + list(tags.values()) + [
            in_body, linked / len(text) if text else 0.0, in_main,
            float(common[0] in line) if common else MISSING,
            float(element.getparent() in parents or element in parents) if longs else MISSING])
    return rows


class Page(tp.Page):
    """A dev page as `train_paragraphs` sees it, and fast mode's kept paragraphs: their labels, text and DOM rows;
    `doubtful`: what the learned decision works over where fast mode is doubtful ('fallback': the fallbacks' text as
    it is, as shipped; 'standard': standard mode's text with the fallbacks, decided like the others)."""

    def __init__(self, url: str, texts: dict, html: str, doubtful: str):
        super().__init__(url, texts)  # decides doubtful pages over standard mode's text, as shipped since extract5
        self.passed = (doubtful == "fallback" and bool(texts["res"])
                       and len(texts["fast"]) < ex.ExtractionSettings().doubt_below_share * len(texts["res"]))
        if self.passed:  # as shipped before: the fallbacks' text as it is
            self.decided, self.cands, self.extra, self.rows, self.labels = False, [], [], [], []
        self.kept = [i for i, cand in enumerate(self.cands) if pg.fast_vote(cand)]
        self.kept_labels = [_label(self.cands[i].text, texts) for i in self.kept]
        self.kept_text = pg.features(self.cands, texts["body"], self.kept) if self.kept else []
        tree = load_html(html) if self.kept else None
        self.kept_dom = dom_rows(tree, self.cands, self.kept) if tree is not None else [
            [MISSING] * len(DOM_FEATURES) for _ in self.kept]

    def drop_candidate_rows(self, features: str) -> List[List[float]]:
        out = []
        for i, text_row, dom_row in zip(self.kept, self.kept_text, self.kept_dom):
            row = list(text_row) if "text" in features else []
            if "dom" in features:
                row += dom_row
            if "strong" in features:
                row += [dom_row[DOM_FEATURES.index(name)] for name in STRONG]
            if "cta" in features:
                row.append(float(len(CALL_TO_ACTION.findall(self.cands[i].text))))
            out.append(row)
        return out

    def decided_text(self, added: Sequence[bool], dropped: Sequence[bool]) -> str:
        if not self.decided:
            return ex.guard_text(self.texts["bal" if self.passed else "fast"], self.texts["body"],
                                 ex.ExtractionSettings(timeout=0))
        keep = {i for i, add in zip(self.extra, added) if add} | (set(self.kept) - {
            i for i, drop in zip(self.kept, dropped) if drop})
        return ex.guard_text("\n".join(c.text for i, c in enumerate(self.cands) if i in keep), self.texts["body"],
                             ex.ExtractionSettings(timeout=0))


def _label(text: str, texts: dict) -> int:
    keep = sum(s in text for s in texts["with_"]) - sum(s in text for s in texts["without"])
    return 1 if keep > 0 else 0 if keep < 0 else -1


def segment_f(pages: Sequence[Page], added, dropped) -> str:
    tp_ = fn = fp = 0
    for page, add, drop in zip(pages, added, dropped):
        text = page.decided_text(add, drop)
        found = sum(s in text for s in page.texts["with_"])
        tp_, fn = tp_ + found, fn + len(page.texts["with_"]) - found
        fp += sum(s in text for s in page.texts["without"])
    p, r = tp_ / (tp_ + fp), tp_ / (tp_ + fn)
    return f"{2 * p * r / (p + r):.4f} (P {p:.3f} / R {r:.3f})"


def out_of_fold(pages: Sequence[Page], rows, labels, depth: int, leaf: int) -> List[List[float]]:
    """Each page's probabilities to keep from a model trained on the other folds (labelled rows only)."""
    from sklearn.ensemble import GradientBoostingClassifier

    probs: List[List[float]] = [[] for _ in pages]
    for fold in range(tp.FOLDS):
        train = [(r, y) for i, p in enumerate(pages) if i % tp.FOLDS != fold for r, y in zip(rows(p), labels(p))
                 if y >= 0]
        model = GradientBoostingClassifier(n_estimators=tp.TREES, max_depth=depth, min_samples_leaf=leaf,
                                           learning_rate=tp.LEARNING_RATE, random_state=0)
        model.fit([r for r, _ in train], [y for _, y in train])
        for i, page in enumerate(pages):
            if i % tp.FOLDS == fold and rows(page):
                probs[i] = list(model.predict_proba(rows(page))[:, 1])
    return probs


def label_shares(pages: Sequence[Page], out=sys.stdout) -> None:
    """How fast mode's kept paragraphs labelled drop and keep differ by each DOM feature, and where the `without`
    segments they hold are."""
    rows = [(y, row) for p in pages for y, row in zip(p.kept_labels, p.kept_dom) if y >= 0]
    found = {y: [row for label, row in rows if label == y and row[0] != MISSING] for y in (0, 1)}
    total = {y: sum(label == y for label, _ in rows) for y in (0, 1)}
    print(f"in the DOM: drop {len(found[0])}/{total[0]}, keep {len(found[1])}/{total[1]}; share of those found, "
          "drop / keep:", file=out)
    for k, name in enumerate(DOM_FEATURES):
        shares = []
        for y in (0, 1):
            known = [row[k] for row in found[y] if row[k] != MISSING]
            over = 0.5 if name == "link_density" else 0.0
            shares.append(sum(x > over for x in known) / len(known) if known else 0.0)
        print(f"  {name}{' > 0.5' if name == 'link_density' else ''}: {shares[0]:.2f} / {shares[1]:.2f}", file=out)
    per_page = [sum(sum(s in p.cands[i].text for s in p.texts["without"]) for i in p.kept) for p in pages]
    print(f"`without` segments in fast mode's kept paragraphs: {sum(per_page)} on {sum(n > 0 for n in per_page)} "
          f"pages, at most {max(per_page)} on one", file=out)


def explore(pages: Sequence[Page], out=sys.stdout) -> None:
    none = [[False] * len(p.kept) for p in pages]
    added = [[x > tp.KEEP_ABOVE for x in prob] for prob in out_of_fold(
        pages, lambda p: p.rows, lambda p: p.labels, tp.DEPTH, tp.MIN_LEAF)]
    print(f"shipped decision (the model adds resiliparse-only paragraphs above {tp.KEEP_ABOVE}): "
          f"{segment_f(pages, added, none)}", file=out)
    print(f"  oracle of the additions {segment_f(pages, [[y == 1 for y in p.labels] for p in pages], none)}; "
          f"oracle of dropping fast mode's kept ones "
          f"{segment_f(pages, added, [[y == 0 for y in p.kept_labels] for p in pages])}", file=out)
    for features, depth, leaf in (("text", 3, 20), ("dom", 3, 20), ("text+dom", 3, 20), ("text+strong+cta", 2, 20),
                                  ("text+strong+cta", 2, 10), ("text+strong+cta", 3, 20)):
        probs = out_of_fold(pages, lambda p: p.drop_candidate_rows(features), lambda p: p.kept_labels, depth, leaf)
        for below in (0.1, 0.2, 0.3, 0.4):
            dropped = [[x < below for x in prob] for prob in probs]
            print(f"  + drop fast mode's kept paragraphs ({features}, depth {depth}, min. leaf {leaf}) below {below}: "
                  f"{segment_f(pages, added, dropped)}, {sum(map(sum, dropped))} dropped", file=out)


def dom_cost(pages: Sequence[Page], htmls: Dict[str, str], out=sys.stdout) -> None:
    """CPU a page of the variant's extra work (the tree parsed beforehand: the pipeline has it)."""
    trees = [(p, load_html(htmls[p.url])) for p in pages if p.kept]
    spent: Counter = Counter()
    for page, tree in trees:
        if tree is None:
            continue
        started = time.process_time()
        dom_rows(tree, page.cands, page.kept)
        middle = time.process_time()
        pg.features(page.cands, page.texts["body"], page.kept)
        spent["DOM rows (text index included)"] += middle - started
        spent["text features of fast mode's kept paragraphs"] += time.process_time() - middle
    for name, seconds in spent.items():
        print(f"{name}: {1000 * seconds / len(trees):.2f} CPU ms/page", file=out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsbeam-eval"))
    parser.add_argument("--corpora", type=Path, default=ev.CORPORA)
    parser.add_argument("--doubtful", choices=("fallback", "standard", "both"), default="both")
    parser.add_argument("--cost", action="store_true", help="only the CPU a page of the DOM features")
    parser.add_argument("--shares", action="store_true", help="only the label shares by DOM feature")
    args = parser.parse_args(argv)
    texts = tp.page_texts(args.work, args.corpora)
    top = ev.unpack(args.corpora / ev.TRAFILATURA_ARCHIVE, args.work)
    htmls = {page.url: page.html for page in ev.load_trafilatura_set(top, set(texts))}
    for doubtful in ("fallback", "standard") if args.doubtful == "both" else (args.doubtful,):
        pages = [Page(url, texts[url], htmls[url], doubtful) for url in sorted(texts)]
        if args.cost:
            dom_cost(pages, htmls)
            return 0
        if args.shares:
            label_shares(pages)
            return 0
        labels = Counter(y for p in pages for y in p.kept_labels)
        print(f"doubtful pages: {doubtful}; fast mode's kept paragraphs: {labels[1]} to keep, {labels[0]} to drop, "
              f"{labels[-1]} unlabelled")
        if doubtful == "fallback":
            label_shares(pages)
        explore(pages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
