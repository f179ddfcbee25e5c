"""A person's faces over HTTP: add photos (`POST /api/persons/<id>/faces`), list, download, delete.

Every photo is judged first (facegate/enrollment.py: one face, big enough, sharp enough, not a
near-duplicate); only when all pass are they stored, in one transaction, so a request with one bad
file writes nothing and says which file was refused and why. `/api/register` with a photo goes
through the same check (`enroll_one`). A person's encodings are listed with their date and crop
link; one may be deleted, its crop downloaded.
"""

from __future__ import annotations

import logging
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
    NULLABLE_STRING,
    STRING,
    error_answers,
    json_answer,
    obj,
    ref,
)
from control.service_api import ServiceApi
from control.validation import (
    check_encoding,
    check_id,
    decode_base64_image,
    error_with,
    fail,
    is_multipart,
    json_body,
    uploaded_files,
)
from facegate.enrollment import EnrolledFace, EnrollmentRules, Submitted, Verdict, judge_all
from facegate.records import ENCODING_SIZE
from facegate.store import Store

log = logging.getLogger(__name__)

MAX_FILES = 20  # photos in one request; each costs a face location and an encoding (~0.1-0.5 s)
FILES = {
    "image_base64": BASE64,
    "images_base64": {"type": "array", "items": BASE64, "minItems": 1},
    "encoding": ENCODING,
    "encodings": {"type": "array", "items": ENCODING, "minItems": 1},
}
FACES_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object", "anyOf": [obj(FILES, [n]) for n in FILES]}},
        "multipart/form-data": {"schema": obj({"image": {"type": "array", "items": BINARY, "minItems": 1}}, ["image"])},
    },
}
FILE_VERDICTS = {
    "type": "array",
    "items": obj(
        {
            "file": STRING,
            "accepted": BOOLEAN,
            "reason": STRING,
            "error": STRING,
            "sharpness": {"type": "number", "nullable": True},
        },
        ["file", "accepted"],
    ),
}
ENCODING_ROW = obj({"id": INTEGER, "created_at": STRING, "image": NULLABLE_STRING}, ["id", "created_at", "image"])
ADD_FACES_DOC = Doc(
    "addPersonFace",
    "Add photos (several files at once) or encodings to a person; all or nothing, with an answer per file",
    {
        "200": json_answer(
            obj(
                {"success": BOOLEAN, "message": STRING, "files": FILE_VERDICTS, "person": ref("Person")},
                ["success", "files", "person"],
            )
        ),
        "400": json_answer(
            obj({"error": STRING, "reason": STRING, "files": FILE_VERDICTS}, ["error"]),
            "Refused: reason is not_one_face, not_an_image, too_small, blurry or duplicate; nothing stored",
        ),
        **error_answers(401, 404, 413, 429),
    },
    body=FACES_BODY,
)


def rules_of(service: ServiceApi, pool: FaceWorkPool) -> EnrollmentRules:
    """The enrollment rules now: the `min_face_px` setting and the pool's pixel limit."""
    return EnrollmentRules(min_face_px=service.config().min_face_px, max_pixels=pool.config.max_pixels)


def _judged(pool: FaceWorkPool, service: ServiceApi, submitted: list[Submitted], existing: np.ndarray) -> list[Verdict]:
    """judge_all in the photo pool: decoding and encoding photos wait their turn with recognize (429 when full)."""
    return pool.run(judge_all, submitted, rules_of(service, pool), existing, model=service.config().model)


def person_encodings(store: Store, name: str | None) -> np.ndarray:
    """The (n, 128) encodings the person of that name already has (none for a new name)."""
    vectors, names = store.gallery.all_vectors()
    if name is None or not names:
        return np.zeros((0, ENCODING_SIZE))
    theirs: np.ndarray = vectors[np.asarray(names) == name]
    return theirs


def _submitted() -> list[Submitted]:
    """What the request sends: multipart files, or JSON image_base64 / images_base64 / encoding / encodings."""
    if is_multipart():
        return [Submitted(name, photo=data) for name, data in uploaded_files()]
    body = json_body()
    items: list[Submitted] = []
    if body.get("image_base64") is not None:
        items.append(Submitted("image_base64", photo=decode_base64_image(body["image_base64"])))
    photos = body.get("images_base64")
    if photos is not None:
        if not isinstance(photos, list):
            raise fail(400, "images_base64 must be a list of base64 strings")
        items += [Submitted(f"images_base64[{i}]", photo=decode_base64_image(p)) for i, p in enumerate(photos)]
    if body.get("encoding") is not None:
        items.append(Submitted("encoding", encoding=np.asarray(check_encoding(body["encoding"]))))
    encodings = body.get("encodings")
    if encodings is not None:
        if not isinstance(encodings, list):
            raise fail(400, "encodings must be a list of encodings")
        items += [Submitted(f"encodings[{i}]", encoding=np.asarray(check_encoding(e))) for i, e in enumerate(encodings)]
    return items


