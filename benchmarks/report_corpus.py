"""A generated newsbeam output folder for the HTML report's tests and benchmark, in the real schemas.

Articles, dead letters and run manifests that look like a few weeks of ingestion: many sources and languages,
entities with several spellings per language mentioned with a skewed (Zipf-like) frequency, watchlist topics,
syndicated near-duplicate groups, every `date_source`, and dead letters spread over hosts and reasons. Seeded, so
the same arguments always write the same files. Written with pyarrow in `ARTICLES_SCHEMA` and
`DEAD_LETTERS_SCHEMA`, Hive-partitioned exactly as the pipeline's writer lays them out.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from newsbeam.schemas.datasets import (ARTICLES_SCHEMA, ARTICLES_SCHEMA_VERSION, DEAD_LETTERS_SCHEMA,
                                       DEAD_LETTERS_SCHEMA_VERSION)

UTC = datetime.timezone.utc
# 100 ISO 639-1 codes
LANGUAGES_100 = (
    "af am ar az be bg bn bs ca cs cy da de el en eo es et eu fa fi fr ga gl gu he hi hr hu hy id is it ja ka kk km kn "
    "ko ku ky la lb lo lt lv mg mk ml mn mr ms mt my ne nl no ny or pa pl ps pt ro ru rw sd si sk sl sm sn so sq sr st "
    "su sv sw ta te tg th tk tl tr tt ug uk ur uz vi xh yi yo zh zu ha ig ln"
).split()
TOPICS = ("attacks", "detention", "recruitment", "repatriation", "returnees", "defectors", "foreign_fighters")
REASONS = (("fetch", "http_404"), ("fetch", "http_5xx"), ("fetch", "timeout"), ("fetch", "robots_disallowed"),
           ("extract", "empty_text"), ("extract", "not_html"), ("feed", "feed_parse_error"))
DATE_SOURCES = ("html", "html", "html", "feed", "none")
WORDS = ("government minister said city forces talks report attack camp border police court council security "
         "people week officials region support return group families aid statement announced").split()


@dataclass
class Corpus:
    articles: int = 1000
    dead_letters: int = 200
    runs: int = 5
    languages: Sequence[str] = ("en", "fr", "de", "ar", "es", "ru")
    sources: int = 40
    entities: int = 150
    days: int = 30
    start: datetime.date = datetime.date(2026, 10, 1)
    seed: int = 7
    # overrides for hostile-string tests: used round-robin for titles / entity names when given
    titles: List[str] = field(default_factory=list)
    entity_names: List[str] = field(default_factory=list)
    text_words: int = 250  # words of body text per article (DuckDB never reads it; it makes the files realistic)


def _entity_pool(corpus: Corpus, rng: random.Random) -> List[Dict]:
    pool = []
    for i in range(corpus.entities):
        if corpus.entity_names:
            name = corpus.entity_names[i % len(corpus.entity_names)]
        else:
            name = f"{rng.choice(['North', 'South', 'New', 'Port', 'Saint', 'Upper'])} {rng.choice(WORDS).title()}" \
                   f" {i}"
        prefix = ("geonames", "wikidata", "newsbeam")[i % 3]
        spellings = {lang: [name, f"{name} ({lang})"] if i % 4 == 0 else [name] for lang in corpus.languages}
        pool.append({"id": f"{prefix}:{1000 + i}", "name": name, "label": ("GPE", "ORG", "PERSON")[i % 3],
                     "spellings": spellings})
    return pool


def _zipf_index(rng: random.Random, size: int) -> int:
    # skewed: a few entities and sources dominate, as in real news
    return min(size - 1, int(rng.paretovariate(1.2)) - 1)


def generate_articles(corpus: Corpus) -> List[Dict]:
    rng = random.Random(corpus.seed)
    pool = _entity_pool(corpus, rng)
    sources = [f"news{i}.example.{('com', 'org', 'net', 'de', 'fr')[i % 5]}" for i in range(corpus.sources)]
    paragraphs = [" ".join(rng.choice(WORDS) for _ in range(corpus.text_words)) for _ in range(64)]
    rows = []
    groups: List[str] = []
    for n in range(corpus.articles):
        language = corpus.languages[_zipf_index(rng, len(corpus.languages)) if len(corpus.languages) < 20
                                    else n % len(corpus.languages)]
        source = sources[_zipf_index(rng, len(sources))]
        day = corpus.start + datetime.timedelta(days=rng.randrange(corpus.days))
        fetched = datetime.datetime.combine(day, datetime.time(rng.randrange(24), rng.randrange(60)), UTC) \
            + datetime.timedelta(hours=rng.randrange(1, 30))
        date_source = DATE_SOURCES[n % len(DATE_SOURCES)]
        published = None if date_source == "none" else fetched - datetime.timedelta(hours=rng.randrange(1, 20))
        url = f"https://{source}/{day.isoformat()}/story-{n}.html"
        article_id = hashlib.sha256(url.encode()).hexdigest()[:32]
        if groups and rng.random() < 0.15:  # a syndicated copy of an earlier story
            group = groups[_zipf_index(rng, len(groups))]
        else:
            group = article_id
            groups.append(article_id)
        text = paragraphs[n % len(paragraphs)] + f" ref {n}"
        mentions, ids = [], set()
        for _ in range(rng.randrange(1, 9)):
            entity = pool[_zipf_index(rng, len(pool))]
            spelling = rng.choice(entity["spellings"][language])
            start = len(text) + 1
            text = f"{text} {spelling}"
            mentions.append({"text": spelling, "label": entity["label"], "start": start, "end": start + len(spelling),
                             "entity_id": entity["id"], "entity_name": entity["name"]})
            ids.add(entity["id"])
        title = corpus.titles[n % len(corpus.titles)] if corpus.titles else \
            f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {rng.choice(WORDS)} ({n})"
        rows.append({
            "article_id": article_id, "url": url, "final_url": url, "canonical_url": url, "source_domain": source,
            "feed_url": f"https://{source}/feed.xml", "feed_title": source, "title": title,
            "authors": ["A. Writer"], "published_at": published, "date_source": date_source, "fetched_at": fetched,
            "http_status": 200, "content_type": "text/html", "encoding": "utf-8", "fetch_attempts": 1,
            "language_score": 0.99, "site_name": source, "description": None, "tags": [], "text": text,
            "word_count": len(text.split()), "content_hash": hashlib.sha256(text.encode()).hexdigest(),
            "duplicate_group": group, "entities": mentions, "entity_ids": sorted(ids),
            "topics": sorted(rng.sample(TOPICS, rng.choice((0, 0, 1, 1, 2)))),
            "extractor": "trafilatura 2.3.1", "run_id": f"run-{n % max(corpus.runs, 1)}",
            "schema_version": ARTICLES_SCHEMA_VERSION,
            "ingest_date": fetched.date().isoformat(), "language": language,
        })
    return rows


def generate_dead_letters(corpus: Corpus) -> List[Dict]:
    rng = random.Random(corpus.seed + 1)
    rows = []
    for n in range(corpus.dead_letters):
        stage, reason = REASONS[_zipf_index(rng, len(REASONS))]
        host = f"news{_zipf_index(rng, corpus.sources)}.example.com"
        failed = datetime.datetime.combine(corpus.start + datetime.timedelta(days=rng.randrange(corpus.days)),
                                           datetime.time(rng.randrange(24)), UTC)
        rows.append({"url": f"https://{host}/page-{n}.html" if n % 17 else f"/data/sources/list-{n}.txt",
                     "feed_url": None, "stage": stage, "reason": reason, "detail": f"{reason} on attempt 3",
                     "http_status": 404 if reason == "http_404" else None, "attempts": 3, "failed_at": failed,
                     "run_id": f"run-{n % max(corpus.runs, 1)}", "schema_version": DEAD_LETTERS_SCHEMA_VERSION,
                     "ingest_date": failed.date().isoformat()})
    return rows


def _write(rows: List[Dict], folder: str, schema: pa.Schema, partitions: Sequence[str]) -> None:
    grouped: Dict[tuple, List[Dict]] = defaultdict(list)
    for row in rows:
        grouped[tuple(row[p] for p in partitions)].append(row)
    for key, members in sorted(grouped.items()):
        path = os.path.join(folder, *(f"{p}={v}" for p, v in zip(partitions, key, strict=True)))
        os.makedirs(path, exist_ok=True)
        table = pa.Table.from_pylist([{k: v for k, v in r.items() if k not in partitions} for r in members],
                                     schema=schema)
        pq.write_table(table, os.path.join(path, "part-generated-0.parquet"), compression="zstd")


def _share(total: int, n: int, parts: int) -> int:
    return total // parts + (1 if n < total % parts else 0)


def write_runs(output: str, corpus: Corpus, articles: int, dead: int) -> None:
    folder = os.path.join(output, "_runs")
    os.makedirs(folder, exist_ok=True)
    for n in range(corpus.runs):
        started = datetime.datetime.combine(corpus.start + datetime.timedelta(days=n), datetime.time(6), UTC)
        manifest = {"run_id": f"run-{n}", "status": "failed" if n == corpus.runs - 1 and n else "succeeded",
                    "started_at": started.isoformat(), "seconds": 30.0 + 7 * n,
                    "counters": {"articles.written": _share(articles, n, corpus.runs),
                                 "dead_letters.written": _share(dead, n, corpus.runs),
                                 "dates.rejected_future": n}}
        with open(os.path.join(folder, f"run-{n}.json"), "w", encoding="utf-8") as handle:
            json.dump(manifest, handle)


def write_output(output: str, corpus: Optional[Corpus] = None) -> Corpus:
    corpus = corpus or Corpus()
    articles = generate_articles(corpus)
    dead = generate_dead_letters(corpus)
    if articles:
        _write(articles, os.path.join(output, "articles"), ARTICLES_SCHEMA, ("ingest_date", "language"))
    if dead:
        _write(dead, os.path.join(output, "dead_letters"), DEAD_LETTERS_SCHEMA, ("ingest_date",))
    if corpus.runs:
        write_runs(output, corpus, len(articles), len(dead))
    return corpus
