"""A run's life, shared by `ingest`, the local poll driver (`stream`) and the unbounded job (`stream_graph`):
exit codes, statuses, the manifest `OUT/_runs/<run_id>.json` from 'running' to its final status, the decision
between those statuses, and clean stops on SIGINT/SIGTERM.

A manifest never stays 'running' once the process has ended by itself: every way out of a run writes a final
status ('succeeded', 'no_input', 'accounting_mismatch', 'failed', 'interrupted', or for the unbounded job
'stopped'/'cancelled'). Only SIGKILL or a power cut leaves 'running' behind.
"""
from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, TypeVar

from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from newsbeam.entities.ner import model_versions
from newsbeam.manifest import Accounting, account, library_versions, manifest_path, write_json
from newsbeam.paragraphs import MODEL_VERSION as PARAGRAPH_MODEL_VERSION
from newsbeam.process_exit import exit_now
from newsbeam.pipelines.options import IngestConfig, UsageError
from newsbeam.transforms.common import NAMESPACE

LOG = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_PIPELINE_FAILED = 1
EXIT_USAGE = 2  # bad arguments or config, unreadable inputs, unwritable output, a held lock, damaged state
EXIT_ACCOUNTING = 3
EXIT_NO_INPUT = 4
# and 128 + the signal's number for a run stopped by SIGINT (130) or SIGTERM (143): see signal_exit_code

