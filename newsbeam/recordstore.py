"""Where records wait while they cross a pipeline barrier: packed in the element, or in a file whose path is the
element.

Beam's local runner (FnApiRunner) holds what reaches a GroupByKey, and a stage's whole output, in its own process
until the next stage starts, and hands each worker its part as one bundle; an article is ~6 KB packed
(newsbeam.packing), its row as much again, the raw response of an archived page ~140 KB. With a directory (the
run's spool, on the disk the local runner's processes share), `put` writes the packed record there once and returns
its path (~100 bytes), and `get` reads it back on the other side. Without one (runners that shuffle through disk
themselves), `put` returns the packed bytes: one code path either way.

`put` names a file by its content (BLAKE2b of the packed bytes): a retried bundle, or a record put twice unchanged,
writes nothing new, and ordering by reference is as deterministic as ordering by bytes.

Where records are new and many are written in one bundle (every barrier of the pipeline: the fetch stage's pages
and archived responses, the articles and rows after the core), `appender()` appends them to one file per bundle
instead and hands out (path, offset, length) references: a content-named file cost 0.4 ms a page-sized record
(hash, temporary file, rename), a plain new file 0.05-0.6 ms of CPU (more while other programs use the disk),
appending to an open one ~0.02 ms. A retried bundle appends to a new file; the abandoned one stays until the run
ends, like every file of the spool. Such a reference names a random file: a step that orders records by
reference orders them by `Appender.put_ordered`'s digest instead (the order content-named paths gave).

Files stay until the run ends (the caller removes the directory), so a retried bundle can read a reference again.
"""
from __future__ import annotations

import hashlib
import io
import os
import uuid
from dataclasses import dataclass
from typing import Any, Optional, Tuple, Union

from newsbeam.packing import pack, unpack

# packed bytes, the path of the file that holds them, or (path, offset, length) in a file of appended records
Ref = Union[bytes, str, Tuple[str, int, int]]


@dataclass(frozen=True)
class RecordStore:
    directory: Optional[str] = None  # None: the record travels packed in the element itself
    compress: bool = True  # False for bodies that are mostly compressed already (newsbeam.packing.pack)

    def put(self, record: Any) -> Ref:
        data = pack(record, compress=self.compress)
        if self.directory is None:
            return data
        path = os.path.join(self.directory, hashlib.blake2b(data, digest_size=16).hexdigest())
        if not os.path.exists(path):
            os.makedirs(self.directory, exist_ok=True)
            # written aside and renamed: a reader never sees half a file, even when two bundles write one record
            temporary = f"{path}.{uuid.uuid4().hex}.tmp"
            with open(temporary, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        return path

    def get(self, ref: Ref) -> Any:
        if isinstance(ref, bytes):
            return unpack(ref)
        if isinstance(ref, tuple):
            path, offset, length = ref
            with open(path, "rb") as file:
                file.seek(offset)
                data = file.read(length)
            if len(data) != length:
                raise ValueError(f"{path} ends before {offset + length} bytes")
            return unpack(data)
        with open(ref, "rb") as file:
            return unpack(file.read())

    def appender(self) -> "Appender":
        """Puts records into one new file (one per bundle: `close` it in finish_bundle), not one file each."""
        return Appender(self)


def write_all(file: io.FileIO, data: bytes) -> None:
    """All of `data` to an unbuffered file, whose `write` may take only part of it."""
    view = memoryview(data)
    while view:
        view = view[file.write(view):]


class Appender:
    """Packed records appended to one file of the store's directory, created with the first one; `put` returns
    (path, offset, length). Without a directory, records travel packed in the element, as `RecordStore.put`.
    `close` it when the bundle ends (Beam: finish_bundle)."""

    def __init__(self, store: RecordStore):
        self._store = store
        self._file: Optional[io.FileIO] = None
        self._path = ""
        self._offset = 0

    def put(self, record: Any) -> Ref:
        return self._put(pack(record, compress=self._store.compress))

    def put_ordered(self, record: Any) -> Tuple[str, Ref]:
        """(a key that orders records by content, the reference): the BLAKE2b hex digest of the packed bytes, which
        sorts as the content-named paths of `RecordStore.put` did, or "" without a directory, where the reference
        (the packed bytes) orders them itself."""
        data = pack(record, compress=self._store.compress)
        ref = self._put(data)
        return ("" if isinstance(ref, bytes) else hashlib.blake2b(data, digest_size=16).hexdigest()), ref

    def _put(self, data: bytes) -> Ref:
        if self._store.directory is None:
            return data
        if self._file is None:
            os.makedirs(self._store.directory, exist_ok=True)
            self._path = os.path.join(self._store.directory, f"{uuid.uuid4().hex}.records")
            # unbuffered: a record is in the file once `put` returns, so a reader fused into the same stage (no
            # barrier between them) finds it too; records are KBs, one write each
            self._file = open(self._path, "xb", buffering=0)
            self._offset = 0
        write_all(self._file, data)
        ref = (self._path, self._offset, len(data))
        self._offset += len(data)
        return ref

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
