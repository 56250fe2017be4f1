"""One way to put a whole file in place through Beam's `FileSystems`: write a hidden temporary name, then rename.

Readers (pyarrow, DuckDB, our own state readers) ignore names starting with `.`, so a writer killed at any point
leaves either the previous file or the new one under the final name, never half of one. On S3 and GCS, Beam's
writers complete the upload when the stream is closed, even after an exception: a failed write therefore becomes
a complete object under the *temporary* name, which is deleted here (or, if that fails too, by the next run's
sweep of dead runs' leftovers, see `newsbeam.runlock`). The final name is never written directly.
"""
from __future__ import annotations

import errno
import logging
import os
import uuid
from contextlib import contextmanager
from typing import BinaryIO, Iterator

from apache_beam.io.filesystem import BeamIOError, CompressionTypes
from apache_beam.io.filesystems import FileSystems

LOG = logging.getLogger(__name__)
TEMPORARY_SUFFIX = ".inprogress"


def temporary_name(path: str) -> str:
    """`dir/.name.<32 hex>.inprogress` next to `dir/name`: unique per attempt, hidden from readers."""
    directory, name = path.rsplit("/", 1)
    return FileSystems.join(directory, f".{name}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}")


@contextmanager
def atomic_create(path: str, mime_type: str = "application/octet-stream") -> Iterator[BinaryIO]:
    """Yields a writable handle; when the block ends without an exception, its bytes appear at `path` whole
    (replacing a previous file). On an exception the temporary file is deleted and the exception propagates."""
    temporary = temporary_name(path)
    try:
        with FileSystems.create(temporary, mime_type=mime_type,
                                compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            yield handle
    except BaseException:
        _discard(temporary)
        raise
    try:
        # local disk, S3 and GCS replace an existing name: one call (on object stores, each is a billed request
        # and, through Beam's S3 filesystem, a new client), where asking exists + delete first made up to three
        FileSystems.rename([temporary], [path])
    except BeamIOError:
        if not FileSystems.exists(path):
            raise
        FileSystems.delete([path])  # a filesystem whose rename refuses an existing name (HDFS)
        FileSystems.rename([temporary], [path])


def write_bytes(path: str, data: bytes, mime_type: str = "application/octet-stream") -> None:
    with atomic_create(path, mime_type) as handle:
        handle.write(data)


def _discard(temporary: str) -> None:
    try:
        if FileSystems.exists(temporary):
            FileSystems.delete([temporary])
    except Exception as exc:  # the original error matters more; a leftover hidden file is swept later
        LOG.warning("could not delete the temporary file %s: %s", temporary, exc)


def failure_reason(exc: BaseException) -> str:
    """What a failed run reports. A full disk says so first, in one line: runners re-raise a worker's OSError as
    a RuntimeError carrying only its text, so the text is searched too."""
    text = f"{type(exc).__name__}: {exc}"
    chain, seen = exc, set()
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        if isinstance(chain, OSError) and chain.errno == errno.ENOSPC:
            break
        chain = chain.__cause__ or chain.__context__
    if chain is not None or os.strerror(errno.ENOSPC) in text:
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        return f"disk full ({os.strerror(errno.ENOSPC)}): free space, then re-run with the same --run-id ({first})"
    return text
