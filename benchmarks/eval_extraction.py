"""Extraction quality and speed of newsbeam against plain trafilatura, on two corpora nobody on this project wrote.

- trafilatura's 990-page evaluation set, scored the way its authors score it: every `with` segment found in the
  output is a true positive, every missing one a false negative; every `without` segment found is a false
  positive. Precision, recall and F are computed over all segments of all pages. The pages are split by
  crc32(url) into a development half (tuning allowed) and a held-out half (never tuned on). The `learned`
  strategy's models (newsbeam's default) are trained on both halves with the choices made on the dev half, so
  their rows here are on pages they learned from; their held-out figure is the cross-validated one of
  `python -m benchmarks.train_paragraphs --held-out-cv` (the run prints what the models were trained on).
- Mozilla Readability's 130 test pages: bag-of-words precision/recall/F of the text against Readability's own
  expected output (averaged per page; a second opinion, not a gold standard), and the expected metadata
  (title, byline, publishedTime day).

    python -m benchmarks.eval_extraction                       # both corpora, every page (~5 min)
    python -m benchmarks.eval_extraction --subset 150          # the CI gate's subset
    python -m benchmarks.eval_extraction --extractors newsbeam  # only newsbeam

The corpora are read from ../shared/corpora (relative to the repository root) and unpacked once into --work.
"""
from __future__ import annotations

import argparse
import html as htmllib
import json
import os
import re
import sys
import tarfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import trafilatura
from lxml import html as lxml_html

from newsbeam.extraction import EmptyText, ExtractionSettings, decode_html, extract_page, resiliparse_text
from newsbeam.paragraphs import MODEL_FILE

REPO = Path(__file__).resolve().parents[1]
# CI has the corpora next to the repository; NEWSBEAM_CORPORA points elsewhere (a worktree, a laptop)
CORPORA = Path(os.environ.get("NEWSBEAM_CORPORA") or REPO.parent / "shared" / "corpora")
TRAFILATURA_ARCHIVE = "trafilatura-eval.tar.xz"
READABILITY_ARCHIVE = "readability-tests.tar.xz"
# far after every page of both corpora: no date is rejected for lying in the future
FETCHED = datetime(2030, 1, 1, tzinfo=timezone.utc)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class SegmentPage:
    url: str
    html: str
    with_: Tuple[str, ...]
    without: Tuple[str, ...]


@dataclass(frozen=True)
class ReadabilityPage:
    name: str
    html: str
    expected_text: str
    metadata: Dict[str, object]


@dataclass
class Score:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    seconds: float = 0.0
    pages: int = 0
    f_sum: float = 0.0  # readability: per-page F, averaged
    p_sum: float = 0.0
    r_sum: float = 0.0
    meta: Counter = field(default_factory=Counter)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def ms_per_page(self) -> float:
        return 1000 * self.seconds / self.pages if self.pages else 0.0


def unpack(archive: Path, work: Path) -> Path:
    """Unpacks `archive` into `work` once (a marker file says it is complete); returns the top folder."""
    top = work / archive.name.split(".")[0]
    marker = work / f".{archive.name}.done"
    if not marker.exists():
        with tarfile.open(archive) as tar:
            tar.extractall(work, filter="data")
        marker.touch()
    return top


def split_of(url: str) -> str:
    """Deterministic halves: 'dev' (tune on it) or 'held-out' (never look at it while tuning)."""
    return "dev" if zlib.crc32(url.encode("utf-8")) % 2 == 0 else "held-out"


def _read(path: Path) -> str:
    return decode_html(path.read_bytes(), None).text


def load_trafilatura_set(top: Path, only: Optional[set] = None) -> List[SegmentPage]:
    data = json.loads((top / "evaldata.json").read_text(encoding="utf-8"))
    return [SegmentPage(url, _read(top / "pages" / entry["file"]), tuple(entry.get("with") or ()),
                        tuple(entry.get("without") or ())) for url, entry in sorted(data.items())
            if only is None or url in only]


def trafilatura_subset(top: Path, n: Optional[int]) -> List[SegmentPage]:
    """`subset` of trafilatura's set (unpacked in `top`) by URL; only those pages are read."""
    urls = json.loads((top / "evaldata.json").read_text(encoding="utf-8"))
    return load_trafilatura_set(top, set(subset(sorted(urls), n, lambda url: url)))


