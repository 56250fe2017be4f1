"""The `newsbeam` command: ingest, stream, demo, inspect, report."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional

# Beam warns at import time about optional GCP client libraries; the CLI configures logging itself below.
logging.getLogger().addHandler(logging.NullHandler())

from newsbeam.pipelines.report import add_report_arguments, report_main, run_report  # noqa: E402

EPILOG = """Any Apache Beam pipeline option passes through, e.g. --runner, --direct_num_workers 2
--direct_running_mode multi_processing, --setup_file ./setup.py. Without --runner, runs use the local
FnApiRunner (it never touches the network).

exit codes: 0 done (dead letters included), 1 the pipeline failed (e.g. disk full), 2 bad arguments,
unreadable inputs, unwritable output, another live run on the output (OUT/_lock) or a damaged state
file, 3 the run's accounting did not balance (a bug: please report it)."""


def _parser() -> argparse.ArgumentParser:
    # imported here, not at module level: `newsbeam report` runs without Beam (see main)
    from newsbeam.pipelines.options import NewsbeamOptions
    from newsbeam.pipelines.progress_options import ProgressOptions
    from newsbeam.pipelines.stream import StreamOptions
    from newsbeam.pipelines.stream_graph import UnboundedOptions

    parser = argparse.ArgumentParser(
        prog="newsbeam",
        description="Ingest news feeds and article pages into Hive-partitioned Parquet with Apache Beam.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="Logging level (default WARNING).")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    ingest = commands.add_parser(
        "ingest", help="Run one batch ingestion.", epilog=EPILOG,
        description="Fetch feeds and article URLs, extract text, tag language, write Parquet.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    NewsbeamOptions._add_argparse_args(ingest)
    ProgressOptions._add_argparse_args(ingest)

    stream = commands.add_parser(
        "stream", help="Keep polling the feeds and ingest what is new, until stopped.", epilog=EPILOG,
        description="Local streaming: one bounded ingest per poll, with the same transforms and incremental state "
                    "as `ingest`. SIGINT/SIGTERM finish the poll in flight and exit 0. Progress: one line per poll "
                    "and OUT/_stream/status.json. With --runner DataflowRunner, FlinkRunner, SparkRunner, "
                    "PrismRunner or PortableRunner, the unbounded graph runs on that streaming runner instead "
                    "(PeriodicImpulse, stateful dedup, windowed files).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    NewsbeamOptions._add_argparse_args(stream)
    ProgressOptions._add_argparse_args(stream)
    StreamOptions._add_argparse_args(stream)
    UnboundedOptions._add_argparse_args(stream)

    demo = commands.add_parser(
        "demo", help="Run the pipeline offline on the bundled sample site.", epilog=EPILOG,
        description="Serves the bundled sample news site on 127.0.0.1, runs the real pipeline against it and "
                    "summarizes what it wrote. Needs no network.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--output", default="newsbeam-demo", help="Output folder (default ./newsbeam-demo).")
    demo.add_argument("--stream", action="store_true",
                      help="Show streaming: a live feed gains an article every few seconds while the driver polls.")
    demo.add_argument("--duration", type=float, default=40.0,
                      help="With --stream: how long to run, in seconds (default 40).")

    inspect = commands.add_parser("inspect", help="Summarize an output folder.",
                                  description="Row counts by date and language, published-date range, "
                                              "near-duplicate groups, top sources and entities, dead letters by "
                                              "stage and reason, the top failing hosts, schema versions, the last "
                                              "runs and those that failed or were interrupted. Exit code 2 for a "
                                              "folder that is not newsbeam output.")
    inspect.add_argument("output", metavar="OUT", help="An output folder written by newsbeam.")

    report = commands.add_parser("report", help="Write an offline HTML report with charts of an output folder.",
                                 description="One self-contained HTML page (no network needed to view it): "
                                             "articles per day, entities, co-mentions, topics, near duplicates, "
                                             "date quality, dead letters and runs, each with its DuckDB query.")
    add_report_arguments(report)
    return parser


def quiet_beam() -> None:
    """Beam's own INFO lines (type hints, runner stages, worker start-up) drown newsbeam's; DEBUG shows them."""
    logging.getLogger("apache_beam").setLevel(logging.WARNING)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:  # importing Beam for the full parser would cost seconds the report does not need
        return report_main(argv[1:])
    parser = _parser()
    args, beam_args = parser.parse_known_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    if args.command == "report":
        if beam_args:
            parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
        return run_report(args)
    if args.log_level != "DEBUG":
        quiet_beam()
    if args.command == "inspect":
        if beam_args:
            parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
        if not os.path.isdir(args.output):
            print(f"newsbeam: error: {args.output!r} is not a folder", file=sys.stderr)
            return 2
        from newsbeam.report import NotAnOutput, summarize

        try:
            print(summarize(args.output))
        except NotAnOutput as exc:
            print(f"newsbeam: error: {exc}", file=sys.stderr)
            return 2
        return 0
    from newsbeam.pipelines.options import UsageError

    try:
        if args.command == "demo":
            from newsbeam.pipelines.demo import run_demo, run_stream_demo

            if args.stream:
                return run_stream_demo(args.output, args.duration, beam_args)
            return run_demo(args.output, beam_args)
        if args.command == "stream":
            rest = argv[argv.index(args.command) + 1:]
            from newsbeam.pipelines.stream_graph import is_streaming_runner, run_unbounded

            if is_streaming_runner(rest):
                return run_unbounded(rest)
            from newsbeam.pipelines.stream import cycle_line, run_stream

            return run_stream(rest, on_cycle=lambda o: print(cycle_line(o), flush=True))
        from newsbeam.pipelines import ingest

        # everything after the subcommand belongs to the pipeline (the command's own options come before it)
        outcome = ingest.run(argv[argv.index(args.command) + 1:])
    except UsageError as exc:
        print(f"newsbeam: error: {exc}", file=sys.stderr)
        return 2
    print(f"run {outcome.run_id}: {outcome.status} in {outcome.seconds:.1f} s -> {outcome.output}")
    if outcome.error:
        print(f"newsbeam: error: {outcome.error}", file=sys.stderr)
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
