"""`GET /api/openapi.json`: the document made of what each route declares (its `doc=`, `scope=`), and its vocabulary.

Each route describes itself where it is written (control/declaration.py); this module holds the
schemas those descriptions share (the components, the camera and config bodies the settings'
declarations give, the answer helpers) and assembles the document from the app's routes, so no
route is served undocumented. The Result schema describes facegate/records.py's `result_dict`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import bottle

from control.declaration import Doc, Scope, action_of, doc_of, is_signable, scope_of
from control.service_api import HEALTH_STATES
from control.validation import MAX_LIMIT, MAX_OFFSET, MAX_TEXT
from facegate.camera import camera_schema
from facegate.camera_board import STATES as CAMERA_STATES
from facegate.events import APPEARED, LEFT, TEST
from facegate.records import ENCODING_SIZE, MAX_NAME, UNKNOWN
from facegate.regions import Polygons
from facegate.setting_kinds import SOME_TEXT
from facegate.settings import config_schema

ERROR = {"$ref": "#/components/schemas/Error"}


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


NUMBER = {"type": "number"}
INTEGER = {"type": "integer"}
STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}
NULLABLE_STRING = {"type": "string", "nullable": True}
ENCODING = {"type": "array", "items": NUMBER, "minItems": ENCODING_SIZE, "maxItems": ENCODING_SIZE}
# A name: 1 to 100 characters, no control characters, not only spaces (what check_name enforces).
# "Unknown" is reserved (facegate/records.py); said in words: Schemathesis' coverage phase fails on a "not"
# inside a multipart body.
NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_NAME,
    "pattern": SOME_TEXT,
    "description": 'a person\'s name; not "Unknown" (in any case), the name of faces no one matches',
}
# In a JSON body the reserved name is said in the schema too, so a client (and Schemathesis) knows it is refused.
JSON_NAME = {**NAME, "not": {"enum": [UNKNOWN]}}
TEXT = {"type": "string", "maxLength": MAX_TEXT, "nullable": True}
# Plain base64 (padded) or a data: URL of it; what decode_base64_image accepts.
BASE64 = {
    "type": "string",
    "minLength": 1,
    "pattern": "^(data:[^,]*,)?(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
}
BINARY = {"type": "string", "format": "binary"}
# The camera and config bodies come from the settings' declarations (facegate/settings.py, facegate/camera.py).
CAMERA_BODY = camera_schema()
CAMERA_CHANGE = camera_schema(with_id=False)
CONFIG_BODY = config_schema()


def either(fields: dict[str, Any], required: list[str], *names: str) -> dict[str, Any]:
    """An object of `fields` in which at least one of `names` is present and not null (one whole
    object per choice, so generated client types are an exact union)."""
    return {
        "type": "object",
        "anyOf": [
            obj({**fields, n: {k: v for k, v in fields[n].items() if k != "nullable"}}, [*required, n]) for n in names
        ],
    }


IMAGE_FIELDS = {"encoding": {**ENCODING, "nullable": True}, "image_base64": {**BASE64, "nullable": True}}
REGISTER_FIELDS = {
    "name": JSON_NAME,
    **IMAGE_FIELDS,
    "image_url": TEXT,
    "imageUrl": TEXT,
    "client_id": TEXT,
    "clientId": TEXT,
}

SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": STRING}, ["error"]),
    "Box": obj({k: INTEGER for k in ("top", "right", "bottom", "left")}, ["top", "right", "bottom", "left"]),
    "Result": obj(
        {
            "timestamp": STRING,
            "name": STRING,
            "confidence": NUMBER,
            "distance": NUMBER,
            "box": {"$ref": "#/components/schemas/Box"},
            "camera_id": NULLABLE_STRING,
            "event_id": STRING,
            "visitor_id": INTEGER,
        },
        ["timestamp", "name", "confidence", "distance", "box"],
    ),
    "Camera": obj(
        {
            "id": STRING,
            "name": NULLABLE_STRING,
            "stream_url": STRING,
            "enabled": BOOLEAN,
            "state": {"type": "string", "enum": list(CAMERA_STATES)},
            "error": NULLABLE_STRING,
            "fps": NUMBER,
            "width": INTEGER,
            "height": INTEGER,
            "detect_fps": NUMBER,
            "min_face_px": INTEGER,
            "ignore_regions": Polygons().schema(),
            "node": {**NULLABLE_STRING, "description": "the node running it; null: none (see reason)"},
            "reason": {**NULLABLE_STRING, "description": "why an unassigned camera waits"},
            "snapshot": {"type": "string", "description": "URL of the latest frame with faces drawn"},
            "mjpeg": {"type": "string", "description": "URL of the live MJPEG view, for an <img src>"},
        },
        ["id", "state", "enabled", "snapshot", "mjpeg"],
    ),
    "Status": obj(
        {
            "active": BOOLEAN,
            "encodings_loaded": INTEGER,
            "stream_url": NULLABLE_STRING,
            "total_results": INTEGER,
            "running": BOOLEAN,
            "registered_people": INTEGER,
            "cameras": {
                "type": "array",
                "items": obj({"id": STRING, "state": STRING, "node": NULLABLE_STRING}, ["id", "state"]),
            },
            "cameras_total": INTEGER,
            "camera_states": {
                "type": "object",
                "additionalProperties": INTEGER,
                "description": "cameras of the cluster by state (the list shows the first few)",
            },
            "uptime_s": NUMBER,
            "version": STRING,
            "node": STRING,
        },
        ["active", "encodings_loaded", "stream_url", "total_results", "running", "cameras"],
    ),
    "Health": obj(
        {"status": {"type": "string", "enum": list(HEALTH_STATES)}, "version": STRING, "node": STRING},
        ["status", "version", "node"],
    ),
    "Person": obj(
        {
            "id": INTEGER,
            "name": STRING,
            "client_id": NULLABLE_STRING,
            "image_url": NULLABLE_STRING,
            "encodings": INTEGER,
            "created_at": STRING,
        },
        ["id", "name", "encodings"],
    ),
    "UnknownFace": obj(
        {
            "id": INTEGER,
            "event_id": STRING,
            "camera_id": NULLABLE_STRING,
            "seen_at": STRING,
            "box": {"$ref": "#/components/schemas/Box"},
            "image": {"type": "string", "description": "URL of the face's crop"},
        },
        ["id", "image"],
    ),
    "Register": either(REGISTER_FIELDS, ["name"], "encoding", "image_base64"),
    "Registered": obj(
        {"success": BOOLEAN, "message": STRING, "total_users": INTEGER, "person_id": INTEGER},
        ["success", "message", "total_users", "person_id"],
    ),
    "Node": obj(
        {
            "id": STRING,
            "host": STRING,
            "pid": INTEGER,
            "api_url": STRING,
            "alive": BOOLEAN,
            "cameras": {"type": "array", "items": STRING},
            "max_cameras": INTEGER,
            "last_heartbeat": STRING,
            "heartbeat_age_s": NUMBER,
            "started_at": STRING,
            "this_node": BOOLEAN,
            "stages": {"type": "object"},
        },
        ["id", "alive", "cameras", "max_cameras", "last_heartbeat"],
    ),
    "Success": obj({"success": BOOLEAN, "message": STRING}, ["success"]),
    "WebhookEvent": obj(
        {
            "type": {
                "type": "string",
                "enum": [APPEARED, LEFT, TEST],
                "description": "what happened; sent to webhook endpoints, never to the v1 webhook (NEXTJS_WEBHOOK_URL)",
            },
            "result": {"$ref": "#/components/schemas/Result"},
            "camera_id": NULLABLE_STRING,
            "camera_stream_url": NULLABLE_STRING,
        },
        ["result", "camera_id", "camera_stream_url"],
    ),
    "AuditEntry": obj(
        {
            "id": INTEGER,
            "time": STRING,
            "scope": STRING,
            "client": NULLABLE_STRING,
            "action": STRING,
            "target": NULLABLE_STRING,
            "details": {"type": "object"},
        },
        ["id", "time", "scope", "action", "details"],
    ),
    "Visitor": obj(
        {
            "id": INTEGER,
            "first_seen": STRING,
            "last_seen": STRING,
            "sightings": INTEGER,
            "cameras": {"type": "array", "items": STRING},
        },
        ["id", "first_seen", "last_seen", "sightings", "cameras"],
    ),
}
SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "FACEGATE_API_TOKEN (admin) or FACEGATE_READ_TOKEN (read); open when neither is set",
    },
    "signedUrl": {
        "type": "apiKey",
        "in": "query",
        "name": "signature",
        "description": "picture routes only: the URL from GET /api/signed-url (with its expires)",
    },
}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_answer(schema: dict[str, Any], description: str = "OK", links: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON answer of `schema`; `links` feed its ids to other operations."""
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if links:
        response["links"] = links
    return response


