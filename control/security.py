"""Bearer-token protection of mutating requests, and CORS for the browser-side Next.js client."""

from __future__ import annotations

import hmac
import logging
import os

import bottle

from control.validation import MAX_BODY_BYTES, fail

log = logging.getLogger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALLOWED_HEADERS = "Authorization, Content-Type, webhook-id"
ALLOWED_METHODS = "GET, POST, PUT, DELETE, OPTIONS"


def install(app: bottle.Bottle, token: str | None = None, cors_origins: str | None = None) -> None:
    """Protect `app`; `token` and `cors_origins` default to FACEGATE_API_TOKEN and FACEGATE_CORS_ORIGINS."""
    token = os.environ.get("FACEGATE_API_TOKEN", "") if token is None else token
    raw_origins = os.environ.get("FACEGATE_CORS_ORIGINS", "") if cors_origins is None else cors_origins
    origins = {o.strip().rstrip("/") for o in raw_origins.split(",") if o.strip()}
    if not token:
        log.warning("FACEGATE_API_TOKEN is not set: anyone who can reach this port may change the config, "
                    "register and delete people. Set it in production.")
    expected = f"Bearer {token}".encode()

    @app.hook("before_request")
    def guard() -> None:
        request = bottle.request
        if request.method == "OPTIONS":  # a CORS preflight: answered here, for every path
            raise bottle.HTTPResponse(status=204)
        length = request.content_length
        if length > MAX_BODY_BYTES:
            raise fail(413, f"body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB")
        if token and request.method in MUTATING:
            given = request.get_header("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                raise bottle.HTTPError(401, "a valid 'Authorization: Bearer <token>' header is required",
                                       **{"WWW-Authenticate": 'Bearer realm="facegate"'})

    @app.hook("after_request")
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
