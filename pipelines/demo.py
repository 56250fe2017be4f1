"""The offline demo: serve the bundled sample site on loopback and run the real ingest pipeline against it."""
from __future__ import annotations

import importlib.util
import os
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from typing import List, Optional

from newsbeam.htmlreport import write_report
from newsbeam.report import summarize
from newsbeam.sample_site import SampleSite, article_paths
from newsbeam.pipelines import ingest
from newsbeam.pipelines.stream import cycle_line, run_stream

DEFAULT_OUTPUT = "newsbeam-demo"
DEMO_RUN_ID = "demo"
ANALYSIS_MODULES = ("duckdb", "pandas", "polars")  # the `analysis` extra


def demo_argv(site: SampleSite, output: str, url_file: str, extra: List[str]) -> List[str]:
    return [
        "--feeds", site.url("/feeds/subscriptions.opml"),  # RSS, Atom, a legacy-encoded and a broken feed
        "--feeds", site.url("/feeds/empty-garbage.xml"),  # not a feed at all: a dead letter
        "--urls", url_file,
        "--output", output,
        "--run-id", DEMO_RUN_ID,  # re-running the demo replaces its rows instead of adding to them
        "--host-delay", "0.02",  # our own loopback server: no need to wait a second between requests
        "--allow-private-addresses",  # ... which serves on 127.0.0.1
        *extra,
    ]


def _shell_quoted(text: str) -> str:
    """`text` inside double quotes for a POSIX shell: the SQL's single quotes stay readable."""
    return '"' + "".join("\\" + c if c in '\\"$`' else c for c in text) + '"'


def query_hints(output: str, python: str = sys.executable) -> List[str]:
    """Shell commands that query `output` with this very interpreter (the one that has newsbeam installed)."""
    glob = os.path.join(output, "articles", "**", "*.parquet")
    dead = os.path.join(output, "dead_letters", "**", "*.parquet")
    interpreter = shlex.quote(python)
    month_start = datetime.now(timezone.utc).strftime("%Y-%m-01")  # ingest_date compares as an ISO date string
    codes = [
        "import duckdb; duckdb.sql(\"SELECT language, count(*) n, round(avg(word_count)) words "
        f"FROM read_parquet('{glob}', hive_partitioning=true, union_by_name=true) GROUP BY language ORDER BY n DESC\")"
        ".show()",
        "from newsbeam.analysis import read_pandas; df = read_pandas('" + output + "'); "
        f"print(df[df.ingest_date >= '{month_start}'][['language', 'title', 'published_at', 'date_source']]"
        ".head(10).to_string())",
        "from newsbeam.analysis import scan_polars; print(scan_polars('" + output + "')"
        ".group_by('source_domain').len().sort('len', descending=True).collect())",
        "import duckdb; duckdb.sql(\"SELECT stage, reason, count(*) n "
        f"FROM read_parquet('{dead}', hive_partitioning=true, union_by_name=true) GROUP BY ALL ORDER BY n DESC\")"
        ".show()",
    ]
    return [f"{interpreter} -c {_shell_quoted(code)}" for code in codes]


def _missing_analysis_modules() -> List[str]:
    return [name for name in ANALYSIS_MODULES if importlib.util.find_spec(name) is None]


def _snippets(output: str) -> str:
    duckdb_, pandas_, polars_, dead = query_hints(output)
    lines = ["", "Query it with DuckDB:", "  " + duckdb_, "with pandas (partition columns as comparable strings):",
             "  " + pandas_, "with Polars:", "  " + polars_, "and see why things failed:", "  " + dead]
    missing = _missing_analysis_modules()
    if missing:
        lines[1:1] = [f"(first install the analysis extra, {', '.join(missing)} missing: "
                      f"{shlex.quote(sys.executable)} -m pip install -e '.[analysis]' in the newsbeam repository)"]
    return "\n".join(lines) + "\n"


class LiveFeed:
    """A feed that gains one more sample article every `every` seconds: what a live news site looks like."""

    def __init__(self, paths: List[str], every: float):
        self._paths = paths
        self._every = every
        self._started = time.monotonic()

    def visible(self) -> List[str]:
        count = 1 + int((time.monotonic() - self._started) / self._every)
        return self._paths[:min(count, len(self._paths))]

    def route(self, handler) -> None:
        site = handler.server.site
        items = "".join(
            f"<item><title>{path.rsplit('/', 1)[-1]}</title><link>{site.url(path)}</link>"
            f"<guid>{path}</guid></item>" for path in reversed(self.visible()))
        body = (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Live desk</title>"
                f"{items}</channel></rss>").encode("utf-8")
        handler.send_body(200, body, "application/rss+xml")


def run_stream_demo(output: str, duration: float, extra: Optional[List[str]] = None) -> int:
    """Streaming, live: the driver polls a feed that gains an article every 4 seconds."""
    output = os.path.abspath(output)
    live = LiveFeed([p for p in article_paths() if "subscribers" not in p and "abonnes" not in p], every=4.0)
    with SampleSite(routes={"/feeds/live.rss": live.route}) as site:
        print(f"serving a live feed at {site.url('/feeds/live.rss')} (one more article every 4 s); "
              f"polling every 5 s for {duration:.0f} s; writing to {output}")
        code = run_stream(["--feeds", site.url("/feeds/live.rss"), "--output", output, "--host-delay", "0.02",
                           "--allow-private-addresses",
                           "--poll-interval", "5", "--duration", str(duration), *extra],
                          on_cycle=lambda outcome: print(cycle_line(outcome), flush=True))
    print()
    print(summarize(output))
    _report(output)
    return code


def _report(output: str) -> None:
    outcome = write_report(output)
    print(f"report: {outcome.path} (open it in a browser; it needs no network)")


def run_demo(output: str = DEFAULT_OUTPUT, extra: Optional[List[str]] = None) -> int:
    output = os.path.abspath(output)
    with SampleSite() as site, tempfile.TemporaryDirectory(prefix="newsbeam-demo-") as scratch:
        url_file = os.path.join(scratch, "urls.txt")
        with open(url_file, "w", encoding="utf-8") as handle:
            handle.write("# article URLs given directly, next to the feeds\n")
            handle.write(site.url("/legacy/de-latin1-page.html") + "\n")
            handle.write(site.url("/articles/en-missing-page.html") + "\n")
        print(f"serving the sample site at {site.base_url}; writing to {output}")
        outcome = ingest.run(demo_argv(site, output, url_file, list(extra or [])))
    print(f"\nrun {outcome.run_id}: {outcome.status} in {outcome.seconds:.1f} s")
    if outcome.accounting is not None:
        books = outcome.accounting.as_dict()
        skipped = sum(books["items_skipped"].values())
        print(f"{books['items_in']} article URLs listed, {books['items_duplicate']} duplicates, "
              f"{skipped} already handled by earlier runs, {books['items_to_fetch']} fetched -> "
              f"{books['articles_written']} articles + {books['article_dead_letters']} dead letters; "
              f"{books['feed_and_source_dead_letters']} feed/source dead letters")
    if outcome.error:
        print(f"error: {outcome.error}")
    print()
    print(summarize(output))
    print(_snippets(output))
    _report(output)
    return outcome.exit_code
