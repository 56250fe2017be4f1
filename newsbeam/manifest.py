"""Run manifests (`OUT/_runs/<run_id>.json`) and the accounting check behind a run's status."""
from __future__ import annotations

import json
import platform
import uuid
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Dict, List, Mapping

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from newsbeam import __version__, reasons

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
    directory, name = path.rsplit("/", 1)
    temporary = FileSystems.join(directory, f".{name}.{uuid.uuid4().hex}.inprogress")
    with FileSystems.create(temporary, mime_type="application/json",
                            compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.write(json.dumps(payload, indent=2, sort_keys=True, default=str).encode("utf-8"))
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([temporary], [path])


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
    """Every article candidate is one row: unique = articles + article dead letters."""

    items_in: int
    items_unique: int
    items_duplicate: int
    articles_written: int
    article_dead_letters: int
    other_dead_letters: int

    @property
    def balanced(self) -> bool:
        return (self.items_in == self.items_unique + self.items_duplicate
                and self.items_unique == self.articles_written + self.article_dead_letters)

    def as_dict(self) -> Dict[str, Any]:
        return {
            "items_in": self.items_in,
            "items_unique": self.items_unique,
            "items_duplicate": self.items_duplicate,
            "articles_written": self.articles_written,
            "article_dead_letters": self.article_dead_letters,
            "feed_and_source_dead_letters": self.other_dead_letters,
            "balanced": self.balanced,
        }


def account(counters: Mapping[str, int]) -> Accounting:
    article_dead = sum(counters.get(f"dead_letters.written.{stage}", 0) for stage in reasons.ARTICLE_STAGES)
    return Accounting(
        items_in=counters.get("items.in", 0),
        items_unique=counters.get("items.unique", 0),
        items_duplicate=counters.get("items.duplicate", 0),
        articles_written=counters.get("articles.written", 0),
        article_dead_letters=article_dead,
        other_dead_letters=counters.get("dead_letters.written", 0) - article_dead,
    )
