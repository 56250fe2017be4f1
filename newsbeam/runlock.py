"""One live run per output folder: the lock file `OUT/_lock`.

Two runs writing one output at once would both pass the seen check and write every article twice. A run therefore
holds `OUT/_lock` (JSON: run id, host, pid, a token, start time, heartbeat time) while it runs; a heartbeat thread
rewrites the heartbeat time every `heartbeat_every` seconds. Another run finding the lock refuses to start, unless
the holder is dead: its process is gone (same host), or its heartbeat is older than `stale_after`. A dead run's
lock is taken over with a warning, and its hidden temporary files are deleted (`sweep_leftovers`).

Creating the lock is atomic on local disk: the record is written to a hidden file and hard-linked to `OUT/_lock`
(link fails if the name exists). Taking over a dead run's lock is atomic too: only the contender that creates
`OUT/._lock.takeover-<dead token>` (O_EXCL) may replace that lock.

On gs:// and s3://, Beam's FileSystems has no create-if-absent, so the lock is written (an upload is all or nothing)
and read back `settle` seconds later; the run proceeds only if it still holds its own token. Two runs both proceed
only if one's upload of the lock takes longer than `settle` and falls between the other's check and its read-back.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Callable, Iterator, List, Optional

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.localfilesystem import LocalFileSystem

from newsbeam.atomic import TEMPORARY_SUFFIX, write_bytes

LOG = logging.getLogger(__name__)
LOCK_NAME = "_lock"
STALE_AFTER = 600.0  # seconds without a heartbeat after which a holder counts as dead
HEARTBEAT_EVERY = 30.0
SETTLE = 1.0  # object stores: seconds between writing the lock and reading it back


@dataclass(frozen=True)
class LockRecord:
    run_id: str
    host: str
    pid: int
    token: str
    started_at: str
    heartbeat_at: str

    def encode(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> Optional["LockRecord"]:
        try:
            fields = json.loads(data.decode("utf-8"))
            return cls(**{name: fields[name] for name in cls.__dataclass_fields__})
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def heartbeat_age(self, now: float) -> float:
        try:
            return now - datetime.fromisoformat(self.heartbeat_at).timestamp()
        except (TypeError, ValueError):
            return float("inf")


class RunLockRefused(Exception):
    """The run may not start on this output (its message is one line)."""


class RunLockHeld(RunLockRefused):
    """Another live run holds the output's lock."""

    def __init__(self, holder: Optional[LockRecord], path: str):
        self.holder = holder
        who = (f"run {holder.run_id} (pid {holder.pid} on {holder.host}, heartbeat {holder.heartbeat_at})"
               if holder is not None else f"a run whose lock {path} is unreadable")
        super().__init__(f"another run is writing to this output: {who}; wait for it to finish (a dead run's lock "
                         f"{path} is taken over once its process is gone or after {STALE_AFTER / 60:g} minutes "
                         f"without a heartbeat)")


def lock_path(output: str) -> str:
    return FileSystems.join(output, LOCK_NAME)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat()


def process_alive(pid: int) -> bool:
    """Whether a process of this machine with that pid lives (also someone else's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process, alive
        return True
    return True


def _describe(record: Optional[LockRecord], reason: str) -> str:
    if record is None:
        return reason
    return f"run {record.run_id} (pid {record.pid} on {record.host}, last heartbeat {record.heartbeat_at}): {reason}"


def why_dead(record: Optional[LockRecord], age_of_file: float, stale_after: float, now: float) -> Optional[str]:
    """Why the lock's holder counts as dead, or None if it may be alive."""
    if record is None:  # not ours: judged by the file's age alone
        return f"an unreadable lock untouched for {age_of_file:.0f} s" if age_of_file > stale_after else None
    if record.host == socket.gethostname() and not process_alive(record.pid):
        return f"its process {record.pid} is gone"
    age = record.heartbeat_age(now)
    if age > stale_after:
        return f"no heartbeat for {age:.0f} s"
    return None


