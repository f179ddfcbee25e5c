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
from control.validation import check_name, fail, is_multipart, json_body
from facegate.camera import check_camera
from facegate.settings import ALIASES as CONFIG_ALIASES
from facegate.settings import SettingError, validate

# The domain check of an operation's body, whose messages say what was wrong in the service's own
# words (and which the older clients and tests know); asked first when the schema rejects a body.
EXPLAIN: dict[tuple[str, str], Callable[[dict[str, Any]], Any]] = {
    ("PUT", "/api/config"): lambda body: validate({CONFIG_ALIASES.get(k, k): v for k, v in body.items()},
                                                  runtime_only=True),
    ("POST", "/api/cameras"): check_camera,
    ("PUT", "/api/cameras/<camera_id>"): lambda body: check_camera({"id": "x", "stream_url": "x", **body}),
    ("POST", "/api/unknown/<unknown_id>/register"): lambda body: check_name(body.get("name")),
}


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


def _choices() -> dict[tuple[str, str], set[str]]:
    """(method, Bottle rule) → the fields that pick one of a JSON body's `anyOf` alternatives (photo, encoding, ...)."""
    found = {}
    for (method, path), (_, _, extra, _) in openapi.OPERATIONS.items():
        body = extra.get("requestBody", {}).get("content", {}).get("application/json")
        alternatives = (body or {}).get("schema", {}).get("anyOf", [])
        if alternatives:
            found[(method, path.replace("{", "<").replace("}", ">"))] = {
                name for alternative in alternatives for name in alternative.get("required", [])}
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
        self.choices = _choices()

    def check(self, method: str, rule: str) -> None:
        """Validate this request's JSON body against the schema of (method, rule); a 400 if it breaks it.

        A route that must answer some faults in its own words first (the old API's messages) skips
        the plugin and calls this itself."""
        validator = self.validators.get((method, rule))
        if validator is None or is_multipart():
            return
        if not bottle.request.body.read(1):
            raise fail(400, "this request needs a JSON body")
        body = json_body()
        error = next(iter(validator.iter_errors(body)), None)
        if error is None:
            return
        choices = self.choices.get((method, rule), set())
        if not error.instance_path and isinstance(body, dict) and not body.keys() & choices:
            return  # none of the body's alternatives is even begun (no photo, no encoding): the route says what to send
        explain = EXPLAIN.get((method, rule))
        try:
            if explain is not None:
                explain(body)
        except SettingError as exc:
            raise fail(400, str(exc)) from None
        raise fail(400, f"{_where(error)}{error.message}")

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        if (route.method, route.rule) not in self.validators:
            return callback

        def checked(*args: Any, **kwargs: Any) -> Any:
            self.check(route.method, route.rule)
            return callback(*args, **kwargs)

        return checked
