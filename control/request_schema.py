"""JSON request bodies are checked against the OpenAPI document, so the server accepts exactly what it documents.

The document (control/openapi.py) is the single statement of what a body may hold: its required
fields, types and bounds. This Bottle plugin validates each JSON body against it before the route
runs, with the same validator Schemathesis uses (jsonschema-rs, draft 4 as OpenAPI 3.0 is), and
answers a 400 naming the first fault. The routes keep their own checks for what a schema cannot say
(a photo must hold exactly one face, an id must exist).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import bottle
import jsonschema_rs

from control import openapi
from control.validation import fail, is_multipart, json_body


def to_json_schema(schema: Any, components: dict[str, Any]) -> Any:
    """An OpenAPI 3.0 schema as plain JSON Schema: references inlined, `nullable` as a null alternative."""
    if isinstance(schema, list):
        return [to_json_schema(item, components) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return to_json_schema(components[schema["$ref"].rsplit("/", 1)[1]], components)
    converted = {key: to_json_schema(value, components) for key, value in schema.items()
                 if key not in ("nullable", "description", "format")}
    if schema.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def _validators() -> dict[tuple[str, str], jsonschema_rs.Draft4Validator]:
    """(method, Bottle rule) → the validator of that operation's JSON body."""
    components = openapi.SCHEMAS
    found = {}
    for (method, path), (_, _, extra, _) in openapi.OPERATIONS.items():
        body = extra.get("requestBody", {}).get("content", {}).get("application/json")
        if body is None:
            continue
        schema = to_json_schema(copy.deepcopy(body["schema"]), components)
        found[(method, path.replace("{", "<").replace("}", ">"))] = jsonschema_rs.Draft4Validator(schema)
    return found


def _where(error: jsonschema_rs.ValidationError) -> str:
    path = "/".join(str(part) for part in error.instance_path)
    return f"{path}: " if path else ""


class RequestSchemaPlugin:
    """Bottle plugin: a JSON body that breaks its documented schema gets a 400 before the route sees it."""

    name = "request_schema"
    api = 2

    def __init__(self) -> None:
        self.validators = _validators()

    def check(self, method: str, rule: str) -> None:
        """Validate this request's JSON body against the schema of (method, rule); a 400 if it breaks it.

        A route that must answer some faults in its own words first (the old API's messages) skips
        the plugin and calls this itself."""
        validator = self.validators.get((method, rule))
        if validator is None or is_multipart():
            return
        if not bottle.request.body.read(1):
            raise fail(400, "this request needs a JSON body")
        error = next(iter(validator.iter_errors(json_body())), None)
        if error is not None:
            raise fail(400, f"{_where(error)}{error.message}")

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        if (route.method, route.rule) not in self.validators:
            return callback

        def checked(*args: Any, **kwargs: Any) -> Any:
            self.check(route.method, route.rule)
            return callback(*args, **kwargs)

        return checked
