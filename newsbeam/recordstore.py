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
"""
from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from typing import Any, Optional, Union

from newsbeam.packing import pack, unpack

Ref = Union[bytes, str]  # packed bytes, or the path of the file that holds them


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
        with open(ref, "rb") as file:
            return unpack(file.read())