def _visible_text(markup: str) -> str:
    tree = lxml_html.fromstring(markup or "<p></p>")
    return "\n".join(t.strip() for t in tree.itertext() if t.strip())


def load_readability_set(top: Path) -> List[ReadabilityPage]:
    pages = []
    for folder in sorted((top / "test" / "test-pages").iterdir()):
        source, expected = folder / "source.html", folder / "expected.html"
        if not source.exists() or not expected.exists():
            continue
        meta_path = folder / "expected-metadata.json"
        metadata = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        pages.append(ReadabilityPage(folder.name, _read(source), _visible_text(expected.read_text("utf-8")),
                                     metadata))
    return pages


def subset(pages: Sequence, n: Optional[int], key: Callable[[object], str]) -> List:
    """A fixed deterministic subset: the n pages with the smallest crc32 of their key."""
    if not n:
        return list(pages)
    return sorted(pages, key=lambda p: zlib.crc32(key(p).encode("utf-8")))[:n]


# --- extractors: (html, url) -> (text, title, authors, published day or None)
Result = Tuple[str, Optional[str], Tuple[str, ...], Optional[str]]


def newsbeam_extractor(settings: ExtractionSettings = ExtractionSettings(timeout=0)) -> Callable[[str, str], Result]:
    def run(html: str, url: str) -> Result:
        try:
            content = extract_page(html, url, settings, FETCHED)
        except EmptyText:
            return "", None, (), None
        day = content.published_local_date.isoformat() if content.published_local_date else None
        return content.text, content.title, content.authors, day
    run.strategy = settings.strategy  # `run` says which rows come from the trained models
    return run


def learned_note() -> str:
    """What the `learned` strategy's shipped models were trained on, and where their honest held-out figure is."""
    spec = json.loads(resources.files("newsbeam").joinpath(MODEL_FILE).read_text(encoding="utf-8"))
    return (f"(`learned` models trained on: {spec.get('trained_on')}; scores on pages they learned from; the held-out "
            f"half by cross-validation: python -m benchmarks.train_paragraphs --held-out-cv)")


def trafilatura_extractor(html: str, url: str) -> Result:
    """Plain trafilatura, default settings (standard mode with its fallback extractors)."""
    document = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    if document is None:
        return "", None, (), None
    day = document.date[:10] if document.date else None
    authors = tuple(a.strip() for a in (document.author or "").split(";") if a.strip())
    return document.text or "", document.title, authors, day


def trafilatura_fast_extractor(html: str, url: str) -> Result:
    text = trafilatura.extract(html, url=url, fast=True) or ""
    return text, None, (), None


def resiliparse_extractor(html: str, url: str) -> Result:
    """resiliparse's main-content text alone: the `guarded` strategy's second opinion."""
    return resiliparse_text(html), None, (), None


def trafilatura_fast_metadata_extractor(html: str, url: str) -> Result:
    """trafilatura's fast mode with its metadata: what a pipeline that needs title, authors and date pays."""
    document = trafilatura.bare_extraction(html, url=url, with_metadata=True, fast=True)
    if document is None:
        return "", None, (), None
    return document.text or "", document.title, (), document.date[:10] if document.date else None


EXTRACTORS: Dict[str, Callable[[str, str], Result]] = {
    "newsbeam": newsbeam_extractor(),
    "newsbeam-learned": newsbeam_extractor(ExtractionSettings(strategy="learned", timeout=0)),
    "newsbeam-guarded": newsbeam_extractor(ExtractionSettings(strategy="guarded", timeout=0)),
    "newsbeam-balanced": newsbeam_extractor(ExtractionSettings(strategy="balanced", timeout=0)),
    "newsbeam-precision": newsbeam_extractor(ExtractionSettings(strategy="precision", timeout=0)),
    # before the extraction work: precision mode alone, no rescue of short texts
    "newsbeam-former": newsbeam_extractor(ExtractionSettings(strategy="precision", rescue_below_chars=0, timeout=0)),
    "newsbeam-extensive-dates": newsbeam_extractor(ExtractionSettings(date_search_extensive=True, timeout=0)),
    "trafilatura": trafilatura_extractor,
    "trafilatura-fast": trafilatura_fast_extractor,
    "trafilatura-fast-metadata": trafilatura_fast_metadata_extractor,
    "resiliparse": resiliparse_extractor,
}
# newsbeam's default (the `learned` strategy), the former default `guarded`, every extractor they combine, and
# plain trafilatura, in one run
DEFAULT_EXTRACTORS = ["newsbeam", "newsbeam-guarded", "trafilatura-fast", "resiliparse", "trafilatura",
                      "newsbeam-balanced"]