def _refused(verdicts: list[Verdict]) -> bottle.HTTPResponse:
    refused = [v for v in verdicts if not v.accepted]
    if len(verdicts) == 1:
        message = str(refused[0].message)
    else:
        message = (
            f"{len(refused)} of {len(verdicts)} files refused ("
            + "; ".join(f"{v.label}: {v.message}" for v in refused)
            + "); nothing was stored"
        )
    return error_with(400, message, reason=refused[0].reason, files=[v.as_json() for v in verdicts])


def enroll_one(service: ServiceApi, pool: FaceWorkPool, name: str | None, photo: bytes) -> EnrolledFace:
    """Judge one photo for the person of that name (new or existing); a 400 with the reason if refused."""
    verdict = _judged(pool, service, [Submitted("image", photo=photo)], person_encodings(service.store, name))[0]
    if verdict.face is None:
        raise fail(400, str(verdict.message))
    return verdict.face


def install(app: bottle.Bottle, service: ServiceApi, pool: FaceWorkPool) -> None:
    """Add the routes of a person's faces to the API app."""
    store = service.store

    @app.post("/api/persons/<person_id>/faces", scope=Scope.ADMIN, action="person.add_face", doc=ADD_FACES_DOC)
    def add_faces(person_id: str) -> dict[str, Any]:
        pid = check_id(person_id)
        person = store.gallery.person(pid)
        if person is None:
            raise fail(404, f"no person {person_id}")
        submitted = _submitted()
        if not submitted:
            raise fail(400, "send one or more multipart image files, an image_base64, images_base64 or an encoding")
        if len(submitted) > MAX_FILES:
            raise fail(400, f"at most {MAX_FILES} files in one request")
        verdicts = _judged(pool, service, submitted, store.gallery.person_vectors(pid))
        if not all(v.accepted for v in verdicts):
            log.info(
                "refused %d of %d photos for %s", sum(not v.accepted for v in verdicts), len(verdicts), person["name"]
            )
            raise _refused(verdicts)
        faces = [v.face for v in verdicts if v.face is not None]
        if not store.gallery.add_encodings(pid, [f.encoding for f in faces], crops=[f.crop for f in faces]):
            raise fail(404, f"no person {person_id}")
        service.gallery_changed()
        log.info("added %d faces to %s (person %d)", len(faces), person["name"], pid)
        return {
            "success": True,
            "message": f"{len(faces)} face{'s' if len(faces) != 1 else ''} added",
            "files": [v.as_json() for v in verdicts],
            "person": store.gallery.person(pid),
        }

    @app.get(
        "/api/persons/<person_id>/encodings",
        scope=Scope.ADMIN,
        doc=Doc(
            "listPersonEncodings",
            "A person's encodings with their date and crop",
            {
                "200": json_answer(
                    obj(
                        {"encodings": {"type": "array", "items": ENCODING_ROW}, "total": INTEGER},
                        ["encodings", "total"],
                    )
                ),
                **error_answers(404),
            },
        ),
    )
    def list_encodings(person_id: str) -> dict[str, Any]:
        pid = check_id(person_id)
        if store.gallery.person(pid) is None:
            raise fail(404, f"no person {person_id}")
        found = store.gallery.encodings(pid)
        for row in found:
            row["image"] = f"/api/persons/{pid}/encodings/{row['id']}.jpg" if row.pop("has_crop") else None
        return {"encodings": found, "total": len(found)}

    @app.get(
        "/api/persons/<person_id>/encodings/<encoding_id>.jpg",
        scope=Scope.ADMIN,
        doc=Doc("getEncodingCrop", "The crop an encoding was made from", {"200": JPEG, **error_answers(404)}),
    )
    def encoding_crop(person_id: str, encoding_id: str) -> bytes:
        exists, jpeg = store.gallery.encoding_crop(check_id(person_id), check_id(encoding_id, "encoding"))
        if not exists:
            raise fail(404, f"no encoding {encoding_id} of person {person_id}")
        if jpeg is None:
            raise fail(404, f"encoding {encoding_id} was sent as numbers and has no crop")
        bottle.response.content_type = "image/jpeg"
        return jpeg

    @app.delete(
        "/api/persons/<person_id>/encodings/<encoding_id>",
        scope=Scope.ADMIN,
        action="person.delete_encoding",
        doc=Doc(
            "deleteEncoding",
            "Delete one encoding (and its crop) of a person",
            {
                "200": json_answer(obj({"success": BOOLEAN, "person": ref("Person")}, ["success"])),
                **error_answers(401, 404),
            },
        ),
    )
    def delete_encoding(person_id: str, encoding_id: str) -> dict[str, Any]:
        pid = check_id(person_id)
        if not store.gallery.delete_encoding(pid, check_id(encoding_id, "encoding")):
            raise fail(404, f"no encoding {encoding_id} of person {person_id}")
        service.gallery_changed()
        return {"success": True, "message": f"encoding {encoding_id} deleted", "person": store.gallery.person(pid)}
