"""Who is in a photo, over HTTP: `POST /api/recognize` and `POST /api/verify` (CompreFace's are the reference).

`POST /api/recognize` names every face in a photo against the gallery; with `?top=k` each face also
gets its k nearest people. `POST /api/verify` answers "same person or not" for two photos, or for a
photo and a registered person (their nearest encoding counts), with the distance and the threshold
it was judged by. Both run dlib in the photo pool (control/facework.py), a turn taken before the
upload is even parsed.
"""

from __future__ import annotations

from typing import Any

import bottle
import numpy as np

from control.declaration import Doc, Scope
from control.facework import FaceWorkPool
from control.openapi import (
    BASE64,
    BINARY,
    BOOLEAN,
    INTEGER,
    INTEGER_ID,
    NUMBER,
    STRING,
    error_answers,
    json_answer,
    obj,
    ref,
)
from control.request_schema import RequestSchemaPlugin
from control.service_api import ServiceApi
from control.validation import decode_base64_image, digits, fail, form_fields, is_multipart, json_body, sent_image
from facegate.enrollment import nearest_distance
from facegate.faces import FaceImageError, encode_single_face
from facegate.records import result_dict
from facegate.store import iso_now
from pipeline.recognition.known_faces import Gallery

MAX_TOP = 20
PHOTO_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": obj({"image_base64": BASE64}, ["image_base64"])},
        "multipart/form-data": {"schema": obj({"image": BINARY}, ["image"])},
    },
}
CANDIDATE = obj(
    {"name": STRING, "distance": NUMBER, "confidence": NUMBER, "match": BOOLEAN}, ["name", "distance", "match"]
)
RECOGNIZED_FACE = {"allOf": [ref("Result"), obj({"candidates": {"type": "array", "items": CANDIDATE}})]}
RECOGNIZE_DOC = Doc(
    "recognize",
    "Who is in this photo; with ?top=k each face also gets its k nearest people",
    {
        "200": json_answer(
            obj(
                {
                    "faces": {"type": "array", "items": RECOGNIZED_FACE},
                    "count": INTEGER,
                    "width": INTEGER,
                    "height": INTEGER,
                },
                ["faces", "count", "width", "height"],
            )
        ),
        **error_answers(400, 401, 413, 429),
    },
    body=PHOTO_BODY,
    parameters=({"name": "top", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TOP}},),
)
VERIFY_PAIRS = (("image1", "image2"), ("image", "person_id"), ("image1", "person_id"))
VERIFY_JSON = {"image1_base64": BASE64, "image2_base64": BASE64, "image_base64": BASE64, "person_id": INTEGER_ID}
VERIFY_FORM = {"image1": BINARY, "image2": BINARY, "image": BINARY, "person_id": INTEGER_ID}
VERIFY_DOC = Doc(
    "verify",
    "Same person or not: two photos, or a photo and a person_id",
    {
        "200": json_answer(
            obj(
                {
                    "same_person": BOOLEAN,
                    "distance": NUMBER,
                    "confidence": NUMBER,
                    "threshold": NUMBER,
                    "person": obj({"id": INTEGER, "name": STRING}),
                },
                ["same_person", "distance", "threshold"],
            )
        ),
        **error_answers(400, 401, 404, 409, 413, 429),
    },
    body={
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "anyOf": [
                        obj(VERIFY_JSON, [n if n == "person_id" else f"{n}_base64" for n in pair])
                        for pair in VERIFY_PAIRS
                    ],
                }
            },
            "multipart/form-data": {
                "schema": {"type": "object", "anyOf": [obj(VERIFY_FORM, list(pair)) for pair in VERIFY_PAIRS]}
            },
        },
    },
)


def check_top(text: str | None) -> int:
    """`?top=k`: 0 (absent) or 1..MAX_TOP (an empty one is a 400, as the document has it)."""
    if text is None:
        return 0
    if not digits(text) or not 1 <= int(text) <= MAX_TOP:
        raise fail(400, f"top must be a whole number from 1 to {MAX_TOP}")
    return int(text)


