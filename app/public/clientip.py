"""The client address that per-IP limits count: the peer, or behind trusted proxies the
address they forwarded in ``X-Forwarded-For``.

Anyone can send ``X-Forwarded-For``, so it is read only when the connection comes from an
address in ``trusted_proxies`` (a setting). Each proxy appends the address it received the
request from; reading the list from the right and skipping trusted proxies gives the first
address no trusted proxy vouches for beyond: the client. Entries further left were written
by the client itself and are never used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_ENTRY_CHARS = 64  # an odd entry is still a bucket name: keep it short


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR networks (``10.0.0.5``, ``10.0.0.0/8``, ``::1``) as networks.

    Raises:
        ValueError: Naming the first value that is neither.
    """
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IP address or CIDR network (e.g. "
                             "10.0.0.5 or 10.0.0.0/8)") from exc
    return tuple(networks)


def _address(entry: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from an X-Forwarded-For entry, with a port or IPv6 brackets stripped."""
    entry = entry.strip()
    if entry.startswith("["):  # [2001:db8::1]:8080
        entry = entry[1:].partition("]")[0]
    elif entry.count(":") == 1:  # 203.0.113.7:8080
        entry = entry.partition(":")[0]
    try:
        return ipaddress.ip_address(entry)
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
             proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in net for net in proxies)


def resolve_client(peer: str, forwarded_for: Sequence[str], proxies: Sequence[Network]) -> str:
    """The client's address.

    Args:
        peer: The address of the connection.
        forwarded_for: The ``X-Forwarded-For`` header values, in the order received.
        proxies: The trusted proxies.

    Returns:
        ``peer`` unless it is a trusted proxy; else the rightmost forwarded address that is
        not one (the leftmost when all are), as written, or ``peer`` without the header.
    """
    if not proxies or not _trusted(_address(peer), proxies):
        return peer
    entries = [e.strip() for value in forwarded_for for e in value.split(",") if e.strip()]
    if not entries:
        return peer
    for entry in reversed(entries):
        address = _address(entry)
        if not _trusted(address, proxies):
            return str(address) if address is not None else entry[:MAX_ENTRY_CHARS]
    first = _address(entries[0])
    return str(first) if first is not None else peer