def error_answers(*codes: int) -> dict[str, Any]:
    words = {
        400: "Bad input, or a Host header that does not name this service",
        401: "Token missing or wrong",
        403: "The token's scope does not allow this",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
        415: "The body is neither application/json nor multipart/form-data",
        429: "Face detection is busy; see Retry-After",
        503: "Busy",
    }
    return {str(code): json_answer(ERROR, words[code]) for code in codes}


# an audited route (control/audit_plugin.py) refuses the change when its audit row cannot be written
AUDITED_ANSWERS = {"503": json_answer(ERROR, "The audit trail cannot be written, so nothing was changed")}


def links_to(parameter: str, expression: str, *operations: str) -> dict[str, Any]:
    """OpenAPI links: the id in this response (`expression`) feeds `parameter` of each operation."""
    return {op: {"operationId": op, "parameters": {parameter: expression}} for op in operations}


INTEGER_ID = {"type": "integer", "minimum": 0}
LIMIT: dict[str, Any] = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
}
OFFSET: dict[str, Any] = {
    "name": "offset",
    "in": "query",
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
}
JPEG = {"description": "JPEG image", "content": {"image/jpeg": {"schema": BINARY}}}
PERSON_OPS = ("getPerson", "addPersonFace", "deletePerson")  # what a new person's id links to


