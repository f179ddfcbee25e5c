"""Enrollment over HTTP: `POST /api/persons/<id>/faces` takes several photos and answers for each one.

Every photo is judged first (facegate/enrollment.py: one face, big enough, sharp enough, not a
near-duplicate); only when all pass are they stored, in one transaction, so a request with one bad
file writes nothing and says which file was refused and why. `/api/register` with a photo goes
through the same check (`enroll_one`).
"""

from __future__ import annotations

import logging
from typing import Any

import bottle
import numpy as np

from control import facework
from control.facework import FaceWorkPool
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


def rules_of(service: Any, pool: FaceWorkPool) -> EnrollmentRules:
    return EnrollmentRules(min_face_px=service.config().min_face_px, max_pixels=pool.config.max_pixels)


def _judged(pool: FaceWorkPool, service: Any, submitted: list[Submitted], existing: np.ndarray) -> list[Verdict]:
    """judge_all in the photo pool: decoding and encoding photos wait their turn with recognize (429 when full)."""
    with facework.http_errors(pool):
        return pool.run(judge_all, submitted, rules_of(service, pool), existing, model=service.config().model)


def person_encodings(store: Store, name: str | None) -> np.ndarray:
    """The (n, 128) encodings the person of that name already has (none for a new name)."""
    vectors, names = store.gallery.all_vectors()
    if name is None or not names:
        return np.zeros((0, ENCODING_SIZE))
    return vectors[np.asarray(names) == name]


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
        message = (f"{len(refused)} of {len(verdicts)} files refused ("
                   + "; ".join(f"{v.label}: {v.message}" for v in refused) + "); nothing was stored")
    return error_with(400, message, reason=refused[0].reason, files=[v.as_json() for v in verdicts])


def enroll_one(service: Any, pool: FaceWorkPool, name: str | None, photo: bytes) -> EnrolledFace:
    """Judge one photo for the person of that name (new or existing); a 400 with the reason if refused."""
    verdict = _judged(pool, service, [Submitted("image", photo=photo)], person_encodings(service.store, name))[0]
    if verdict.face is None:
        raise fail(400, str(verdict.message))
    return verdict.face


def install(app: bottle.Bottle, service: Any, pool: FaceWorkPool) -> None:
    """Add the enrollment route to the API app."""
    store = service.store

    @app.post("/api/persons/<person_id>/faces")
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
            log.info("refused %d of %d photos for %s", sum(not v.accepted for v in verdicts), len(verdicts),
                     person["name"])
            raise _refused(verdicts)
        faces = [v.face for v in verdicts if v.face is not None]
        if not store.gallery.add_encodings(pid, [f.encoding for f in faces], crops=[f.crop for f in faces]):
            raise fail(404, f"no person {person_id}")
        service.gallery_changed()
        log.info("added %d faces to %s (person %d)", len(faces), person["name"], pid)
        return {"success": True, "message": f"{len(faces)} face{'s' if len(faces) != 1 else ''} added",
                "files": [v.as_json() for v in verdicts], "person": store.gallery.person(pid)}
