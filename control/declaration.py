"""What a route says about itself, in the keywords of its own `@app.get(...)`, read by every plugin.

A route is declared once, where it is written:

    @app.post("/api/start", scope=Scope.ADMIN, action="recognition.start",
              doc=Doc("start", "Start recognition on the configured cameras", {"200": ...}))

Bottle keeps the extra keywords in `route.config`; the auth plugin reads `scope` (and `signable`),
the audit plugin `action`, the request-schema plugin `doc.body` and `explain`, and the OpenAPI
document is made of every route's `doc`. A plain dict would be flattened by Bottle's config, so the
documentation travels as one `Doc`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import bottle


class Scope(enum.Enum):
    """Who may call a route (control/auth.py checks it)."""

    PUBLIC = "public"  # no token ever needed
    METRICS = "metrics"  # public, or read when FACEGATE_METRICS_AUTH=read
    READ = "read"
    ADMIN = "admin"


@dataclass(frozen=True)
class Doc:
    """A route's OpenAPI operation: its id, summary, answers by status, and what it takes."""

    operation_id: str
    summary: str
    responses: Mapping[str, Any]
    body: Mapping[str, Any] | None = None  # the OpenAPI requestBody
    parameters: tuple[Mapping[str, Any], ...] = field(default=())  # query parameters (path ones are derived)
    path_schemas: Mapping[str, Any] = field(default_factory=dict)  # a path parameter's schema, if not the usual


class Undeclared(RuntimeError):
    """A route leaves out something every route must say (its scope, audit action or documentation)."""


MISSING_SCOPE, MISSING_DOC = "scope=Scope...", "doc=Doc(...)"
MISSING_ACTION = "action= (or action=None when it changes nothing)"


def left_out(route: bottle.Route) -> str | None:
    """The first thing `route` leaves out of what every route declares, or None."""
    if not isinstance(route.config.get("scope"), Scope):
        return MISSING_SCOPE
    if not isinstance(route.config.get("doc"), Doc):
        return MISSING_DOC
    if route.method != "GET" and "action" not in route.config:
        return MISSING_ACTION
    return None


def check_declared(app: bottle.Bottle) -> None:
    """Undeclared for the first route of `app` that leaves something out.

    Raised here, with no route among the frames' arguments: Bottle's `Route.__repr__` never returns
    for a closure over plain objects (bottle 0.13), and a test runner printing arguments would hang."""
    for route in app.routes:
        missing = left_out(route)
        if missing is not None:
            raise Undeclared(f"{route.method} {route.rule} declares no {missing}")


def scope_of(route: bottle.Route) -> Scope:
    """The route's `scope=`; Undeclared when it has none."""
    scope = route.config.get("scope")
    if not isinstance(scope, Scope):
        raise Undeclared(f"{route.method} {route.rule} declares no {MISSING_SCOPE}")
    return scope


def is_signable(route: bottle.Route) -> bool:
    """`signable=True`: a picture a browser loads by <img src>, so a signed URL may stand in for a token."""
    return bool(route.config.get("signable"))


def action_of(route: bottle.Route) -> str | None:
    """The audit action of a route that changes something; None for a GET or a declared `action=None`."""
    if route.method == "GET":
        return None
    if "action" not in route.config:
        raise Undeclared(f"{route.method} {route.rule} declares no {MISSING_ACTION}")
    action = route.config["action"]
    return None if action is None else str(action)


def doc_of(route: bottle.Route) -> Doc:
    """The route's `doc=`; Undeclared when it has none."""
    doc = route.config.get("doc")
    if not isinstance(doc, Doc):
        raise Undeclared(f"{route.method} {route.rule} declares no {MISSING_DOC}")
    return doc


def explain_of(route: bottle.Route) -> Callable[[dict[str, Any]], Any] | None:
    """The domain check whose message the route prefers when its body breaks the schema (`explain=`)."""
    explain = route.config.get("explain")
    return explain if callable(explain) else None
