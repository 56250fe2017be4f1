"""A disk cache of dateparser's per-locale regular expressions.

Why: htmldate's extensive search hands free-text dates to dateparser, which checks them against each of its ~200
locales; the first check of a locale compiles that locale's word-splitting expressions (the `regex` module's
compiler, written in Python). In a fresh process that is ~1.6 s of CPU over its first hundred pages, paid by every
worker and again by the extraction watchdog's child. dateparser keeps them in class-level dictionaries of
`dateparser.languages.dictionary.Dictionary`, keyed by the dictionary's class and skip tokens (not by anything
process-specific). A `regex` pattern pickles with its compiled program, so unpickling does not compile again.

This module stores those dictionaries after a worker has used them (`save`) and fills them in a new process
before its first page (`load`), adding only entries the process does not have. The file's name is keyed by the
versions of dateparser, regex and Python, so an upgrade never meets a stale file; it is read only when owned by
this user in a directory nobody else can write (unpickling runs code), as the gazetteer cache is. Anything
unexpected costs the normal compile, never a failed page. The directory is the gazetteer cache's
(`NEWSBEAM_CACHE_DIR`, default ~/.cache/newsbeam).
"""
from __future__ import annotations

import hashlib
import logging
import pickle
import sys
from importlib import metadata
from pathlib import Path
from typing import Dict, Optional

from newsbeam.entities import cache as cache_files

LOG = logging.getLogger(__name__)
FORMAT = 1
_CACHES = ("_split_regex_cache", "_sorted_words_cache", "_split_relative_regex_cache",
           "_sorted_relative_strings_cache", "_match_relative_regex_cache")


def default_directory() -> Optional[Path]:
    return cache_files.resolve_directory(cache_files.AUTO)


def cache_path(directory: Path) -> Path:
    versions = [f"{name}={_version(name)}" for name in ("dateparser", "regex")]
    key = hashlib.sha256(f"{FORMAT}|{sys.version}|{'|'.join(versions)}".encode()).hexdigest()[:32]
    return directory / f"dateparser-{key}.pickle"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def _dictionary_class():
    from dateparser.languages.dictionary import Dictionary

    return Dictionary


def entry_count() -> int:
    """Locale entries in this process's dateparser caches."""
    dictionary = _dictionary_class()
    with dictionary._cache_lock:
        return sum(len(per_key) for name in _CACHES for per_key in getattr(dictionary, name).values())


def _snapshot() -> Dict[str, Dict]:
    dictionary = _dictionary_class()
    with dictionary._cache_lock:
        return {name: {key: dict(per_key) for key, per_key in getattr(dictionary, name).items()} for name in _CACHES}


def _read(path: Path) -> Optional[Dict[str, Dict]]:
    try:
        if not path.exists():
            return None
        if not cache_files.trusted(path):
            LOG.warning("dateparser cache %s: not owned by this user or writable by others; ignored", path)
            return None
        with path.open("rb") as handle:
            data = pickle.load(handle)
        return data if isinstance(data, dict) else None
    except Exception as error:  # noqa: BLE001 - a bad file costs the normal compile
        LOG.warning("dateparser cache %s unreadable (%s: %s); ignored", path, type(error).__name__, error)
        return None


def load(directory: Optional[Path]) -> int:
    """Adds the stored entries this process lacks to dateparser's caches; returns how many were added."""
    if directory is None:
        return 0
    data = _read(cache_path(directory))
    if not data:
        return 0
    dictionary = _dictionary_class()
    added = 0
    with dictionary._cache_lock:
        for name in _CACHES:
            cache = getattr(dictionary, name)
            for key, stored in (data.get(name) or {}).items():
                current = cache.setdefault(key, {})
                for locale, value in stored.items():
                    if locale not in current:
                        current[locale] = value
                        added += 1
    return added


def save(directory: Optional[Path]) -> bool:
    """Stores this process's entries, merged with the file's; returns whether the file was (re)written."""
    if directory is None:
        return False
    path = cache_path(directory)
    merged = _snapshot()
    stored = _read(path) or {}
    new = False
    for name in _CACHES:
        for key, per_key in merged[name].items():
            old = (stored.get(name) or {}).get(key, {})
            new = new or any(locale not in old for locale in per_key)
            per_key.update({locale: value for locale, value in old.items() if locale not in per_key})
        for key, old in (stored.get(name) or {}).items():
            merged[name].setdefault(key, dict(old))
    if not new:
        return False
    cache_files.write_private(path, lambda out: pickle.dump(merged, out, protocol=pickle.HIGHEST_PROTOCOL),
                              "dateparser cache")
    return True


class Warm:
    """Per DoFn instance: loads the stored entries at set-up, saves what the instance's pages added at the end of
    each bundle that added some (a few milliseconds; at most once per bundle)."""

    def __init__(self, directory: Optional[Path]):
        self._directory = directory
        self._count = 0

    def load(self) -> None:
        try:
            load(self._directory)
            self._count = entry_count()
        except Exception as error:  # noqa: BLE001 - a cache, never a failure
            LOG.info("dateparser cache not loaded: %s: %s", type(error).__name__, error)

    def save_if_grown(self) -> None:
        try:
            count = entry_count()
            if count > self._count:
                save(self._directory)
                self._count = count
        except Exception as error:  # noqa: BLE001 - a cache, never a failure
            LOG.info("dateparser cache not saved: %s: %s", type(error).__name__, error)


def load_default() -> int:
    """For the watchdog's child: the stored entries from the default directory."""
    try:
        return load(default_directory())
    except Exception as error:  # noqa: BLE001 - a cache, never a failure
        LOG.info("dateparser cache not loaded: %s: %s", type(error).__name__, error)
        return 0
