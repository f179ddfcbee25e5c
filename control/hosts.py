"""Which names the Host header may carry: the guard against DNS rebinding.

A page on an attacker's site can make its own name resolve to this machine, and the browser then
lets it read the answers (same origin, as far as the browser knows). The one thing it cannot change
is the Host header, which still names the attacker's domain; so every request whose Host is not a
name of this service is refused (400) before any route runs.

`FACEGATE_ALLOWED_HOSTS` (a comma list; `*` turns the check off) replaces the default list:
localhost, 127.0.0.1, ::1, the bind address, the machine's host name and its addresses, and the
host of `FACEGATE_ADVERTISE_URL`. The loopback names stay allowed whatever the list says (the
container's health check asks 127.0.0.1): no rebound name can arrive as one of them.
"""

from __future__ import annotations

import ipaddress
import itertools
import socket
from collections.abc import Iterable
from pathlib import Path

ANY_HOST = "*"
LOOPBACK = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("", "0.0.0.0", "::")


def normal(name: str) -> str:
    """A host name or address as compared: lower case, no trailing dot, an IPv6 address without brackets
    and in its short form."""
    name = name.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def host_of(header: str) -> str:
    """The host part of a Host header (`example.com:5001`, `[::1]:5001`), normalised; '' when malformed."""
    header = header.strip()
    if header.startswith("["):
        end = header.find("]")
        return normal(header[: end + 1]) if end > 0 else ""
    name, _, port = header.partition(":")
    if port and not port.isdigit():
        return ""
    return normal(name)


def _local_addresses() -> set[str]:
    """This machine's own addresses, from the kernel's tables (Linux); empty where they are not readable."""
    found: set[str] = set()
    try:
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
    except OSError:
        lines = []
    for previous, line in itertools.pairwise(lines):
        if line.strip() == "/32 host LOCAL":
            found.add(previous.strip().lstrip("|-").strip())
    try:
        rows = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        rows = []
    for row in rows:
        raw = row.split()[0] if row.split() else ""
        if len(raw) == 32:
            found.add(":".join(raw[i : i + 4] for i in range(0, 32, 4)))
    return found


def machine_names() -> set[str]:
    """The machine's host names and the addresses it holds or its name resolves to."""
    names = {socket.gethostname(), socket.getfqdn()}
    for name in list(names):
        try:
            names.update(str(info[4][0]) for info in socket.getaddrinfo(name, None))
        except OSError:
            pass
    return names | _local_addresses()


def default_hosts(bind: str | None, advertised: str | None = None) -> frozenset[str]:
    """The default allowed hosts: loopback names, the bind address, the machine's names and addresses,
    and the advertised URL's host."""
    names: set[str] = {*LOOPBACK, *machine_names()}
    if bind and bind not in WILDCARDS:
        names.add(bind)
    if advertised:
        names.add(advertised)
    return frozenset(normal(n) for n in names if n)


def parse_hosts(raw: str) -> frozenset[str]:
    """A comma list as FACEGATE_ALLOWED_HOSTS gives it, with the loopback names; `*` stays `*` (any host);
    empty when the list is."""
    given = frozenset(ANY_HOST if n.strip() == ANY_HOST else normal(n) for n in raw.split(",") if n.strip())
    return given | {normal(n) for n in LOOPBACK} if given else given


def allows(allowed: Iterable[str], header: str) -> bool:
    """Whether a request with this Host header is for this service."""
    allowed = frozenset(allowed)
    if ANY_HOST in allowed:
        return True
    name = host_of(header)
    return bool(name) and name in allowed
