"""The manuals against the code: dead-letter reason codes (newsbeam/reasons.py), exit codes (the lifecycle) and the
output columns (schemas/). Reads text and constants only; no pipeline runs."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pyarrow as pa

from newsbeam import reasons
from newsbeam.schemas import datasets

ROOT = Path(__file__).resolve().parents[1]
MANUALS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMPLETE = ROOT / "docs" / "architecture.md"  # the table of every reason code
STAGES = {reasons.STAGE_SOURCE, reasons.STAGE_FEED, reasons.STAGE_FETCH, reasons.STAGE_EXTRACT, reasons.STAGE_DEDUP}
# how the manuals write families of codes
FAMILIES = {"http_<code>": r"http_[1-4]\d\d", "feed_<fetch reason>": r"feed_\w+", "sitemap_*": r"sitemap_\w+",
            "json_feed_*": r"json_feed_\w+"}


def _codes() -> Set[str]:
    return {value for name, value in vars(reasons).items()
            if name.isupper() and isinstance(value, str) and not name.startswith("STAGE_")}


def _exists(code: str) -> bool:
    codes = _codes()
    if code in codes or code in FAMILIES:
        return True
    if re.fullmatch(r"(feed_)?http_[1-4]\d\d", code):
        return True
    return code.startswith("feed_") and _exists(code[len("feed_"):])


def _cells(line: str) -> List[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def _tables(path: Path) -> Iterator[Tuple[int, List[str], List[str]]]:
    """(line number, lower-cased header, cells) of every table row."""
    header = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.startswith("|"):
            header = None
        elif header is None:
            header = [cell.lower() for cell in _cells(line)]
        elif not set(line) <= set("|-: "):
            yield number, header, _cells(line)


def _reason_rows(path: Path) -> Iterator[Tuple[int, str, str, str]]:
    """(line, stage, code, meaning) of reason-code tables: a `reason` column, or a `code` column of words."""
    for number, header, cells in _tables(path):
        column = next((i for i, name in enumerate(header) if name in ("reason", "code")), None)
        if column is None or not re.fullmatch(r"`[a-z][\w<>*]*`", cells[column]):
            continue  # exit-code tables hold numbers
        stage = cells[header.index("stage")].strip("`") if "stage" in header else ""
        yield number, stage, cells[column].strip("`"), cells[-1]


def test_every_reason_code_is_in_the_complete_table_with_a_meaning():
    rows = list(_reason_rows(COMPLETE))
    documented = {code for _, _, code, meaning in rows if meaning}
    # not_a_feed only ever reaches a dead letter as feed_not_a_feed
    missing = sorted(code for code in _codes() if code not in documented and f"feed_{code}" not in documented)
    assert not missing, f"reason codes missing from {COMPLETE.name}'s table: {missing}"
    assert {stage for _, stage, _, _ in rows} == STAGES


def test_no_manual_lists_a_code_that_does_not_exist():
    wrong = [f"{path.relative_to(ROOT)}:{number}: {code}" for path in MANUALS
             for number, stage, code, _ in _reason_rows(path) if not _exists(code) or stage and stage not in STAGES]
    prose = [f"{path.relative_to(ROOT)}: {code}" for path in MANUALS
             for code in re.findall(r"`((?:feed_)?[a-z]+_[a-z_]+|timeout)`", _reason_prose(path))
             if not _exists(code)]
    assert not wrong + prose, "\n".join(wrong + prose)


def _reason_prose(path: Path) -> str:
    """README's 'Common reasons: ...' sentence, up to the next full stop that ends it."""
    text = path.read_text(encoding="utf-8")
    start = text.find("Common reasons:")
    return text[start:text.index("Codes are never", start)] if start >= 0 else ""


def test_the_checks_catch_drift():
    assert _exists("feed_http_404") and _exists("feed_not_a_feed") and _exists("http_410")
    assert not _exists("http_504") and not _exists("feed_nonsense") and not _exists("robots_forbidden")


# exit codes

def _exit_table(path: Path) -> Dict[int, str]:
    table = {}
    for _, header, cells in _tables(path):
        if header[0] == "code" and re.fullmatch(r"\d+( / \d+)?", cells[0]):
            for code in cells[0].split(" / "):
                table[int(code)] = cells[-1]
    return table


def _exit_codes() -> Set[int]:
    from newsbeam.pipelines import lifecycle

    codes = {value for name, value in vars(lifecycle).items() if name.startswith("EXIT_") and isinstance(value, int)}
    import signal

    return codes | {lifecycle.signal_exit_code(signal.SIGINT), lifecycle.signal_exit_code(signal.SIGTERM)}


def test_the_exit_code_tables_match_the_lifecycle():
    from newsbeam.pipelines import cli

    codes = _exit_codes()
    assert codes == {0, 1, 2, 3, 4, 130, 143}
    for path in (ROOT / "README.md", ROOT / "docs" / "operations.md"):
        assert set(_exit_table(path)) == codes, path.name
    listed = {int(code) for code in re.findall(r"^  (\d+) ", cli.EPILOG, re.MULTILINE)} | {143}
    assert listed == codes  # --help's table (143 shares 130's line)


