"""The Host header check's parsing (control/hosts.py): ports, IPv6 brackets, case, trailing dots, `*`."""

from __future__ import annotations

import socket

import pytest

from control import hosts


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost", "localhost"),
        ("LocalHost.:5001", "localhost"),
        ("[::1]:5001", "::1"),
        ("[::1]", "::1"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("[0:0:0:0:0:0:0:1]", "::1"),
        ("a.example:x", ""),
        ("[::1", ""),
        ("", ""),
    ],
)
def test_the_host_part_of_a_header(header: str, name: str) -> None:
    assert hosts.host_of(header) == name


def test_the_defaults_name_this_machine_and_nothing_else() -> None:
    allowed = hosts.default_hosts("192.0.2.40", "face.example.org")
    assert {"localhost", "127.0.0.1", "::1", "192.0.2.40", "face.example.org"} <= allowed
    assert hosts.normal(socket.gethostname()) in allowed
    for header in ("evil.example", "face.example.org.evil.example", "10.255.1.2:5001", ""):
        assert not hosts.allows(allowed, header), header
    assert hosts.allows(allowed, "FACE.example.org:443")


def test_a_configured_list_replaces_the_defaults_but_keeps_loopback() -> None:
    allowed = hosts.parse_hosts("face.example.org, [2001:db8::1]")
    assert hosts.allows(allowed, "[2001:db8::1]:5001") and hosts.allows(allowed, "localhost:5001")
    assert not hosts.allows(allowed, hosts.normal(socket.gethostname()) or "x")
    assert hosts.parse_hosts("") == frozenset()
    assert hosts.allows(hosts.parse_hosts("*"), "anything.example")
