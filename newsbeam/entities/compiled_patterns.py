"""A disk cache of the spaCy tokenizers' compiled regular expressions.

Why: loading the French model imports spaCy's French language data, which compiles one regular expression
(`TOKEN_MATCH`: hyphenated and elided words over Unicode letter classes, case-insensitive) with Python's regex
compiler, written in Python: ~2.4 s of CPU in every worker process of every run, ten times the model's own load.
The compiled form is a list of integers (the SRE engine's program) that `_sre.compile` turns into a pattern
object in microseconds. After a model's first load its tokenizer's programs are stored; on later loads the
pattern objects are put into `re`'s own cache just before spaCy compiles them, so `re.compile` finds them there.

Safe by construction: a program is stored with its pattern text and used only for that text, under a file key
that includes the Python build and the SRE engine's magic number and code size; `_sre.compile` validates the
program; the file is JSON (nothing runs when it is read) and, like the gazetteer cache, read only when owned by
this user in a directory nobody else can write. Anything unexpected (another `re` layout, a bad file) costs the
normal compile, never a failed load. The directory is the gazetteer cache's (`EntitySettings.gazetteer_cache`).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional

try:  # CPython's regex engine; absent elsewhere, where this module does nothing
    import _sre
    from re import _compiler, _parser
except ImportError:  # pragma: no cover
    _sre = None

from newsbeam.entities import cache as cache_files

LOG = logging.getLogger(__name__)
FORMAT = 1
# the tokenizer attributes that hold a compiled pattern's bound method (`Pattern.match`, `.search`, `.finditer`)
_TOKENIZER_PATTERNS = ("token_match", "url_match", "prefix_search", "suffix_search", "infix_finditer")


def cache_path(spec, directory: Path) -> Path:
    engine = f"{FORMAT}|{sys.version}|{getattr(_sre, 'MAGIC', '')}|{getattr(_sre, 'CODESIZE', '')}|{sys.maxunicode}"
    key = hashlib.sha256(f"{engine}|{spec.package}|{spec.version}".encode()).hexdigest()[:32]
    return directory / f"regex-{spec.package}-{key}.json"


def _program(pattern: str, flags: int) -> Dict:
    """What `re._compiler.compile` hands to `_sre.compile`, as JSON-ready values."""
    parsed = _parser.parse(pattern, flags)
    code = _compiler._code(parsed, flags)
    indexgroup: List[Optional[str]] = [None] * parsed.state.groups
    for name, index in parsed.state.groupdict.items():
        indexgroup[index] = name
    return {"pattern": pattern, "flags": flags, "final_flags": flags | parsed.state.flags, "code": list(code),
            "groups": parsed.state.groups - 1, "groupindex": dict(parsed.state.groupdict), "indexgroup": indexgroup}


def _build(program: Dict) -> re.Pattern:
    return _sre.compile(program["pattern"], program["final_flags"], program["code"], program["groups"],
                        program["groupindex"], tuple(program["indexgroup"]))


def _read(path: Path) -> List[Dict]:
    try:
        if not path.exists():
            return []
        if not cache_files.trusted(path):
            LOG.warning("regex cache %s: not owned by this user or writable by others; ignored", path)
            return []
        return json.loads(path.read_text(encoding="utf-8"))["programs"]
    except Exception as error:  # noqa: BLE001 - a bad file costs the normal compile
        LOG.warning("regex cache %s unreadable (%s: %s); ignored", path, type(error).__name__, error)
        return []


def prime(programs: List[Dict]) -> int:
    """Puts each program's pattern object into `re`'s cache; returns how many `re.compile` now returns as is."""
    primed = 0
    for program in programs:
        try:
            pattern = _build(program)
            key = (str, program["pattern"], program["flags"])
            re._cache[key] = pattern  # type: ignore[attr-defined]
            if re.compile(program["pattern"], program["flags"]) is not pattern:
                return primed  # another `re` layout: the normal compile (which that call just did) from here on
            primed += 1
        except Exception as error:  # noqa: BLE001 - a bad entry costs the normal compile
            LOG.debug("regex cache entry not usable: %s: %s", type(error).__name__, error)
    return primed


@contextlib.contextmanager
def primed(spec, directory: Optional[Path]) -> Iterator[int]:
    """Around a model's load: its stored programs are in `re`'s cache (yields how many)."""
    count = prime(_read(cache_path(spec, directory))) if directory is not None and _sre is not None else 0
    yield count


def remember(spec, tokenizer, directory: Optional[Path]) -> None:
    """After a model's load: stores its tokenizer's programs unless the file already has them all. Recompiling
    them costs once what a load costs (the first load on a machine, or after an upgrade)."""
    if directory is None or _sre is None:
        return
    path = cache_path(spec, directory)
    if path.exists():  # the file names the model's version: its patterns cannot have changed
        return
    patterns = [getattr(getattr(tokenizer, name, None), "__self__", None) for name in _TOKENIZER_PATTERNS]
    patterns = list({p.pattern: p for p in patterns
                     if isinstance(p, re.Pattern) and isinstance(p.pattern, str)}.values())
    programs = []
    try:
        for pattern in patterns:
            # spaCy compiles with inline flags only (`(?iu)...`): stored under flags 0 when that gives this object
            program = _program(pattern.pattern, 0)
            if _build(program) == pattern:  # same text, flags and program
                programs.append(program)
    except Exception as error:  # noqa: BLE001 - nothing stored, the next load compiles as usual
        LOG.info("regex cache for %s not written: %s: %s", spec.package, type(error).__name__, error)
        return
    cache_files.write_private(path, lambda out: out.write(json.dumps({"programs": programs}).encode()),
                              "regex cache")
