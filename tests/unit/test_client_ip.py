"""Which address per-IP limits count: X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import pytest

from app.public.clientip import parse_networks, resolve_client
from app.settings import Settings

PROXIES = parse_networks(["10.0.0.0/8", "192.0.2.1"])


def test_an_untrusted_peer_is_the_client_whatever_it_forwards():
    assert resolve_client("198.51.100.9", ["203.0.113.7"], PROXIES) == "198.51.100.9"
    assert resolve_client("198.51.100.9", ["203.0.113.7"], ()) == "198.51.100.9"


def test_behind_a_trusted_proxy_the_forwarded_client_counts():
    assert resolve_client("10.1.2.3", ["203.0.113.7"], PROXIES) == "203.0.113.7"


def test_addresses_a_client_forges_left_of_its_own_are_ignored():
    # The client sent "X-Forwarded-For: 1.1.1.1"; the proxy appended the real address.
    assert resolve_client("10.1.2.3", ["1.1.1.1, 203.0.113.7"], PROXIES) == "203.0.113.7"


def test_a_chain_of_trusted_proxies_is_skipped():
    assert resolve_client("10.0.0.2", ["203.0.113.7, 192.0.2.1", "10.0.0.9"],
                          PROXIES) == "203.0.113.7"
    assert resolve_client("10.0.0.2", ["10.0.0.5, 10.0.0.9"], PROXIES) == "10.0.0.5"


def test_ports_brackets_and_odd_entries():
    assert resolve_client("10.0.0.2", ["203.0.113.7:5123"], PROXIES) == "203.0.113.7"
    assert resolve_client("10.0.0.2", ["[2001:db8::1]:443"], PROXIES) == "2001:db8::1"
    assert resolve_client("10.0.0.2", ["2001:db8::1"], PROXIES) == "2001:db8::1"
    assert resolve_client("10.0.0.2", ["x" * 500], PROXIES) == "x" * 64
    assert resolve_client("10.0.0.2", [" , "], PROXIES) == "10.0.0.2"
    assert resolve_client("10.0.0.2", [], PROXIES) == "10.0.0.2"


def test_the_setting_rejects_what_is_not_an_address():
    assert Settings(trusted_proxies=["127.0.0.1", "10.0.0.0/8", "::1"]).trusted_proxies
    with pytest.raises(ValueError, match="'proxy.internal' is not an IP address"):
        Settings(trusted_proxies=["proxy.internal"])
