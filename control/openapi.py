"""`GET /api/openapi.json`: the API described by hand, so a test can hold it against the routes served.

A new route is added to control/app.py (or control/live.py) and described in OPERATIONS here; the
Result schema describes facegate/records.py's `result_dict`."""

from __future__ import annotations

from typing import Any

import bottle

from control.auth import ROUTE_SCOPES, SIGNABLE, Scope
from control.health_api import STATES
from facegate.camera import camera_schema
from facegate.records import ENCODING_SIZE
from facegate.setting_kinds import SOME_TEXT
from facegate.settings import config_schema

ERROR = {"$ref": "#/components/schemas/Error"}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
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
NAME = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": SOME_TEXT,
        "description": "a person's name; not \"Unknown\" (in any case), the name of faces no one matches"}
TEXT = {"type": "string", "maxLength": 2048, "nullable": True}
# Plain base64 (padded) or a data: URL of it; what decode_base64_image accepts.
BASE64 = {"type": "string", "minLength": 1,
          "pattern": "^(data:[^,]*,)?(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"}
BINARY = {"type": "string", "format": "binary"}
# The camera and config bodies come from the settings' declarations (facegate/settings.py, facegate/camera.py).
CAMERA_BODY = camera_schema()
CAMERA_CHANGE = camera_schema(with_id=False)
CONFIG_BODY = config_schema()


def _either(fields: dict[str, Any], required: list[str], *names: str) -> dict[str, Any]:
    """An object of `fields` in which at least one of `names` is present and not null (one whole
    object per choice, so generated client types are an exact union)."""
    return {"type": "object", "anyOf": [
        _obj({**fields, n: {k: v for k, v in fields[n].items() if k != "nullable"}}, [*required, n]) for n in names]}


IMAGE_FIELDS = {"encoding": {**ENCODING, "nullable": True}, "image_base64": {**BASE64, "nullable": True}}
REGISTER_FIELDS = {"name": NAME, **IMAGE_FIELDS, "image_url": TEXT, "imageUrl": TEXT, "client_id": TEXT,
                   "clientId": TEXT}

SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": STRING}, ["error"]),
    "Box": _obj({k: INTEGER for k in ("top", "right", "bottom", "left")}, ["top", "right", "bottom", "left"]),
    "Result": _obj({"timestamp": STRING, "name": STRING, "confidence": NUMBER, "distance": NUMBER,
                    "box": {"$ref": "#/components/schemas/Box"}, "camera_id": NULLABLE_STRING,
                    "event_id": STRING, "visitor_id": INTEGER},
                   ["timestamp", "name", "confidence", "distance", "box"]),
    "Camera": _obj({"id": STRING, "name": NULLABLE_STRING, "stream_url": STRING, "enabled": BOOLEAN,
                    "state": {"type": "string", "enum": ["connecting", "live", "reconnecting", "failed", "stopped",
                                                         "ended"]},
                    "error": NULLABLE_STRING, "fps": NUMBER, "width": INTEGER, "height": INTEGER,
                    "detect_fps": NUMBER, "node": NULLABLE_STRING,
                    "snapshot": {"type": "string", "description": "URL of the latest frame with faces drawn"},
                    "mjpeg": {"type": "string", "description": "URL of the live MJPEG view, for an <img src>"}},
                   ["id", "state", "enabled", "snapshot", "mjpeg"]),
    "Status": _obj({"active": BOOLEAN, "encodings_loaded": INTEGER, "stream_url": NULLABLE_STRING,
                    "total_results": INTEGER, "running": BOOLEAN, "registered_people": INTEGER,
                    "cameras": {"type": "array", "items": _obj({"id": STRING, "state": STRING, "node": NULLABLE_STRING},
                                                                  ["id", "state"])},
                    "uptime_s": NUMBER, "version": STRING, "node": STRING},
                   ["active", "encodings_loaded", "stream_url", "total_results", "running", "cameras"]),
    "Health": _obj({"status": {"type": "string", "enum": list(STATES)}, "version": STRING, "node": STRING},
                   ["status", "version", "node"]),
    "Person": _obj({"id": INTEGER, "name": STRING, "client_id": NULLABLE_STRING, "image_url": NULLABLE_STRING,
                    "encodings": INTEGER, "created_at": STRING}, ["id", "name", "encodings"]),
    "UnknownFace": _obj({"id": INTEGER, "event_id": STRING, "camera_id": NULLABLE_STRING, "seen_at": STRING,
                         "box": {"$ref": "#/components/schemas/Box"},
                         "image": {"type": "string", "description": "URL of the face's crop"}},
                        ["id", "image"]),
    "Register": _either(REGISTER_FIELDS, ["name"], "encoding", "image_base64"),
    "Registered": _obj({"success": BOOLEAN, "message": STRING, "total_users": INTEGER, "person_id": INTEGER},
                       ["success", "message", "total_users", "person_id"]),
    "Node": _obj({"id": STRING, "host": STRING, "pid": INTEGER, "api_url": STRING, "alive": BOOLEAN,
                  "cameras": {"type": "array", "items": STRING}, "max_cameras": INTEGER, "last_heartbeat": STRING,
                  "heartbeat_age_s": NUMBER, "started_at": STRING, "this_node": BOOLEAN, "stages": {"type": "object"}},
                 ["id", "alive", "cameras", "max_cameras", "last_heartbeat"]),
    "Success": _obj({"success": BOOLEAN, "message": STRING}, ["success"]),
    "WebhookEvent": _obj({"result": {"$ref": "#/components/schemas/Result"}, "camera_id": NULLABLE_STRING,
                          "camera_stream_url": NULLABLE_STRING}, ["result", "camera_id", "camera_stream_url"]),
    "AuditEntry": _obj({"id": INTEGER, "time": STRING, "scope": STRING, "client": NULLABLE_STRING, "action": STRING,
                        "target": NULLABLE_STRING, "details": {"type": "object"}},
                       ["id", "time", "scope", "action", "details"]),
    "Visitor": _obj({"id": INTEGER, "first_seen": STRING, "last_seen": STRING, "sightings": INTEGER,
                     "cameras": {"type": "array", "items": STRING}},
                    ["id", "first_seen", "last_seen", "sightings", "cameras"]),
}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "FACEGATE_API_TOKEN (admin) or FACEGATE_READ_TOKEN (read); open when neither is set"},
    "signedUrl": {"type": "apiKey", "in": "query", "name": "signature",
                  "description": "picture routes only: the URL from GET /api/signed-url (with its expires)"},
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK", links: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if links:
        response["links"] = links
    return response


def _errors(*codes: int) -> dict[str, Any]:
    words = {400: "Bad input", 401: "Token missing or wrong", 403: "The token's scope does not allow this",
             404: "Not found", 409: "Conflict", 413: "Body too large",
             429: "Face detection is busy; see Retry-After", 503: "Busy"}
    return {str(code): _json(ERROR, words[code]) for code in codes}


def _links(parameter: str, expression: str, *operations: str) -> dict[str, Any]:
    """OpenAPI links: the id in this response (`expression`) feeds `parameter` of each operation."""
    return {op: {"operationId": op, "parameters": {parameter: expression}} for op in operations}


PERSON_OPS = ("getPerson", "addPersonFace", "deletePerson")
CAMERA_OPS = ("updateCamera", "deleteCamera", "getCameraSnapshot")
INTEGER_ID = {"type": "integer", "minimum": 0}
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
RESULTS = _obj({"results": {"type": "array", "items": _ref("Result")}, "total": INTEGER}, ["results", "total"])
IMAGE_BODY = {"required": True, "content": {
    "application/json": {"schema": _either(IMAGE_FIELDS, [], "encoding", "image_base64")},
    "multipart/form-data": {"schema": _obj({"image": BINARY}, ["image"])},
}}
PHOTO_BODY = {"required": True, "content": {
    "application/json": {"schema": _obj({"image_base64": BASE64}, ["image_base64"])},
    "multipart/form-data": {"schema": _obj({"image": BINARY}, ["image"])},
}}
ON_ITS_NODE = {"description": "Another node runs the camera: Location is the same request on that node"}
ENROLL_FIELDS = {"image_base64": BASE64, "images_base64": {"type": "array", "items": BASE64, "minItems": 1},
                 "encoding": ENCODING, "encodings": {"type": "array", "items": ENCODING, "minItems": 1}}