# output columns

def _documented_columns(path: Path, dataset: str) -> Dict[str, str]:
    """column → type cell of the `| column | type | meaning |` table under the dataset's heading or bold title."""
    text = path.read_text(encoding="utf-8")
    start = re.search(rf"(### |\*\*)`{dataset}`(\*\*)? \(schema version (\d+)", text)
    assert start, f"{path.name}: no {dataset} section"
    columns: Dict[str, str] = {}
    for line in text[start.end():].splitlines()[1:]:
        if line.startswith("#") or (columns and not line.startswith("|")):
            break
        if line.startswith("| `"):
            cells = _cells(line)
            names = re.findall(r"`(\w+)`", cells[0])
            types = _split_types(cells[1])
            for i, name in enumerate(names):
                columns[name] = types[i] if len(types) == len(names) else (types[0] if len(types) == 1 else "")
    return columns


def _split_types(cell: str) -> List[str]:
    """'string, list<struct<a, b>>, timestamp[us, UTC]' → its three types (commas inside <> and [] stay)."""
    types, depth, current = [], 0, ""
    for char in cell:
        depth += (char in "<[") - (char in ">]")
        if char == "," and depth == 0:
            types.append(current.strip())
            current = ""
        else:
            current += char
    return [*types, current.strip()] if cell else []


def _version(path: Path, dataset: str) -> int:
    text = path.read_text(encoding="utf-8")
    return int(re.search(rf"`{dataset}`(?:\*\*)? \(schema version (\d+)", text).group(1))


ARROW_NAMES = {"string": pa.string(), "int16": pa.int16(), "int32": pa.int32(), "int64": pa.int64(),
               "float": pa.float32(), "date": pa.date32(), "date32": pa.date32(),
               "list<string>": pa.list_(pa.string())}


def _type_matches(written: str, actual: pa.DataType) -> bool:
    written = written.replace(" (UTC)", "").strip()
    if written.startswith("timestamp"):
        return pa.types.is_timestamp(actual) and actual.tz == "UTC"
    if written.startswith("list<struct<"):
        fields = re.findall(r"\w+", written[len("list<struct<"):])
        return pa.types.is_list(actual) and [f.name for f in actual.value_type] == fields
    if written in ("", "list", "partition"):
        return True  # "string, list" style summaries and partition columns state no exact type
    return ARROW_NAMES.get(written) == actual


def test_the_column_tables_match_the_schemas():
    problems = []
    for path, dataset, schema, version, partitions in [
        (COMPLETE, "articles", datasets.ARTICLES_SCHEMA, datasets.ARTICLES_SCHEMA_VERSION, ("ingest_date", "language")),
        (ROOT / "README.md", "articles", datasets.ARTICLES_SCHEMA, datasets.ARTICLES_SCHEMA_VERSION,
         ("ingest_date", "language")),
        (COMPLETE, "dead_letters", datasets.DEAD_LETTERS_SCHEMA, datasets.DEAD_LETTERS_SCHEMA_VERSION,
         ("ingest_date",)),
    ]:
        documented = _documented_columns(path, dataset)
        expected = {field.name for field in schema} | set(partitions)
        if set(documented) != expected:
            problems.append(f"{path.name} {dataset}: missing {sorted(expected - set(documented))}, "
                            f"not in the schema {sorted(set(documented) - expected)}")
        for field in schema:
            if field.name in documented and not _type_matches(documented[field.name], field.type):
                problems.append(f"{path.name} {dataset}.{field.name}: documented {documented[field.name]!r}, "
                                f"the schema has {field.type}")
        if _version(path, dataset) != version:
            problems.append(f"{path.name} {dataset}: schema version {_version(path, dataset)}, the code has {version}")
    assert not problems, "\n".join(problems)


def test_readme_names_every_dead_letter_column():
    """README describes dead_letters in a sentence: every column is named there (the WARC ones as `warc_*`)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("**`dead_letters`**")
    sentence = text[start:text.index("Common reasons", start)]
    assert _version(ROOT / "README.md", "dead_letters") == datasets.DEAD_LETTERS_SCHEMA_VERSION
    named = set(re.findall(r"`(\w+)`", sentence))
    missing = [f.name for f in datasets.DEAD_LETTERS_SCHEMA if f.name not in named and not f.name.startswith("warc_")]
    assert not missing and "`warc_*`" in sentence, missing


def test_the_date_sources_are_all_documented():
    from newsbeam import dates

    values = {value for name, value in vars(dates).items() if name.startswith("SOURCE_") and isinstance(value, str)}
    row = next(line for line in COMPLETE.read_text(encoding="utf-8").splitlines() if line.startswith("| `date_source`"))
    assert set(re.findall(r"`([\w:-]+)`", _cells(row)[-1])) == values
    readme = next(line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
                  if line.startswith("| `published_at`, `date_source`"))
    assert set(re.findall(r"`([\w:-]+)`", _cells(readme)[-1].split("came from", 1)[1])) <= values