RUNNING = "running"
SUCCEEDED = "succeeded"
NO_INPUT = "no_input"
ACCOUNTING_MISMATCH = "accounting_mismatch"
FAILED = "failed"
INTERRUPTED = "interrupted"
STOPPED = "stopped"  # the unbounded job ended at --max-cycles or --duration
CANCELLED = "cancelled"  # the unbounded job was cancelled by Ctrl-C

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How long the driver waits to see killed workers gone (SIGKILL cannot be caught; a zombie whose reaper is slow
# must not hold up the exit).
_KILL_WAIT_SECONDS = 0.5

T = TypeVar("T")


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    output: str
    status: str
    exit_code: int
    counters: Dict[str, int]
    accounting: Optional[Accounting]
    seconds: float
    error: Optional[str] = None


def counters_of(result) -> Dict[str, int]:
    """newsbeam's counters summed over steps (committed where the runner has them)."""
    totals: Dict[str, int] = {}
    for item in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        value = item.committed if item.committed is not None else item.attempted
        totals[item.key.metric.name] = totals.get(item.key.metric.name, 0) + (value or 0)
    return dict(sorted(totals.items()))


def had_no_input(counters: Mapping[str, int]) -> bool:
    """True when every source failed or was empty: no article candidate came in, and no feed answered that it
    had not changed. A run whose feeds were fine but listed only articles written before is not 'no input'."""
    return (not counters.get("items.in")
            and not counters.get("feeds.not_modified") and not counters.get("feeds.unchanged"))


def _no_input_message(counters: Mapping[str, int]) -> str:
    failed = counters.get("dead_letters.written.source", 0) + counters.get("dead_letters.written.feed", 0)
    if failed:
        return (f"no input: every source failed or was empty ({failed} dead letter(s) of stages 'source' and 'feed' "
                "say why)")
    # e.g. a feed list file left empty by a deploy: no dead letter to point to
    return "no input: every source was empty (no feed, feed item or URL listed) and none failed"


def decide(counters: Mapping[str, int], error: Optional[str] = None
           ) -> Tuple[str, int, Optional[Accounting], Optional[str]]:
    """A finished batch run's (status, exit code, accounting, error message), from its counters alone."""
    if error is not None:
        return FAILED, EXIT_PIPELINE_FAILED, None, error
    accounting = account(counters)
    if not counters.get("run.committed"):
        # a runner that reports no counters has not shown that anything balances
        return (ACCOUNTING_MISMATCH, EXIT_ACCOUNTING, accounting,
                "the runner returned no newsbeam counters: the run's accounting could not be checked")
    if not accounting.balanced:
        return ACCOUNTING_MISMATCH, EXIT_ACCOUNTING, accounting, f"accounting does not balance: {accounting.as_dict()}"
    if had_no_input(counters):
        return NO_INPUT, EXIT_NO_INPUT, accounting, _no_input_message(counters)
    return SUCCEEDED, EXIT_OK, accounting, None


def stage_seconds(counters: Mapping[str, int]) -> Dict[str, float]:
    return {name.split(".", 1)[1]: round(value / 1e6, 3) for name, value in counters.items()
            if name.startswith("stage_us.")}


def signal_exit_code(signum: int) -> int:
    """The shells' convention for a death by signal: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + int(signum)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class RunManifest:
    """The manifest of one run: `start()` writes 'running', `finish()` the final status, at most once."""

    config: IngestConfig
    options: PipelineOptions
    extra: Dict[str, Any] = field(default_factory=dict)  # e.g. mode='unbounded'
    versions: Dict[str, Any] = field(default_factory=dict)  # added to library_versions()
    control: Optional["RunControl"] = None  # once it is stopping, any final status is 'interrupted'
    started: bool = False
    finished: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def path(self) -> str:
        return manifest_path(self.config.output, self.config.run_id)

    def payload(self, status: str, **extra) -> Dict[str, Any]:
        config = self.config
        return {
            "run_id": config.run_id,
            "status": status,
            "started_at": config.started_at.isoformat(),
            "ingest_date": config.ingest_date,
            "output": config.output,
            "sources": {"feeds": list(config.feeds), "url_files": list(config.url_files),
                        "warc": [path for path, _ in config.warc_files],
                        **({"sites": config.sites, "sitemaps": list(config.sitemaps), "discovered": config.discovery}
                           if config.sites else {})},
            "options": dict(self.options.get_all_options(drop_default=True)),
            "versions": {**library_versions(), **_model_versions(config), **self.versions},
            **self.extra,
            **extra,
        }

    def start(self) -> None:
        try:
            write_json(self.path, self.payload(RUNNING))
            self.started = True
        except Exception as exc:
            raise UsageError(f"cannot write to output {self.config.output!r}: {exc}") from None

    def finish(self, status: str, **extra) -> bool:
        """Writes the final status; False if another thread finished the manifest first."""
        with self._lock:
            if self.finished:
                return False
            self.finished = True
            if self.control is not None and self.control.stopping is not None:
                # the run's own ending raced the signal (e.g. it saw its workers die): the signal is the cause
                name = signal.Signals(self.control.stopping).name
                status, extra = INTERRUPTED, {**extra, "error": f"interrupted by {name}"}
            write_json(self.path, self.payload(status, finished_at=_now(), **extra))
            return True


def _model_versions(config: IngestConfig) -> Dict[str, Any]:
    """The extraction strategy (and its paragraph model) and the NER models a run loads (none with --entities
    gazetteer or off): they decide which text is kept and which names are found."""
    found: Dict[str, Any] = {"extraction_strategy": config.core.extraction.strategy}
    if config.core.extraction.strategy == "learned":
        found["paragraph_model"] = PARAGRAPH_MODEL_VERSION
    entities = config.core.entities
    if entities is not None and entities.tagger.use_ner:
        found["ner_models"] = list(model_versions(entities.tagger.models))
    return found


@dataclass
class RunControl:
    """What a signal needs to reach, shared by the thread running the work and the main thread that watches for
    signals: `stop` (a patient stop: the poll driver ends after the poll in flight) and the clean-ups that mark
    the run in flight as interrupted (newest first)."""

    stop: threading.Event = field(default_factory=threading.Event)
    stopping: Optional[int] = None  # the signal that stops the run now
    _cleanups: List[Callable[[str], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def on_interrupt(self, cleanup: Callable[[str], None]) -> Callable[[], None]:
        """Registers `cleanup(reason)`; returns the function that unregisters it."""
        with self._lock:
            self._cleanups.append(cleanup)

        def remove():
            with self._lock:
                if cleanup in self._cleanups:
                    self._cleanups.remove(cleanup)
        return remove

    def interrupt(self, reason: str) -> None:
        with self._lock:
            cleanups = list(reversed(self._cleanups))
        for cleanup in cleanups:
            try:
                cleanup(reason)
            except Exception:  # one failed clean-up must not keep the others from running
                LOG.exception("while stopping: %s", reason)


@contextmanager
def interruptible(manifest: RunManifest, control: Optional[RunControl] = None) -> Iterator[RunManifest]:
    """Wraps a run: a signal (through `control`) or an exception escaping the run marks its started manifest
    'interrupted' or 'failed' instead of leaving it 'running'."""
    remove = None
    if control is not None:
        manifest.control = control
        remove = control.on_interrupt(lambda reason: manifest.finish(INTERRUPTED, error=reason))
    try:
        yield manifest
    except BaseException as exc:
        if manifest.started and not manifest.finished:
            interrupted = isinstance(exc, KeyboardInterrupt)
            manifest.finish(INTERRUPTED if interrupted else FAILED,
                            error="interrupted" if interrupted else f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if remove is not None:
            remove()


def terminate_children(timeout: float = _KILL_WAIT_SECONDS) -> int:
    """Kills this process's descendants (the SDK worker processes of --direct_running_mode multi_processing);
    returns how many there were. SIGKILL: they run with SIGINT and SIGTERM blocked (see `supervise`)."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(children, timeout=timeout)
    return len(children)


def supervise(work: Callable[[], T], control: RunControl, patient: bool = False,
              announce: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)) -> T:
    """Runs `work()` in a thread of its own while the main thread watches for SIGINT/SIGTERM.

    First signal: with `patient`, `control.stop` is set and the work goes on (the poll driver finishes its poll);
    otherwise the run stops now: worker processes are killed, `control`'s clean-ups mark the run in flight
    'interrupted', one line goes to stderr and the process exits 130 (SIGINT) or 143 (SIGTERM). Any further
    signal exits at once with that code. Nothing half-written becomes visible: files are written under hidden
    temporary names and renamed when complete, and the next run reads back what an interrupted run committed.

    The work's thread and the threads it starts (fetching, Beam's) run with the two signals blocked, so that the
    main thread receives them; worker processes run in a session of their own (see
    `_workers_in_their_own_session`). Outside the main thread (tests, embedding) `work()` runs directly."""
    if threading.current_thread() is not threading.main_thread():
        return work()
    received: List[int] = []
    box: Dict[str, Any] = {}
    done = threading.Event()
    wake = threading.Event()

    def target():
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            box["error"] = exc
        finally:
            done.set()
            wake.set()

    def handler(signum, _frame):
        received.append(signum)
        if len(received) == 1 and patient:
            LOG.warning("%s received: finishing the poll in flight, then stopping (again to stop now)",
                        signal.Signals(signum).name)
            control.stop.set()
        elif len(received) > (2 if patient else 1):
            exit_now(signal_exit_code(received[0]))  # impatient: do not even wait for the clean-up
        else:
            control.stopping = received[0]
            _quiet()  # what breaks while the run is torn down is no news: the one line below says it all
        wake.set()

    _workers_in_their_own_session()
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        thread = threading.Thread(target=target, name="newsbeam-run", daemon=True)
        thread.start()
        while not done.is_set():
            wake.wait(0.1)  # a signal delivered to another thread does not cut the wait short
            wake.clear()
            if len(received) > (1 if patient else 0) and not done.is_set():
                _stop_now(control, received[0], announce)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    if "error" in box:
        raise box["error"]
    return box["value"]


