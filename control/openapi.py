"""`GET /api/openapi.json`: the API described by hand, so a test can hold it against the routes served.

A new route is added to control/app.py (or control/live.py) and described in OPERATIONS here; the
Result schema describes facegate/records.py's `result_dict`."""

from __future__ import annotations

from typing import Any

import bottle

from facegate.records import ENCODING_SIZE

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
                    "detect_fps": NUMBER}, ["id", "state"]),
    "Status": _obj({"active": BOOLEAN, "encodings_loaded": INTEGER, "stream_url": NULLABLE_STRING,
                    "total_results": INTEGER, "running": BOOLEAN, "registered_people": INTEGER,
                    "cameras": {"type": "array", "items": {"$ref": "#/components/schemas/Camera"}},
                    "uptime_s": NUMBER, "version": STRING},
                   ["active", "encodings_loaded", "stream_url", "total_results"]),
    "Person": _obj({"id": INTEGER, "name": STRING, "client_id": NULLABLE_STRING, "image_url": NULLABLE_STRING,
                    "encodings": INTEGER, "created_at": STRING}, ["id", "name", "encodings"]),
    "Register": _obj({"name": STRING, "encoding": ENCODING, "image_base64": STRING, "image_url": STRING,
                      "imageUrl": STRING, "client_id": STRING, "clientId": STRING}, ["name"]),
    "Success": _obj({"success": BOOLEAN, "message": STRING}, ["success"]),
    "Visitor": _obj({"id": INTEGER, "first_seen": STRING, "last_seen": STRING, "sightings": INTEGER,
                     "cameras": {"type": "array", "items": STRING}},
                    ["id", "first_seen", "last_seen", "sightings", "cameras"]),
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    words = {400: "Bad input", 401: "Token missing or wrong", 404: "Not found", 409: "Conflict",
             413: "Body too large", 503: "Busy"}
    return {str(code): _json(ERROR, words[code]) for code in codes}


LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
RESULTS = _obj({"results": {"type": "array", "items": _ref("Result")}, "total": INTEGER}, ["results", "total"])
IMAGE_BODY = {"content": {
    "application/json": {"schema": _obj({"image_base64": STRING, "encoding": ENCODING})},
    "multipart/form-data": {"schema": _obj({"image": {"type": "string", "format": "binary"}})},
}}
ENROLL_BODY = {"content": {
    "application/json": {"schema": _obj({"image_base64": STRING, "images_base64": {"type": "array", "items": STRING},
                                         "encoding": ENCODING, "encodings": {"type": "array", "items": ENCODING}})},
    "multipart/form-data": {"schema": _obj({"image": {"type": "array",
                                                      "items": {"type": "string", "format": "binary"}}})},
}}
FILE_VERDICTS = {"type": "array", "items": _obj({"file": STRING, "accepted": BOOLEAN, "reason": STRING,
                                                 "error": STRING, "sharpness": {"type": "number", "nullable": True}},
                                                ["file", "accepted"])}
VISITOR_DETAIL = {"allOf": [_ref("Visitor"), _obj({
    "faces": {"type": "array", "items": _obj({"id": INTEGER, "score": NUMBER, "image": STRING})},
    "results": {"type": "array", "items": {"allOf": [_ref("Result"), _obj({"image": NULLABLE_STRING})]}}})]}
SEARCH_FILTERS = {"since": STRING, "until": STRING, "camera": STRING, "limit": INTEGER}
SEARCH_BODY = {"content": {
    "application/json": {"schema": _obj({"image_base64": STRING, "encoding": ENCODING, **SEARCH_FILTERS})},
    "multipart/form-data": {"schema": _obj({"image": {"type": "string", "format": "binary"}, **SEARCH_FILTERS})},
}}
CANDIDATE = _obj({"name": STRING, "distance": NUMBER, "confidence": NUMBER, "match": BOOLEAN},
                 ["name", "distance", "match"])
