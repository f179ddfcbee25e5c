"""Request hygiene before any route runs: the Host header, CORS for the browser-side Next.js client,
preflights, body size and type; and the headers every answer carries.

A browser is an attacker's tool too. A page elsewhere can send a "simple" request (a form, or a
fetch with a `text/plain` body) without a preflight, so a route that changes anything accepts only
`application/json` or `multipart/form-data`, which no cross-site page can send without asking
first (415 otherwise). DNS rebinding makes a foreign name point here; its Host header still names
it, so a Host that is not this service's (control/hosts.py) is a 400. Every answer, the operator
page's and the API's, says `nosniff`, may not be framed, sends no referrer and carries a Content
Security Policy that lets the page load only its own script, styles, pictures and API.

Who may call what (tokens, scopes, signed URLs) is control/auth.py.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import bottle

from control import hosts
from control.validation import MAX_BODY_BYTES, fail

log = logging.getLogger(__name__)

ALLOWED_HEADERS = "Authorization, Content-Type, webhook-id"
ALLOWED_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
BODY_TYPES = ("application/json", "multipart/form-data")  # what a changing route takes
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# The operator page: its own script, styles, pictures (signed URLs, blobs) and API; nothing inline or framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}


def check_body_type(request: bottle.BaseRequest) -> None:
    """415 unless a changing request's body (or declared body type) is JSON or multipart."""
    if request.method in SAFE_METHODS:
        return
    declared = request.get_header("Content-Type", "")
    media = declared.split(";", 1)[0].strip().lower()
    has_body = request.content_length > 0 or "chunked" in request.get_header("Transfer-Encoding", "").lower()
    if media in BODY_TYPES or (not media and not has_body):
        return
    given = f"Content-Type {media!r}" if media else "a body without a Content-Type"
    raise fail(415, f"this route takes application/json or multipart/form-data, not {given}")


def install(app: bottle.Bottle, cors_origins: str | None = None, allowed_hosts: Iterable[str] | None = None) -> None:
    """Check each request's Host, answer preflights, refuse big or cross-site bodies, and add the
    security headers; `cors_origins` defaults to FACEGATE_CORS_ORIGINS, `allowed_hosts` to
    control/hosts.py's defaults."""
    raw_origins = os.environ.get("FACEGATE_CORS_ORIGINS", "") if cors_origins is None else cors_origins
    origins = {o.strip().rstrip("/") for o in raw_origins.split(",") if o.strip()}
    names = frozenset(hosts.default_hosts(None) if allowed_hosts is None else allowed_hosts)

    @app.hook("before_request")
    def guard() -> None:
        request = bottle.request
        if not hosts.allows(names, request.get_header("Host", "")):
            raise fail(400, "the Host header does not name this service (see FACEGATE_ALLOWED_HOSTS)")
        if request.method == "OPTIONS":  # a CORS preflight: answered here, for every path
            raise bottle.HTTPResponse(status=204)
        length = request.content_length
        if length > MAX_BODY_BYTES:
            raise fail(413, f"body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB")
        check_body_type(request)

    @app.hook("after_request")
    def headers() -> None:
        for name, value in HEADERS.items():
            bottle.response.set_header(name, value)
        cors()

    def cors() -> None:
        origin = bottle.request.get_header("Origin")
        if not origin or not origins:
            return
        if "*" in origins:
            bottle.response.set_header("Access-Control-Allow-Origin", "*")
        elif origin.rstrip("/") in origins:
            bottle.response.set_header("Access-Control-Allow-Origin", origin)
            bottle.response.add_header("Vary", "Origin")
        else:
            return
        if bottle.request.method == "OPTIONS":
            bottle.response.set_header("Access-Control-Allow-Methods", ALLOWED_METHODS)
            bottle.response.set_header("Access-Control-Allow-Headers", ALLOWED_HEADERS)
            bottle.response.set_header("Access-Control-Max-Age", "600")
