"""Where a webhook endpoint may point: http(s) only, and not inside the network unless allowed.

An endpoint is written by an API client, and the service then posts to it from inside the network
it runs in; a URL on a private, loopback or link-local address would let a client reach services
that are not meant to be reached from outside (a cloud metadata address, the database). Such URLs
are refused unless `webhook_private_ok` (`FACEGATE_WEBHOOK_PRIVATE_OK=1`) says the receivers live
there. The URL is checked when an endpoint is written (`check_url`, literal addresses and
`localhost`) and its host's addresses again before each delivery (`refused_address`), since a name
may resolve elsewhere later. The v1 webhook (`NEXTJS_WEBHOOK_URL`) is set by the operator and is
never checked.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

MAX_URL = 2048
SCHEMES = ("http", "https")


class EndpointError(ValueError):
    """An endpoint's field is not acceptable; the message names the field."""


def _inside(address: str) -> bool:
    """True for an address that is not on the public internet (private, loopback, link-local, ...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _literal(host: str) -> str | None:
    """The host as an address when it is one, else None."""
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return None


def check_url(value: Any, private_ok: bool) -> str:
    """An endpoint URL as given, or EndpointError naming `url`: http(s) with a host, not on a private or
    loopback address (nor `localhost`) unless `private_ok`."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_URL:
        raise EndpointError(f"url must be an http(s) URL of at most {MAX_URL} characters")
    url = value.strip()
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise EndpointError("url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError:
        raise EndpointError("url is not a valid URL") from None
    if parts.scheme.lower() not in SCHEMES:
        raise EndpointError(f"url must be http:// or https://, not {parts.scheme or 'without a scheme'}")
    if not host:
        raise EndpointError("url must name a host")
    if not private_ok:
        address = _literal(host)
        if host == "localhost" or host.endswith(".localhost") or (address is not None and _inside(address)):
            raise EndpointError(
                "url is on a private or loopback address; set FACEGATE_WEBHOOK_PRIVATE_OK=1 to allow it"
            )
    return url


def refused_address(url: str) -> str | None:
    """Before a delivery to a stored endpoint: why its host may not be posted to (it resolves to an address
    inside the network), or None when it may. A host that does not resolve is left to the post to fail."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        found = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    inside = sorted({str(info[4][0]) for info in found if _inside(str(info[4][0]))})
    if inside:
        return f"{host} resolves to {inside[0]}, a private or loopback address (FACEGATE_WEBHOOK_PRIVATE_OK is off)"
    return None