def score_segments(pages: Sequence[SegmentPage], extractor) -> Dict[str, Score]:
    scores = {"dev": Score(), "held-out": Score(), "all": Score()}
    for page in pages:
        started = time.perf_counter()
        text = extractor(page.html, page.url)[0]
        elapsed = time.perf_counter() - started
        for name in (split_of(page.url), "all"):
            score = scores[name]
            score.pages += 1
            score.seconds += elapsed
            for segment in page.with_:
                if segment in text:
                    score.tp += 1
                else:
                    score.fn += 1
            for segment in page.without:
                if segment in text:
                    score.fp += 1
                else:
                    score.tn += 1
    return scores


def _bag_f(text: str, expected: str) -> Tuple[float, float, float]:
    got, want = Counter(_WORD.findall(text.lower())), Counter(_WORD.findall(expected.lower()))
    common = sum((got & want).values())
    if not common:
        return 0.0, 0.0, 0.0
    p, r = common / sum(got.values()), common / sum(want.values())
    return p, r, 2 * p * r / (p + r)


def _same_name(a: Optional[str], b: Optional[str]) -> bool:
    norm = lambda s: " ".join(_WORD.findall(htmllib.unescape(s or "").lower()))  # noqa: E731
    return bool(norm(a)) and norm(a) == norm(b)


def score_readability(pages: Sequence[ReadabilityPage], extractor) -> Score:
    score = Score()
    for page in pages:
        started = time.perf_counter()
        text, title, authors, day = extractor(page.html, f"http://fakehost/{page.name}/")
        score.seconds += time.perf_counter() - started
        score.pages += 1
        p, r, f = _bag_f(text, page.expected_text)
        score.p_sum, score.r_sum, score.f_sum = score.p_sum + p, score.r_sum + r, score.f_sum + f
        meta = page.metadata
        score.meta["title"] += _same_name(title, meta.get("title"))
        score.meta["title_pages"] += bool(meta.get("title"))
        if meta.get("byline"):
            score.meta["byline_pages"] += 1
            score.meta["byline"] += any(_same_name(a, meta["byline"]) or a.lower() in meta["byline"].lower()
                                        for a in authors)
        expected_day = (meta.get("publishedTime") or "")[:10] or None
        if expected_day:
            score.meta["date_pages"] += 1
            score.meta["date_found"] += day is not None
            score.meta["date_right"] += day == expected_day
        elif day is not None:
            score.meta["date_unexpected"] += 1
    return score


def cost(work: Path, extractors: Sequence[str], n: Optional[int], corpora: Path = CORPORA,
         out=sys.stdout, cpu: bool = False) -> Dict[str, float]:
    """Seconds per page of each extractor, interleaved page by page (a shared machine's load then weighs on all
    alike), on the trafilatura set; the ratios to `trafilatura-fast` are what to compare. `cpu`: this process's
    CPU time instead of wall-clock time (steadier while other work loads the machine). Every extractor first runs
    once over all the pages untimed: the first newsbeam extractor of a process otherwise also paid the one-off
    compiles (dateparser's locales, ~2.5 s over 300 pages, which the pipeline loads from its disk cache), so its
    figure depended on its place in `extractors`."""
    clock = time.process_time if cpu else time.perf_counter
    top = unpack(corpora / TRAFILATURA_ARCHIVE, work)
    pages = trafilatura_subset(top, n)
    for page in pages:
        for name in extractors:
            EXTRACTORS[name](page.html, page.url)
    spent = Counter()
    for page in pages:
        for name in extractors:
            started = clock()
            EXTRACTORS[name](page.html, page.url)
            spent[name] += clock() - started
    base = spent.get("trafilatura-fast")
    for name in extractors:
        ratio = f", {spent[name] / base:.2f} x trafilatura-fast" if base else ""
        print(f"{name:24} {1000 * spent[name] / len(pages):7.1f} {'CPU ' if cpu else ''}ms/page{ratio}", file=out)
    return {name: spent[name] / len(pages) for name in extractors}


