"""The gallery API people expect (CompreFace's is the reference): rename, encodings and their crops, verify.

`PUT /api/persons/<id>` renames a person (409 when the name is taken; their past results follow).
A person's encodings are listed with their date and crop link, one may be deleted, its crop downloaded.

`POST /api/verify` answers "same person or not" for two photos, or for a photo and a registered
person (their nearest encoding counts), with the distance and the threshold it was judged by.
`POST /api/recognize?top=k` (in control/app.py) adds each face's k nearest people, built here.
"""

from __future__ import annotations

import logging
from typing import Any

import bottle
import numpy as np

from control import facework
from control.facework import FaceWorkPool
from control.validation import (
    check_id,
    check_name,
    decode_base64_image,
    digits,
    fail,
    form_fields,
    is_multipart,
    json_body,
)
from facegate.enrollment import nearest_distance
from facegate.faces import FaceImageError, encode_single_face
from facegate.store import NameInUse

log = logging.getLogger(__name__)

MAX_TOP = 20


def check_top(text: str | None) -> int:
    """`?top=k`: 0 (absent) or 1..MAX_TOP."""
    if text is None or text == "":
        return 0
    if not digits(text) or not 1 <= int(text) <= MAX_TOP:
        raise fail(400, f"top must be a whole number from 1 to {MAX_TOP}")
    return int(text)


def candidate(name: str, distance: float, threshold: float) -> dict[str, Any]:
    """One of a face's nearest people: the distance to their nearest encoding, and whether it names them."""
    return {"name": name, "distance": round(distance, 3), "confidence": round(1.0 - distance, 2),
            "match": distance <= threshold}


def _photo(name: str, body: dict[str, Any]) -> bytes | None:
    """The photo sent as multipart `name`, else as JSON `<name>_base64`; None if neither."""
    if is_multipart():
        upload = bottle.request.files.get(name)
        return None if upload is None else upload.file.read()
    value = body.get(f"{name}_base64")
    return None if value is None else decode_base64_image(value, f"{name}_base64")


def _encoding(pool: FaceWorkPool, label: str, photo: bytes, model: str) -> np.ndarray:
    """The one face's encoding, worked out in the photo pool (a 429 when it is full)."""
    with facework.http_errors(pool):
        try:
            return pool.run(encode_single_face, photo, model=model, max_pixels=pool.config.max_pixels)
        except FaceImageError as exc:  # named by its field; http_errors answers the pool's 429 and 503
            raise fail(400, f"{label}: {exc}") from None


def install(app: bottle.Bottle, service: Any, pool: FaceWorkPool) -> None:
    """Add the gallery routes to the API app."""
    store = service.store

    @app.put("/api/persons/<person_id>")
    def rename_person(person_id: str) -> dict[str, Any]:
        pid = check_id(person_id)
        body = json_body()
        if set(body) != {"name"}:
            raise fail(400, "send {\"name\": \"the new name\"}")
        name = check_name(body["name"])
        try:
            old = store.gallery.rename_person(pid, name)
        except NameInUse as exc:
            raise fail(409, str(exc)) from None
        if old is None:
            raise fail(404, f"no person {person_id}")
        service.gallery_changed()
        log.info("person %d renamed from %s to %s", pid, old, name)
        return {"success": True, "message": f"{old} is now {name}", "person": store.gallery.person(pid)}

    @app.get("/api/persons/<person_id>/encodings")
    def list_encodings(person_id: str) -> dict[str, Any]:
        pid = check_id(person_id)
        if store.gallery.person(pid) is None:
            raise fail(404, f"no person {person_id}")
        found = store.gallery.encodings(pid)
        for row in found:
            row["image"] = f"/api/persons/{pid}/encodings/{row['id']}.jpg" if row.pop("has_crop") else None
        return {"encodings": found, "total": len(found)}

    @app.get("/api/persons/<person_id>/encodings/<encoding_id>.jpg")
    def encoding_crop(person_id: str, encoding_id: str) -> bytes:
        exists, jpeg = store.gallery.encoding_crop(check_id(person_id), check_id(encoding_id, "encoding"))
        if not exists:
            raise fail(404, f"no encoding {encoding_id} of person {person_id}")
        if jpeg is None:
            raise fail(404, f"encoding {encoding_id} was sent as numbers and has no crop")
        bottle.response.content_type = "image/jpeg"
        return jpeg

    @app.delete("/api/persons/<person_id>/encodings/<encoding_id>")
    def delete_encoding(person_id: str, encoding_id: str) -> dict[str, Any]:
        pid = check_id(person_id)
        if not store.gallery.delete_encoding(pid, check_id(encoding_id, "encoding")):
            raise fail(404, f"no encoding {encoding_id} of person {person_id}")
        service.gallery_changed()
        return {"success": True, "message": f"encoding {encoding_id} deleted", "person": store.gallery.person(pid)}

    @app.post("/api/verify")
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
            distance = float(np.linalg.norm(_encoding(pool, "image1", first, model)
                                      - _encoding(pool, "image2", second, model)))
        return {"same_person": distance <= threshold, "distance": round(distance, 3),
                "confidence": round(1.0 - distance, 2), "threshold": threshold, **answer}