ENROLL_BODY = {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "anyOf": [_obj(ENROLL_FIELDS, [n]) for n in ENROLL_FIELDS]}},
    "multipart/form-data": {"schema": _obj({"image": {"type": "array", "items": BINARY, "minItems": 1}}, ["image"])},
}}
FILE_VERDICTS = {"type": "array", "items": _obj({"file": STRING, "accepted": BOOLEAN, "reason": STRING,
                                                 "error": STRING, "sharpness": {"type": "number", "nullable": True}},
                                                ["file", "accepted"])}
VISITOR_DETAIL = {"allOf": [_ref("Visitor"), _obj({
    "faces": {"type": "array", "items": _obj({"id": INTEGER, "score": NUMBER, "image": STRING})},
    "results": {"type": "array", "items": {"allOf": [_ref("Result"), _obj({"image": NULLABLE_STRING})]}}})]}
SEARCH_CAMERA = {"type": "string", "minLength": 1}
# since/until: ISO-8601 (a trailing Z is fine), epoch seconds, or "" for no bound
MOMENT = {"anyOf": [STRING, NUMBER]}
SEARCH_FILTERS = {"since": MOMENT, "until": MOMENT, "camera": SEARCH_CAMERA,
                  "limit": {"type": "integer", "minimum": 1, "maximum": 1000}}
SEARCH_BODY = {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "anyOf": [
        _obj({"image_base64": BASE64, "encoding": ENCODING, **SEARCH_FILTERS}, [n])
        for n in ("image_base64", "encoding")]}},
    "multipart/form-data": {"schema": _obj({"image": BINARY, **SEARCH_FILTERS}, ["image"])},
}}
CANDIDATE = _obj({"name": STRING, "distance": NUMBER, "confidence": NUMBER, "match": BOOLEAN},
                 ["name", "distance", "match"])
RECOGNIZED_FACE = {"allOf": [_ref("Result"), _obj({"candidates": {"type": "array", "items": CANDIDATE}})]}
VERIFY_PAIRS = (("image1", "image2"), ("image", "person_id"), ("image1", "person_id"))
VERIFY_JSON = {"image1_base64": BASE64, "image2_base64": BASE64, "image_base64": BASE64, "person_id": INTEGER_ID}
VERIFY_FORM = {"image1": BINARY, "image2": BINARY, "image": BINARY, "person_id": INTEGER_ID}
VERIFY_BODY = {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "anyOf": [
        _obj(VERIFY_JSON, [n if n == "person_id" else f"{n}_base64" for n in pair]) for pair in VERIFY_PAIRS]}},
    "multipart/form-data": {"schema": {"type": "object", "anyOf": [
        _obj(VERIFY_FORM, list(pair)) for pair in VERIFY_PAIRS]}},
}}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# What GET /api/signed-url signs: a picture route (control.auth.SIGNABLE, matched as Bottle matches it), query kept.
PICTURE_PATH = {"type": "string",
                "pattern": r"^/api/(cameras/[^/?]+/(snapshot\.jpg|stream\.mjpg)|unknown/[^/?]+\.jpg)(\?.*)?$"}
JPEG = {"description": "JPEG image", "content": {"image/jpeg": {"schema": BINARY}}}
HTML = {"description": "The operator page", "content": {"text/html": {"schema": STRING}}}

