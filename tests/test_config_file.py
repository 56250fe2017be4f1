"""`--config FILE.toml`: keys, sections, precedence, errors."""
import argparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam.pipelines import cli, config_file
from newsbeam.pipelines.lifecycle import RunOutcome
from newsbeam.pipelines.options import NewsbeamOptions
from newsbeam.pipelines.stream import StreamOptions


def _known():
    parsers = cli._subparsers(cli._parser())
    beam = cli.beam_parser()._actions
    return {name: config_file.option_index([*beam, *parsers[name]._actions]) for name in config_file.COMMAND_SECTIONS}


KNOWN = _known()


def _parsed(argv, command="ingest"):
    parser = argparse.ArgumentParser()
    NewsbeamOptions._add_argparse_args(parser)
    if command == "stream":
        StreamOptions._add_argparse_args(parser)
    return parser.parse_known_args(argv)[0]


def test_dashes_or_underscores_lists_and_switches():
    config = {"output": "/data", "host-delay": 0.5, "max_attempts": 4, "feeds": ["a.xml", "b.opml"],
              "run-id": "r1", "ignore-robots": True, "runner": "FnApiRunner", "direct_num_workers": 2}
    argv = config_file.config_argv(config, "ingest", KNOWN)
    args = _parsed(argv)
    assert (args.output, args.host_delay, args.max_attempts, args.feeds, args.run_id, args.ignore_robots) == (
        "/data", 0.5, 4, ["a.xml", "b.opml"], "r1", True)
    assert argv[argv.index("--runner") + 1] == "FnApiRunner" and "--direct_num_workers" in argv


def test_a_section_wins_over_the_top_level_and_applies_to_its_command_only():
    config = {"output": "/data", "host-delay": 0.5, "poll-interval": 30,
              "ingest": {"host-delay": 2.0, "feeds": ["a.xml"]}, "stream": {"feeds": ["live.xml"], "max-cycles": 3}}
    ingest = _parsed(config_file.config_argv(config, "ingest", KNOWN))
    assert (ingest.host_delay, ingest.feeds) == (2.0, ["a.xml"])
    stream = _parsed(config_file.config_argv(config, "stream", KNOWN), "stream")
    assert (stream.host_delay, stream.feeds, stream.poll_interval, stream.max_cycles) == (0.5, ["live.xml"], 30, 3)


def test_the_command_line_wins_even_for_repeatable_options():
    config = {"feeds": ["from-file.xml"], "host-delay": 3.0, "output": "/data"}
    argv = config_file.config_argv(config, "ingest", KNOWN, given=["feeds", "host_delay"])
    assert argv == ["--output", "/data"]


@pytest.mark.parametrize("config, message", [
    ({"host-dealy": 1}, "unknown option in config file: 'host-dealy'"),
    ({"ingest": {"poll-interval": 5}}, "[ingest] 'poll-interval'"),
    ({"demo": {"output": "x"}}, "unknown section in config file: [demo]"),
    ({"config": "other.toml"}, "unknown option in config file: 'config'"),
    ({"host-delay": [1, 2]}, "takes one value, not a list"),
    ({"ignore-robots": "yes"}, "expected true or false"),
    ({"ingest": 3}, "[ingest] must be a table"),
    # which of the two won was an accident of the file's order
    ({"host-delay": 0, "host_delay": 1}, "option given twice in config file: 'host-delay' and 'host_delay'"),
    ({"ingest": {"run-id": "a", "run_id": "b"}}, "given twice in config file: [ingest] 'run-id' and 'run_id'"),
])
def test_unknown_or_malformed_keys_are_errors_that_name_the_key(config, message):
    with pytest.raises(config_file.ConfigError, match=None) as error:
        config_file.config_argv(config, "ingest", KNOWN)
    assert message in str(error.value)


@settings(max_examples=40, deadline=None)
@given(delay=st.floats(min_value=0, max_value=100, allow_nan=False), attempts=st.integers(1, 50),
       feeds=st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(
           lambda text: not text.startswith("-")), min_size=1, max_size=4),
       dashes=st.booleans())
def test_any_values_come_back_from_the_command_line_they_stand_for(delay, attempts, feeds, dashes):
    key = (lambda name: name) if dashes else (lambda name: name.replace("-", "_"))
    config = {key("host-delay"): delay, key("max-attempts"): attempts, "feeds": feeds}
    args = _parsed(config_file.config_argv(config, "ingest", KNOWN))
    assert (args.host_delay, args.max_attempts, args.feeds) == (delay, attempts, feeds)


# ------------------------------------------------------------------------------------------------ through the CLI

