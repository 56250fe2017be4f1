"""`--config newsbeam.toml`: any command-line option, keyed by its long name without dashes.

```toml
output = "/data/news"          # top level: every command that has the option
host-delay = 0.5               # or host_delay
[ingest]
feeds = ["https://example.org/feed.xml", "subscriptions.opml"]
entities = "gazetteer"
[stream]
poll-interval = 300
```

A section's keys win over the top level's; the command line wins over both (for a repeatable option such as
`--feeds`, the command line's values replace the file's). Unknown keys, and a key given twice in one table
(`host-delay` and `host_delay`), are errors that name the key. A relative path in the file is relative to the
file's folder, not to the working directory (cron and Airflow start commands in folders of their own).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, Iterable, List, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

COMMAND_SECTIONS = ("ingest", "stream")
# Options that only the CLI reads, never written into a config file.
CLI_ONLY = frozenset({"config", "help"})
# newsbeam's options whose values are local paths (or URLs, left as they are), by key.
PATH_OPTIONS = frozenset({"output", "feeds", "urls", "sites", "warc", "topics", "spool_dir"})


class ConfigError(ValueError):
    """The config file cannot be read, or names an option that does not exist."""


def load(path: str) -> Dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path!r}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path!r} is not valid TOML: {exc}") from None


def option_index(actions: Iterable[argparse.Action]) -> Dict[str, argparse.Action]:
    """Maps every long option name, without dashes and with '_' for '-', to its argparse action."""
    index = {}
    for action in actions:
        for string in action.option_strings:
            if string.startswith("--"):
                index[_key(string[2:])] = action
    return index


def _key(name: str) -> str:
    return name.replace("-", "_")


def _resolved(name: str, value: str, base: str) -> str:
    """A path option's value, relative to `base` (the config file's folder) unless absolute, a URL (`gs://`,
    `https://`) or `--spool-dir off`."""
    if name not in PATH_OPTIONS or "://" in value or (name == "spool_dir" and value == "off"):
        return value
    return os.path.join(base, value)


def _flags(key: str, value: Any, action: argparse.Action, where: str, base: str = "") -> List[str]:
    option = max(action.option_strings, key=len)
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}{key}: expected true or false, got {value!r}")
        # true switches the option on; false leaves the default (off)
        return [option] if value == isinstance(action, argparse._StoreTrueAction) else []
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not isinstance(action, argparse._AppendAction):
        raise ConfigError(f"{where}{key}: takes one value, not a list")
    flags = []
    for item in values:
        if isinstance(item, (dict, list)):
            raise ConfigError(f"{where}{key}: expected a string or a number, got {item!r}")
        text = str(item).lower() if isinstance(item, bool) else str(item)
        flags += [option, _resolved(_key(key), text, base) if isinstance(item, str) else text]
    return flags


def config_argv(config: Mapping[str, Any], command: str, known: Mapping[str, Mapping[str, argparse.Action]],
                given: Iterable[str] = (), base: str = "") -> List[str]:
    """The command-line flags that `config` stands for, for `command`.

    `known` maps each command of COMMAND_SECTIONS to its option index (see `option_index`); `given` holds the
    keys of the options the command line sets, which the file must not set again; relative paths are joined to
    `base` (the config file's folder)."""
    given = {_key(name) for name in given}
    mine = known[command]
    _no_twice(config, "")
    merged: Dict[str, tuple] = {}
    for key, value in config.items():
        if key in COMMAND_SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}] must be a table of options")
            _no_twice(value, f"[{key}] ")
            for inner, inner_value in value.items():
                if _key(inner) not in known[key] or _key(inner) in CLI_ONLY:
                    raise ConfigError(f"unknown option in config file: [{key}] {inner!r}")
                if key == command:
                    merged[_key(inner)] = (inner, inner_value, f"[{key}] ")
            continue
        if isinstance(value, dict):
            raise ConfigError(f"unknown section in config file: [{key}] (use [ingest] or [stream])")
        if _key(key) in CLI_ONLY or not any(_key(key) in options for options in known.values()):
            raise ConfigError(f"unknown option in config file: {key!r}")
        if _key(key) in mine:
            merged.setdefault(_key(key), (key, value, ""))
    argv = []
    for name, (key, value, where) in merged.items():
        if name not in given:
            argv += _flags(key, value, mine[name], where, base)
    return argv


def _no_twice(table: Mapping[str, Any], where: str) -> None:
    """`host-delay` and `host_delay` in one table: which one wins would be an accident of the file's order."""
    seen: Dict[str, str] = {}
    for key in table:
        if key in COMMAND_SECTIONS and not where:
            continue
        if _key(key) in seen:
            raise ConfigError(f"option given twice in config file: {where}{seen[_key(key)]!r} and {key!r}")
        seen[_key(key)] = key
