"""The people in the gallery: register one (from an encoding or a photo), list, show, rename, delete.

`POST /api/register` keeps the v1 API's request and answer (form or JSON, `name` and `encoding`,
its "name and encoding are required"), and also takes a photo, judged like any enrollment photo
(control/people/faces_api.py). A rename is refused with 409 when the name is taken; a person's
past results follow the new name.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import bottle
import numpy as np

from control.declaration import Doc, Scope
from control.facework import FaceWorkPool
from control.openapi import (
    BINARY,
    BOOLEAN,
    INTEGER,
    JSON_NAME,
    NAME,
    PERSON_OPS,
    STRING,
    TEXT,
    error_answers,
    json_answer,
    json_request,
    links_to,
    obj,
    ref,
)
from control.people.faces_api import enroll_one
from control.request_schema import RequestSchemaPlugin
from control.service_api import ServiceApi
from control.validation import (
    JSON_ERRORS,
    check_encoding,
    check_id,
    check_name,
    decode_base64_image,
    fail,
    form_fields,
    is_multipart,
    json_body,
    optional_text,
    uploaded_image,
)
from facegate.records import ENCODING_SIZE

log = logging.getLogger(__name__)

REGISTERED = json_answer(ref("Registered"), links=links_to("person_id", "$response.body#/person_id", *PERSON_OPS))
REGISTER_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": ref("Register")},
        "multipart/form-data": {
            "schema": obj({"name": NAME, "image": BINARY, "client_id": TEXT, "image_url": TEXT}, ["name", "image"])
        },
    },
}


def _form_or_json() -> dict[str, Any]:
    return form_fields() if is_multipart() else json_body()


def _sent_encoding(raw: Any) -> np.ndarray:
    """An encoding from JSON, or from a multipart form, which carries the list as JSON text."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except JSON_ERRORS:
            raise fail(400, f"encoding must be a list of {ENCODING_SIZE} numbers") from None
    return np.asarray(check_encoding(raw))


def install(app: bottle.Bottle, service: ServiceApi, pool: FaceWorkPool) -> None:
    """Add the people routes to the API app."""
    store = service.store

    @app.post(
        "/api/register",
        scope=Scope.ADMIN,
        action="person.register",
        skip=[RequestSchemaPlugin.name],  # its own checks keep the v1 API's messages
        doc=Doc(
            "register",
            "Register a person from an encoding or a photo",
            {"200": REGISTERED, **error_answers(400, 401, 413, 429)},
            body=REGISTER_BODY,
        ),
    )
    def register() -> dict[str, Any]:
        body = _form_or_json()
        image = uploaded_image()  # read once: the multipart file is a stream
        if body.get("name") in (None, "") or (
            body.get("encoding") in (None, []) and body.get("image_base64") is None and image is None
        ):
            raise fail(400, "name and encoding are required")  # the v1 API's words
        if image is None and body.get("image_base64") is not None:
            image = decode_base64_image(body["image_base64"])
        name = check_name(body["name"])
        client_id = optional_text(body, "client_id", "clientId")
        image_url = optional_text(body, "image_url", "imageUrl")
        crops = None
        if body.get("encoding") is not None:
            encoding = _sent_encoding(body["encoding"])
        else:
            enrolled = enroll_one(service, pool, name, image or b"")
            encoding, crops = enrolled.encoding, [enrolled.crop]
        person_id = store.gallery.register(name, [encoding], client_id=client_id, image_url=image_url, crops=crops)
        service.gallery_changed()
        log.info("registered %s (person %d)", name, person_id)
        return {
            "success": True,
            "message": f"{name} registered",
            "total_users": store.gallery.count_people(),
            "person_id": person_id,
        }

    @app.get(
        "/api/persons",
        scope=Scope.READ,
        doc=Doc(
            "listPersons",
            "Registered people",
            {
                "200": json_answer(
                    obj({"persons": {"type": "array", "items": ref("Person")}, "total": INTEGER}, ["persons", "total"]),
                    links=links_to("person_id", "$response.body#/persons/0/id", *PERSON_OPS),
                )
            },
        ),
    )
    def persons() -> dict[str, Any]:
        people = store.gallery.people()
        return {"persons": people, "total": len(people)}

    @app.get(
        "/api/persons/<person_id>",
        scope=Scope.READ,
        doc=Doc("getPerson", "One person", {"200": json_answer(ref("Person")), **error_answers(404)}),
    )
    def person(person_id: str) -> dict[str, Any]:
        found = store.gallery.person(check_id(person_id))
        if found is None:
            raise fail(404, f"no person {person_id}")
        return found

    @app.put(
        "/api/persons/<person_id>",
        scope=Scope.ADMIN,
        action="person.rename",
        doc=Doc(
            "renamePerson",
            "Rename a person (their past results follow)",
            {
                "200": json_answer(
                    obj({"success": BOOLEAN, "message": STRING, "person": ref("Person")}, ["success", "person"])
                ),
                **error_answers(400, 401, 404, 409),
            },
            body=json_request({**obj({"name": JSON_NAME}, ["name"]), "additionalProperties": False}),
        ),
    )
    def rename_person(person_id: str) -> dict[str, Any]:
        pid = check_id(person_id)
        body = json_body()
        if set(body) != {"name"}:
            raise fail(400, 'send {"name": "the new name"}')
        name = check_name(body["name"])
        old = store.gallery.rename_person(pid, name)  # NameInUse: 409 (control/errors.py)
        if old is None:
            raise fail(404, f"no person {person_id}")
        service.gallery_changed()
        log.info("person %d renamed from %s to %s", pid, old, name)
        return {"success": True, "message": f"{old} is now {name}", "person": store.gallery.person(pid)}

    @app.delete(
        "/api/persons/<person_id>",
        scope=Scope.ADMIN,
        action="person.delete",
        doc=Doc(
            "deletePerson",
            "Delete a person and all their encodings",
            {"200": json_answer(ref("Success")), **error_answers(401, 404)},
        ),
    )
    def delete_person(person_id: str) -> dict[str, Any]:
        pid = check_id(person_id)
        found = store.gallery.person(pid)
        if found is None or not store.gallery.delete_person(pid):
            raise fail(404, f"no person {person_id}")
        service.gallery_changed()
        log.info("deleted %s (person %d) and %d encodings", found["name"], pid, found["encodings"])
        return {
            "success": True,
            "message": f"{found['name']} and {found['encodings']} encodings deleted",
            "total_users": store.gallery.count_people(),
        }