@pytest.fixture
def captured(monkeypatch, tmp_path):
    """cli.main with ingest.run replaced: what argv would the pipeline get?"""
    from newsbeam.pipelines import ingest

    calls = []

    def fake_run(argv, now=None, control=None):
        calls.append(argv)
        return RunOutcome("r", str(tmp_path), "succeeded", 0, {}, None, 0.0)

    monkeypatch.setattr(ingest, "run", fake_run)
    return calls


def test_cli_reads_the_config_file_and_the_command_line_wins(tmp_path, captured, restore_logging):
    path = tmp_path / "newsbeam.toml"
    path.write_text('output = "/from/file"\nhost-delay = 0.5\n[ingest]\nfeeds = ["a.xml", "b.xml"]\n'
                    'entities = "gazetteer"\n')
    assert cli.main(["ingest", "--config", str(path), "--feeds", "c.xml", "--entities", "off"]) == 0
    args = _parsed(captured[0])
    assert (args.output, args.host_delay, args.feeds, args.entities) == ("/from/file", 0.5, ["c.xml"], "off")
    assert "--config" not in captured[0]
    # before the command too
    assert cli.main(["--config", str(path), "ingest"]) == 0
    assert _parsed(captured[1]).feeds == [str(tmp_path / "a.xml"), str(tmp_path / "b.xml")]


def test_relative_paths_in_the_file_are_relative_to_the_file(tmp_path, monkeypatch, captured, restore_logging):
    """They were relative to the working directory: from Airflow (whose BashOperator runs in a temporary folder)
    or a crontab without `cd`, `output = "data"` wrote into a folder nobody reads and `feeds = ["feeds.opml"]`
    was not found."""
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "newsbeam.toml"
    path.write_text('output = "../data"\nspool-dir = "off"\ntopics = "/abs/topics.yaml"\n[ingest]\n'
                    'feeds = ["feeds.opml", "https://example.org/feed.xml", "s3://bucket/feeds.txt"]\n'
                    'urls = ["lists/urls.txt"]\n')
    monkeypatch.chdir("/")
    assert cli.main(["ingest", "--config", str(path)]) == 0
    args = _parsed(captured[0])
    base = tmp_path / "etc"
    assert args.feeds == [str(base / "feeds.opml"), "https://example.org/feed.xml", "s3://bucket/feeds.txt"]
    assert (args.output, args.urls, args.spool_dir, args.topics) == (
        str(base / "../data"), [str(base / "lists/urls.txt")], "off", "/abs/topics.yaml")
    # the command line's own relative paths stay relative to the working directory
    assert cli.main(["ingest", "--config", str(path), "--output", "here"]) == 0
    assert _parsed(captured[1]).output == "here"


def test_cli_config_errors_exit_2_naming_the_key(tmp_path, capsys, captured, restore_logging):
    path = tmp_path / "newsbeam.toml"
    path.write_text('output = "/x"\nentitys = "off"\n')
    with pytest.raises(SystemExit) as exit_:
        cli.main(["ingest", "--config", str(path)])
    assert exit_.value.code == 2 and "unknown option in config file: 'entitys'" in capsys.readouterr().err
    path.write_text('output = "/x\n')
    with pytest.raises(SystemExit):
        cli.main(["ingest", "--config", str(path)])
    assert "is not valid TOML" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["ingest", "--config", str(tmp_path / "missing.toml")])
    assert "cannot read config file" in capsys.readouterr().err
    assert not captured


def test_the_sample_config_is_valid(captured, restore_logging):
    from pathlib import Path

    sample = Path(__file__).resolve().parents[1] / "examples" / "newsbeam.toml"
    assert cli.main(["ingest", "--config", str(sample)]) == 0
    args = _parsed(captured[0])
    assert args.output and args.feeds
    assert "newsroom@example.org" in args.http_user_agent  # the sample's own, not the default


def test_a_key_newsbeam_shares_with_beam_is_newsbeams(tmp_path):
    """`user-agent` (and `user_agent`) in a config file set newsbeam's User-Agent; Beam also has `--user_agent`
    (for its GCP clients), which used to win the key, so the run sent the default User-Agent to every site."""
    for key in ("user-agent", "user_agent"):
        path = tmp_path / "newsbeam.toml"
        path.write_text(f'{key} = "newsbeam (+mailto:ops@example.org)"\n', encoding="utf-8")
        argv = cli._with_config(cli._parser(), ["ingest", "--config", str(path), "--output", "out"])
        assert _parsed(argv[1:]).http_user_agent == "newsbeam (+mailto:ops@example.org)", argv
