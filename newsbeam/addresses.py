"""Which IP addresses a crawler must not connect to (pure functions).

A feed item, a redirect or a robots.txt on a cloud worker can point at the metadata service (169.254.169.254,
which hands out credentials), at loopback or at the private network; the answer would land in the output. Only
globally routable unicast addresses are allowed unless the operator says otherwise.
"""
from __future__ import annotations

import ipaddress
import socket
from typing import Optional, Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix: the last 32 bits are an IPv4 address
# special-purpose ranges that older Pythons' is_private/is_global miss (IANA registry; Python >= 3.12.4 agrees)
_SPECIAL = (ipaddress.ip_network("192.0.0.0/24"), ipaddress.ip_network("100.64.0.0/10"))


def literal_address(host: str) -> Optional[IPAddress]:
    """The address a host name spells literally, in any form a resolver accepts (`2130706433`, `0x7f.1`,
    `0177.0.0.1`, `[::ffff:127.0.0.1]`, `fe80::1%eth0`), else None (a name that needs DNS)."""
    host = host.strip().strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if not host or any(c not in "0123456789abcdefxABCDEFX." for c in host):
        return None
    try:  # inet_aton is what getaddrinfo uses for the legacy decimal, octal and hex spellings
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def blocked_kind(address: Union[str, IPAddress]) -> Optional[str]:
    """Why `address` must not be contacted ("loopback", "private", "link-local", ...), or None when it is a
    globally routable unicast address. IPv4 inside IPv6 (mapped, 6to4, NAT64) is judged as the IPv4 address."""
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return blocked_kind(embedded)
    for kind in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    if not address.is_global or any(address in network for network in _SPECIAL if network.version == address.version):
        return "not globally routable"  # e.g. 100.64.0.0/10, carrier-grade NAT
    return None
