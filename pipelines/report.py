"""`newsbeam report OUT`: the command-line side of the HTML report (arguments, messages, exit codes)."""
from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys
from typing import List, Optional


def _day(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _values(groups: List[List[str]]) -> tuple:
    """Repeated and comma-separated values, trimmed, in first-seen order."""
    seen = {}
    for group in groups or []:
        for value in group.split(","):
            if value.strip():
                seen.setdefault(value.strip(), None)
    return tuple(seen)


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", metavar="OUT", help="An output folder written by newsbeam.")
    parser.add_argument("-o", "--out-file", metavar="REPORT.html",
                        help="Where to write the page (default OUT/report.html).")
    parser.add_argument("--since", type=_day, metavar="YYYY-MM-DD",
                        help="Only articles of this UTC day or later (publication day, else fetch day); "
                             "dead letters by day of failure.")
    parser.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="Only up to this UTC day, inclusive.")
    parser.add_argument("--language", action="append", metavar="CODE",
                        help="Only these languages (ISO 639-1 or und); repeat or separate with commas.")
    parser.add_argument("--topic", action="append", metavar="TOPIC",
                        help="Only articles matching any of these watchlist topics; repeat or use commas.")
    parser.add_argument("--entity", action="append", metavar="ID_OR_NAME",
                        help="Only articles mentioning any of these entities, by id (geonames:163843) or "
                             "canonical name (case-insensitive); repeat to give several.")


def report_main(argv: Optional[List[str]] = None) -> int:
    """`newsbeam report ...` with its own parser: the full `newsbeam` parser imports Apache Beam."""
    parser = argparse.ArgumentParser(
        prog="newsbeam report", description="Write an offline HTML report with charts of an output folder.")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="Logging level (default WARNING).")
    add_report_arguments(parser)
    args = parser.parse_args(argv)
    _import_beam_quietly()
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    return run_report(args)


def _import_beam_quietly() -> None:
    """The report reads run manifests with Beam's filesystems, and Beam warns on the root logger at import time
    about optional GCP client libraries ('apitools not found'): a line in every cron log. Imported before logging
    is configured, as the CLI does for the other commands, the warning goes nowhere."""
    root, null = logging.getLogger(), logging.NullHandler()
    root.addHandler(null)  # else logging.warning() would configure a stderr handler itself
    try:
        import newsbeam.manifest  # noqa: F401
    finally:
        root.removeHandler(null)


def run_report(args: argparse.Namespace) -> int:
    if not os.path.isdir(args.output):
        print(f"newsbeam: error: {args.output!r} is not a folder", file=sys.stderr)
        return 2
    from newsbeam.report import MARKERS, is_output

    if not is_output(args.output):  # a mistyped path must not get a report.html of nothing, as `inspect` says
        print(f"newsbeam: error: {args.output!r} is not a newsbeam output folder (none of {', '.join(MARKERS)} in "
              "it)", file=sys.stderr)
        return 2
    if args.since and args.until and args.since > args.until:
        print("newsbeam: error: --since is after --until", file=sys.stderr)
        return 2
    # the report's libraries (DuckDB, vl-convert) load only when a report is written
    from newsbeam.htmlreport import Filters, write_report

    # names may contain commas ("Washington, D.C."), so --entity is split only by repetition
    filters = Filters(since=args.since, until=args.until, languages=_values(args.language),
                      topics=_values(args.topic), entities=tuple(e.strip() for e in args.entity or () if e.strip()))
    try:
        outcome = write_report(args.output, args.out_file, filters)
    except OSError as exc:  # a read-only output, a full disk, -o under a file: one line, as for `ingest`
        target = args.out_file or os.path.join(args.output, "report.html")
        print(f"newsbeam: error: cannot write the report to {target!r}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"report: {outcome.path} ({outcome.bytes / 1e6:.1f} MB, {outcome.charts} charts, "
          f"{outcome.seconds:.1f} s)")
    return 0
