"""Peak memory of the Parquet writer alone (`newsbeam.transforms.write.write_parquet`) by file size, with row
groups bounded by rows only (5,000 rows, Arrow 500 rows at a time: the code before issue 16's second pass) and
with the byte bound as well (the default).

    python benchmarks/bench_writer_memory.py [--rows 1000,10000]

Rows: text-only article rows of 400-1,600 random words (~8 KB of text, about a real news article), packed in a
spool (`newsbeam.recordstore`) and read back in sort order, as the pipeline's writer does. Each measurement is a
fresh process: the peak RSS (ru_maxrss) it reaches while writing one file, above what it held before.
"""
from __future__ import annotations

import argparse
import os
import pickle
import random
import resource
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import datetime, timezone

VARIANTS = ("rows-only", "default")


def make(count: int, directory: str) -> None:
    from newsbeam.recordstore import RecordStore
    from newsbeam.schemas.datasets import ARTICLES, RunContext
    from newsbeam.schemas.records import Article, ExtractedArticle, FeedItem

    store = RecordStore(directory)
    run = RunContext(run_id="bench", ingest_date="2026-11-21", extractor="bench")
    rng = random.Random(16)
    words = [f"word{n}" for n in range(5000)]
    now = datetime(2026, 11, 21, tzinfo=timezone.utc)
    url = "http://example.org/0"
    base = Article(extracted=ExtractedArticle(
        item=FeedItem(url, url), final_url=url, canonical_url=url, http_status=200, content_type="text/html",
        encoding="utf-8", fetched_at=now, attempts=1, title="A story", authors=(), published_at=None,
        date_source="html", sitename=None, description=None, tags=(), text="", word_count=0, content_hash="h"),
        language="en", language_score=1.0)
    refs = []
    for number in range(count):
        url = f"http://example.org/{number}"
        text = " ".join(rng.choice(words) for _ in range(rng.randint(400, 1600)))
        article = replace(base, extracted=replace(base.extracted, item=FeedItem(url, url), final_url=url,
                                                  canonical_url=url, text=text, word_count=len(text.split())))
        row = ARTICLES.to_row(article, run)
        refs.append((ARTICLES.sort_key(row), store.put(row)))
    with open(os.path.join(directory, "refs.pickle"), "wb") as file:
        pickle.dump(sorted(refs), file)


def measure(variant: str, directory: str) -> None:
    import pyarrow.parquet as pq

    import newsbeam.transforms.write as write
    from newsbeam.recordstore import RecordStore
    from newsbeam.schemas.datasets import ARTICLES

    if variant == "rows-only":
        write.ROW_GROUP_BYTES, write.ARROW_BATCH_ROWS = 1 << 62, 500
    store = RecordStore(directory)
    with open(os.path.join(directory, "refs.pickle"), "rb") as file:
        refs = pickle.load(file)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    path = os.path.join(directory, f"{variant}.parquet")
    write.write_parquet(path, (store.get(ref) for _, ref in refs), ARTICLES.schema)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    metadata = pq.ParquetFile(path).metadata
    print(f"{variant}\t{(after - before) / 1024:.0f}\t{metadata.num_row_groups}\t{metadata.row_group(0).num_rows}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="1000,10000")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage == "make":
        make(int(args.rows), args.dir)
        return 0
    if args.stage:
        measure(args.stage, args.dir)
        return 0
    print(f"{'rows':>7} {'variant':<10} {'writer peak MB':>15} {'row groups':>11} {'rows in the first':>18}")
    for count in (int(n) for n in args.rows.split(",")):
        with tempfile.TemporaryDirectory(prefix="newsbeam-bench-writer-") as directory:
            subprocess.run([sys.executable, __file__, "--stage", "make", "--rows", str(count), "--dir", directory],
                           check=True)
            for variant in VARIANTS:
                out = subprocess.run([sys.executable, __file__, "--stage", variant, "--dir", directory], check=True,
                                     capture_output=True, text=True).stdout.strip().splitlines()[-1]
                _, peak, groups, first = out.split("\t")
                print(f"{count:>7} {variant:<10} {'+' + peak:>15} {groups:>11} {first:>18}")
    print("writer peak MB: the highest RSS of a fresh process while it writes the file, above what it held before")
    return 0


if __name__ == "__main__":
    sys.exit(main())