# (method, path) → (operationId, summary, extra operation fields, responses)
OPERATIONS: dict[tuple[str, str], tuple[str, str, dict[str, Any], dict[str, Any]]] = {
    ("GET", "/api/status"): ("getStatus", "Service and camera status", {}, {"200": _json(_ref("Status"))}),
    ("GET", "/api/health"): ("getHealth", "Liveness for load balancers and HEALTHCHECK: 503 unless ok; no token",
                             {}, {"200": _json(_ref("Health")),
                                  "503": _json(_ref("Health"), "Starting, or degraded (a stage or the store down)")}),
    ("POST", "/api/start"): ("start", "Start recognition on the configured cameras", {},
                             {"200": _json(_ref("Status")), **_errors(401),
                              "400": _json(ERROR, "No camera is configured yet")}),
    ("POST", "/api/stop"): ("stop", "Stop recognition", {}, {"200": _json(_ref("Status")), **_errors(401)}),
    ("GET", "/api/results"): ("listResults", "Latest results, newest first", {"parameters": [LIMIT]},
                              {"200": _json(RESULTS), **_errors(400)}),
    ("GET", "/api/results/{name}"): ("listResultsForName", "Latest results for one name", {"parameters": [LIMIT]},
                                     {"200": _json(RESULTS), **_errors(400)}),
    ("GET", "/api/latest"): ("getLatest", "The newest result, or null", {},
                             {"200": _json({**_ref("Result"), "nullable": True})}),
    ("GET", "/api/stats"): ("getStats", "Detections by name, webhook delivery and pipeline figures", {},
                            {"200": _json(_obj({"total_detections": INTEGER,
                                                "recognized": {"type": "object", "additionalProperties": INTEGER},
                                                "unknown_count": INTEGER,
                                                "last_detection": {**_ref("Result"), "nullable": True},
                                                "webhooks": {"type": "object"},
                                                "pipeline": {"type": "object"}},
                                               ["total_detections", "recognized", "unknown_count"]))}),
    ("GET", "/api/config"): ("getConfig", "The runtime configuration", {},
                             {"200": _json(_obj({"config": {"type": "object"}}, ["config"]))}),
    ("PUT", "/api/config"): ("updateConfig", "Change stream_url, threshold, ... without a restart",
                             _json_body(CONFIG_BODY),
                             {"200": _json(_obj({"success": BOOLEAN, "message": STRING, "config": {"type": "object"}},
                                                ["success", "config"])), **_errors(400, 401, 409, 413)}),
    ("POST", "/api/register"): ("register", "Register a person from an encoding or a photo",
                                {"requestBody": {"required": True, "content": {
                                    "application/json": {"schema": _ref("Register")},
                                    "multipart/form-data": {"schema": _obj(
                                        {"name": NAME, "image": BINARY, "client_id": TEXT, "image_url": TEXT},
                                        ["name", "image"])}}}},
                                {"200": _json(_ref("Registered"),
                                              links=_links("person_id", "$response.body#/person_id", *PERSON_OPS)),
                                 **_errors(400, 401, 413, 429)}),
    ("GET", "/api/persons"): ("listPersons", "Registered people", {},
                              {"200": _json(_obj({"persons": {"type": "array", "items": _ref("Person")},
                                                  "total": INTEGER}, ["persons", "total"]),
                                            links=_links("person_id", "$response.body#/persons/0/id", *PERSON_OPS))}),
    ("GET", "/api/persons/{person_id}"): ("getPerson", "One person", {}, {"200": _json(_ref("Person")),
                                                                          **_errors(404)}),
    ("POST", "/api/persons/{person_id}/faces"): (
        "addPersonFace",
        "Add photos (several files at once) or encodings to a person; all or nothing, with an answer per file",
        {"requestBody": ENROLL_BODY},
        {"200": _json(_obj({"success": BOOLEAN, "message": STRING, "files": FILE_VERDICTS,
                            "person": _ref("Person")}, ["success", "files", "person"])),
         "400": _json(_obj({"error": STRING, "reason": STRING, "files": FILE_VERDICTS}, ["error"]),
                      "Refused: reason is not_one_face, not_an_image, too_small, blurry or duplicate; nothing stored"),
         **_errors(401, 404, 413, 429)}),
    ("DELETE", "/api/persons/{person_id}"): ("deletePerson", "Delete a person and all their encodings", {},
                                             {"200": _json(_ref("Success")), **_errors(401, 404)}),
    ("POST", "/api/recognize"): (
        "recognize", "Who is in this photo; with ?top=k each face also gets its k nearest people",
                                 {"requestBody": PHOTO_BODY, "parameters": [
                                     {"name": "top", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                                "maximum": 20}}]},
                                 {"200": _json(_obj({"faces": {"type": "array", "items": RECOGNIZED_FACE},
                                                     "count": INTEGER, "width": INTEGER, "height": INTEGER},
                                                    ["faces", "count", "width", "height"])),
                                  **_errors(400, 401, 413, 429)}),
    ("POST", "/api/verify"): ("verify", "Same person or not: two photos, or a photo and a person_id",
                              {"requestBody": VERIFY_BODY},
                              {"200": _json(_obj({"same_person": BOOLEAN, "distance": NUMBER, "confidence": NUMBER,
                                                  "threshold": NUMBER,
                                                  "person": _obj({"id": INTEGER, "name": STRING})},
                                                 ["same_person", "distance", "threshold"])),
                               **_errors(400, 401, 404, 409, 413, 429)}),
    ("GET", "/api/webhooks/failed"): ("listFailedWebhooks", "Webhook deliveries that gave up (dead letters)",
                                      {"parameters": [LIMIT]},
                                      {"200": _json(_obj({"failed": {"type": "array", "items": {"type": "object"}},
                                                          "total": INTEGER}, ["failed", "total"])),
                                       **_errors(400)}),
    ("POST", "/api/webhooks/retry"): ("retryWebhooks", "Send the dead letters again", {},
                                      {"200": _json(_obj({"success": BOOLEAN, "message": STRING, "queued": INTEGER},
                                                         ["success", "queued"])), **_errors(401)}),
    ("GET", "/api/cameras"): ("listCameras", "Cameras and their state", {},
                              {"200": _json(_obj({"cameras": {"type": "array", "items": _ref("Camera")}},
                                                 ["cameras"]),
                                            links=_links("camera_id", "$response.body#/cameras/0/id", *CAMERA_OPS))}),
    ("POST", "/api/cameras"): ("addCamera", "Add a camera", _json_body(CAMERA_BODY),
                               {"201": _json(_obj({"success": BOOLEAN, "camera": _ref("Camera")},
                                                  ["success", "camera"]), "Created",
                                             links=_links("camera_id", "$response.body#/camera/id", *CAMERA_OPS)),
                                **_errors(400, 401, 409, 413)}),
    ("PUT", "/api/cameras/{camera_id}"): ("updateCamera", "Change a camera", _json_body(CAMERA_CHANGE),
                                          {"200": _json(_obj({"success": BOOLEAN, "camera": _ref("Camera")},
                                                             ["success", "camera"])),
                                           **_errors(400, 401, 404, 413)}),
    ("DELETE", "/api/cameras/{camera_id}"): ("deleteCamera", "Remove a camera", {},
                                             {"200": _json(_ref("Success")), **_errors(401, 404)}),
    ("GET", "/api/cameras/{camera_id}/snapshot.jpg"): (
        "getCameraSnapshot", "Latest frame with faces drawn", {},
        {"200": JPEG, "307": ON_ITS_NODE, **_errors(404),
         "409": _json(ERROR, "The camera has no frame yet (stopped or connecting)")}),
    ("GET", "/api/cameras/{camera_id}/stream.mjpg"): (
        "getCameraStream", "Live MJPEG of the camera with faces drawn",
        {"parameters": [{"name": "fps", "in": "query",
                         "schema": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 10}}]},
        {"200": {"description": "multipart/x-mixed-replace JPEG stream"}, "307": ON_ITS_NODE,
         **_errors(400, 404, 503)}),
    ("GET", "/api/unknown"): ("listUnknown", "Recent unknown faces, to register from", {},
                              {"200": _json(_obj({"unknown": {"type": "array", "items": _ref("UnknownFace")},
                                                  "total": INTEGER}, ["unknown", "total"]))}),
    ("GET", "/api/unknown/{unknown_id}.jpg"): ("getUnknownImage", "Crop of an unknown face", {},
                                               {"200": JPEG, **_errors(404)}),
    ("POST", "/api/unknown/{unknown_id}/register"): (
        "registerUnknown", "Register an unknown face under a name", _json_body(_obj({"name": NAME}, ["name"])),
        {"200": _json(_ref("Registered"), links=_links("person_id", "$response.body#/person_id", *PERSON_OPS)),
         **_errors(400, 401, 404, 413)}),
    ("DELETE", "/api/unknown/{unknown_id}"): ("deleteUnknown", "Forget an unknown face", {},
                                              {"200": _json(_ref("Success")), **_errors(401, 404)}),
    ("GET", "/api/nodes"): ("listNodes", "The nodes sharing the database: their cameras, capacity and last heartbeat",
                            {}, {"200": _json(_obj({"nodes": {"type": "array", "items": _ref("Node")},
                                                    "total": INTEGER, "alive": INTEGER, "this_node": STRING},
                                                   ["nodes", "this_node"]))}),
    ("PUT", "/api/persons/{person_id}"): ("renamePerson", "Rename a person (their past results follow)",
                                          _json_body({**_obj({"name": NAME}, ["name"]), "additionalProperties": False}),
                                          {"200": _json(_obj({"success": BOOLEAN, "message": STRING,
                                                              "person": _ref("Person")}, ["success", "person"])),
                                           **_errors(400, 401, 404, 409)}),
    ("GET", "/api/persons/{person_id}/encodings"): (
        "listPersonEncodings", "A person's encodings with their date and crop", {},
        {"200": _json(_obj({"encodings": {"type": "array", "items": _obj(
            {"id": INTEGER, "created_at": STRING, "image": NULLABLE_STRING}, ["id", "created_at", "image"])},
            "total": INTEGER}, ["encodings", "total"])), **_errors(404)}),
    ("GET", "/api/persons/{person_id}/encodings/{encoding_id}.jpg"): (
        "getEncodingCrop", "The crop an encoding was made from", {},
                                                                      {"200": JPEG, **_errors(404)}),
    ("DELETE", "/api/persons/{person_id}/encodings/{encoding_id}"): (
        "deleteEncoding", "Delete one encoding (and its crop) of a person", {},
        {"200": _json(_obj({"success": BOOLEAN, "person": _ref("Person")}, ["success"])), **_errors(401, 404)}),
    ("GET", "/api/visitors"): ("listVisitors", "Visitors (unknown people seen again and again), newest first, paged",
                               {"parameters": [{**LIMIT, "schema": {**LIMIT["schema"], "maximum": 200}},
                                               {"name": "offset", "in": "query",
                                                "schema": {"type": "integer", "minimum": 0, "maximum": 10**9}}]},
                               {"200": _json(_obj({"visitors": {"type": "array", "items": _ref("Visitor")},
                                                   "total": INTEGER, "limit": INTEGER, "offset": INTEGER},
                                                  ["visitors", "total"])), **_errors(400)}),
    ("GET", "/api/visitors/{visitor_id}"): ("getVisitor", "A visitor with its kept crops and its sightings", {},
                                            {"200": _json(VISITOR_DETAIL), **_errors(404)}),
    ("GET", "/api/visitors/{visitor_id}/faces/{face_id}.jpg"): ("getVisitorFace", "One of a visitor's kept crops", {},
                                                                {"200": JPEG, **_errors(404)}),
    ("POST", "/api/visitors/{visitor_id}/register"): (
        "registerVisitor", "Make a visitor a person from its best encodings; its past results take the name",
        _json_body(_obj({"name": NAME}, ["name"])),
        {"200": _json(_obj({"success": BOOLEAN, "person_id": INTEGER, "person": _ref("Person")},
                           ["success", "person_id"])), **_errors(400, 401, 404)}),
    ("POST", "/api/visitors/merge"): (
        "mergeVisitors", "Merge visitors that are one person into the first seen of them",
        _json_body(_obj({"ids": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 10**12 - 1},
                                 "minItems": 2, "maxItems": 100, "uniqueItems": True}}, ["ids"])),
        {"200": _json(_obj({"success": BOOLEAN, "visitor": VISITOR_DETAIL}, ["success", "visitor"])),
         **_errors(400, 401, 404)}),
    ("DELETE", "/api/visitors/{visitor_id}"): (
        "deleteVisitor", "Forget a visitor: every crop, encoding and result of it", {},
                                               {"200": _json(_ref("Success")), **_errors(401, 404)}),
    ("GET", "/api/results/{event_id}/crop.jpg"): (
        "getResultCrop", "The face crop a result kept", {}, {"200": JPEG, **_errors(404)}),
    ("POST", "/api/results/{event_id}/reject"): (
        "rejectResult", "That was not X: the sighting's encoding becomes a negative of X; optionally name who it was",
        {"requestBody": {"content": {"application/json": {"schema": _obj({"name": NAME})}}}},
        {"200": _json(_obj({"success": BOOLEAN, "rejected": STRING, "event_id": STRING, "person_id": INTEGER,
                            "message": STRING}, ["success", "rejected", "event_id"])),
         **_errors(400, 401, 404, 409)}),
    ("POST", "/api/search"): (
        "search", "Every stored sighting of the face in a photo (or of an encoding), nearest first",
        {"requestBody": SEARCH_BODY},
        {"200": _json(_obj({"sightings": {"type": "array", "items": _obj({
            "event_id": STRING, "timestamp": STRING, "camera_id": NULLABLE_STRING, "name": STRING,
            "visitor_id": INTEGER, "distance": NUMBER, "box": _ref("Box"), "image": NULLABLE_STRING},
            ["event_id", "timestamp", "name", "distance", "image"])}, "total": INTEGER, "threshold": NUMBER},
            ["sightings", "total"])), **_errors(400, 401, 413)}),
    ("GET", "/api/openapi.json"): ("getOpenApi", "This document", {}, {"200": _json({"type": "object"})}),
    ("GET", "/api/signed-url"): (
        "getSignedUrl", "A short-lived signed URL for a picture route, for <img src> where no header can be sent",
        {"parameters": [{"name": "path", "in": "query", "required": True, "schema": PICTURE_PATH,
                         "example": "/api/cameras/cam0/snapshot.jpg"}]},
        {"200": _json(_obj({"url": STRING, "expires_at": STRING, "expires_in_s": NUMBER}, ["url", "expires_at"])),
         **_errors(400)}),
    ("GET", "/api/audit"): (
        "listAudit", "The audit trail of changes, newest first",
        {"parameters": [LIMIT, {"name": "action", "in": "query", "schema": STRING, "example": "person.delete"}]},
        {"200": _json(_obj({"audit": {"type": "array", "items": _ref("AuditEntry")}, "total": INTEGER},
                           ["audit", "total"])), **_errors(400)}),
    ("GET", "/metrics"): ("getMetrics", "Prometheus metrics", {},
                          {"200": {"description": "Prometheus text format",
                                   "content": {"text/plain": {"schema": STRING}}}}),
    ("GET", "/"): ("getOperatorPage", "The operator page (static HTML; it calls only this API)", {},
                   {"200": HTML}),
    ("GET", "/ui/{filename}"): ("getOperatorAsset", "Script and styles of the operator page", {},
                                {"200": {"description": "A static file"}, **_errors(404)}),
}
PATH_SCHEMAS = {"camera_id": STRING, "person_id": INTEGER_ID, "unknown_id": INTEGER_ID, "encoding_id": INTEGER_ID,
                "visitor_id": INTEGER_ID, "face_id": INTEGER_ID, "event_id": STRING,
                "filename": {"type": "string", "enum": ["app.js", "style.css"]}}


