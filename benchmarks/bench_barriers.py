"""What a record costs at the pipeline's barriers after the core, per article, on real pages: packing (pickle +
compression) and unpacking, the spool's files, the Parquet row, the near-duplicate fingerprint.

    .venv/bin/python benchmarks/bench_barriers.py --pages 150

Builds real articles first (trafilatura's evaluation pages through newsbeam's extraction, language and entity
calls), then times each operation over all of them, best of 3, in CPU ms an article (pages: a page). `zlib-1` is
how records were packed before (newsbeam.packing used zlib level 1), `pack` how they are now.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import shutil
import sys
import tarfile
import tempfile
import time
import zlib
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_pipeline import corpora_dir  # noqa: E402
from newsbeam.article import extract_article  # noqa: E402
from newsbeam.entities import EntityTagger  # noqa: E402
from newsbeam.extraction import ExtractionSettings  # noqa: E402
from newsbeam.language import LanguageDetector  # noqa: E402
from newsbeam.neardup import NearDupSettings, fingerprint  # noqa: E402
from newsbeam.packing import pack, unpack  # noqa: E402
from newsbeam.recordstore import RecordStore  # noqa: E402
from newsbeam.schemas.datasets import ARTICLES, RunContext, rows_to_table  # noqa: E402
from newsbeam.schemas.records import Article, FeedItem, FetchedPage, FetchRequest  # noqa: E402
from newsbeam.urls import article_id  # noqa: E402


def real_articles(count: int):
    bodies = []
    with tarfile.open(corpora_dir() / "trafilatura-eval.tar.xz", "r|xz") as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".html"):
                bodies.append(archive.extractfile(member).read())
                if len(bodies) >= count:
                    break
    detector, tagger, now = LanguageDetector(), EntityTagger(), datetime.now(timezone.utc)
    pages, articles = [], []
    for n, body in enumerate(bodies):
        url = f"http://127.0.0.1:9/eval-{n}.html"
        item = FeedItem(url=url, canonical_url=url)
        page = FetchedPage(request=FetchRequest(url=url, context=item), final_url=url, status=200,
                           content_type="text/html", header_charset=None, body=body, fetched_at=now, attempts=1)
        pages.append(page)
        try:
            extracted = extract_article(page, ExtractionSettings())
        except Exception:  # no text: not an article
            continue
        language, score = detector.detect(extracted.text)
        articles.append(Article(extracted=extracted, language=language, language_score=score))
    found = tagger.tag_many([(a.extracted.text, a.language) for a in articles])
    return pages, [replace(a, entities=tuple(m)) for a, m in zip(articles, found)]


def timed(label: str, count: int, work, unit: str = "article") -> None:
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    print(f"  {label:<46} {1000 * best / count:7.3f} ms a {unit}")


def zlib_pack(record) -> bytes:
    return zlib.compress(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=150)
    args = parser.parse_args()
    pages, articles = real_articles(args.pages)
    n, run = len(articles), RunContext(run_id="bench", ingest_date="2026-11-30", extractor="bench")
    rows = [ARTICLES.to_row(a, run) for a in articles]
    print(f"{n} articles from {len(pages)} pages, {sum(len(a.entities) for a in articles) / n:.1f} entities an "
          f"article; load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    for label, records, unit in (("pages (spool)", pages, "page"), ("articles", articles, "article"),
                                 ("rows", rows, "article")):
        old, new = [zlib_pack(r) for r in records], [pack(r) for r in records]
        count = len(records)
        print(f"{label}: pickle {sum(len(pickle.dumps(r, protocol=5)) for r in records) / count / 1024:.1f} KB, "
              f"zlib-1 {sum(map(len, old)) / count / 1024:.1f} KB, pack {sum(map(len, new)) / count / 1024:.1f} KB")
        timed("zlib-1: pickle + compress", count, lambda: [zlib_pack(r) for r in records], unit)
        timed("zlib-1: decompress + unpickle", count, lambda: [pickle.loads(zlib.decompress(d)) for d in old], unit)
        timed("pack (zstd-1)", count, lambda: [pack(r) for r in records], unit)
        timed("unpack", count, lambda: [unpack(d) for d in new], unit)
    packed = [pack(a) for a in articles]
    directory = tempfile.mkdtemp(prefix="bench-barriers-")
    try:
        def write():
            for data in packed:
                path = os.path.join(directory, hashlib.blake2b(data, digest_size=16).hexdigest())
                with open(f"{path}.tmp", "wb") as handle:
                    handle.write(data)
                os.replace(f"{path}.tmp", path)
        timed("spool file: hash, write aside, rename", n, write)
        # what a barrier's step pays per record, packing included: a content-named file each (before issue 16's
        # fifth round), or appended to the bundle's file (the digest orders the writer's rows)
        for number, (label, put) in enumerate((
                ("RecordStore.put: pack + content-named file", lambda store: store.put),
                ("Appender.put: pack + append", lambda store: store.appender().put),
                ("Appender.put_ordered: pack + digest + append", lambda store: store.appender().put_ordered))):
            def store_all(number=number, put=put):
                store = RecordStore(os.path.join(directory, f"{number}-{time.perf_counter_ns()}"))
                each = put(store)
                for article in articles:
                    each(article)
            timed(label, n, store_all)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    timed("Parquet row (ARTICLES.to_row)", n, lambda: [ARTICLES.to_row(a, run) for a in articles])
    timed("rows to Arrow (rows_to_table)", n, lambda: rows_to_table(rows, ARTICLES.schema))
    settings = NearDupSettings()
    timed("near-duplicate fingerprint", n,
          lambda: [fingerprint(article_id(a.extracted.canonical_url), a.extracted.text, settings) for a in articles])
    return 0


if __name__ == "__main__":
    sys.exit(main())