RECOGNIZED_FACE = {"allOf": [_ref("Result"), _obj({"candidates": {"type": "array", "items": CANDIDATE}})]}
VERIFY_BODY = {"content": {
    "application/json": {"schema": _obj({"image1_base64": STRING, "image2_base64": STRING, "image_base64": STRING,
                                         "person_id": INTEGER})},
    "multipart/form-data": {"schema": _obj({"image1": {"type": "string", "format": "binary"},
                                            "image2": {"type": "string", "format": "binary"},
                                            "image": {"type": "string", "format": "binary"},
                                            "person_id": INTEGER})},
}}
JSON_OBJECT_BODY = {"content": {"application/json": {"schema": {"type": "object"}}}}
JPEG = {"description": "JPEG image", "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}

# (method, path) → (summary, extra operation fields, responses)
OPERATIONS: dict[tuple[str, str], tuple[str, dict[str, Any], dict[str, Any]]] = {
    ("GET", "/api/status"): ("Service and camera status", {}, {"200": _json(_ref("Status"))}),
    ("POST", "/api/start"): ("Start recognition on the configured cameras", {},
                             {"200": _json(_ref("Status")), **_errors(400, 401)}),
    ("POST", "/api/stop"): ("Stop recognition", {}, {"200": _json(_ref("Status")), **_errors(401)}),
    ("GET", "/api/results"): ("Latest results, newest first", {"parameters": [LIMIT]},
                              {"200": _json(RESULTS), **_errors(400)}),
    ("GET", "/api/results/{name}"): ("Latest results for one name", {"parameters": [LIMIT]},
                                     {"200": _json(RESULTS), **_errors(400)}),
    ("GET", "/api/latest"): ("The newest result, or null", {},
                             {"200": _json({**_ref("Result"), "nullable": True})}),
    ("GET", "/api/stats"): ("Detections by name, webhook delivery and pipeline figures", {},
                            {"200": _json(_obj({"total_detections": INTEGER, "recognized": {"type": "object"},
                                                "unknown_count": INTEGER, "webhooks": {"type": "object"},
                                                "pipeline": {"type": "object"}},
                                               ["total_detections", "recognized", "unknown_count"]))}),
    ("GET", "/api/config"): ("The runtime configuration", {}, {"200": _json(_obj({"config": {"type": "object"}}))}),
    ("PUT", "/api/config"): ("Change stream_url, threshold, ... without a restart", {"requestBody": JSON_OBJECT_BODY},
                             {"200": _json(_ref("Success")), **_errors(400, 401, 413)}),
    ("POST", "/api/register"): ("Register a person from an encoding or a photo",
                                {"requestBody": {"content": {
                                    "application/json": {"schema": _ref("Register")},
                                    "multipart/form-data": {"schema": _obj(
                                        {"name": STRING, "image": {"type": "string", "format": "binary"}})}}}},
                                {"200": _json(_obj({"success": BOOLEAN, "message": STRING, "total_users": INTEGER,
                                                    "person_id": INTEGER}, ["success", "total_users"])),
                                 **_errors(400, 401, 413)}),
    ("GET", "/api/persons"): ("Registered people", {},
                              {"200": _json(_obj({"persons": {"type": "array", "items": _ref("Person")}}))}),
    ("GET", "/api/persons/{person_id}"): ("One person", {}, {"200": _json(_ref("Person")), **_errors(404)}),
    ("POST", "/api/persons/{person_id}/faces"): (
        "Add photos (several files at once) or encodings to a person; all or nothing, with an answer per file",
        {"requestBody": ENROLL_BODY},
        {"200": _json(_obj({"success": BOOLEAN, "message": STRING, "files": FILE_VERDICTS,
                            "person": _ref("Person")}, ["success", "files", "person"])),
         "400": _json(_obj({"error": STRING, "reason": STRING, "files": FILE_VERDICTS}, ["error"]),
                      "Refused: reason is not_one_face, not_an_image, too_small, blurry or duplicate; nothing stored"),
         **_errors(401, 404, 413)}),
    ("DELETE", "/api/persons/{person_id}"): ("Delete a person and all their encodings", {},
                                             {"200": _json(_ref("Success")), **_errors(401, 404)}),
    ("POST", "/api/recognize"): ("Who is in this photo; with ?top=k each face also gets its k nearest people",
                                 {"requestBody": IMAGE_BODY, "parameters": [
                                     {"name": "top", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                                "maximum": 20}}]},
                                 {"200": _json(_obj({"faces": {"type": "array", "items": RECOGNIZED_FACE},
                                                     "count": INTEGER})), **_errors(400, 401, 413)}),
    ("POST", "/api/verify"): ("Same person or not: two photos, or a photo and a person_id",
                              {"requestBody": VERIFY_BODY},
                              {"200": _json(_obj({"same_person": BOOLEAN, "distance": NUMBER, "confidence": NUMBER,
                                                  "threshold": NUMBER,
                                                  "person": _obj({"id": INTEGER, "name": STRING})},
                                                 ["same_person", "distance", "threshold"])),
                               **_errors(400, 401, 404, 409, 413)}),
    ("GET", "/api/webhooks/failed"): ("Webhook deliveries that gave up (dead letters)", {"parameters": [LIMIT]},
                                      {"200": _json(_obj({"failed": {"type": "array"}, "total": INTEGER}))}),
    ("POST", "/api/webhooks/retry"): ("Send the dead letters again", {},
                                      {"200": _json(_ref("Success")), **_errors(401)}),
    ("GET", "/api/cameras"): ("Cameras and their state", {},
                              {"200": _json(_obj({"cameras": {"type": "array", "items": _ref("Camera")}}))}),
    ("POST", "/api/cameras"): ("Add a camera", {"requestBody": JSON_OBJECT_BODY},
                               {"201": _json(_ref("Success")), **_errors(400, 401, 409)}),
    ("PUT", "/api/cameras/{camera_id}"): ("Change a camera", {"requestBody": JSON_OBJECT_BODY},
                                          {"200": _json(_ref("Success")), **_errors(400, 401, 404)}),
    ("DELETE", "/api/cameras/{camera_id}"): ("Remove a camera", {},
                                             {"200": _json(_ref("Success")), **_errors(401, 404)}),
    ("GET", "/api/cameras/{camera_id}/snapshot.jpg"): ("Latest frame with faces drawn", {},
                                                       {"200": JPEG, **_errors(404)}),
    ("GET", "/api/cameras/{camera_id}/stream.mjpg"): (
        "Live MJPEG of the camera with faces drawn",
        {"parameters": [{"name": "fps", "in": "query", "schema": {"type": "number", "maximum": 10}}]},
        {"200": {"description": "multipart/x-mixed-replace JPEG stream"}, **_errors(400, 404, 503)}),
    ("GET", "/api/unknown"): ("Recent unknown faces, to register from", {},
                              {"200": _json(_obj({"unknown": {"type": "array"}, "total": INTEGER}))}),
    ("GET", "/api/unknown/{unknown_id}.jpg"): ("Crop of an unknown face", {}, {"200": JPEG, **_errors(404)}),
    ("POST", "/api/unknown/{unknown_id}/register"): ("Register an unknown face under a name",
                                                     {"requestBody": JSON_OBJECT_BODY},
                                                     {"200": _json(_ref("Success")), **_errors(400, 401, 404)}),
    ("DELETE", "/api/unknown/{unknown_id}"): ("Forget an unknown face", {},
                                              {"200": _json(_ref("Success")), **_errors(401, 404)}),
    ("PUT", "/api/persons/{person_id}"): ("Rename a person (their past results follow)",
                                          {"requestBody": {"content": {"application/json": {
                                              "schema": _obj({"name": STRING}, ["name"])}}}},
                                          {"200": _json(_obj({"success": BOOLEAN, "message": STRING,
                                                              "person": _ref("Person")}, ["success", "person"])),
                                           **_errors(400, 401, 404, 409)}),
    ("GET", "/api/persons/{person_id}/encodings"): (
        "A person's encodings with their date and crop", {},
        {"200": _json(_obj({"encodings": {"type": "array", "items": _obj(
            {"id": INTEGER, "created_at": STRING, "image": NULLABLE_STRING}, ["id", "created_at", "image"])},
            "total": INTEGER}, ["encodings", "total"])), **_errors(404)}),
    ("GET", "/api/persons/{person_id}/encodings/{encoding_id}.jpg"): ("The crop an encoding was made from", {},
                                                                      {"200": JPEG, **_errors(404)}),
    ("DELETE", "/api/persons/{person_id}/encodings/{encoding_id}"): (
        "Delete one encoding (and its crop) of a person", {},
        {"200": _json(_obj({"success": BOOLEAN, "person": _ref("Person")}, ["success"])), **_errors(401, 404)}),
    ("GET", "/api/visitors"): ("Visitors (unknown people seen again and again), newest first, paged",
                               {"parameters": [LIMIT, {"name": "offset", "in": "query",
                                                       "schema": {"type": "integer", "minimum": 0}}]},
                               {"200": _json(_obj({"visitors": {"type": "array", "items": _ref("Visitor")},
                                                   "total": INTEGER, "limit": INTEGER, "offset": INTEGER},
                                                  ["visitors", "total"])), **_errors(400)}),
    ("GET", "/api/visitors/{visitor_id}"): ("A visitor with its kept crops and its sightings", {},
                                            {"200": _json(VISITOR_DETAIL), **_errors(404)}),
    ("GET", "/api/visitors/{visitor_id}/faces/{face_id}.jpg"): ("One of a visitor's kept crops", {},
                                                                {"200": JPEG, **_errors(404)}),
    ("POST", "/api/visitors/{visitor_id}/register"): (
        "Make a visitor a person from its best encodings; its past results take the name",
        {"requestBody": {"content": {"application/json": {"schema": _obj({"name": STRING}, ["name"])}}}},
        {"200": _json(_obj({"success": BOOLEAN, "person_id": INTEGER, "person": _ref("Person")},
                           ["success", "person_id"])), **_errors(400, 401, 404)}),
    ("POST", "/api/visitors/merge"): (
        "Merge visitors that are one person into the first seen of them",
        {"requestBody": {"content": {"application/json": {"schema": _obj(
            {"ids": {"type": "array", "items": INTEGER, "minItems": 2}}, ["ids"])}}}},
        {"200": _json(_obj({"success": BOOLEAN, "visitor": VISITOR_DETAIL}, ["success", "visitor"])),
         **_errors(400, 401, 404)}),
    ("DELETE", "/api/visitors/{visitor_id}"): ("Forget a visitor: every crop, encoding and result of it", {},
                                               {"200": _json(_ref("Success")), **_errors(401, 404)}),
    ("GET", "/api/results/{event_id}/crop.jpg"): ("The face crop a result kept", {}, {"200": JPEG, **_errors(404)}),
    ("POST", "/api/results/{event_id}/reject"): (
        "That was not X: the sighting's encoding becomes a negative of X; optionally name who it was",
        {"requestBody": {"content": {"application/json": {"schema": _obj({"name": STRING})}}}},
        {"200": _json(_obj({"success": BOOLEAN, "rejected": STRING, "event_id": STRING, "person_id": INTEGER,
                            "message": STRING}, ["success", "rejected", "event_id"])),
         **_errors(400, 401, 404, 409)}),
    ("POST", "/api/search"): (
        "Every stored sighting of the face in a photo (or of an encoding), nearest first",
        {"requestBody": SEARCH_BODY, "parameters": [
            {"name": n, "in": "query", "schema": STRING} for n in ("since", "until", "camera")]},
        {"200": _json(_obj({"sightings": {"type": "array", "items": _obj({
            "event_id": STRING, "timestamp": STRING, "camera_id": NULLABLE_STRING, "name": STRING,
            "visitor_id": INTEGER, "distance": NUMBER, "box": _ref("Box"), "image": NULLABLE_STRING},
            ["event_id", "timestamp", "name", "distance", "image"])}, "total": INTEGER, "threshold": NUMBER},
            ["sightings", "total"])), **_errors(400, 401, 413)}),
    ("GET", "/api/openapi.json"): ("This document", {}, {"200": _json({"type": "object"})}),
    ("GET", "/metrics"): ("Prometheus metrics", {}, {"200": {"description": "Prometheus text format"}}),
}


def _path_parameters(path: str) -> list[dict[str, Any]]:
    names = [piece.split("}")[0] for piece in path.split("{")[1:]]
    return [{"name": n, "in": "path", "required": True, "schema": STRING} for n in names]


def document(version: str = "0") -> dict[str, Any]:
    """The OpenAPI 3 document of the operations above."""
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), (summary, extra, responses) in OPERATIONS.items():
        operation = {"summary": summary, "responses": responses, **extra}
        parameters = _path_parameters(path) + list(extra.get("parameters", []))
        if parameters:
            operation["parameters"] = parameters
        if method != "GET":
            operation["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "facegate", "version": version,
                 "description": "Face recognition over camera streams: control, results, people, webhooks."},
        "paths": paths,
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def served_operations(app: bottle.Bottle) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route the app serves, preflight excluded."""
    served = set()
    for route in app.routes:
        if route.method == "OPTIONS":
            continue
        path = route.rule
        while "<" in path:
            start, end = path.index("<"), path.index(">")
            name = path[start + 1:end].split(":")[0]
            path = path[:start] + "{" + name + "}" + path[end + 1:]
        served.add((route.method, path))
    return served
