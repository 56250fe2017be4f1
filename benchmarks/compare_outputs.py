"""Whether a change to the extraction changes any output: every field `extract_page` returns (text, canonical URL,
title, authors, publication instant, the publisher's day and offset, date source, site name, description, tags),
or its `EmptyText` message and the short text behind it, on all 990 pages of trafilatura's evaluation set and the
130 Mozilla Readability pages, under each extraction strategy, compared between two versions of the code.

    python -m benchmarks.compare_outputs --baseline main       # REF's outputs (in a subprocess) against this tree's
    python -m benchmarks.compare_outputs --write before.jsonl.gz
    python -m benchmarks.compare_outputs --check before.jsonl.gz

`--baseline REF` exports REF's `newsbeam/`, `schemas/` and `benchmarks/` (`git archive`) into a temporary folder,
records their outputs there in a child process, then checks this tree's against them. Exit status 1 and the first
differences printed when any field of any page differs. Corpora as in `benchmarks/eval_extraction.py`.
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import asdict
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence, Tuple

from benchmarks.eval_extraction import (
    CORPORA,
    READABILITY_ARCHIVE,
    REPO,
    TRAFILATURA_ARCHIVE,
    load_readability_set,
    load_trafilatura_set,
    unpack,
)
from newsbeam import extraction
from newsbeam.extraction import EmptyText, ExtractionSettings, extract_page, main_text
from trafilatura.utils import load_html

FAR = datetime(2030, 1, 1, tzinfo=timezone.utc)  # no page's date lies after it
EARLY = datetime(2016, 6, 1, tzinfo=timezone.utc)  # many do: the checks against the fetch time are exercised
# name: (settings, fetch time)
CONFIGS = {
    "learned": (ExtractionSettings(timeout=0), FAR),
    "learned-2016": (ExtractionSettings(timeout=0), EARLY),
    "guarded": (ExtractionSettings(strategy="guarded", timeout=0), FAR),
    "balanced": (ExtractionSettings(strategy="balanced", timeout=0), FAR),
    "precision": (ExtractionSettings(strategy="precision", timeout=0), FAR),
}


def _pages(work: Path, corpora: Path, limit: Optional[int]) -> Iterator[Tuple[str, str, str]]:
    """(key, url, html) of every page of both corpora, in a fixed order."""
    traf = load_trafilatura_set(unpack(corpora / TRAFILATURA_ARCHIVE, work))
    read = load_readability_set(unpack(corpora / READABILITY_ARCHIVE, work))
    pages = [(f"trafilatura/{p.url}", p.url, p.html) for p in traf]
    pages += [(f"readability/{p.name}", f"http://fakehost/{p.name}/", p.html) for p in read]
    return iter(pages[:limit] if limit else pages)


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def outputs(work: Path, corpora: Path, configs: Sequence[str], limit: Optional[int] = None) -> Iterator[Dict]:
    """One record a page and configuration: the `PageContent` fields, or the `EmptyText` message and main text."""
    for key, url, html in _pages(work, corpora, limit):
        for name in configs:
            settings, fetched_at = CONFIGS[name]
            record = {"key": f"{key}#{name}"}
            try:
                content = extract_page(html, url, settings, fetched_at)
                record.update({field: _plain(value) for field, value in asdict(content).items()})
            except EmptyText as error:
                tree = load_html(html)
                record["empty_text"] = str(error)
                record["text"] = main_text(tree, url, settings, html) if tree is not None else None
            yield record


def write(path: Path, work: Path, corpora: Path, configs: Sequence[str], limit: Optional[int]) -> int:
    count = 0
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for record in outputs(work, corpora, configs, limit):
            out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    print(f"{count} outputs of {extraction.__file__} written to {path}")
    return 0


def check(path: Path, work: Path, corpora: Path, configs: Sequence[str], limit: Optional[int],
          show: int = 20) -> int:
    with gzip.open(path, "rt", encoding="utf-8") as records:
        expected = {record["key"]: record for record in map(json.loads, records)}
    compared = differing = 0
    for record in outputs(work, corpora, configs, limit):
        record = json.loads(json.dumps(record, ensure_ascii=False))  # the same JSON round trip as the file's
        before = expected.pop(record["key"], None)
        compared += 1
        if before != record:
            differing += 1
            if differing <= show:
                fields = sorted(k for k in set(record) | set(before or {}) if (before or {}).get(k) != record.get(k))
                print(f"DIFFERS {record['key']}: " + "; ".join(
                    f"{k}: {str((before or {}).get(k))[:200]!r} -> {str(record.get(k))[:200]!r}" for k in fields))
    missing = len(expected)
    print(f"{compared} outputs compared ({len(configs)} configurations): {differing} differ, {missing} of the record "
          f"not produced")
    return 1 if differing or missing else 0


def _export(ref: str, into: Path) -> None:
    """REF's newsbeam/ (with schemas/ inside it, as installed) and benchmarks/ under `into`."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref, "newsbeam", "schemas",
                              "benchmarks"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "schemas").rename(into / "newsbeam" / "schemas")
    # this harness, whatever REF's benchmarks hold: it calls only `extract_page` and `main_text` of REF's code
    (into / "benchmarks" / "compare_outputs.py").write_bytes(Path(__file__).read_bytes())


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--baseline", metavar="REF", help="compare with git revision REF's outputs")
    action.add_argument("--write", type=Path, metavar="FILE", help="record this tree's outputs")
    action.add_argument("--check", type=Path, metavar="FILE", help="compare this tree's outputs with a record")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages (a quick try)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsbeam-eval"), help="where corpora are unpacked")
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    common = (args.work, args.corpora, args.configs, args.limit)
    if args.write:
        return write(args.write, *common)
    if args.check:
        return check(args.check, *common)
    with tempfile.TemporaryDirectory(prefix="newsbeam-baseline-") as folder:
        root = Path(folder)
        _export(args.baseline, root)
        record = root / "outputs.jsonl.gz"
        command = [sys.executable, "-m", "benchmarks.compare_outputs", "--write", str(record), "--work",
                   str(args.work), "--corpora", str(args.corpora), "--configs", *args.configs]
        if args.limit:
            command += ["--limit", str(args.limit)]
        # the exported code first on the path: it shadows this tree's editable install
        env = {**os.environ, "PYTHONPATH": folder}
        subprocess.run(command, check=True, cwd=folder, env=env)
        return check(record, *common)


if __name__ == "__main__":
    sys.exit(main())
