"""Benchmark of the entity stage on realistic article texts, on one core.

    /work/venv/bin/python benchmarks/bench_entities.py [--copies N]

Texts: the bundled sample site's article pages, extracted with the pipeline's own extractor (trafilatura, as in
`newsbeam.extraction`) and language-tagged with the pipeline's detector, repeated to a few hundred documents.
Measured in this run, on one core (the process pins itself to CPU 0 and BLAS to one thread):
- load: building the gazetteer alone and the whole tagger (gazetteer + both models), each in a fresh process, with
  its resident memory;
- throughput (articles/s, words/s) of each layer, as ratios to a baseline measured in the same run: spaCy's
  tokenizer alone (the floor any spaCy NER pays) and the gazetteer alone (what every language pays);
- the topic matcher, for comparison;
- peak memory of the benchmark process (getrusage) and the Python allocation peak of tagging (tracemalloc).
"""
from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections import Counter  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Dict, List, Tuple  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsbeam.extraction import EmptyText, ExtractionSettings, extract_page  # noqa: E402
from newsbeam.language import LanguageDetector  # noqa: E402
from newsbeam.sample_site import SITE_DIR  # noqa: E402

_WORD = re.compile(r"\w+")


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def _build_in_fresh_process(kind: str, queue) -> None:
    _pin_one_core()
    import spacy  # noqa: F401  (imported before the clock: every worker has it loaded by the pipeline anyway)

    before = _rss_mb()
    started = time.perf_counter()
    from newsbeam.entities import EntitySettings, EntityTagger

    EntityTagger(EntitySettings(use_ner=(kind == "full")))
    queue.put((time.perf_counter() - started, _rss_mb() - before, _peak_mb()))


def measure_load(kind: str) -> Tuple[float, float, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_build_in_fresh_process, args=(kind, queue))
    process.start()
    result = queue.get(timeout=300)
    process.join()
    return result


def sample_articles() -> List[Tuple[str, str]]:
    detector = LanguageDetector()
    fetched = datetime.now(timezone.utc)
    docs = []
    for path in sorted((SITE_DIR / "articles").glob("*.html")):
        html = path.read_text(encoding="utf-8", errors="replace")
        try:
            text = extract_page(html, f"http://127.0.0.1/articles/{path.name}", ExtractionSettings(), fetched).text
        except EmptyText:
            continue  # the subscriber-only teasers
        docs.append((text, detector.detect(text)[0]))
    return docs


def timed(run: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10, help="how many times the sample articles are repeated")
    args = parser.parse_args()
    _pin_one_core()

    print("load (fresh process each, one core)")
    gaz_seconds, gaz_mb, _ = measure_load("gazetteer")
    full_seconds, full_mb, full_peak = measure_load("full")
    print(f"  gazetteer only          {gaz_seconds:6.2f} s   +{gaz_mb:5.0f} MB resident")
    print(f"  gazetteer + NER models  {full_seconds:6.2f} s   +{full_mb:5.0f} MB resident "
          f"(process peak {full_peak:.0f} MB)")

    articles = sample_articles()
    docs = articles * args.copies
    words = sum(len(_WORD.findall(text)) for text, _ in docs)
    languages = Counter(language for _, language in articles)
    print(f"\ncorpus: {len(articles)} sample articles x {args.copies} = {len(docs)} documents, {words} words, "
          f"{words // len(docs)} words/article; languages {dict(sorted(languages.items()))}")

    from newsbeam.entities import EntityTagger, linking
    from newsbeam.entities.normalise import normalise, token_key
    from newsbeam.topics import TopicMatcher

    tagger = EntityTagger()
    topics = TopicMatcher()
    gazetteer = tagger.gazetteer
    models: Dict[str, object] = tagger.load_all()  # benchmark only: the layers below the public API
    with_model = [(text, language) for text, language in docs if language in models]
    model_words = sum(len(_WORD.findall(text)) for text, _ in with_model)
    tagger.tag_many(docs[:20])  # warm the caches and the models

    def tokenizer_only():
        for language, nlp in models.items():
            list(nlp.tokenizer.pipe([text for text, lang in with_model if lang == language], batch_size=32))

    def ner_only():
        for language, nlp in models.items():
            list(nlp.pipe([text for text, lang in with_model if lang == language], batch_size=32))

    def cold(run):
        def wrapped():
            token_key.cache_clear()  # the key cache would otherwise make repeated texts free
            return run()
        return wrapped

    rows = [
        ("normalisation key only", len(docs), words, cold(lambda: [normalise(text) for text, _ in docs])),
        ("gazetteer scan + linking", len(docs), words,
         cold(lambda: [linking.link(gazetteer, text, language) for text, language in docs])),
        ("topics matcher", len(docs), words, cold(lambda: [topics.match(text) for text, _ in docs])),
        ("spaCy tokenizer only (en, fr)", len(with_model), model_words, tokenizer_only),
        ("spaCy NER only (en, fr)", len(with_model), model_words, ner_only),
        ("full tag_many (en, fr)", len(with_model), model_words, cold(lambda: tagger.tag_many(with_model))),
        ("full tag_many (all languages)", len(docs), words, cold(lambda: tagger.tag_many(docs))),
    ]
    results = {}
    for name, count, word_count, run in rows:
        seconds = timed(run)
        results[name] = (count / seconds, word_count / seconds)

    gazetteer_rate = results["gazetteer scan + linking"][1]
    tokenizer_rate = results["spaCy tokenizer only (en, fr)"][1]
    print("\nthroughput on one core (best of 3)      articles/s     words/s   vs gazetteer   vs tokenizer")
    for name, (articles_rate, words_rate) in results.items():
        print(f"  {name:34} {articles_rate:10.1f} {words_rate:11.0f}   {words_rate / gazetteer_rate:8.2f}x"
              f"   {words_rate / tokenizer_rate:10.3f}x")

    tracemalloc.start()
    tagger.tag_many(docs[:100])
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"\nmemory: benchmark process peak RSS {_peak_mb():.0f} MB (it also holds the corpus and the detector); "
          f"Python allocation peak while tagging 100 articles {traced_peak / 1e6:.1f} MB")
    linked = sum(1 for mentions in tagger.tag_many(articles) for m in mentions if m.entity_id)
    print(f"sample articles: {linked} linked mentions in {len(articles)} articles")


if __name__ == "__main__":
    main()
