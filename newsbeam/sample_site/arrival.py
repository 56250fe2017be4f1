"""When a request's bytes reached this machine: the kernel's receive timestamp (Linux `SO_TIMESTAMPNS`), not the
moment a server thread got round to reading them.

The loopback servers of the demo and the tests record when each request arrived, and the politeness tests assert
that a host's requests came `--host-delay` apart. A server thread stamping in user space can be held for tens of
milliseconds on a loaded machine (another process on the core, the GIL): one late stamp makes the gap before it
look longer and the gap after it shorter, by as much. A CI run failed on such a gap (0.213 s at a 0.3 s delay,
right after one of 0.398 s: two delays in all). The kernel stamps a segment as it is received, whoever reads it.
"""
from __future__ import annotations

import io
import socket
import struct
import sys
import time
from typing import List, Optional, Tuple

SO_TIMESTAMPNS = 35  # Linux's value (asm-generic/socket.h); Python's socket module does not name it
_TIMESPEC = struct.Struct("@ll")  # the kernel's `struct timespec` for SO_TIMESTAMPNS: two native longs
_ANCILLARY_SPACE = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 0  # not on Windows
# what two stamped arrivals may be off each other by: the real-time clock's slewing (at most 500 ppm under NTP)
# and the conversion's two clock reads, with room. A test asserting gaps of at least d allows d - SLACK.
SLACK = 0.002


def stamp_arrivals(sock: socket.socket) -> bool:
    """Asks the kernel to stamp what `sock` receives; False where it cannot (not Linux). Set on a listening socket,
    it is inherited by the connections accepted, and it keeps stamping on for as long as the listener lives: the
    kernel turns stamping on asynchronously when the first socket asks for it, so segments received in the first
    moments after can come without a stamp (their reads then give None)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def arrival(ancillary: List[Tuple[int, int, bytes]]) -> Optional[float]:
    """The receive timestamp among `recvmsg`'s ancillary data, on the `time.monotonic()` clock; None without one.
    (The kernel stamps on the real-time clock: the stamp's age, taken now, is subtracted from the monotonic now.)"""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            monotonic, now = time.monotonic(), time.time()
            return monotonic - (now - (seconds + nanoseconds / 1e9))
    return None


def recv_stamped(sock: socket.socket, size: int) -> Tuple[bytes, Optional[float]]:
    """`sock.recv(size)`, and when its bytes arrived (None if `stamp_arrivals` was not set or failed). For TCP the
    stamp is that of the last segment read."""
    data, ancillary, _, _ = sock.recvmsg(size, _ANCILLARY_SPACE)
    return data, arrival(ancillary)


class StampedReader(io.RawIOBase):
    """A socket's input as a raw stream that keeps the arrival of the last bytes read (`last_arrival`, None when
    that read had no stamp): the `rfile` of an http.server handler, under an `io.BufferedReader`. A client that
    waits for each answer before sending its next request (no pipelining) has nothing else in the buffer when the
    request head has been read."""

    def __init__(self, sock: socket.socket):
        super().__init__()
        self._sock = sock
        self.last_arrival: Optional[float] = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size, ancillary, _, _ = self._sock.recvmsg_into([buffer], _ANCILLARY_SPACE)
        if size:  # a read without a stamp clears the last one: it must not stand for a later request's arrival
            self.last_arrival = arrival(ancillary)
        return size
