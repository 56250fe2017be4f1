"""What Python's cyclic garbage collector costs a worker, with and without `gc.freeze()` after its set-up
(`newsbeam.runtime.freeze_set_up_heap`, which the pipeline's worker processes call).

    python benchmarks/bench_gc.py [--pages 300] [--repeats 3] [--entities on|off]

Each sample is a fresh process that sets up as a worker does (language profiles; with `--entities on` the entity
tagger with every model; dateparser's cached expressions), optionally freezes its heap, then extracts, detects the
language of (and tags) the first --pages real pages of trafilatura's evaluation set, one at a time. It reports
process CPU per article and the CPU spent inside collections (gc.callbacks), per generation. Variants alternate,
so both see the same load; process CPU holds on a loaded machine better than wall time.
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tarfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.bench_entity_batches import corpora  # noqa: E402


def _pages(count: int):
    bodies = {}
    with tarfile.open(corpora() / "trafilatura-eval.tar.xz", "r|xz") as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".html"):
                bodies[member.name] = archive.extractfile(member).read()
    return [bodies[name] for name in sorted(bodies)[:count]]


def child(pages: int, entities: bool, freeze: bool) -> dict:
    from newsbeam import dateparser_cache
    from newsbeam.extraction import EmptyText, ExtractionSettings, decode_html, extract_page
    from newsbeam.language import LanguageDetector

    bodies = _pages(pages)
    dateparser_cache.load_default()
    detector = LanguageDetector()
    tagger = None
    if entities:
        from newsbeam.entities import EntityTagger

        tagger = EntityTagger()
        tagger.load_all()
    if freeze:
        gc.freeze()
    collections = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
    began = []

    def timing(phase, info):
        if phase == "start":
            began.append(time.process_time())
        elif began:
            entry = collections[info["generation"]]
            entry[0] += 1
            entry[1] += time.process_time() - began.pop()

    gc.callbacks.append(timing)
    started = time.process_time()
    articles = 0
    for body in bodies:
        try:
            content = extract_page(decode_html(body, None).text, "http://example.org/", ExtractionSettings(timeout=0),
                                   datetime.now(timezone.utc))
        except EmptyText:
            continue
        language = detector.detect(content.text)[0]
        if tagger is not None:
            tagger.tag_many([(content.text, language)])
        articles += 1
    cpu = time.process_time() - started
    gc.callbacks.remove(timing)
    return {"articles": articles, "cpu": cpu, "frozen": gc.get_freeze_count(),
            "gc": {str(g): {"collections": n, "cpu": s} for g, (n, s) in collections.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--entities", choices=["on", "off"], default="on")
    parser.add_argument("--child", choices=["freeze", "plain"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    entities = args.entities == "on"
    if args.child:
        print(json.dumps(child(args.pages, entities, args.child == "freeze")))
        return 0
    samples = {"plain": [], "freeze": []}
    for _ in range(args.repeats):
        for variant in samples:
            out = subprocess.run([sys.executable, __file__, "--child", variant, "--pages", str(args.pages),
                                  "--entities", args.entities], capture_output=True, text=True, check=True)
            samples[variant].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{args.pages} pages, entities {args.entities}, {args.repeats} alternating samples per variant "
          f"(CPU ms an article: median, then every sample)")
    print(f"{'variant':8} {'articles':>8} {'CPU':>7} {'in GC':>7} {'gen2 GC':>8} {'gen2 n':>6} {'frozen':>8}  samples")
    for variant, runs in samples.items():
        per = [1000 * r["cpu"] / r["articles"] for r in runs]
        in_gc = [1000 * sum(g["cpu"] for g in r["gc"].values()) / r["articles"] for r in runs]
        gen2 = [1000 * r["gc"]["2"]["cpu"] / r["articles"] for r in runs]
        print(f"{variant:8} {runs[0]['articles']:>8} {statistics.median(per):>7.2f} {statistics.median(in_gc):>7.2f} "
              f"{statistics.median(gen2):>8.2f} {runs[0]['gc']['2']['collections']:>6} {runs[0]['frozen']:>8}  "
              + ", ".join(f"{p:.1f}" for p in per))
    return 0


if __name__ == "__main__":
    sys.exit(main())
