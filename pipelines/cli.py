"""The `newsbeam` command: ingest, stream, demo, inspect, report, reprocess, show."""
from __future__ import annotations

import argparse
import difflib
import logging
import os
import sys
from typing import Dict, List, Optional, Sequence

# Beam warns at import time about optional GCP client libraries; the CLI configures logging itself below.
logging.getLogger().addHandler(logging.NullHandler())

# Apache Beam and the pipeline modules are imported inside the functions that need them: `newsbeam report` and
# `--version` run without Beam, whose import costs seconds.
from newsbeam.pipelines import config_file  # noqa: E402
from newsbeam.process_exit import exit_finished  # noqa: E402
from newsbeam.pipelines.report import add_report_arguments, report_main  # noqa: E402
from newsbeam.runtime import collector_paused  # noqa: E402

LOG = logging.getLogger("newsbeam")

EPILOG = """Any Apache Beam pipeline option passes through, e.g. --runner, --direct_num_workers 2
--direct_running_mode multi_processing, --setup_file ./setup.py. Without --runner, runs use the local
FnApiRunner (it never touches the network). Unknown options are errors. --config FILE.toml holds any option
(keyed by its long name without dashes, at the top level or under [ingest] / [stream]); the command line wins.

exit codes:
  0    done (dead letters included), or nothing new to ingest
  1    the pipeline failed (e.g. disk full)
  2    usage: bad arguments or config file, unreadable inputs, unwritable output, a held lock, damaged state
  3    the run's accounting did not balance (a bug: please report it)
  4    no input: every source failed or was empty
  130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM: the run is marked 'interrupted'; the next run completes it"""

COMMANDS = ("ingest", "stream", "demo", "inspect", "report", "reprocess", "show")
# Options the CLI reads itself; they never reach the pipeline's options.
CLI_OPTIONS = ("--log-level", "--config")
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


def _add_cli_options(parser: argparse.ArgumentParser, top: bool) -> None:
    """--log-level and --config, before or after the command: after it, they must not reset what came before."""
    default = (lambda value: value) if top else (lambda _: argparse.SUPPRESS)
    parser.add_argument("--log-level", default=default("WARNING"), choices=LOG_LEVELS,
                        help="Logging level (default WARNING).")
    parser.add_argument("--config", default=default(None), metavar="FILE",
                        help="A TOML file of options (see docs/operations.md); the command line wins.")


def _subparser(commands, name: str, **kwargs) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 **kwargs)
    _add_cli_options(parser, top=False)
    return parser


def _parser() -> argparse.ArgumentParser:
    from newsbeam.pipelines.options import NewsbeamOptions
    from newsbeam.pipelines.progress_options import ProgressOptions
    from newsbeam.pipelines.stream import StreamOptions
    from newsbeam.pipelines.stream_graph import UnboundedOptions

    parser = argparse.ArgumentParser(
        prog="newsbeam",
        description="Ingest news feeds and article pages into Hive-partitioned Parquet with Apache Beam.",
        formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False, epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=version_line())
    _add_cli_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    ingest = _subparser(
        commands, "ingest", help="Run one batch ingestion.", epilog=EPILOG,
        usage="newsbeam ingest --output DIR (--feeds SOURCE | --urls FILE | --sites FILE_OR_URL | --warc GLOB)... "
              "[options]",
        description="Fetch feeds and article URLs, extract text, tag language, write Parquet.",
    )
    NewsbeamOptions._add_argparse_args(ingest)
    ProgressOptions._add_argparse_args(ingest)

    stream = _subparser(
        commands, "stream", help="Keep polling the feeds and ingest what is new, until stopped.", epilog=EPILOG,
        usage="newsbeam stream --output DIR (--feeds SOURCE | --urls FILE | --sites FILE_OR_URL)... [options]",
        description="Local streaming: one bounded ingest per poll, with the same transforms and incremental state "
                    "as `ingest`. A first SIGINT/SIGTERM finishes the poll in flight and exits 0; a second one "
                    "stops the poll at once (exit 130/143, its manifest says 'interrupted'). Progress: one line "
                    "per poll and OUT/_stream/status.json. With --runner DataflowRunner, FlinkRunner, SparkRunner, "
                    "PrismRunner or PortableRunner, the unbounded graph runs on that streaming runner instead "
                    "(PeriodicImpulse, stateful dedup, windowed files).",
    )
    NewsbeamOptions._add_argparse_args(stream)
    ProgressOptions._add_argparse_args(stream)
    StreamOptions._add_argparse_args(stream)
    UnboundedOptions._add_argparse_args(stream)
    for command in (ingest, stream):
        # required here only: Beam's own parsing of the same options must not exit when it is absent
        _action(command, "--output").required = True

    demo = _subparser(
        commands, "demo", help="Run the pipeline offline on the bundled sample site.", epilog=EPILOG,
        description="Serves the bundled sample news site on 127.0.0.1, runs the real pipeline against it and "
                    "summarizes what it wrote. Needs no network.",
    )
    demo.add_argument("--output", default="newsbeam-demo", help="Output folder (default ./newsbeam-demo).")
    demo.add_argument("--stream", action="store_true",
                      help="Show streaming: a live feed gains an article every few seconds while the driver polls.")
    demo.add_argument("--duration", type=float, default=40.0,
                      help="With --stream: how long to run, in seconds (default 40).")

    inspect = _subparser(commands, "inspect", help="Summarize an output folder.",
                         description="Row counts by date and language, published-date range, near-duplicate "
                                     "groups, top sources and entities, dead letters by stage and reason, the top "
                                     "failing hosts, schema versions, the last runs and those that failed or were "
                                     "interrupted. Exit code 2 for a folder that is not newsbeam output.")
    inspect.add_argument("output", metavar="OUT", help="An output folder written by newsbeam.")

    report = _subparser(commands, "report", help="Write an offline HTML report with charts of an output folder.",
                        description="One self-contained HTML page (no network needed to view it): articles per "
                                    "day, entities, co-mentions, topics, near duplicates, date quality, dead "
                                    "letters and runs, each with its DuckDB query.")
    add_report_arguments(report)

    reprocess = _subparser(
        commands, "reprocess", help="Re-extract archived pages with today's code and settings, without network.",
        epilog=EPILOG,
        description="Reads OUT/warc of an earlier output and runs extraction, language, entities and near-duplicate "
                    "grouping again as a new run (docs/archive.md).")
    from newsbeam.pipelines.reprocess import add_arguments

    add_arguments(reprocess)

    show = _subparser(commands, "show", help="Print one article's row, or with --raw its archived HTTP response.")
    show.add_argument("article_id", metavar="ARTICLE_ID",
                      help="An article id, or a URL: an article's url, final_url or canonical_url, or a dead letter's "
                           "url (docs/archive.md).")
    show.add_argument("output", metavar="OUT", help="An output folder written by newsbeam.")
    show.add_argument("--raw", action="store_true", help="Print the HTTP response kept in OUT/warc (docs/archive.md).")
    return parser


