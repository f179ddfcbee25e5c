"""Unknown faces over HTTP: the recent faces no one was named for, to register under a name or forget.

The match stage keeps a crop and an encoding of each unknown face it reports; the operator page
lists them, shows the crop (a `signable` picture, for an <img src>), and registers one as a new
person. Visitors (control/results/visitors_api.py) group the same faces by who they are.
"""

from __future__ import annotations

from typing import Any

import bottle

from control.declaration import Doc, Scope
from control.openapi import (
    INTEGER,
    JPEG,
    JSON_NAME,
    PERSON_OPS,
    error_answers,
    json_answer,
    json_request,
    links_to,
    obj,
    ref,
)
from control.service_api import ServiceApi
from control.validation import check_id, check_name, fail, json_body

MAX_LISTED = 200


def _explain_name(body: dict[str, Any]) -> str:
    return check_name(body.get("name"))


def install(app: bottle.Bottle, service: ServiceApi) -> None:
    """Add the unknown-face routes to the API app."""
    store = service.store

    @app.get(
        "/api/unknown",
        scope=Scope.READ,
        doc=Doc(
            "listUnknown",
            "Recent unknown faces, to register from",
            {
                "200": json_answer(
                    obj(
                        {"unknown": {"type": "array", "items": ref("UnknownFace")}, "total": INTEGER},
                        ["unknown", "total"],
                    )
                )
            },
        ),
    )
    def unknown_faces() -> dict[str, Any]:
        faces = store.unknown.recent(MAX_LISTED)
        for face in faces:
            face["image"] = f"/api/unknown/{face['id']}.jpg"
        return {"unknown": faces, "total": store.unknown.count()}

    @app.get(
        "/api/unknown/<unknown_id>.jpg",
        scope=Scope.READ,
        signable=True,
        doc=Doc("getUnknownImage", "Crop of an unknown face", {"200": JPEG, **error_answers(404)}),
    )
    def unknown_image(unknown_id: str) -> bytes:
        face = store.unknown.get(check_id(unknown_id, "unknown face"))
        if face is None:
            raise fail(404, "no such unknown face")
        bottle.response.content_type = "image/jpeg"
        jpeg: bytes = face["jpeg"]
        return jpeg

    @app.post(
        "/api/unknown/<unknown_id>/register",
        scope=Scope.ADMIN,
        action="unknown.register",
        explain=_explain_name,
        doc=Doc(
            "registerUnknown",
            "Register an unknown face under a name",
            {
                "200": json_answer(
                    ref("Registered"), links=links_to("person_id", "$response.body#/person_id", *PERSON_OPS)
                ),
                **error_answers(400, 401, 404, 413),
            },
            body=json_request(obj({"name": JSON_NAME}, ["name"])),
        ),
    )
    def register_unknown(unknown_id: str) -> dict[str, Any]:
        name = check_name(json_body().get("name"))
        face = store.unknown.get(check_id(unknown_id, "unknown face"))
        if face is None:
            raise fail(404, "no such unknown face")
        person_id = store.gallery.register(name, [face["encoding"]])
        store.unknown.delete(face["id"])
        service.gallery_changed()
        return {
            "success": True,
            "message": f"{name} registered from unknown face {face['id']}",
            "person_id": person_id,
            "total_users": store.gallery.count_people(),
        }

    @app.delete(
        "/api/unknown/<unknown_id>",
        scope=Scope.ADMIN,
        action="unknown.delete",
        doc=Doc(
            "deleteUnknown", "Forget an unknown face", {"200": json_answer(ref("Success")), **error_answers(401, 404)}
        ),
    )
    def delete_unknown(unknown_id: str) -> dict[str, Any]:
        if not store.unknown.delete(check_id(unknown_id, "unknown face")):
            raise fail(404, "no such unknown face")
        return {"success": True}
