"""Whether two runs of the pipeline over the same pages wrote the same output: every article and dead-letter row,
the WARC records and the manifest's accounting. For A/B runs of `bench_pipeline.py --workdir` (base and branch):

    python -m benchmarks.compare_runs BASE_WORKDIR/out-multi BRANCH_WORKDIR/out-multi

What differs from run to run by design is left out: times, run ids, WARC offsets and record ids, and the page
server's port (each run has its own). Ids hash the URL with its port, so rows are matched by URL, and a
near-duplicate group (named by its smallest id) is compared by its members. Exit status 1 when anything differs.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
from typing import Any, Dict, List

import pyarrow.parquet as pq
from warcio.archiveiterator import ArchiveIterator

PORT = re.compile(r"127\.0\.0\.1:\d+")
VOLATILE = {"fetched_at", "failed_at", "warc_record_id", "warc_record_offset", "warc_record_length", "warc_filename",
            "article_id", "duplicate_group"}


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return PORT.sub("HOST", value)
    if isinstance(value, list):
        return [_norm(item) for item in value]
    if isinstance(value, dict):
        return {key: _norm(item) for key, item in value.items()}
    return value


def dataset(root: str, name: str) -> Dict[str, Dict[tuple, dict]]:
    """{file (run id left out): {(url, stage, reason): the row, normalised}}."""
    tables: Dict[str, List[dict]] = {}
    for path in sorted(glob.glob(f"{root}/{name}/**/*.parquet", recursive=True)):
        folder, file = os.path.split(os.path.relpath(path, root))
        tables[f"{folder}/{file.rsplit('-', 1)[-1]}"] = pq.read_table(path).to_pylist()
    members: Dict[str, set] = {}
    for rows in tables.values():
        for row in rows:
            if "duplicate_group" in row:
                members.setdefault(row["duplicate_group"], set()).add(_norm(row["url"]))
    found = {}
    for file, rows in tables.items():
        keyed = {}
        for row in rows:
            kept = _norm({key: value for key, value in row.items() if key not in VOLATILE})
            kept["has_warc_record"] = row.get("warc_record_id") is not None
            if "duplicate_group" in row:
                kept["group_members"] = sorted(members[row["duplicate_group"]])
            key = (_norm(row["url"]), row.get("stage"), row.get("reason"))
            if key in keyed:
                raise ValueError(f"{root}: {key} twice in {file}")
            keyed[key] = kept
        found[file] = keyed
    return found


def warc_records(root: str) -> Dict[str, List[str]]:
    records: Dict[str, List[str]] = {}
    for path in glob.glob(f"{root}/warc/**/*.warc.gz", recursive=True):
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                uri = _norm(record.rec_headers.get_header("WARC-Target-URI") or "")
                records.setdefault(record.rec_type, []).append(uri)
    return {kind: sorted(uris) for kind, uris in records.items()}


def accounting(root: str) -> dict:
    (manifest,) = glob.glob(f"{root}/_runs/*.json")
    with open(manifest) as handle:
        return json.load(handle)["accounting"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("base")
    parser.add_argument("other")
    args = parser.parse_args()
    same = True
    for name in ("articles", "dead_letters"):
        base, other = dataset(args.base, name), dataset(args.other, name)
        equal = base == other
        print(f"{name}: {len(base)} / {len(other)} files, {sum(map(len, base.values()))} / "
              f"{sum(map(len, other.values()))} rows: {'identical' if equal else 'DIFFERENT'}")
        for file in sorted(set(base) | set(other)):
            if base.get(file) != other.get(file):
                print(f"  differs: {file}")
        same &= equal
    base, other = warc_records(args.base), warc_records(args.other)
    print(f"WARC records: {', '.join(f'{kind} {len(uris)}' for kind, uris in sorted(base.items()))}: "
          f"{'identical' if base == other else 'DIFFERENT'}")
    same &= base == other
    base, other = accounting(args.base), accounting(args.other)
    print(f"accounting (balanced: {base.get('balanced')}, {base.get('articles_written')} articles): "
          f"{'identical' if base == other else 'DIFFERENT'}")
    same &= base == other
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
