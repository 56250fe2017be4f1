"""CPU per article of the entity tagger by batch size (texts per `tag_many` call, i.e. per nlp.pipe batch), and of
the entity stage's whole work with each text keyed once or twice.

    python benchmarks/bench_entity_batches.py [--pages 200] [--sizes 1,4,8,32]
    python benchmarks/bench_entity_batches.py --keys [--repeats 5]

`--keys`: the entity stage's work on batches of 32 (tagger + topic watchlists, as transforms/entities does), each
text keyed (newsbeam.entities.normalise) once and handed to both, against each keying it on its own (before
2026-12-01); the arms alternate batch by batch, `--repeats` times over the texts; median and each figure printed.

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
from typing import List

REPO = Path(__file__).resolve().parents[1]


def corpora() -> Path:
    for candidate in (os.environ.get("NEWSBEAM_CORPORA"), REPO.parent / "shared" / "corpora", "/work/shared/corpora"):
        if candidate and (Path(candidate) / "trafilatura-eval.tar.xz").exists():
            return Path(candidate)
    sys.exit("trafilatura-eval.tar.xz not found (set NEWSBEAM_CORPORA)")


def extracted_texts(pages: int) -> List[str]:
    """The texts of the first `pages` real pages of trafilatura's evaluation set (by file name), extracted as the
    pipeline does; pages without text are left out."""
    from newsbeam.extraction import EmptyText, ExtractionSettings, decode_html, extract_page

    bodies = {}
    with tarfile.open(corpora() / "trafilatura-eval.tar.xz", "r|xz") as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".html"):
                bodies[member.name] = archive.extractfile(member).read()
    texts = []
    for name in sorted(bodies)[:pages]:
        try:
            texts.append(extract_page(decode_html(bodies[name], None).text, "http://example.org/",
                                      ExtractionSettings(), datetime.now(timezone.utc)).text)
        except EmptyText:
            continue
    return texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--sizes", default="1,4,8,32")
    parser.add_argument("--keys", action="store_true", help="compare the stage's work with texts keyed once / twice")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from newsbeam.entities import EntityTagger
    from newsbeam.language import LanguageDetector

    detector, tagger = LanguageDetector(), EntityTagger()
    tagger.load_all()  # models load on first use; timed work below must not include a load
    docs = [(text, detector.detect(text)[0]) for text in extracted_texts(args.pages)]
    tagger.tag_many(docs[:4])  # warm
    if args.keys:
        return _compare_keys(tagger, docs, args.repeats)
    print(f"{len(docs)} texts; entity tagger CPU ms per article by batch size:")
    for size in (int(s) for s in args.sizes.split(",")):
        started = time.process_time()
        for i in range(0, len(docs), size):
            tagger.tag_many(docs[i:i + size])
        print(f"  batch {size:>3}: {1000 * (time.process_time() - started) / len(docs):.2f}")
    return 0


def _compare_keys(tagger, docs, repeats: int, size: int = 32) -> int:
    from newsbeam.entities.normalise import normalise
    from newsbeam.topics import TopicMatcher

    topics = TopicMatcher()

    def twice(batch):
        return tagger.tag_many(batch), [topics.match(text) for text, _ in batch]

    def once(batch):
        norms = [normalise(text) for text, _ in batch]
        return tagger.tag_many(batch, norms), [topics.match(text, norm) for (text, _), norm in zip(batch, norms)]

    arms = {"keyed twice (before)": twice, "keyed once (now)": once}
    batches = [docs[i:i + size] for i in range(0, len(docs), size)]
    assert [twice(b) for b in batches] == [once(b) for b in batches]  # the same mentions and topics
    figures = {name: [] for name in arms}
    for repeat in range(repeats):
        spent = dict.fromkeys(arms, 0.0)
        for number, batch in enumerate(batches):  # alternated batch by batch, first arm swapped each time
            for name in (list(arms) if (number + repeat) % 2 else list(arms)[::-1]):
                started = time.process_time()
                arms[name](batch)
                spent[name] += time.process_time() - started
        for name, seconds in spent.items():
            figures[name].append(1000 * seconds / len(docs))
    print(f"{len(docs)} texts, batches of {size}; entity stage CPU ms per article (tagger + watchlists), "
          f"{repeats} alternated repeats:")
    for name, values in figures.items():
        print(f"  {name:<22} median {sorted(values)[len(values) // 2]:.2f}  each "
              + ", ".join(f"{v:.2f}" for v in values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