def candidate(name: str, distance: float, threshold: float) -> dict[str, Any]:
    """One of a face's nearest people: the distance to their nearest encoding, and whether it names them."""
    return {
        "name": name,
        "distance": round(distance, 3),
        "confidence": round(1.0 - distance, 2),
        "match": distance <= threshold,
    }


def _photo(name: str, body: dict[str, Any]) -> bytes | None:
    """The photo sent as multipart `name`, else as JSON `<name>_base64`; None if neither."""
    if is_multipart():
        upload = bottle.request.files.get(name)
        return None if upload is None else upload.file.read()
    value = body.get(f"{name}_base64")
    return None if value is None else decode_base64_image(value, f"{name}_base64")


def _encoding(pool: FaceWorkPool, label: str, photo: bytes, model: str) -> np.ndarray:
    """The one face's encoding, worked out in the photo pool (a 429 when it is full)."""
    try:
        return pool.run(encode_single_face, photo, model=model, max_pixels=pool.config.max_pixels)
    except FaceImageError as exc:  # named by its field; the pool's 429 and 503 are control/errors.py's
        raise fail(400, f"{label}: {exc}") from None


def install(app: bottle.Bottle, service: ServiceApi, pool: FaceWorkPool, schema: RequestSchemaPlugin) -> None:
    """Add the recognize and verify routes to the API app."""
    store = service.store

    @app.post(
        "/api/recognize", scope=Scope.ADMIN, action="face.recognize", doc=RECOGNIZE_DOC, skip=[RequestSchemaPlugin.name]
    )  # checked inside its turn, below
    def recognize() -> dict[str, Any]:
        with pool.turn():  # a turn before the upload is parsed: a flood is turned away cheaply
            schema.check()
            body = {} if is_multipart() else json_body()
            image = sent_image(body)
            if image is None:
                raise fail(400, "send a multipart image or an image_base64")
            config = service.config()
            found = pool.find_faces(image, model=config.model)
        top = check_top(bottle.request.query.get("top"))
        gallery = Gallery(*store.gallery.all_vectors(), store.gallery.negatives_by_name())
        threshold = config.threshold
        faces = []
        for box, encoding in found.faces:
            name, distance = gallery.identify(encoding, threshold)
            face: dict[str, Any] = {**result_dict(iso_now(), name, distance, box)}
            if top:
                face["candidates"] = [candidate(n, d, threshold) for n, d in gallery.nearest_people(encoding, top)]
            faces.append(face)
        return {"faces": faces, "count": len(faces), "width": found.width, "height": found.height}

    @app.post("/api/verify", scope=Scope.ADMIN, action="face.verify", doc=VERIFY_DOC)
    def verify() -> dict[str, Any]:
        body = {} if is_multipart() else json_body()
        fields = form_fields() if is_multipart() else body
        config = service.config()
        model, threshold = config.model, config.threshold
        first = _photo("image1", body) or _photo("image", body)
        if first is None:
            raise fail(400, "send two photos (image1 and image2), or a photo (image) and a person_id")
        answer: dict[str, Any] = {}
        if fields.get("person_id") not in (None, ""):
            person_id = fields["person_id"]
            if isinstance(person_id, bool) or not digits(str(person_id)) or len(str(person_id)) > 12:
                raise fail(400, "person_id must be a person's id")
            person = store.gallery.person(int(person_id))
            if person is None:
                raise fail(404, f"no person {person_id}")
            theirs = store.gallery.person_vectors(person["id"])
            if not len(theirs):
                raise fail(409, f"{person['name']} has no encodings to compare with")
            distance = nearest_distance(_encoding(pool, "image", first, model), theirs)
            answer["person"] = {"id": person["id"], "name": person["name"]}
        else:
            second = _photo("image2", body)
            if second is None:
                raise fail(400, "send image2 too, or a person_id")
            distance = float(
                np.linalg.norm(_encoding(pool, "image1", first, model) - _encoding(pool, "image2", second, model))
            )
        return {
            "same_person": distance <= threshold,
            "distance": round(distance, 3),
            "confidence": round(1.0 - distance, 2),
            "threshold": threshold,
            **answer,
        }