class RunLock:
    """The lock of one output folder for one run. Use `hold_run_lock`, or `acquire` / `release`."""

    def __init__(self, output: str, run_id: str, stale_after: float = STALE_AFTER,
                 heartbeat_every: float = HEARTBEAT_EVERY, settle: float = SETTLE):
        self.output = output
        self.path = lock_path(output)
        self.stale_after = stale_after
        self.heartbeat_every = heartbeat_every
        self.settle = settle
        self.local = isinstance(FileSystems.get_filesystem(self.path), LocalFileSystem)
        now = time.time()
        self.record = LockRecord(run_id=run_id, host=socket.gethostname(), pid=os.getpid(),
                                 token=uuid.uuid4().hex, started_at=_iso(now), heartbeat_at=_iso(now))
        self.acquired_at: Optional[float] = None
        self.taken_over: Optional[str] = None  # why the previous holder counted as dead
        self._writing = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # --- reading and writing the lock file ---------------------------------------------------------------------

    def _read(self):
        """(record or None, age of the file in seconds, generation), or None if there is no lock. The generation
        tells one lock file from its replacement: the holder's token, or a digest of an unreadable file."""
        try:
            if self.local:
                with open(self.path, "rb") as handle:
                    data = handle.read()
                    age = time.time() - os.fstat(handle.fileno()).st_mtime
            else:
                data = self._read_remote()
                if data is None:
                    return None
                modified = FileSystems.last_updated(self.path)
                age = time.time() - modified if modified else 0.0
        except FileNotFoundError:
            return None
        record = LockRecord.decode(data)
        generation = record.token if record is not None else "x" + hashlib.sha256(data).hexdigest()[:32]
        return record, age, generation

    def _read_remote(self) -> Optional[bytes]:
        """The lock file's bytes, or None if there is none. Opened first, without asking whether it exists: a run
        reads its own lock at every heartbeat, and each call is a billed request. Only a failed open asks, since
        object stores report a missing object in their own ways (GCS: its NotFound; S3: FileNotFoundError)."""
        try:
            with FileSystems.open(self.path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
                return handle.read()
        except FileNotFoundError:
            return None
        except Exception:
            if FileSystems.exists(self.path):
                raise
            return None

    def _write_hidden(self, record: LockRecord) -> str:
        os.makedirs(self.output, exist_ok=True)
        hidden = os.path.join(self.output, f".{LOCK_NAME}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}")
        try:
            with open(hidden, "wb") as handle:
                handle.write(record.encode())
        except BaseException:  # e.g. a full disk during a heartbeat: leave nothing behind
            if os.path.exists(hidden):
                os.unlink(hidden)
            raise
        return hidden

    def _replace(self, record: LockRecord) -> None:
        """Rewrites the lock file in one step (readers never see it missing or half written)."""
        if self.local:
            os.replace(self._write_hidden(record), self.path)
        else:
            write_bytes(self.path, record.encode(), "application/json")

    # --- acquiring ---------------------------------------------------------------------------------------------

    def acquire(self) -> None:
        """Takes the lock or raises RunLockHeld. Takes over a dead holder's lock, with a warning."""
        if self.local:
            self._acquire_local()
        else:
            self._acquire_remote()
        self.acquired_at = time.time()
        if self.taken_over is not None:
            LOG.warning("run %s took over the lock %s of a dead run: %s", self.record.run_id, self.path,
                        self.taken_over)

    def _acquire_local(self) -> None:
        hidden = self._write_hidden(self.record)
        try:
            for _ in range(100):  # each pass ends in success, refusal, or a change made by another contender
                try:
                    os.link(hidden, self.path)
                    return
                except FileExistsError:
                    pass
                found = self._read()
                if found is None:
                    continue  # released meanwhile: try again
                record, age, generation = found
                reason = why_dead(record, age, self.stale_after, time.time())
                if reason is None:
                    raise RunLockHeld(record, self.path)
                if self._take_over_local(hidden, generation):
                    self.taken_over = _describe(record, reason)
                    return
                time.sleep(0.01)
            raise OSError(errno.EAGAIN, f"could not take the lock {self.path}: it keeps changing")
        finally:
            if os.path.exists(hidden):
                os.unlink(hidden)

    def _take_over_local(self, hidden: str, generation: str) -> bool:
        """Replaces the dead holder's lock, if this contender is the one that may (see the module's note)."""
        sentinel = os.path.join(self.output, f".{LOCK_NAME}.takeover-{generation}")
        try:
            os.close(os.open(sentinel, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            return False
        try:
            found = self._read()
            if found is None or found[2] != generation:
                return False  # someone else changed it meanwhile
            os.replace(hidden, self.path)
            return True
        finally:
            os.unlink(sentinel)

    def _acquire_remote(self) -> None:
        found = self._read()
        if found is not None:
            record, age, _ = found
            reason = why_dead(record, age, self.stale_after, time.time())
            if reason is None:
                raise RunLockHeld(record, self.path)
            self.taken_over = _describe(record, reason)
        self._replace(self.record)
        time.sleep(self.settle)
        found = self._read()
        if found is None or found[0] is None or found[0].token != self.record.token:
            if found is not None and found[0] is not None:
                raise RunLockHeld(found[0], self.path)  # it wrote its lock at the same moment
            raise OSError(errno.EAGAIN, f"the lock {self.path} changed while it was taken")

    # --- holding -----------------------------------------------------------------------------------------------

    def holds(self) -> bool:
        found = self._read()
        return found is not None and found[0] is not None and found[0].token == self.record.token

    def beat(self) -> None:
        """Refreshes the heartbeat time, if the lock is still ours."""
        with self._writing:
            if not self.holds():
                LOG.error("run %s: the lock %s is no longer ours; another run may be writing to this output",
                          self.record.run_id, self.path)
                return
            self.record = replace(self.record, heartbeat_at=_iso(time.time()))
            self._replace(self.record)

    def relabel(self, run_id: str) -> None:
        """Names the run now holding the lock (the stream driver's cycles each have their own run id)."""
        with self._writing:
            self.record = replace(self.record, run_id=run_id, heartbeat_at=_iso(time.time()))
            self._replace(self.record)

    def _heartbeats(self) -> None:
        while not self._stop.wait(self.heartbeat_every):
            try:
                self.beat()
            except Exception:  # a failed heartbeat must not kill the run; the next one may succeed
                LOG.exception("run %s: heartbeat of %s failed", self.record.run_id, self.path)

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._heartbeats, name=f"runlock-{self.record.run_id}", daemon=True)
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._writing:
            if self.holds():
                FileSystems.delete([self.path])


def sweep_leftovers(output: str, before: float) -> List[str]:
    """Deletes the hidden temporary files (`.*.inprogress`, and takeover markers) under `output` last modified
    before `before` (epoch seconds): what killed runs left. Call it only while holding the lock. One listing of
    the folder (as the finalize step's globs cost). Returns the deleted paths."""
    try:
        results = FileSystems.match([FileSystems.join(output, "**")])
    except Exception:  # an output that does not exist yet holds nothing
        return []
    stale = sorted({meta.path for result in results for meta in result.metadata_list
                    if _leftover(meta.path.rsplit("/", 1)[-1])
                    and meta.last_updated_in_seconds and meta.last_updated_in_seconds < before})
    if stale:
        LOG.warning("deleting %d temporary file(s) left by dead runs under %s", len(stale), output)
        FileSystems.delete(stale)
    return stale


def _leftover(name: str) -> bool:
    return (name.startswith(".") and name.endswith(TEMPORARY_SUFFIX)) or name.startswith(f".{LOCK_NAME}.takeover-")


@contextmanager
def hold_run_lock(output: str, run_id: str, held: Optional[RunLock] = None,
                  error: Callable[[str], Exception] = RunLockRefused, **settings) -> Iterator[RunLock]:
    """Holds the output's lock for the block: refuses (raises `error(one-line message)`) if another live run
    holds it, takes over a dead run's, starts the heartbeat and sweeps dead runs' temporary files.

    With `held` (a lock this process already holds for the same output, e.g. the stream driver's), the lock is
    only relabelled with `run_id`, and stays held after the block."""
    if held is not None:
        held.relabel(run_id)
        yield held
        return
    lock = RunLock(output, run_id, **settings)
    try:
        lock.acquire()
    except RunLockRefused as exc:
        raise error(str(exc)) from None
    except Exception as exc:  # e.g. an unwritable output, on any filesystem
        raise error(f"cannot write to output {output!r}: {exc}") from None
    try:
        lock.start_heartbeat()
        # files untouched for `stale_after` before this run took the lock belong to no live run
        sweep_leftovers(output, lock.acquired_at - lock.stale_after)
        yield lock
    finally:
        lock.release()
