"""Compact bytes for records that wait at a pipeline barrier.

Beam's in-process runner keeps everything that reaches a GroupByKey as decoded Python objects in its own process
(`GroupingBuffer`), and a whole stage's input in memory. An article with its entities is ~70 KB as Python objects
and ~4 KB packed, so the records that cross a barrier after the core travel packed and are unpacked on the other
side. Distributed runners shuffle through disk; there it only makes the shuffle smaller.

The bytes are for the pipeline's own hand-off between its steps, never stored or read from outside: one marker
byte, then the pickle as it is (`compress=False`), or its length (8 bytes) and the pickle compressed with zstd
level 1 (Arrow's codec, already a dependency). Against zlib level 1, which this replaced: the same size for
articles and rows (~3.9 KB from 8.2 KB), ~10 % smaller for pages (27.5 KB from 129 KB), and ~3x less CPU
(pages: 0.25 ms to compress and 0.13 ms to decompress, against 0.82 and 0.38; benchmarks/RESULTS.md, "Scale").
"""
from __future__ import annotations

import pickle
from typing import Any

import pyarrow as pa

_LEVEL = 1
_STORED, _ZSTD = b"s", b"z"
_SIZE = 8  # bytes of the uncompressed length, which Arrow's decompress needs


def _codec() -> pa.Codec:
    # a new handle per call costs ~1 us: no codec object shared between threads
    return pa.Codec("zstd", compression_level=_LEVEL)


def pack(record: Any, compress: bool = True) -> bytes:
    """`compress=False` (a copy, no search) for bodies that are mostly compressed already."""
    data = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
    if not compress:
        return _STORED + data
    return _ZSTD + len(data).to_bytes(_SIZE, "little") + _codec().compress(data, asbytes=True)


def unpack(data: bytes) -> Any:
    view = memoryview(data)
    if view[:1] == _STORED:
        return pickle.loads(view[1:])
    if view[:1] != _ZSTD:
        raise ValueError("not packed by newsbeam.packing.pack")
    size = int.from_bytes(view[1:1 + _SIZE], "little")
    return pickle.loads(_codec().decompress(view[1 + _SIZE:], decompressed_size=size, asbytes=True))
