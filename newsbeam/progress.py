"""Live progress of a local run: worker processes write heartbeats, the driver sums and shows them.

Beam metrics reach the driver only when a FnApiRunner job ends, so each worker process keeps its own tally of
newsbeam's counters and rewrites it, atomically, as a small JSON file in a per-run folder (`Heartbeat`). A driver
thread (`ProgressReporter`) sums the files and draws one line on stderr: redrawn in place on a terminal (rich),
or one log line every 10 s when stderr is a file or a pipe.

The folder reaches the workers through the environment variable PROGRESS_ENV, which in-process workers see and
the runner's worker subprocesses inherit. Summing and formatting are pure functions (`progress_view`,
`format_view`).
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Optional, TextIO

PROGRESS_ENV = "NEWSBEAM_PROGRESS_DIR"
MODES = ("auto", "bar", "log", "off")
HEARTBEAT_SECONDS = 1.0
BAR_SECONDS = 0.5
LOG_SECONDS = 10.0
LOG = logging.getLogger(__name__)


# --- pure: summing and formatting ------------------------------------------------------------------------------

def sum_counts(tallies: Iterable[Mapping[str, int]]) -> Dict[str, int]:
    totals: Dict[str, int] = {}
    for tally in tallies:
        for name, value in tally.items():
            if isinstance(value, int):
                totals[name] = totals.get(name, 0) + value
    return totals


@dataclass(frozen=True)
class ProgressView:
    sources: int  # feed and list documents read or failed
    listed: int  # items listed by feeds and URL files
    new: int  # items not handled by an earlier run
    to_fetch: Optional[int]  # known once fetching has started (the host grouping is a barrier before it)
    fetched: int  # pages fetched or failed
    articles: int
    dead_letters: int
    elapsed: float
    rate: Optional[float]  # pages per second since the first page
    eta: Optional[float]
    final: bool = False


def progress_view(counts: Mapping[str, int], elapsed: float, fetch_started: Optional[float] = None,
                  final: bool = False) -> ProgressView:
    """What the line shows, from summed counters. `fetch_started`: seconds into the run of the first fetched page.

    A final view takes articles and dead letters from the writer's committed counters."""
    c = lambda name: int(counts.get(name, 0))  # noqa: E731
    fetched = c("pages.fetched") + c("pages.fetch_failed")
    to_fetch = c("items.to_fetch") if fetched or final else None
    rate = eta = None
    if fetch_started is not None and fetched and elapsed > fetch_started:
        rate = fetched / (elapsed - fetch_started)
        if to_fetch is not None and not final:
            eta = max(0, to_fetch - fetched) / rate
    # a run that wrote only dead letters (or nothing) has no 'articles.written': its last line must still show
    # what it committed, not the in-flight failures (which miss a feed that is not a feed, a bad source line ...)
    if final and ("articles.written" in counts or "dead_letters.written" in counts or "run.committed" in counts):
        articles, dead = c("articles.written"), c("dead_letters.written")
    else:
        articles = c("articles.extracted")
        dead = c("pages.fetch_failed") + c("articles.extract_failed") + c("feeds.fetch_failed")
    return ProgressView(
        sources=c("sources.read") + c("feeds.fetched") + c("feeds.fetch_failed"),
        listed=c("feeds.items") + c("sources.direct_urls"),
        new=c("items.new") + c("items.retried"),
        to_fetch=to_fetch, fetched=fetched, articles=articles, dead_letters=dead, elapsed=elapsed, rate=rate,
        eta=eta, final=final)


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def format_view(view: ProgressView) -> str:
    """One line, most important first: a narrow terminal crops the end."""
    fetched = f"{view.fetched}/{view.to_fetch}" if view.to_fetch is not None else str(view.fetched)
    parts = [
        f"fetched {fetched}",
        f"articles {view.articles}",
        f"dead letters {view.dead_letters}",
        f"{view.rate:.1f} pages/s" if view.rate is not None else "- pages/s",
    ]
    if view.final:
        parts.append("done")
    elif view.eta is not None:
        parts.append(f"ETA {clock(view.eta)}")
    parts += [f"elapsed {clock(view.elapsed)}", f"listed {view.listed} (new {view.new})"]
    if view.sources:  # feed documents and subscription lists; `--urls` files are not counted
        parts.append(f"sources {view.sources}")
    return " | ".join(parts)


def read_heartbeats(folder: str) -> Dict[str, int]:
    """The sum of every worker's last heartbeat in `folder` (missing or half-renamed files are skipped)."""
    tallies = []
    try:
        names = os.listdir(folder)
    except OSError:
        return {}
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                tallies.append(json.load(handle))
        except (OSError, ValueError):
            continue
    return sum_counts(tallies)


