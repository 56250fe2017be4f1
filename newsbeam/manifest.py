"""Run manifests (`OUT/_runs/<run_id>.json`) and the accounting check behind a run's status."""
from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Dict, List, Mapping, Tuple

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from newsbeam import __version__, reasons
from newsbeam.atomic import write_bytes

MANIFEST_FOLDER = "_runs"
_LIBRARIES = ("apache-beam", "trafilatura", "feedparser", "langdetect", "pyarrow", "courlan", "htmldate", "protego",
              "listparser", "urllib3")


def library_versions() -> Dict[str, str]:
    versions = {"newsbeam": __version__, "python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def manifest_path(output: str, run_id: str) -> str:
    return FileSystems.join(output, MANIFEST_FOLDER, f"{run_id}.json")


def write_json(path: str, payload: Mapping[str, Any]) -> None:
    """Atomic: a reader sees the old manifest or the new one, never half of one."""
    write_bytes(path, json.dumps(payload, indent=2, sort_keys=True, default=str).encode("utf-8"), "application/json")


def read_manifests(output: str) -> List[Dict[str, Any]]:
    pattern = FileSystems.join(output, MANIFEST_FOLDER, "*.json")
    manifests = []
    for result in FileSystems.match([pattern]):
        for meta in result.metadata_list:
            with FileSystems.open(meta.path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
                try:
                    manifests.append(json.loads(handle.read().decode("utf-8")))
                except ValueError:
                    continue  # a foreign or damaged file must not hide the others
    return sorted(manifests, key=lambda m: m.get("started_at", ""))


@dataclass(frozen=True)
class Accounting:
    """Every article candidate ends in exactly one place:

    items.in      = items.unique + items.duplicate
    items.unique  = items.to_fetch + items.skipped.*    (written or given up earlier, waiting, outside, over cap)
    items.to_fetch = articles.written + article dead letters + articles.dropped.*

    and, when archiving, every fetched URL's responses are in a committed WARC file:
    warc.entries = warc.entries_written
    """

    counters: Mapping[str, int]

    def _sum(self, prefix: str) -> int:
        return sum(v for k, v in self.counters.items() if k.startswith(prefix))

    @property
    def article_dead_letters(self) -> int:
        return sum(self.counters.get(f"dead_letters.written.{stage}", 0) for stage in reasons.ARTICLE_STAGES)

    @property
    def checks(self) -> Dict[str, Tuple[int, int]]:
        c = self.counters.get
        return {
            "items.in = unique + duplicate": (c("items.in", 0), c("items.unique", 0) + c("items.duplicate", 0)),
            "items.unique = to_fetch + skipped": (
                c("items.unique", 0), c("items.to_fetch", 0) + self._sum("items.skipped.")),
            "items.to_fetch = written + dead letters + dropped": (
                c("items.to_fetch", 0), c("articles.written", 0) + self.article_dead_letters
                + self._sum("articles.dropped.")),
            **({"warc.entries = entries_written": (c("warc.entries", 0), c("warc.entries_written", 0))}
               if "warc.entries" in self.counters else {}),
        }

    @property
    def balanced(self) -> bool:
        return all(left == right for left, right in self.checks.values())

    def as_dict(self) -> Dict[str, Any]:
        c = self.counters.get
        return {
            "items_in": c("items.in", 0),
            "items_duplicate": c("items.duplicate", 0),
            "items_unique": c("items.unique", 0),
            "items_skipped": {k[len("items.skipped."):]: v for k, v in self.counters.items()
                              if k.startswith("items.skipped.")},
            "items_to_fetch": c("items.to_fetch", 0),
            "articles_written": c("articles.written", 0),
            "article_dead_letters": self.article_dead_letters,
            "articles_dropped": {k[len("articles.dropped."):]: v for k, v in self.counters.items()
                                 if k.startswith("articles.dropped.")},
            "feed_and_source_dead_letters": c("dead_letters.written", 0) - self.article_dead_letters,
            "checks": {name: {"left": left, "right": right} for name, (left, right) in self.checks.items()},
            "balanced": self.balanced,
        }


def account(counters: Mapping[str, int]) -> Accounting:
    return Accounting(dict(counters))
