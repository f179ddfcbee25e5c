"""Requests are checked against the OpenAPI document, so the server accepts exactly what it documents.

The route's own `doc=` (control/declaration.py), the one the OpenAPI document shows, is the single
statement of what a body may hold: its required fields, types and bounds. This Bottle plugin
validates each JSON body against it before the route runs, with the same validator Schemathesis
uses (jsonschema-rs, draft 4 as OpenAPI 3.0 is), and answers a 400 naming the first fault, or,
where the route declares an `explain=` check, that check's own message. The routes keep their own
checks for what a schema cannot say (a photo must hold exactly one face, an id must exist). A body
the document leaves optional may be left out; a query parameter of the route given twice is a 400
(none is a list, so which value was meant is unknown; names the route does not take are ignored).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bottle
import jsonschema_rs

from control import openapi
from control.declaration import doc_of, explain_of
from control.validation import fail, is_multipart, json_body


def to_json_schema(schema: Any, components: dict[str, Any]) -> Any:
    """An OpenAPI 3.0 schema as plain JSON Schema: references inlined, `nullable` as a null alternative."""
    if isinstance(schema, list):
        return [to_json_schema(item, components) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return to_json_schema(components[schema["$ref"].rsplit("/", 1)[1]], components)
    converted = {
        key: to_json_schema(value, components)
        for key, value in schema.items()
        if key not in ("nullable", "description", "format")
    }
    if schema.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@dataclass(frozen=True)
class BodyCheck:
    """What a route's JSON body must be: its validator, the fields that pick an `anyOf` alternative
    (photo, encoding, ...), and the domain check whose words come first (`explain=`)."""

    validator: jsonschema_rs.Draft4Validator
    choices: frozenset[str]
    explain: Callable[[dict[str, Any]], Any] | None
    optional: bool  # the document does not require a body


def body_check(route: bottle.Route) -> BodyCheck | None:
    """The check of `route`'s JSON body from its `doc=`; None when it documents no JSON body."""
    request_body = doc_of(route).body or {}
    body = request_body.get("content", {}).get("application/json")
    if body is None:
        return None
    schema = to_json_schema(copy.deepcopy(body["schema"]), openapi.SCHEMAS)
    choices = frozenset(
        name for alternative in body["schema"].get("anyOf", []) for name in alternative.get("required", [])
    )
    return BodyCheck(
        jsonschema_rs.Draft4Validator(schema), choices, explain_of(route), not request_body.get("required", False)
    )


def query_names(route: bottle.Route) -> frozenset[str]:
    """The query parameters `route` documents."""
    return frozenset(p["name"] for p in doc_of(route).parameters if p.get("in") == "query")


def _where(error: jsonschema_rs.ValidationError) -> str:
    path = "/".join(str(part) for part in error.instance_path)
    return f"{path}: " if path else ""


class RequestSchemaPlugin:
    """Bottle plugin: a JSON body that breaks its documented schema, or a query parameter given twice, gets a
    400 before the route sees it."""

    name = "request_schema"
    api = 2

    def __init__(self) -> None:
        self._checks: dict[bottle.Route, BodyCheck | None] = {}

    def _check_of(self, route: bottle.Route) -> BodyCheck | None:
        if route not in self._checks:
            self._checks[route] = body_check(route)
        return self._checks[route]

    def check(self) -> None:
        """Validate this request's query parameters and JSON body against its route's document; a 400 if
        they break it.

        A route that must answer some faults in its own words first (the v1 API's messages) skips
        the plugin and calls this itself."""
        self.check_query(bottle.request.route)
        checked = self._check_of(bottle.request.route)
        if checked is None or is_multipart():
            return
        if not bottle.request.body.read(1):
            if checked.optional:
                return
            raise fail(400, "this request needs a JSON body")
        body = json_body()
        error = next(iter(checked.validator.iter_errors(body)), None)
        if error is None:
            return
        if not error.instance_path and not body.keys() & checked.choices:
            return  # none of the body's alternatives is even begun (no photo, no encoding): the route says what to send
        if checked.explain is not None:
            checked.explain(body)  # a SettingError is answered in its own words (control/errors.py)
        raise fail(400, f"{_where(error)}{error.message}")

    @staticmethod
    def check_query(route: bottle.Route) -> None:
        """A 400 when one of the route's query parameters comes more than once."""
        query = bottle.request.query
        repeated = sorted(name for name in query_names(route) if len(query.getall(name)) > 1)
        if repeated:
            raise fail(400, f"query parameter {repeated[0]!r} is given more than once")

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        if self._check_of(route) is None and not query_names(route):
            return callback

        def checked(*args: Any, **kwargs: Any) -> Any:
            self.check()
            return callback(*args, **kwargs)

        return checked
