"""Sharing out work among the local runner's workers as they go, instead of in the fixed shares the runner deals.

Beam's local runner (FnApiRunner, several workers) splits a stage's input into one bundle per worker with the same
number of elements each (`ParallelBundleManager`), whatever they cost. Where elements cost very different amounts
(pages: heavy-tailed; byte ranges of a WARC file) or a worker starts late (the one that fetched a one-site run loads
its models after fetching), one worker ran out of work while another still had seconds to minutes of it
(benchmarks/RESULTS.md, "Scale"). Beam's own remedy, dynamic splitting, loses elements with several local workers
in Beam 2.77.

`ShareOut` is a Reshuffle that also lists every element it hands out, in a directory all the workers see (the run's
spool, on the disk the local runner's processes share): an index file per bundle before the barrier, put in place
when the bundle ends (a bundle that failed lists nothing). After the barrier an element is processed by whichever
worker claims it first: a worker claims each element it is given and, once those are done (`finish_bundle`),
claims the elements still unclaimed in the index, while the other workers go on with theirs and skip what was
taken. A claim is a file created with O_EXCL, so each element goes on exactly once whatever the number of workers.

`ShareAsListed` needs no barrier at all: fused into the stage that makes the elements (the fetch), it lists each one
as it comes and hands out none; every worker's bundle of that stage, once its own elements are listed
(`finish_bundle`), claims listed elements as they come, its own and the others', until every bundle of the stage
has listed all of its own. In a one-site run the worker that fetches nothing thus extracts the pages while the
other fetches them, where a barrier kept it idle until the fetch ended. A bundle still listing does not list every
element: once `HELP_BACKLOG` of its listed ones wait unclaimed (the others cannot keep up), it keeps the next one
and processes it itself, at once. Its fetch then waits meanwhile (the fetcher's queue is bounded), so the bundle
lists about as fast as the others claim, and a fetch held back by the network or by politeness leaves its worker
extracting instead of idle.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import struct
import time
import uuid
from collections import deque
from typing import Any, Dict, Iterator, List, Optional, Tuple

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from newsbeam.recordstore import write_all
from newsbeam.runlock import process_alive
from newsbeam.transforms.common import counter

LOG = logging.getLogger(__name__)

_INDEX = "index"
_CLAIMS = "claims"
_BUNDLES = "bundles"
_LENGTH = struct.Struct("<I")


def _claim_name(element: Any) -> str:
    # elements here are small and pickle the same way in every process (references, byte ranges)
    return hashlib.blake2b(pickle.dumps(element, protocol=4), digest_size=16).hexdigest()


class _ListFn(beam.DoFn):
    def __init__(self, index_dir: str):
        self._index_dir = index_dir

    def start_bundle(self):
        self._listed = []

    def process(self, element, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        self._listed.append((element, timestamp, window))
        yield element

    def finish_bundle(self):
        if self._listed:
            os.makedirs(self._index_dir, exist_ok=True)
            final = os.path.join(self._index_dir, uuid.uuid4().hex)
            with open(f"{final}.tmp", "xb") as file:
                pickle.dump(self._listed, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(f"{final}.tmp", final)
        self._listed = []


def _claim(claims_dir: str, element) -> bool:
    path = os.path.join(claims_dir, _claim_name(element))
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


class _ClaimFn(beam.DoFn):
    def __init__(self, index_dir: str, claims_dir: str, metric: str):
        self._index_dir = index_dir
        self._claims_dir = claims_dir
        self._taken_over = counter(metric)

    def setup(self):
        os.makedirs(self._claims_dir, exist_ok=True)

    def _claim(self, element) -> bool:
        return _claim(self._claims_dir, element)

    def process(self, element) -> Iterator[Any]:
        if self._claim(element):
            yield element

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for element, timestamp, window in self._unclaimed():
            if self._claim(element):
                self._taken_over.inc()
                yield WindowedValue(element, timestamp, (window,))

    def _unclaimed(self):
        try:
            names = sorted(os.listdir(self._index_dir))
        except FileNotFoundError:
            return
        claimed = set(os.listdir(self._claims_dir))
        for name in names:
            if name.endswith(".tmp"):
                continue
            with open(os.path.join(self._index_dir, name), "rb") as file:
                listed = pickle.load(file)
            # from the end: the other workers go through the elements they were given from the start
            for element, timestamp, window in reversed(listed):
                if _claim_name(element) not in claimed:
                    yield element, timestamp, window


class ShareOut(beam.PTransform):
    """Elements -> the same elements, each once, shared out among the workers as they go (see the module's
    docstring). `directory`: one every worker process can read and write, removed by the caller after the run;
    None (other runners, no spool): a plain Reshuffle, the runner deals them. `metric`: the counter of elements a
    worker took over from another."""

    def __init__(self, directory: Optional[str], metric: str):
        super().__init__()
        # this step's index and claims, apart from any other step's in the same directory
        self._root = os.path.join(directory, f"share-{uuid.uuid4().hex}") if directory is not None else None
        self._metric = metric

    def expand(self, elements):
        if self._root is None:
            return elements | "Reshuffle" >> beam.Reshuffle()
        index_dir = os.path.join(self._root, _INDEX)
        return (
            elements
            | "List" >> beam.ParDo(_ListFn(index_dir))
            | "Reshuffle" >> beam.Reshuffle()
            | "Claim" >> beam.ParDo(_ClaimFn(index_dir, os.path.join(self._root, _CLAIMS), self._metric))
        )


# How long a bundle that has listed its own elements waits for the stage's other bundles to start (the local runner
# starts them together: this only bounds the wait when fewer start than expected), and how often it looks for
# newly listed elements while none are left to claim.
START_GRACE = 10.0
POLL_FIRST = 0.005
POLL_LAST = 0.1
# A bundle still listing processes an element itself instead of listing it while this many of its listed elements
# wait unclaimed: the other workers have that much work ahead (refs to spooled pages: no memory to speak of), enough
# to cover the seconds a heavy page or the first model load keeps this bundle from listing.
HELP_BACKLOG = 32


class _Listings:
    """Reads the index files of a directory as their bundles append to them: each call returns the elements listed
    since the last one, (lister, element, timestamp, window), in file then listing order."""

    def __init__(self, index_dir: str):
        self._index_dir = index_dir
        self._offsets: Dict[str, int] = {}

    def new(self) -> List[Tuple[str, Any, Any, Any]]:
        found = []
        for name in sorted(os.listdir(self._index_dir)):
            offset = self._offsets.get(name, 0)
            with open(os.path.join(self._index_dir, name), "rb") as file:
                file.seek(offset)
                data = file.read()
            start = 0
            # only whole records: the lister may be writing the next one
            while len(data) - start >= _LENGTH.size:
                (length,) = _LENGTH.unpack_from(data, start)
                end = start + _LENGTH.size + length
                if end > len(data):
                    break
                found.append((name, *pickle.loads(data[start + _LENGTH.size:end])))
                start = end
            self._offsets[name] = offset + start
        return found


class _ListThenClaimFn(beam.DoFn):
    def __init__(self, root: str, bundles: int, taken_over: str, while_listing: str, kept: str,
                 grace: float = START_GRACE, help_backlog: int = HELP_BACKLOG):
        self._index_dir = os.path.join(root, _INDEX)
        self._claims_dir = os.path.join(root, _CLAIMS)
        self._bundles_dir = os.path.join(root, _BUNDLES)
        self._bundles = bundles
        self._grace = grace
        self._help_backlog = help_backlog
        self._taken_over = counter(taken_over)
        self._while_listing = counter(while_listing)
        self._kept = counter(kept)

    def setup(self):
        for directory in (self._index_dir, self._claims_dir, self._bundles_dir):
            os.makedirs(directory, exist_ok=True)
        self._id: Optional[str] = None
        self._index = None
        self._gone = set()  # bundles whose process ended before they listed all of their own

    def _mark(self, state: str, content: str = "") -> None:
        final = os.path.join(self._bundles_dir, f"{self._id}.{state}")
        with open(f"{final}.tmp", "x") as file:
            file.write(content)
        os.replace(f"{final}.tmp", final)

    def start_bundle(self):
        self._id = uuid.uuid4().hex
        self._began = time.monotonic()
        self._mark("started", str(os.getpid()))
        self._index = open(os.path.join(self._index_dir, self._id), "xb", buffering=0)
        self._waiting = deque()  # claim names of this bundle's listed elements not yet seen claimed, in order

    def process(self, element, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        if self._unclaimed() >= self._help_backlog:
            # never listed, so nobody else can claim it
            self._kept.inc()
            yield element
            return
        data = pickle.dumps((element, timestamp, window), protocol=pickle.HIGHEST_PROTOCOL)
        # one unbuffered write a record: the other workers read the index while it grows
        write_all(self._index, _LENGTH.pack(len(data)) + data)
        self._waiting.append(_claim_name(element))
        # each listed element is emitted by the worker that claims it, in its finish_bundle (or here, above)

    def _unclaimed(self) -> int:
        """How many of this bundle's listed elements wait unclaimed, about: the others claim a listing in order,
        so only its oldest waiting element is looked up (a stat) until one is found unclaimed."""
        while self._waiting and os.path.exists(os.path.join(self._claims_dir, self._waiting[0])):
            self._waiting.popleft()
        return len(self._waiting)

    def finish_bundle(self) -> Iterator[WindowedValue]:
        self._index.close()
        self._mark("done")
        self._id = None
        listings = _Listings(self._index_dir)
        own = os.path.basename(self._index.name)
        poll = POLL_FIRST
        listing = True
        while True:
            listing = listing and self._still_listing()
            found = listings.new()
            for lister, element, timestamp, window in found:
                if _claim(self._claims_dir, element):
                    if lister != own:
                        self._taken_over.inc()
                    # looked at again for each element (~50 us, next to its extraction) so the count is exact
                    listing = listing and self._still_listing()
                    if listing:
                        self._while_listing.inc()
                    yield WindowedValue(element, timestamp, (window,))
            if found:
                poll = POLL_FIRST
            elif not listing:
                # every bundle had listed all it will before this last read
                return
            else:
                time.sleep(poll)
                poll = min(2 * poll, POLL_LAST)

    def _still_listing(self) -> bool:
        """Whether another bundle of the stage may still list elements: one started and has neither listed all
        of its own nor failed, and its process lives; or fewer than the expected bundles have started, for up to
        the grace period."""
        names = os.listdir(self._bundles_dir)
        started = {name[:-len(".started")] for name in names if name.endswith(".started")}
        ended = {name.split(".")[0] for name in names if name.endswith((".done", ".failed"))}
        for bundle in sorted(started - ended):
            try:
                with open(os.path.join(self._bundles_dir, f"{bundle}.started")) as file:
                    pid = int(file.read())
            except (FileNotFoundError, ValueError):
                continue
            if process_alive(pid):
                return True
            if bundle not in self._gone:
                self._gone.add(bundle)
                LOG.warning("a bundle listing elements in %s ended with its process %d", self._bundles_dir, pid)
        if len(started) < self._bundles:
            if time.monotonic() - self._began < self._grace:
                return True
            LOG.warning("%d of the %d expected bundles listed elements in %s; not waiting for the others",
                        len(started), self._bundles, self._bundles_dir)
            self._bundles = len(started)
        return False

    def teardown(self):
        # a bundle that failed (Beam tears its steps down) has not listed all of its own: the others stop waiting
        if getattr(self, "_id", None) is not None:
            index = getattr(self, "_index", None)
            if index is not None:  # None if the bundle failed before its index was opened
                index.close()
            self._mark("failed")
            self._id = None


class ShareAsListed(beam.PTransform):
    """Elements -> the same elements, each once, without a barrier: fused into the stage that makes them, each
    worker lists its elements as they come and, once its own are listed, processes listed elements (its own and
    the others') until the stage's `bundles` bundles (the local runner: one per worker) have listed all of theirs;
    a worker with `HELP_BACKLOG` listed elements waiting keeps the next one instead of listing it. `directory` as
    for ShareOut. Counters: `taken_over`, of the elements a worker took from another's listing; `while_listing`, of
    those claimed while another bundle was still listing; `kept`, of the elements a bundle kept while listing."""

    def __init__(self, directory: str, bundles: int, taken_over: str, while_listing: str, kept: str):
        super().__init__()
        self._root = os.path.join(directory, f"share-{uuid.uuid4().hex}")
        self._bundles = bundles
        self._counters = (taken_over, while_listing, kept)

    def expand(self, elements):
        return elements | "ListThenClaim" >> beam.ParDo(_ListThenClaimFn(self._root, self._bundles, *self._counters))
