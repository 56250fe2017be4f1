"""CPU per article of the entity tagger by batch size (texts per `tag_many` call, i.e. per nlp.pipe batch).

    python benchmarks/bench_entity_batches.py [--pages 200] [--sizes 1,4,8,32]

Texts: the first --pages real pages of trafilatura's evaluation set (`shared/corpora/trafilatura-eval.tar.xz`,
next to the repository, or NEWSBEAM_CORPORA), extracted and language-tagged as the pipeline does. One process;
process CPU time, so the figures hold on a loaded machine. Says whether forcing full batches in the entity stage
is worth anything.
"""
from __future__ import annotations

import argparse
import os
import sys
import tarfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def corpora() -> Path:
    for candidate in (os.environ.get("NEWSBEAM_CORPORA"), REPO.parent / "shared" / "corpora", "/work/shared/corpora"):
        if candidate and (Path(candidate) / "trafilatura-eval.tar.xz").exists():
            return Path(candidate)
    sys.exit("trafilatura-eval.tar.xz not found (set NEWSBEAM_CORPORA)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--sizes", default="1,4,8,32")
    args = parser.parse_args()
    from newsbeam.entities import EntityTagger
    from newsbeam.extraction import EmptyText, ExtractionSettings, decode_html, extract_page
    from newsbeam.language import LanguageDetector

    bodies = {}
    with tarfile.open(corpora() / "trafilatura-eval.tar.xz", "r|xz") as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".html"):
                bodies[member.name] = archive.extractfile(member).read()
    detector, tagger = LanguageDetector(), EntityTagger()
    tagger.load_all()  # models load on first use; timed work below must not include a load
    docs = []
    for name in sorted(bodies)[:args.pages]:
        try:
            content = extract_page(decode_html(bodies[name], None).text, "http://example.org/",
                                   ExtractionSettings(), datetime.now(timezone.utc))
        except EmptyText:
            continue
        docs.append((content.text, detector.detect(content.text)[0]))
    tagger.tag_many(docs[:4])  # warm
    print(f"{len(docs)} texts; entity tagger CPU ms per article by batch size:")
    for size in (int(s) for s in args.sizes.split(",")):
        started = time.process_time()
        for i in range(0, len(docs), size):
            tagger.tag_many(docs[i:i + size])
        print(f"  batch {size:>3}: {1000 * (time.process_time() - started) / len(docs):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
