"""The `newsbeam` command: ingest, demo, inspect."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional

# Beam warns at import time about optional GCP client libraries; the CLI configures logging itself below.
logging.getLogger().addHandler(logging.NullHandler())

from newsbeam.pipelines.options import NewsbeamOptions, UsageError  # noqa: E402
from newsbeam.pipelines.stream import StreamOptions  # noqa: E402
from newsbeam.pipelines.stream_graph import UnboundedOptions  # noqa: E402

EPILOG = """Any Apache Beam pipeline option passes through, e.g. --runner, --direct_num_workers 2
--direct_running_mode multi_processing, --setup_file ./setup.py. Without --runner, runs use the local
FnApiRunner (it never touches the network).

exit codes: 0 done (dead letters included), 1 the pipeline failed, 2 bad arguments, unreadable
inputs or unwritable output, 3 the run's accounting did not balance (a bug: please report it)."""


def _parser() -> argparse.ArgumentParser:
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
                                  description="Row counts by date and language, top sources, dead letters by "
                                              "stage and reason, schema versions and the last runs.")
    inspect.add_argument("output", metavar="OUT", help="An output folder written by newsbeam.")

    reprocess = commands.add_parser(
        "reprocess", help="Re-extract archived pages with today's code and settings, without network.", epilog=EPILOG,
        description="Reads OUT/warc of an earlier output and runs extraction, language, entities and near-duplicate "
                    "grouping again as a new run (docs/archive.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    from newsbeam.pipelines.reprocess import add_arguments

    add_arguments(reprocess)

    show = commands.add_parser("show", help="Print one article's row, or with --raw its archived HTTP response.")
    show.add_argument("article_id", metavar="ARTICLE_ID")
    show.add_argument("output", metavar="OUT", help="An output folder written by newsbeam.")
    show.add_argument("--raw", action="store_true", help="Print the HTTP response kept in OUT/warc (docs/archive.md).")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args, beam_args = parser.parse_known_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    if args.command == "inspect":
        if beam_args:
            parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
        if not os.path.isdir(args.output):
            print(f"newsbeam: error: {args.output!r} is not a folder", file=sys.stderr)
            return 2
        from newsbeam.report import summarize

        print(summarize(args.output))
        return 0
    if args.command == "show":
        return _show(args)
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
        if args.command == "reprocess":
            from newsbeam.pipelines import reprocess

            outcome = reprocess.run(argv[argv.index(args.command) + 1:])
        else:
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


def _show(args) -> int:
    from newsbeam.show import describe, find_article, raw_response

    row = find_article(args.output, args.article_id)
    if row is None:
        print(f"newsbeam: error: no article {args.article_id!r} in {args.output!r}", file=sys.stderr)
        return 2
    if not args.raw:
        print(describe(row))
        return 0
    try:
        data = raw_response(args.output, row)
    except LookupError as exc:
        print(f"newsbeam: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
