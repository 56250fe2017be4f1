"""The source reader on the feedparser project's corpus and on the entity-expansion feed of the hardening issue.

    python -m benchmarks.bench_sources [--corpus ../shared/corpora/feedparser-tests.tar.gz]

Prints the time to read every corpus document with `read_source`, what they came to, and the time and peak memory
(this process's max RSS) to refuse the 72 KB feed whose 64 KB entity is referenced 2,000 times.
"""
from __future__ import annotations

import argparse
import collections
import resource
import tarfile
import tempfile
import time
from pathlib import Path

from newsbeam.sources import read_source

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "feedparser-tests.tar.gz"


def entity_bomb() -> bytes:
    entity = "a" * 64 * 1024
    refs = "&big;" * 2000
    return (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "{entity}">]><rss version="2.0"><channel>'
            f"<title>t</title><item><link>http://e.org/a</link><description>{refs}</description></item>"
            "</channel></rss>").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with tarfile.open(args.corpus) as archive:
            archive.extractall(folder, filter="data")
        documents = sorted(p for p in Path(folder, "tests").rglob("*") if p.is_file() and p.suffix != ".py")
        bodies = [(str(p), p.read_bytes()) for p in documents]
    outcomes = collections.Counter()
    started = time.perf_counter()
    for name, body in bodies:
        contents = read_source(body, "http://127.0.0.1:9/" + name)
        if contents.read:
            outcomes["read: with items" if contents.items else "read: empty" if contents.empty_feed
                     else "read: entries without an article link only"] += 1
        else:
            outcomes[f"dead letter: {contents.rejected[0].reason}"] += 1
    seconds = time.perf_counter() - started
    print(f"corpus: {len(bodies)} documents in {seconds:.2f} s ({1000 * seconds / len(bodies):.2f} ms each)")
    for outcome, count in sorted(outcomes.items()):
        print(f"  {outcome}: {count}")
    bomb = entity_bomb()
    started = time.perf_counter()
    contents = read_source(bomb, "http://127.0.0.1:9/bomb.rss")
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"entity bomb: {len(bomb) // 1024} KB -> {contents.rejected[0].reason} in {1000 * seconds:.1f} ms; "
          f"process peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