def _path_parameters(path: str) -> list[dict[str, Any]]:
    names = [piece.split("}")[0] for piece in path.split("{")[1:]]
    return [{"name": n, "in": "path", "required": True, "schema": PATH_SCHEMAS.get(n, STRING)} for n in names]


def document(version: str = "0") -> dict[str, Any]:
    """The OpenAPI 3 document of the operations above."""
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), (operation_id, summary, extra, responses) in OPERATIONS.items():
        operation = {"operationId": operation_id, "summary": summary, "responses": responses, **extra}
        parameters = _path_parameters(path) + list(extra.get("parameters", []))
        if parameters:
            operation["parameters"] = parameters
        _add_security(operation, method, path)
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "facegate", "version": version,
                 "description": "Face recognition over camera streams: control, results, people, webhooks."},
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }


def _add_security(operation: dict[str, Any], method: str, path: str) -> None:
    """Who may call it (from control.auth), as OpenAPI `security`, `x-facegate-scope` and 401/403 answers."""
    rules = {(m, openapi_path(rule)): (scope, (m, rule) in SIGNABLE) for (m, rule), scope in ROUTE_SCOPES.items()}
    scope, signable = rules[(method, path)]
    operation["x-facegate-scope"] = scope.value
    if scope is Scope.PUBLIC:
        operation["security"] = []
        return
    if scope is Scope.METRICS:
        operation["security"] = [{}, {"bearer": []}]  # open unless FACEGATE_METRICS_AUTH=read
        return
    operation["security"] = [{"bearer": []}, *([{"signedUrl": []}] if signable else [])]
    operation["responses"] = {**operation["responses"], **_errors(401, 403)}


def openapi_path(rule: str) -> str:
    """A Bottle rule as an OpenAPI path: `/api/persons/<person_id>` → `/api/persons/{person_id}`."""
    path = rule
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        name = path[start + 1:end].split(":")[0]
        path = path[:start] + "{" + name + "}" + path[end + 1:]
    return path


def served_operations(app: bottle.Bottle) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route the app serves, preflight excluded."""
    served = set()
    for route in app.routes:
        if route.method == "OPTIONS":
            continue
        served.add((route.method, openapi_path(route.rule)))
    return served
