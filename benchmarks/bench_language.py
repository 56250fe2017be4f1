"""CPU per text of language detection: langdetect's own `Detector` against newsbeam's `_FasterDetector` (the same
answers; its per-character loops and probability update written faster), on real news texts.

    python -m benchmarks.bench_language [--pages 990] [--repeats 5]

Texts: the real pages of trafilatura's evaluation set (`shared/corpora/trafilatura-eval.tar.xz`, next to the
repository, or NEWSBEAM_CORPORA), extracted as the pipeline does, each cut to the detector's 3,000-character prefix
by `LanguageDetector.detect` itself. One process; process CPU time, so the figures hold on a loaded machine. The arms
alternate pass by pass (`--repeats` passes each over all texts); medians and each pass are printed, and every
text's answer is checked to be the same in both arms.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from benchmarks.bench_entity_batches import extracted_texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=990)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from newsbeam.language import LanguageDetector

    texts = extracted_texts(args.pages)
    faster = LanguageDetector()
    library = LanguageDetector()
    library._faster = False  # the library's own DetectorFactory.create() -> Detector
    answers = {}
    for label, detector in (("library", library), ("faster", faster)):  # warm both, and keep the answers
        answers[label] = [detector.detect(text) for text in texts]
    if answers["library"] != answers["faster"]:
        print("the arms answer differently", file=sys.stderr)
        return 1
    times = {"library": [], "faster": []}
    for _ in range(args.repeats):
        for label, detector in (("library", library), ("faster", faster)):
            started = time.process_time()
            for text in texts:
                detector.detect(text)
            times[label].append(1000 * (time.process_time() - started) / len(texts))
    print(f"{len(texts)} texts, same answers in both arms; CPU ms a text (median; each pass):")
    for label, values in times.items():
        print(f"  {label:8} {statistics.median(values):6.2f}  ({', '.join(f'{v:.2f}' for v in values)})")
    print(f"  faster / library: {statistics.median(times['faster']) / statistics.median(times['library']):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
