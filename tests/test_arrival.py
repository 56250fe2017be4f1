"""The loopback servers' arrival stamps (newsbeam/sample_site/arrival.py): the politeness tests rest on them."""
from __future__ import annotations

import io
import socket
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam.sample_site import SampleSite
from newsbeam.sample_site.arrival import SO_TIMESTAMPNS, StampedReader, arrival, recv_stamped, stamp_arrivals

pytestmark = pytest.mark.skipif(not stamp_arrivals(socket.socket()), reason="no kernel receive timestamps here")


def _pair(stamped: bool = False):
    """A connected (client, server) pair; `stamped`: the server's side stamps arrivals, from the first byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    if stamped:
        stamp_arrivals(listener)
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    listener.close()
    # the kernel turns stamping on asynchronously when the first socket asks for it: wait for a stamped probe
    deadline = time.monotonic() + 5
    while stamped and time.monotonic() < deadline:
        client.sendall(b"?")
        if recv_stamped(server, 1)[1] is not None:
            break
    return client, server


def test_the_stamp_is_when_the_bytes_came_not_when_they_were_read():
    client, server = _pair(stamped=True)
    with client, server:
        sent = time.monotonic()
        client.sendall(b"GET / HTTP/1.1\r\n\r\n")
        time.sleep(0.3)  # the server thread is late to read
        data, arrived = recv_stamped(server, 1024)
        read = time.monotonic()
    assert data == b"GET / HTTP/1.1\r\n\r\n"
    assert sent - 0.01 <= arrived <= sent + 0.05 and read - arrived >= 0.25


def test_an_unstamped_socket_gives_no_stamp():
    client, server = _pair()
    with client, server:
        client.sendall(b"x")
        assert recv_stamped(server, 16) == (b"x", None)


def test_the_reader_under_a_buffer_reads_lines_and_keeps_the_last_arrival():
    client, server = _pair(stamped=True)
    with client, server:
        reader = StampedReader(server)
        lines = io.BufferedReader(reader)
        client.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        first = (lines.readline(), lines.readline(), lines.readline())
        stamped_first = reader.last_arrival
        time.sleep(0.2)
        client.sendall(b"GET /b HTTP/1.1\r\n\r\n")
        second = lines.readline()
    assert first == (b"GET /a HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n") and second == b"GET /b HTTP/1.1\r\n"
    assert reader.last_arrival - stamped_first >= 0.2 - 0.002


def test_a_read_without_a_stamp_leaves_no_earlier_stamp_behind():
    client, server = _pair()  # not stamped: as a read before the kernel has turned stamping on
    with client, server:
        reader = StampedReader(server)
        reader.last_arrival = 123.0  # an earlier request's
        client.sendall(b"GET /b HTTP/1.1\r\n\r\n")
        assert io.BufferedReader(reader).readline() == b"GET /b HTTP/1.1\r\n"
    assert reader.last_arrival is None


def test_the_sample_site_records_kernel_arrivals():
    import urllib.request

    with SampleSite() as site:
        for _ in range(2):
            urllib.request.urlopen(site.url("/robots.txt"), timeout=10).read()
            time.sleep(0.1)
        times = site.request_times("/robots.txt")
    assert len(times) == 2 and times[1] - times[0] >= 0.1 - 0.002


_ANCILLARY = st.lists(st.tuples(st.sampled_from([socket.SOL_SOCKET, socket.IPPROTO_IP, 0]),
                                st.sampled_from([SO_TIMESTAMPNS, 29, 0]), st.binary(max_size=24)), max_size=3)


@settings(max_examples=200, deadline=None)
@given(_ANCILLARY)
def test_any_ancillary_data_gives_a_stamp_or_none(ancillary):
    stamp = arrival(ancillary)
    timestamped = [data for level, kind, data in ancillary
                   if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= struct.calcsize("@ll")]
    assert (stamp is None) == (not timestamped)


def test_a_stamp_converts_to_the_monotonic_clock():
    now = time.time()
    seconds, fraction = divmod(now - 1.5, 1)
    stamp = arrival([(socket.SOL_SOCKET, SO_TIMESTAMPNS, struct.pack("@ll", int(seconds), int(fraction * 1e9)))])
    assert abs((time.monotonic() - stamp) - 1.5) < 0.01