def quiet_beam() -> None:
    """Beam's own INFO lines (type hints, runner stages, worker start-up) drown newsbeam's; DEBUG shows them."""
    logging.getLogger("apache_beam").setLevel(logging.WARNING)


def version_line() -> str:
    from importlib import metadata

    from newsbeam import __version__

    return (f"newsbeam {__version__} (apache-beam {metadata.version('apache-beam')}, "
            f"Python {sys.version.split()[0]})")


def _action(parser: argparse.ArgumentParser, option: str) -> argparse.Action:
    return next(action for action in parser._actions if option in action.option_strings)


def _subparsers(parser: argparse.ArgumentParser) -> Dict[str, argparse.ArgumentParser]:
    return next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction)).choices


def beam_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """Every option Beam itself would parse: the arguments of every PipelineOptions subclass, collected as Beam's
    `PipelineOptions.get_all_options` does. newsbeam's own options belong to each command's parser, except for
    `demo`, which passes the ingest options it is given on to its run (e.g. `--entities gazetteer`)."""
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False, add_help=False)
    for cls in {str(cls): cls for cls in reversed(PipelineOptions.__subclasses__())}.values():
        if not cls.__module__.startswith("newsbeam."):
            cls._add_argparse_args(parser)
    if command == "demo":
        from newsbeam.pipelines.options import NewsbeamOptions
        from newsbeam.pipelines.progress_options import ProgressOptions

        for cls in (NewsbeamOptions, ProgressOptions):
            cls._add_argparse_args(parser)
    return parser


def _reject_unknown(parser: argparse.ArgumentParser, extras: List[str], known: Sequence[argparse.Action],
                    command: Optional[str] = None) -> None:
    """Beam discards what it cannot parse with a warning, and the run goes on with defaults: not here."""
    beam = beam_parser(command)
    _, unknown = beam.parse_known_args(extras)
    if not unknown:
        return
    options = sorted({s for action in [*known, *beam._actions] for s in action.option_strings if s.startswith("--")})
    first = next((arg for arg in unknown if arg.startswith("-")), unknown[0])
    name = first.split("=", 1)[0]
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6) if name.startswith("-") else []
    hint = f" (did you mean {close[0]}?)" if close else ""
    parser.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")