def json_request(schema: dict[str, Any]) -> dict[str, Any]:
    """A required JSON request body of `schema`."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


# the usual schema of a path parameter, by name (a route's Doc.path_schemas may say otherwise)
PATH_SCHEMAS = {
    "camera_id": STRING,
    "person_id": INTEGER_ID,
    "unknown_id": INTEGER_ID,
    "encoding_id": INTEGER_ID,
    "visitor_id": INTEGER_ID,
    "face_id": INTEGER_ID,
    "event_id": STRING,
}


def _path_parameters(path: str, schemas: Mapping[str, Any]) -> list[dict[str, Any]]:
    names = [piece.split("}")[0] for piece in path.split("{")[1:]]
    schemas = {**PATH_SCHEMAS, **schemas}
    return [{"name": n, "in": "path", "required": True, "schema": schemas.get(n, STRING)} for n in names]


def operation(route: bottle.Route) -> dict[str, Any]:
    """The OpenAPI operation of one route, from its `doc=`, `scope=` and `signable=`."""
    doc = doc_of(route)
    found: dict[str, Any] = {"operationId": doc.operation_id, "summary": doc.summary, "responses": dict(doc.responses)}
    if doc.body is not None:
        found["requestBody"] = doc.body
    parameters = _path_parameters(openapi_path(route.rule), doc.path_schemas) + list(doc.parameters)
    if parameters:
        found["parameters"] = parameters
    if action_of(route) is not None:
        found["responses"] = {**AUDITED_ANSWERS, **found["responses"]}
    _add_security(found, scope_of(route), is_signable(route))
    guards = (400, 415) if route.method != "GET" else (400,)  # control/security.py: Host, and a changing body's type
    found["responses"] = {**error_answers(*guards), **found["responses"]}
    return found


def document(app: bottle.Bottle, version: str = "0") -> dict[str, Any]:
    """The OpenAPI 3 document of every route `app` serves (a route without `doc=` raises Undeclared)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in app.routes:
        if route.method != "OPTIONS":
            paths.setdefault(openapi_path(route.rule), {})[route.method.lower()] = operation(route)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "facegate",
            "version": version,
            "description": "Face recognition over camera streams: control, results, people, webhooks.",
        },
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }


def _add_security(operation: dict[str, Any], scope: Scope, signable: bool) -> None:
    """Who may call it, as OpenAPI `security`, `x-facegate-scope` and 401/403 answers."""
    operation["x-facegate-scope"] = scope.value
    if scope is Scope.PUBLIC:
        operation["security"] = []
        return
    if scope is Scope.METRICS:
        operation["security"] = [{"bearer": []}, {}]  # a read token, unless FACEGATE_METRICS_AUTH=open
        operation["responses"] = {**operation["responses"], **error_answers(401)}
        return
    operation["security"] = [{"bearer": []}, *([{"signedUrl": []}] if signable else [])]
    operation["responses"] = {**operation["responses"], **error_answers(401, 403)}


def openapi_path(rule: str) -> str:
    """A Bottle rule as an OpenAPI path: `/api/persons/<person_id>` → `/api/persons/{person_id}`."""
    path = rule
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        name = path[start + 1 : end].split(":")[0]
        path = path[:start] + "{" + name + "}" + path[end + 1 :]
    return path


def served_operations(app: bottle.Bottle) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route the app serves, preflight excluded."""
    served = set()
    for route in app.routes:
        if route.method == "OPTIONS":
            continue
        served.add((route.method, openapi_path(route.rule)))
    return served


def install(app: bottle.Bottle, version: str) -> None:
    """Add `GET /api/openapi.json`: the document of `app`, made once at the first request."""
    made: list[dict[str, Any]] = []

    @app.get(
        "/api/openapi.json",
        scope=Scope.READ,
        doc=Doc("getOpenApi", "This document", {"200": json_answer({"type": "object"})}),
    )
    def openapi_document() -> dict[str, Any]:
        if not made:
            made.append(document(app, version))
        return made[0]