def date_figures(work: Path, corpora: Path = CORPORA, out=sys.stdout) -> Dict[str, Dict[str, Counter]]:
    """Publication day against Readability's `publishedTime` on the pages that state one, scored by the systems
    of `benchmarks/eval_dates.py` (which also scores htmldate's larger labelled set)."""
    from benchmarks.eval_dates import DatedPage, score

    pages = [DatedPage("readability", f"http://fakehost/{p.name}/", p.html, p.metadata["publishedTime"][:10])
             for p in load_readability_set(unpack(corpora / READABILITY_ARCHIVE, work))
             if p.metadata.get("publishedTime")]
    return score(pages, ("newsbeam", "newsbeam-no-extensive", "htmldate-fast", "htmldate-extensive",
                         "trafilatura-metadata"), out=out)


def run(work: Path, extractors: Sequence[str], n: Optional[int], corpora: Path = CORPORA, out=sys.stdout) -> Dict:
    work.mkdir(parents=True, exist_ok=True)
    top = unpack(corpora / TRAFILATURA_ARCHIVE, work)
    traf = trafilatura_subset(top, n)
    read = subset(load_readability_set(unpack(corpora / READABILITY_ARCHIVE, work)), n and max(n // 3, 30),
                  lambda p: p.name)
    results: Dict[str, Dict[str, Score]] = {}
    print(f"trafilatura set: {len(traf)} pages; readability set: {len(read)} pages", file=out)
    print(f"{'extractor':18} {'set':22} {'F':>6} {'P':>6} {'R':>6} {'ms/page':>8}", file=out)
    for name in extractors:
        extractor = EXTRACTORS[name]
        scores = score_segments(traf, extractor)
        scores["readability"] = score_readability(read, extractor)
        results[name] = scores
        for split in ("dev", "held-out", "all"):
            s = scores[split]
            print(f"{name:18} {'trafilatura/' + split:22} {s.f:6.3f} {s.precision:6.3f} {s.recall:6.3f} "
                  f"{s.ms_per_page:8.1f}", file=out)
        s = scores["readability"]
        k = max(s.pages, 1)
        print(f"{name:18} {'readability (bag F)':22} {s.f_sum / k:6.3f} {s.p_sum / k:6.3f} {s.r_sum / k:6.3f} "
              f"{s.ms_per_page:8.1f}", file=out)
        m = s.meta
        print(f"{name:18} {'readability metadata':22} title {m['title']}/{m['title_pages']}, "
              f"byline {m['byline']}/{m['byline_pages']}, date right {m['date_right']}/{m['date_pages']} "
              f"(found {m['date_found']}, dated when none expected {m['date_unexpected']})", file=out)
        if getattr(extractor, "strategy", None) == "learned":
            print(f"{name:18} {learned_note()}", file=out)
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsbeam-eval"), help="where corpora are unpacked")
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    parser.add_argument("--subset", type=int, default=None, help="only this many pages of the trafilatura set "
                        "(and a third as many Readability pages), chosen by crc32")
    parser.add_argument("--dates-only", action="store_true", help="only the publication-day figures")
    parser.add_argument("--cost", action="store_true", help="only the time per page, extractors interleaved")
    parser.add_argument("--cpu", action="store_true", help="--cost in CPU time rather than wall-clock time")
    parser.add_argument("--extractors", nargs="+", default=DEFAULT_EXTRACTORS,
                        choices=sorted(EXTRACTORS))
    args = parser.parse_args(argv)
    if args.cost:
        cost(args.work, args.extractors, args.subset, args.corpora, cpu=args.cpu)
        return 0
    if args.dates_only:
        date_figures(args.work, args.corpora)
        return 0
    run(args.work, args.extractors, args.subset, args.corpora)
    return 0


if __name__ == "__main__":
    sys.exit(main())
