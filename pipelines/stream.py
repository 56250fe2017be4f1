"""Local streaming: a polling driver that runs one bounded ingest per cycle, with the same transforms and the
shared incremental state, until it is stopped.

No runner on a single machine here executes an unbounded Python pipeline (the DirectRunner ignores --streaming,
Prism cannot be downloaded), so each poll is a batch run: its own run id, manifest and state segment. A first SIGINT
or SIGTERM lets the cycle in flight finish and commit, then the driver exits 0; a second one stops the cycle in
flight at once (its manifest says 'interrupted') and exits 130 or 143.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Callable, List, Optional

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

from newsbeam.manifest import write_json
from newsbeam.runlock import hold_run_lock
from newsbeam.pipelines import ingest
from newsbeam.pipelines.lifecycle import EXIT_NO_INPUT, EXIT_OK, EXIT_PIPELINE_FAILED, FAILED, RunControl, RunOutcome
from newsbeam.pipelines.options import NewsbeamOptions, UsageError, build_config, default_run_id
from newsbeam.transforms.fetch import shared_fetch_context
from newsbeam.transforms.warmup import keep_models_loaded

LOG = logging.getLogger(__name__)
STATUS_FOLDER = "_stream"  # not in _runs/: that folder holds one manifest per run and nothing else
STATUS_FILE = "status.json"
MAX_CONSECUTIVE_FAILURES = 5
MAX_POLL_INTERVAL = 366 * 86400.0  # a year: beyond it (or NaN) next_poll_at cannot even be written as a date


class StreamOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        group = parser.add_argument_group("streaming")
        group.add_argument("--poll-interval", "--poll_interval", dest="poll_interval", type=float, default=60.0,
                           help="Seconds from the start of one poll to the start of the next (default 60).")
        group.add_argument("--max-cycles", "--max_cycles", dest="max_cycles", type=int, default=None,
                           help="Stop right after the Nth poll (default: run until stopped).")
        group.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                           help="Start no poll after this many seconds (the poll in flight finishes).")


@dataclass
class StreamStatus:
    """The heartbeat file `OUT/_stream/status.json`, rewritten after every cycle."""

    state: str  # 'running', 'stopped', 'failed' or 'interrupted'
    pid: int
    started_at: str
    updated_at: str
    cycles: int = 0
    failed_cycles: int = 0
    no_input_cycles: int = 0  # polls in which every source failed or was empty: not failures, but worth watching
    articles_written: int = 0
    dead_letters_written: int = 0
    last_run_id: Optional[str] = None
    last_status: Optional[str] = None
    last_cycle_seconds: Optional[float] = None
    next_poll_at: Optional[str] = None
    recent_errors: List[str] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def run_stream(argv: List[str], on_cycle: Optional[Callable[[RunOutcome], None]] = None,
               stop: Optional[threading.Event] = None, control: Optional[RunControl] = None) -> int:
    """Polls until stopped, `--max-cycles` or `--duration`. Returns the process exit code.

    `control` (the CLI's, see `lifecycle.supervise`) carries the stop request and lets a second signal mark the
    poll in flight and the status file 'interrupted'."""
    options = PipelineOptions(argv)
    stream = options.view_as(StreamOptions)
    if not 0 < stream.poll_interval < MAX_POLL_INTERVAL:
        raise UsageError(f"--poll-interval must be positive and under {MAX_POLL_INTERVAL:.0f} seconds")
    if stream.duration is not None and not stream.duration > 0:  # also NaN
        raise UsageError("--duration must be positive")
    if stream.max_cycles is not None and stream.max_cycles < 1:
        raise UsageError("--max-cycles must be at least 1")
    if options.view_as(NewsbeamOptions).run_id is not None:
        raise UsageError("--run-id does not apply to stream: every cycle gets its own id")
    config = build_config(options.view_as(NewsbeamOptions))  # fail fast on bad arguments, before the first cycle
    # the driver holds the output's lock from its first cycle to its last; each cycle relabels it with its run id
    with hold_run_lock(config.output, f"stream-{default_run_id(_now())}", error=UsageError) as lock:
        stop = stop or (control.stop if control else threading.Event())
        previous = _install_signal_handlers(stop)
        # Holding the fetch context keeps it alive between cycles: the fetch DoFns of the in-process runner acquire
        # this same object, so per-host delays and robots.txt rules carry over from one poll to the next.
        context = shared_fetch_context(config.core.fetch)
        # likewise the models, when the polls' workers run in this process (they are seconds to load each poll)
        models = keep_models_loaded(config.core.language, config.core.entities) if polls_in_process(options) else []
        status = StreamStatus(state="running", pid=os.getpid(), started_at=_now().isoformat(),
                              updated_at=_now().isoformat())
        status_path = FileSystems.join(config.output, STATUS_FOLDER, STATUS_FILE)
        started = time.monotonic()
        consecutive_failures = 0

        def interrupted(reason: str) -> None:
            status.state = "interrupted"
            status.updated_at = _now().isoformat()
            status.next_poll_at = None
            status.recent_errors = (status.recent_errors + [reason])[-5:]
            write_json(status_path, asdict(status))

        forget = control.on_interrupt(interrupted) if control else (lambda: None)
        # a stop ends the process at once (newsbeam.process_exit): release the lock first (cleanups run newest first)
        forget_lock = control.on_interrupt(lambda reason: lock.release()) if control else (lambda: None)
        try:  # the one place that wraps all the polls
            # at once, not after the first poll (minutes, with models to load): until then the file would still
            # describe the previous driver, perhaps one killed while 'running', under its pid
            write_json(status_path, asdict(status))
            wait: Optional[float] = 0.0
            while wait is not None and not stop.is_set():
                cycle_started = time.monotonic()
                run_id = default_run_id(_now())
                try:
                    # the stream reports one line per poll; a progress line per poll would repeat it
                    given = any(arg == "--progress" or arg.startswith("--progress=") for arg in argv)
                    quiet = [] if given else ["--progress", "off"]
                    outcome = ingest.run([*argv, *quiet, "--run-id", run_id], control=control, lock=lock)
                except UsageError as exc:
                    if not status.cycles:
                        raise  # bad arguments or inputs: said at once, before the stream has ever run
                    # Later, the same error is a passing condition (a feed list being replaced, the output's storage
                    # unreachable): it fails this poll only, and the five-in-a-row rule decides when to give up.
                    LOG.error("cycle %s could not start: %s", run_id, exc)
                    outcome = RunOutcome(run_id, config.output, FAILED, EXIT_PIPELINE_FAILED, {}, None,
                                         round(time.monotonic() - cycle_started, 3), f"UsageError: {exc}")
                except Exception as exc:  # a cycle that cannot even start is logged; the next poll tries again
                    LOG.exception("cycle %s could not run", run_id)
                    outcome = RunOutcome(run_id, config.output, FAILED, EXIT_PIPELINE_FAILED, {}, None,
                                         round(time.monotonic() - cycle_started, 3), f"{type(exc).__name__}: {exc}")
                status.cycles += 1
                consecutive_failures = consecutive_failures + 1 if _failed(outcome) else 0
                _record(status, outcome)
                wait = _wait_before_next(stream, status.cycles, started, cycle_started + stream.poll_interval,
                                         time.monotonic())
                status.next_poll_at = (None if wait is None else
                                       datetime.fromtimestamp(time.time() + wait, timezone.utc).isoformat())
                write_json(status_path, asdict(status))
                LOG.info("cycle %d: %s", status.cycles, cycle_line(outcome))
                if on_cycle is not None:
                    on_cycle(outcome)
                if consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                    status.state = "failed"
                    LOG.error("stopping: %d cycles in a row failed", consecutive_failures)
                    return EXIT_PIPELINE_FAILED
                if wait is not None:
                    stop.wait(wait)
            status.state = "stopped"
            return EXIT_OK
        finally:
            forget_lock()
            forget()
            del context, models
            if status.state == "running":
                status.state = "failed"
            status.updated_at = _now().isoformat()
            status.next_poll_at = None
            write_json(status_path, asdict(status))
            _restore_signal_handlers(previous)


def polls_in_process(options: PipelineOptions) -> bool:
    """The polls' workers run in this process: the local runner, in memory or on threads (its default)."""
    runner = options.view_as(StandardOptions).runner
    mode = options.view_as(DirectOptions).direct_running_mode
    return runner in (None, ingest.DEFAULT_RUNNER) and mode in ("in_memory", "multi_threading")


def _wait_before_next(stream: StreamOptions, cycles: int, started: float, next_poll: float,
                      now: float) -> Optional[float]:
    """Seconds to wait before the next poll (0 after a poll slower than the interval: the next starts at once,
    and the schedule shifts rather than bunching up), or None if there is none: `--max-cycles` polls are done, or
    the next poll would start after `--duration`. Deciding before the wait spares the idle interval that would
    otherwise follow the last poll."""
    if stream.max_cycles is not None and cycles >= stream.max_cycles:
        return None
    if stream.duration is not None and max(next_poll, now) - started >= stream.duration:
        return None
    return max(0.0, next_poll - now)


def cycle_line(outcome: RunOutcome) -> str:
    """One line per poll: what came in, what was written, how long it took."""
    counters = outcome.counters
    line = (f"{_now().strftime('%H:%M:%S')} {outcome.run_id} {outcome.status}: "
            f"{counters.get('items.to_fetch', 0)} new item(s), {counters.get('articles.written', 0)} article(s), "
            f"{counters.get('dead_letters.written', 0)} dead letter(s), {outcome.seconds:.1f} s")
    return line + (f" ({outcome.error})" if outcome.error else "")


def _record(status: StreamStatus, outcome: RunOutcome) -> None:
    status.updated_at = _now().isoformat()
    status.last_run_id = outcome.run_id
    status.last_status = outcome.status
    status.last_cycle_seconds = outcome.seconds
    status.articles_written += outcome.counters.get("articles.written", 0)
    status.dead_letters_written += outcome.counters.get("dead_letters.written", 0)
    if _failed(outcome):
        status.failed_cycles += 1
    if outcome.exit_code == EXIT_NO_INPUT:
        status.no_input_cycles += 1
    if outcome.error:  # a stream whose every feed fails says so here, although its polls do not count as failed
        status.recent_errors = (status.recent_errors + [f"{outcome.run_id}: {outcome.error}"])[-5:]


def _failed(outcome: RunOutcome) -> bool:
    """A poll that found nothing (every feed failed or was empty: exit 4) is not a failed poll: the sources may
    come back, and the driver must not give up on them."""
    return outcome.exit_code not in (EXIT_OK, EXIT_NO_INPUT)


def _install_signal_handlers(stop: threading.Event):
    """SIGINT/SIGTERM: finish the cycle in flight, then stop. Only the main thread may install handlers."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def request_stop(signum, _frame):
        LOG.warning("%s received: finishing the current cycle, then stopping", signal.Signals(signum).name)
        stop.set()

    return {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(previous) -> None:
    for sig, handler in (previous or {}).items():
        signal.signal(sig, handler)


def status_of(output: str) -> dict:
    with FileSystems.open(FileSystems.join(output, STATUS_FOLDER, STATUS_FILE)) as handle:
        return json.loads(handle.read().decode("utf-8"))
