"""The manuals against the CLI: every option of every command is documented with the default the code has, and
every `--option` the manuals mention exists. Parses the parsers only; no pipeline runs."""
from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

from newsbeam.pipelines import cli

ROOT = Path(__file__).resolve().parents[1]
MANUALS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REFERENCE = ROOT / "docs" / "operations.md"
# `--x` in prose or code, not inside a word ('a--b') nor a table rule ('|---|')
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9_-]*[a-z0-9]")

# Options the manuals quote that are neither newsbeam's, Beam's nor a benchmark script's, each with why.
OTHER = {
    "--precision": "trafilatura's CLI, quoted in throughput.md",
    "--fast": "trafilatura's CLI, quoted in throughput.md",
    "--no-comments": "trafilatura's CLI, quoted in throughput.md",
    "--with-metadata": "trafilatura's CLI, quoted in throughput.md",
    "--out": "operations.md: the example of an abbreviation that is refused",
    "--host-dealy": "operations.md: the example of a typo that is refused",
}


def _long_options(action: argparse.Action) -> List[str]:
    return [option for option in action.option_strings if option.startswith("--")]


def _documentable(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if action.option_strings and not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield action


@pytest.fixture(scope="module")
def commands() -> Dict[str, argparse.ArgumentParser]:
    return dict(cli._subparsers(cli._parser()))


@pytest.fixture(scope="module")
def cli_options(commands) -> Dict[str, List[argparse.Action]]:
    """Every spelling of every newsbeam option (all commands and the top level), with its actions."""
    found: Dict[str, List[argparse.Action]] = {}
    for parser in [cli._parser(), *commands.values()]:
        for action in parser._actions:
            for option in action.option_strings:
                found.setdefault(option, []).append(action)
    return found


def _script_options() -> Set[str]:
    """The options the benchmark and evaluation scripts declare (the manuals quote their commands)."""
    found = set()
    for script in (ROOT / "benchmarks").glob("*.py"):
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
                found.update(arg.value for arg in node.args
                             if isinstance(arg, ast.Constant) and str(arg.value).startswith("--"))
    return found


def _mentions() -> Iterator[Tuple[str, int, str]]:
    for path in MANUALS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for option in OPTION.findall(line):
                yield f"{path.relative_to(ROOT)}:{number}", number, option


def _cells(line: str) -> List[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def _option_tables(path: Path) -> Iterator[Tuple[str, str, str, str]]:
    """(where, heading, option cell, default cell) of every table whose columns start `option | default`."""
    heading, header, where = "", None, ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if not line.startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            header = [cell.lower() for cell in cells]
            continue
        if set(line) <= set("|-: "):
            continue
        if header[:2] == ["option", "default"]:
            where = f"{path.relative_to(ROOT)}:{number}"
            yield where, heading, cells[0], cells[1]


def _pairs(option_cell: str, default_cell: str) -> Iterator[Tuple[str, str]]:
    """`--a X` / `--b Y` | 1 / 2 → (--a, 1), (--b, 2); a single default goes with each option."""
    parts = [OPTION.findall(part) for part in option_cell.split(" / ")]
    defaults = [d.strip() for d in default_cell.split(" / ")]
    if len(defaults) != len(parts):
        defaults = defaults[:1] * len(parts)
    for options, default in zip(parts, defaults):
        if options:
            yield options[0], default


def _shows_default(cell: str, action: argparse.Action) -> bool:
    text = cell.replace("`", "").strip().lower()
    if action.required:
        return text == "required"
    default = action.default
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        return text == ("off" if default is False else "on")
    if default is None:  # free text ("none", "the bundled watchlists"), but no value the option could take
        return bool(text) and not re.match(r"\d", text) and text not in (action.choices or ())
    if isinstance(default, (int, float)):
        number = re.match(r"\d+(\.\d+)?", text)
        return number is not None and float(number.group()) == float(default)
    return text.split(" ")[0] == str(default).lower()


def _shown(default) -> str:
    return "required" if default is None else repr(default)


def test_every_documented_option_exists(cli_options):
    beam = {option for action in cli.beam_parser()._actions for option in action.option_strings}
    known = set(cli_options) | beam | _script_options() | set(OTHER)
    unknown = [f"{where}: {option}" for where, _, option in _mentions() if option not in known]
    assert not unknown, "options the manuals mention that nothing defines:\n" + "\n".join(unknown)


def test_the_allow_list_is_needed(cli_options):
    """An entry of OTHER that the manuals stop quoting, or that newsbeam or Beam now defines, goes."""
    quoted = {option for _, _, option in _mentions()}
    beam = {option for action in cli.beam_parser()._actions for option in action.option_strings}
    assert set(OTHER) <= quoted
    assert not set(OTHER) & (set(cli_options) | beam)


def _reference() -> Dict[str, Dict[str, str]]:
    """operations.md's 'Every option' tables: command → {option: default cell}."""
    tables: Dict[str, Dict[str, str]] = {}
    for _, heading, option_cell, default_cell in _option_tables(REFERENCE):
        names = re.findall(r"`newsbeam (\w+)`", heading) or (["*"] if heading == "Every command" else [])
        for name in names:
            for option, default in _pairs(option_cell, default_cell):
                tables.setdefault(name, {})[option] = default
    return tables


def test_the_reference_lists_every_option_of_every_command(commands):
    reference = _reference()
    common = {"--log-level", "--config"}
    assert set(reference.get("*", {})) == common, "docs/operations.md: no \"Every command\" table"
    ingest = {_long_options(a)[0] for a in _documentable(commands["ingest"])} - common
    problems = []
    for name, parser in commands.items():
        options = {_long_options(a)[0] for a in _documentable(parser)} - common
        if name == "stream":  # documented as "every option of ingest, and": that must stay true
            assert ingest <= options
            options -= ingest
        documented = set(reference.get(name, {}))
        problems += [f"{name}: {o} is not in docs/operations.md" for o in sorted(options - documented)]
        problems += [f"{name}: {o} is documented but does not exist" for o in sorted(documented - options)]
    assert set(reference) - {"*"} <= set(commands), set(reference) - {"*"} - set(commands)
    assert not problems, "\n".join(problems)


def test_the_reference_shows_each_default(commands):
    reference = _reference()
    wrong = []
    for name, table in reference.items():
        parsers = [cli._parser()] if name == "*" else [commands[name], *([commands["ingest"]] * (name == "stream"))]
        actions = {o: a for parser in parsers for a in _documentable(parser) for o in a.option_strings}
        for option, cell in table.items():
            action = actions[option]
            if not _shows_default(cell, action):
                wrong.append(f"{name} {option}: documented {cell!r}, the code has {_shown(action.default)}")
    assert not wrong, "\n".join(wrong)


def test_every_option_table_in_the_manuals_shows_the_real_default(cli_options):
    """README's and the area manuals' `option | default` tables: the default of an option of several commands must
    be one of theirs."""
    wrong = []
    for path in MANUALS:
        for where, _, option_cell, default_cell in _option_tables(path):
            for option, cell in _pairs(option_cell, default_cell):
                if option not in cli_options or not cell:
                    continue  # Beam's own options; a row that states no default
                if not any(_shows_default(cell, action) for action in cli_options[option]):
                    shown = sorted({_shown(action.default) for action in cli_options[option]})
                    wrong.append(f"{where}: {option} documented {cell!r}, the code has {' or '.join(shown)}")
    assert not wrong, "\n".join(wrong)


def test_the_checks_catch_drift():
    """The parsing above finds what it must: a wrong default, a combined row, an unknown option."""
    action = argparse.ArgumentParser().add_argument("--host-delay", type=float, default=1.0)
    assert _shows_default("1.0", action) and _shows_default("`1`", action) and not _shows_default("2", action)
    assert list(_pairs("`--host-delay S` / `--host-concurrency N`", "1.0 / 2")) == [("--host-delay", "1.0"),
                                                                                  ("--host-concurrency", "2")]
    assert list(_pairs("`--log-level LEVEL` / `--config FILE.toml`", "WARNING")) == [("--log-level", "WARNING"),
                                                                                    ("--config", "WARNING")]
    assert OPTION.findall("|---|---| a--b `--max-bytes`, --feeds.") == ["--max-bytes", "--feeds"]


def test_each_quoted_command_line_uses_options_of_its_command(commands):
    """`newsbeam report OUT --entities off` would pass the check above (`ingest` has it) but fail when run."""
    top = {option for action in cli._parser()._actions for option in action.option_strings}
    wrong = []
    for path in MANUALS:
        text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))  # shell continuation lines
        for line in text.splitlines():
            for command, rest in re.findall(rf"newsbeam ({'|'.join(commands)})\b([^`|\n]*)", line):
                known = top | {option for parser in (commands[command], cli.beam_parser(command))
                               for action in parser._actions for option in action.option_strings}
                wrong += [f"{path.relative_to(ROOT)}: newsbeam {command} {option}"
                          for option in OPTION.findall(rest) if option not in known and option not in OTHER]
    assert not wrong, "\n".join(wrong)
