"""Request hygiene before any route runs: CORS for the browser-side Next.js client, preflights, body size.

Who may call what (tokens, scopes, signed URLs) is control/auth.py.
"""

from __future__ import annotations

import logging
import os

import bottle

from control.validation import MAX_BODY_BYTES, fail

log = logging.getLogger(__name__)

ALLOWED_HEADERS = "Authorization, Content-Type, webhook-id"
ALLOWED_METHODS = "GET, POST, PUT, DELETE, OPTIONS"


def install(app: bottle.Bottle, cors_origins: str | None = None) -> None:
    """Answer preflights and refuse big bodies; `cors_origins` defaults to FACEGATE_CORS_ORIGINS."""
    raw_origins = os.environ.get("FACEGATE_CORS_ORIGINS", "") if cors_origins is None else cors_origins
    origins = {o.strip().rstrip("/") for o in raw_origins.split(",") if o.strip()}

    @app.hook("before_request")
    def guard() -> None:
        request = bottle.request
        if request.method == "OPTIONS":  # a CORS preflight: answered here, for every path
            raise bottle.HTTPResponse(status=204)
        length = request.content_length
        if length > MAX_BODY_BYTES:
            raise fail(413, f"body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB")

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
