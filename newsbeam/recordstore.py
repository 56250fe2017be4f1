"""Where records wait while they cross a pipeline barrier: packed in the element, or in a file whose path is the
element.

Beam's local runner (FnApiRunner) holds what reaches a GroupByKey, and a stage's whole output, in its own process
until the next stage starts, and hands each worker its part as one bundle; an article is ~6 KB packed
(newsbeam.packing), its row as much again, the raw response of an archived page ~140 KB. With a directory (the
run's spool, on the disk the local runner's processes share), `put` writes the packed record there once and returns
its path (~100 bytes), and `get` reads it back on the other side. Without one (runners that shuffle through disk
themselves), `put` returns the packed bytes: one code path either way.

Files are named by their content (BLAKE2b of the packed bytes): a retried bundle, or a record that crosses two
barriers unchanged, writes nothing new, and ordering by reference is as deterministic as ordering by bytes. They
stay until the run ends (the caller removes the directory), so a retried bundle can read a reference again.

Where every record is new and many are written in one bundle (the fetch stage: each page, each archived
response), `appender()` appends them to one file per bundle instead and hands out (path, offset, length)
references: a content-named file cost 0.4 ms a page-sized record (hash, temporary file, rename), a plain new file
0.05-0.6 ms of CPU (more while other programs use the disk), appending to an open one ~0.02 ms; and the fetch
stage of a one-host run is one worker's serial work. A retried bundle appends to a new
file; the abandoned one stays until the run ends, like every file of the spool.
"""
from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from typing import Any, BinaryIO, Optional, Tuple, Union

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


class Appender:
    """Packed records appended to one file of the store's directory, created with the first one; `put` returns
    (path, offset, length). Without a directory, records travel packed in the element, as `RecordStore.put`.
    Readers must wait for `close` (Beam: the bundle's end, before anything downstream of a barrier runs)."""

    def __init__(self, store: RecordStore):
        self._store = store
        self._file: Optional[BinaryIO] = None
        self._path = ""
        self._offset = 0

    def put(self, record: Any) -> Ref:
        data = pack(record, compress=self._store.compress)
        if self._store.directory is None:
            return data
        if self._file is None:
            os.makedirs(self._store.directory, exist_ok=True)
            self._path = os.path.join(self._store.directory, f"{uuid.uuid4().hex}.records")
            self._file = open(self._path, "xb")
            self._offset = 0
        self._file.write(data)
        ref = (self._path, self._offset, len(data))
        self._offset += len(data)
        return ref

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