def _quiet() -> None:
    logging.disable(logging.CRITICAL)
    threading.excepthook = lambda args: None


def _workers_in_their_own_session() -> None:
    """Starts the SDK worker processes of --direct_running_mode multi_processing in a session of their own.

    A Ctrl-C goes to the terminal's whole foreground process group: the workers (started through `sh -c`, which
    unblocks every signal) would each die with a KeyboardInterrupt traceback, and the run would end as 'failed'
    before the driver could stop it. In their own session only the driver hears the signal; it kills them."""
    from apache_beam.runners.portability import local_job_service

    if isinstance(local_job_service.subprocess, _OwnSessionSubprocess):
        return
    local_job_service.subprocess = _OwnSessionSubprocess()


class _OwnSessionSubprocess:
    """The `subprocess` module as Beam's SubprocessSdkWorker sees it: Popen starts a new session."""

    def __getattr__(self, name):
        return getattr(subprocess, name)

    @staticmethod
    def Popen(*args, **kwargs):  # noqa: N802 - the name Beam calls
        kwargs.setdefault("start_new_session", True)
        return subprocess.Popen(*args, **kwargs)


def _stop_now(control: RunControl, signum: int, announce: Callable[[str], None]) -> None:
    name = signal.Signals(signum).name
    terminate_children()  # first: they fetch and write
    control.interrupt(f"interrupted by {name}")
    announce(f"newsbeam: interrupted by {name}: the run is marked 'interrupted'; the next run completes it")
    exit_now(signal_exit_code(signum))