def _find_command(argv: List[str]) -> Optional[int]:
    """The position of the command: the first word that is not an option or a top-level option's value."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in COMMANDS:
            return i
        i += 2 if arg in CLI_OPTIONS else 1
    return None


def _given(argv: List[str]) -> List[str]:
    return [arg[2:].split("=", 1)[0] for arg in argv if arg.startswith("--")]


def _config_path(argv: List[str]) -> Optional[str]:
    path = None
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--config="):
            path = arg.split("=", 1)[1]
    return path


def _without_cli_options(argv: List[str]) -> List[str]:
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in CLI_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(f"{option}=" for option in CLI_OPTIONS)):
            kept.append(arg)
    return kept


def _with_config(parser: argparse.ArgumentParser, argv: List[str]) -> List[str]:
    """argv with the config file's options inserted right after the command, where the command line's own
    options (later) win."""
    position = _find_command(argv)
    path = _config_path(argv)
    if path is None or position is None or argv[position] not in config_file.COMMAND_SECTIONS:
        return argv
    subparsers = _subparsers(parser)
    beam_actions = beam_parser()._actions
    # newsbeam's own options win a key they share with Beam's: `user-agent` is newsbeam's, not Beam's `--user_agent`
    known = {name: config_file.option_index([*beam_actions, *subparsers[name]._actions])
             for name in config_file.COMMAND_SECTIONS}
    command = argv[position]
    try:
        inserted = config_file.config_argv(config_file.load(path), command, known, _given(argv[position + 1:]),
                                           base=os.path.dirname(os.path.abspath(path)))
    except config_file.ConfigError as exc:
        parser.error(str(exc))
    return [*argv[:position + 1], *inserted, *argv[position + 1:]]


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:  # the full parser imports Beam: seconds the report does not need
        return report_main(argv[1:])
    with collector_paused():  # the parser imports Beam and the pipeline: ~0.5 s of the collector's passes saved
        parser = _parser()
    argv = _with_config(parser, argv)
    args, extras = parser.parse_known_args(argv)
    subparser = _subparsers(parser)[args.command]
    if args.command in ("inspect", "show") and extras:
        subparser.error(f"unrecognized arguments: {' '.join(extras)}")
    _reject_unknown(subparser, extras, subparser._actions, args.command)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    if args.log_level != "DEBUG":
        quiet_beam()
    from newsbeam.pipelines.lifecycle import EXIT_PIPELINE_FAILED, EXIT_USAGE
    from newsbeam.pipelines.options import UsageError

    # everything after the command belongs to the pipeline, but for the CLI's own options
    rest = _without_cli_options(argv[_find_command(argv) + 1:])
    try:
        return _run(args, rest, extras)
    except UsageError as exc:
        print(f"newsbeam: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # one line, not a traceback (--log-level DEBUG shows it)
        LOG.debug("newsbeam %s failed", args.command, exc_info=True)
        print(f"newsbeam: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_PIPELINE_FAILED


def _run(args: argparse.Namespace, rest: List[str], beam_args: List[str]) -> int:
    from newsbeam.pipelines.lifecycle import EXIT_NO_INPUT, EXIT_OK, EXIT_USAGE, RunControl, supervise
    from newsbeam.pipelines.options import UsageError
    from newsbeam.pipelines.report import run_report

    if args.command == "report":
        return run_report(args)
    if args.command == "inspect":
        if not os.path.isdir(args.output):
            raise UsageError(f"{args.output!r} is not a folder")
        from newsbeam.report import NotAnOutput, summarize

        try:
            print(summarize(args.output))
        except NotAnOutput as exc:
            print(f"newsbeam: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return EXIT_OK
    if args.command == "show":
        return _show(args)
    if args.command == "demo":
        from newsbeam.pipelines.demo import run_demo, run_stream_demo

        if args.stream:
            return run_stream_demo(args.output, args.duration, beam_args)
        return run_demo(args.output, beam_args)
    control = RunControl()
    if args.command == "stream":
        from newsbeam.pipelines.stream_graph import is_streaming_runner, run_unbounded

        if is_streaming_runner(rest):
            return run_unbounded(rest)
        from newsbeam.pipelines.stream import cycle_line, run_stream

        return supervise(lambda: run_stream(rest, on_cycle=lambda o: print(cycle_line(o), flush=True),
                                            control=control), control, patient=True)
    if args.command == "reprocess":
        from newsbeam.pipelines import reprocess

        outcome = supervise(lambda: reprocess.run(rest, control=control), control)
    else:
        from newsbeam.pipelines import ingest

        outcome = supervise(lambda: ingest.run(rest, control=control), control)
    print(f"run {outcome.run_id}: {outcome.status} in {outcome.seconds:.1f} s -> {outcome.output}")
    if outcome.error:
        print(f"newsbeam: {'warning' if outcome.exit_code == EXIT_NO_INPUT else 'error'}: {outcome.error}",
              file=sys.stderr)
    return outcome.exit_code


def _show(args) -> int:
    from newsbeam.show import ShowError, describe, find_row, raw_response

    try:
        row = find_row(args.output, args.article_id)
        if row is None:
            print(f"newsbeam: error: no article nor dead letter {args.article_id!r} in {args.output!r}",
                  file=sys.stderr)
            return 2
        if not args.raw:
            print(describe(row))
            return 0
        data = raw_response(args.output, row)
    except ShowError as exc:
        print(f"newsbeam: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0


def entry() -> None:
    """The `newsbeam` command (console script and `python -m newsbeam.pipelines.cli`): main(), then the process
    ends without Python's teardown (newsbeam.process_exit). In-process callers use main()."""
    try:
        code = main()
    except SystemExit as exc:  # argparse's --help, --version and usage errors (it printed its message)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    exit_finished(code)


if __name__ == "__main__":
    entry()
