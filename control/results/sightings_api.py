"""Stored sightings over HTTP: a result's crop, "that was not X", and search by photo.

`POST /api/results/<event_id>/reject` keeps the sighting's encoding as a negative example of the
person it was named as (pipeline/recognition/known_faces.py then passes that person over for faces nearer the
negative than the person), relabels the result, and, given `{"name": "who it was"}`, adds the
encoding to that person. `POST /api/search` finds every stored sighting of a face
(facegate/sighting_search.py).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import bottle
import numpy as np

from control.declaration import Doc, Scope
from control.facework import FaceWorkPool
from control.openapi import (
    BASE64,
    BINARY,
    BOOLEAN,
    ENCODING,
    INTEGER,
    JPEG,
    JSON_NAME,
    NULLABLE_STRING,
    NUMBER,
    STRING,
    error_answers,
    json_answer,
    obj,
    ref,
)
from control.service_api import ServiceApi
from control.validation import (
    check_encoding,
    check_name,
    digits,
    fail,
    form_fields,
    is_multipart,
    json_body,
    sent_image,
)
from facegate.faces import encode_single_face
from facegate.records import UNKNOWN
from facegate.sighting_search import SightingSearch

log = logging.getLogger(__name__)

MAX_SEARCH_RESULTS = 1000
# since/until: ISO-8601 (a trailing Z is fine), epoch seconds, or "" for no bound
MOMENT = {"anyOf": [STRING, NUMBER]}
SEARCH_FILTERS = {
    "since": MOMENT,
    "until": MOMENT,
    "camera": {"type": "string", "minLength": 1},
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_SEARCH_RESULTS},
}
SEARCH_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "anyOf": [
                    obj({"image_base64": BASE64, "encoding": ENCODING, **SEARCH_FILTERS}, [n])
                    for n in ("image_base64", "encoding")
                ],
            }
        },
        "multipart/form-data": {"schema": obj({"image": BINARY, **SEARCH_FILTERS}, ["image"])},
    },
}
SIGHTING = obj(
    {
        "event_id": STRING,
        "timestamp": STRING,
        "camera_id": NULLABLE_STRING,
        "name": STRING,
        "visitor_id": INTEGER,
        "distance": NUMBER,
        "box": ref("Box"),
        "image": NULLABLE_STRING,
    },
    ["event_id", "timestamp", "name", "distance", "image"],
)
SEARCH_DOC = Doc(
    "search",
    "Every stored sighting of the face in a photo (or of an encoding), nearest first",
    {
        "200": json_answer(
            obj(
                {"sightings": {"type": "array", "items": SIGHTING}, "total": INTEGER, "threshold": NUMBER},
                ["sightings", "total"],
            )
        ),
        **error_answers(400, 401, 413),
    },
    body=SEARCH_BODY,
)
REJECT_DOC = Doc(
    "rejectResult",
    "That was not X: the sighting's encoding becomes a negative of X; optionally name who it was",
    {
        "200": json_answer(
            obj(
                {"success": BOOLEAN, "rejected": STRING, "event_id": STRING, "person_id": INTEGER, "message": STRING},
                ["success", "rejected", "event_id"],
            )
        ),
        **error_answers(400, 401, 404, 409),
    },
    body={"content": {"application/json": {"schema": obj({"name": JSON_NAME})}}},
)


def crop_link(event_id: str) -> str:
    """The URL of the face crop a result kept."""
    return f"/api/results/{event_id}/crop.jpg"


def _moment(fields: dict[str, Any], key: str) -> float | None:
    """`since`/`until` as ISO-8601 (a trailing Z is fine) or epoch seconds; None when absent."""
    value = fields.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise fail(400, f"{key} must be an ISO-8601 time or epoch seconds") from None
        if moment.tzinfo is None:
            raise fail(400, f"{key} needs a time zone (e.g. a trailing Z)")
        return moment.timestamp()
    raise fail(400, f"{key} must be an ISO-8601 time or epoch seconds")


def _person_named(store: Any, name: str) -> dict[str, Any] | None:
    return next((p for p in store.gallery.people() if p["name"] == name), None)


def install(app: bottle.Bottle, service: ServiceApi, pool: FaceWorkPool) -> None:
    """Add the sighting routes to the API app."""
    store = service.store
    search_index = SightingSearch(store)
    search_index.warm_up()

    @app.get(
        "/api/results/<event_id>/crop.jpg",
        scope=Scope.ADMIN,
        doc=Doc("getResultCrop", "The face crop a result kept", {"200": JPEG, **error_answers(404)}),
    )
    def result_crop(event_id: str) -> bytes:
        jpeg = store.results.crop(event_id)
        if jpeg is None:
            raise fail(404, f"no crop for result {event_id}")
        bottle.response.content_type = "image/jpeg"
        return jpeg

    @app.post("/api/results/<event_id>/reject", scope=Scope.ADMIN, action="result.reject", doc=REJECT_DOC)
    def reject(event_id: str) -> dict[str, Any]:
        body = json_body()
        who = check_name(body["name"]) if body.get("name") is not None else None
        sighting = store.results.of_event(event_id)
        if sighting is None:
            raise fail(404, f"no result {event_id}")
        if sighting["name"] == UNKNOWN:
            raise fail(409, f"result {event_id} named no one; there is nothing to reject")
        if who == sighting["name"]:
            raise fail(409, f"that result already says {who}")
        if sighting["encoding"] is None:
            raise fail(409, f"result {event_id} kept no encoding (stored before encodings were kept)")
        person = _person_named(store, sighting["name"])
        if person is None:
            raise fail(409, f"{sighting['name']} is no longer registered")
        store.gallery.add_negative(person["id"], sighting["encoding"], event_id)
        answer: dict[str, Any] = {"success": True, "rejected": sighting["name"], "event_id": event_id}
        if who is not None:
            answer["person_id"] = store.gallery.register(who, [sighting["encoding"]], crops=[sighting["jpeg"]])
        store.results.relabel(event_id, who or UNKNOWN)
        service.gallery_changed()
        log.info("result %s was not %s%s", event_id, sighting["name"], f" but {who}" if who else "")
        answer["message"] = f"{event_id} was not {sighting['name']}" + (f"; it was {who}" if who else "")
        return answer

    @app.post("/api/search", scope=Scope.ADMIN, action="face.search", doc=SEARCH_DOC)
    def search() -> dict[str, Any]:
        body = {} if is_multipart() else json_body()
        fields = form_fields() if is_multipart() else body
        config = service.config()
        image = sent_image(body)
        if body.get("encoding") is not None:
            encoding = np.asarray(check_encoding(body["encoding"]))
        elif image is not None:
            # a bad photo: 400, the photo pool full: 429 (control/errors.py)
            encoding = pool.run(encode_single_face, image, model=config.model, max_pixels=pool.config.max_pixels)
        else:
            raise fail(400, "send a photo (multipart image or image_base64) or an encoding")
        camera = fields.get("camera")
        if camera is not None and (not isinstance(camera, str) or not camera):
            raise fail(400, "camera must be a camera id")
        since, until = _moment(fields, "since"), _moment(fields, "until")
        limit = fields.get("limit", 100)
        if isinstance(limit, str) and digits(limit):
            limit = int(limit)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SEARCH_RESULTS:
            raise fail(400, f"limit must be a whole number from 1 to {MAX_SEARCH_RESULTS}")
        threshold = config.threshold
        hits = search_index.search(encoding, threshold=threshold, since=since, until=until, camera=camera, limit=limit)
        rows = store.results.by_id([hit_id for hit_id, _ in hits])
        found = []
        for hit_id, distance in hits:
            row = rows.get(hit_id)
            if row is None:
                continue  # deleted since the index saw it
            found.append(
                {
                    "event_id": row["event_id"],
                    "timestamp": row["timestamp"],
                    "camera_id": row["camera_id"],
                    "name": row["name"],
                    **({"visitor_id": row["visitor_id"]} if "visitor_id" in row else {}),
                    "distance": round(distance, 3),
                    "box": row["box"],
                    "image": crop_link(row["event_id"]) if row["has_crop"] else None,
                }
            )
        return {"sightings": found, "total": len(found), "threshold": threshold}