# --- worker side ------------------------------------------------------------------------------------------------

class Heartbeat:
    """One worker process's tally, rewritten to its own file at most every `interval` seconds while it changes."""

    def __init__(self, folder: str, interval: float = HEARTBEAT_SECONDS):
        self._folder = folder
        self._path = os.path.join(folder, f"worker-{os.getpid()}-{uuid.uuid4().hex[:8]}.json")
        self._counts: Dict[str, int] = {}
        self._lock = threading.Lock()
        self._dirty = False
        self._stopped = threading.Event()
        self._interval = interval
        threading.Thread(target=self._loop, name="newsbeam-heartbeat", daemon=True).start()

    def add(self, name: str, value: int) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + value
            self._dirty = True

    def flush(self) -> bool:
        """Writes the tally; False once the run's folder is gone (the run is over)."""
        with self._lock:
            payload, self._dirty = json.dumps(self._counts), False
        temporary = f"{self._path}.{uuid.uuid4().hex[:6]}.tmp"
        try:
            with open(temporary, "w", encoding="utf-8") as handle:
                handle.write(payload)
            os.replace(temporary, self._path)  # atomic: the driver reads the old tally or the new one
        except OSError:
            return False
        return True

    def _loop(self) -> None:
        while not self._stopped.wait(self._interval):
            if self._dirty and not self.flush():
                return
            if not os.path.isdir(self._folder):
                return

    def close(self) -> None:
        self._stopped.set()
        if self._dirty:
            self.flush()


# --- driver side ------------------------------------------------------------------------------------------------

def resolve_mode(mode: str, stream: TextIO) -> str:
    """'auto' becomes 'bar' on a terminal and 'log' otherwise."""
    if mode != "auto":
        return mode
    try:
        return "bar" if stream.isatty() else "log"
    except (AttributeError, ValueError):
        return "log"


class ProgressReporter:
    """A driver thread that sums the heartbeats in `folder` and shows the progress line on `stream`."""

    def __init__(self, folder: str, mode: str, stream: Optional[TextIO] = None, log_every: float = LOG_SECONDS):
        self._folder = folder
        self._stream = stream or sys.stderr
        self._mode = resolve_mode(mode, self._stream)
        self._log_every = log_every
        self._started = time.monotonic()
        self._fetch_started: Optional[float] = None
        self._stopped = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._live = None
        self._done = False

    @property
    def mode(self) -> str:
        return self._mode

    def _view(self, counts: Mapping[str, int], final: bool = False) -> ProgressView:
        elapsed = time.monotonic() - self._started
        if self._fetch_started is None and counts.get("pages.fetched", 0) + counts.get("pages.fetch_failed", 0):
            self._fetch_started = elapsed
        return progress_view(counts, elapsed, self._fetch_started, final=final)

    def start(self) -> "ProgressReporter":
        if self._mode == "off":
            return self
        if self._mode == "bar":
            from rich.console import Console
            from rich.live import Live
            from rich.text import Text

            console = Console(file=self._stream, force_terminal=True, soft_wrap=False)
            self._text = Text
            self._live = Live(Text("newsbeam: starting…"), console=console, auto_refresh=False, transient=False,
                              redirect_stdout=False, redirect_stderr=False)
            self._live.start()
        self._thread = threading.Thread(target=self._loop, name="newsbeam-progress", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        # sampled often in both modes, so that the rate starts at the first page; a log line only every log_every
        last_line = time.monotonic()
        while not self._stopped.wait(BAR_SECONDS):
            view = self._view(read_heartbeats(self._folder))
            if self._mode == "bar" or time.monotonic() - last_line >= self._log_every:
                self._show(view)
                last_line = time.monotonic()

    def _show(self, view: ProgressView) -> None:
        line = format_view(view)
        if self._mode == "bar":
            # cropped to the terminal's width: a wrapped line would break the redraw in place
            self._live.update(self._text(line, no_wrap=True, overflow="ellipsis"), refresh=True)
        else:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            self._stream.write(f"{stamp} progress: {line}\n")
            self._stream.flush()

    def stop(self, final_counts: Optional[Mapping[str, int]] = None) -> None:
        """Stops the thread and shows the last line: from the run's committed counters when given. Idempotent."""
        if self._mode == "off" or self._done:
            return
        self._done = True
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
        counts = final_counts if final_counts else read_heartbeats(self._folder)
        self._show(self._view(counts, final=bool(final_counts)))
        if self._live is not None:
            self._live.stop()
