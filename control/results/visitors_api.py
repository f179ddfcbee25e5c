"""Visitors over HTTP: list, show, name, merge and forget the unknown people the cameras keep seeing.

A visitor is made by the match stage (pipeline/recognition/visitor_index.py); here the operator looks at them
(newest first, paged, with their kept crops and sightings), registers one as a person (their past
results are relabelled with the name), merges visitors that are one person, or deletes one, which
forgets every crop, encoding and result of it. `/api/unknown` keeps working beside these routes.
"""

from __future__ import annotations

import logging
from typing import Any

import bottle

from control.declaration import Doc, Scope
from control.openapi import (
    BOOLEAN,
    INTEGER,
    JPEG,
    JSON_NAME,
    LIMIT,
    NULLABLE_STRING,
    NUMBER,
    OFFSET,
    STRING,
    error_answers,
    json_answer,
    json_request,
    obj,
    ref,
)
from control.results.sightings_api import crop_link
from control.service_api import ServiceApi
from control.validation import MAX_OFFSET, check_id, check_name, digits, fail, json_body

log = logging.getLogger(__name__)

MAX_PAGE = 200
MAX_MERGE = 100
MAX_ID = 10**12 - 1  # the largest id a path takes (12 digits), and what a database integer holds
VISITOR_DETAIL = {
    "allOf": [
        ref("Visitor"),
        obj(
            {
                "faces": {"type": "array", "items": obj({"id": INTEGER, "score": NUMBER, "image": STRING})},
                "results": {"type": "array", "items": {"allOf": [ref("Result"), obj({"image": NULLABLE_STRING})]}},
            }
        ),
    ]
}
LIST_DOC = Doc(
    "listVisitors",
    "Visitors (unknown people seen again and again), newest first, paged",
    {
        "200": json_answer(
            obj(
                {
                    "visitors": {"type": "array", "items": ref("Visitor")},
                    "total": INTEGER,
                    "limit": INTEGER,
                    "offset": INTEGER,
                },
                ["visitors", "total"],
            )
        ),
        **error_answers(400),
    },
    parameters=({**LIMIT, "schema": {**LIMIT["schema"], "maximum": MAX_PAGE}}, OFFSET),
)
MERGE_BODY = obj(
    {
        "ids": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            "minItems": 2,
            "maxItems": MAX_MERGE,
            "uniqueItems": True,
        }
    },
    ["ids"],
)


def _page(query: bottle.FormsDict) -> tuple[int, int]:
    """(limit, offset) of `?limit=&offset=`; 50 and 0 when absent (empty is a 400, as the document has it)."""
    values = []
    for key, default, low, high in (("limit", 50, 1, MAX_PAGE), ("offset", 0, 0, MAX_OFFSET)):
        text = query.get(key)
        if text is None:
            values.append(default)
            continue
        if not digits(text) or not low <= int(text) <= high:
            raise fail(400, f"{key} must be a whole number from {low} to {high}")
        values.append(int(text))
    return values[0], values[1]


def face_link(visitor_id: int, face_id: int) -> str:
    """The URL of one of a visitor's kept crops."""
    return f"/api/visitors/{visitor_id}/faces/{face_id}.jpg"


def _visitor_id(text: str) -> int:
    """A visitor id from the path; `merge` there is the merge route asked with the wrong method (405)."""
    if text == "merge":
        raise bottle.HTTPError(405, "POST /api/visitors/merge merges visitors", Allow="POST")
    return check_id(text, "visitor")


def install(app: bottle.Bottle, service: ServiceApi) -> None:
    """Add the visitor routes to the API app."""
    store = service.store

    @app.get("/api/visitors", scope=Scope.ADMIN, doc=LIST_DOC)
    def list_visitors() -> dict[str, Any]:
        limit, offset = _page(bottle.request.query)
        found, total = store.visitors.page(limit, offset)
        return {"visitors": found, "total": total, "limit": limit, "offset": offset}

    @app.get(
        "/api/visitors/<visitor_id>",
        scope=Scope.ADMIN,
        doc=Doc(
            "getVisitor",
            "A visitor with its kept crops and its sightings",
            {"200": json_answer(VISITOR_DETAIL), **error_answers(404)},
        ),
    )
    def show_visitor(visitor_id: str) -> dict[str, Any]:
        found = store.visitors.get(_visitor_id(visitor_id))
        if found is None:
            raise fail(404, f"no visitor {visitor_id}")
        for face in found["faces"]:
            face["image"] = face_link(found["id"], face["id"])
        for result in found["results"]:
            result["image"] = crop_link(result["event_id"]) if result.pop("has_crop") else None
        return found

    @app.get(
        "/api/visitors/<visitor_id>/faces/<face_id>.jpg",
        scope=Scope.ADMIN,
        doc=Doc("getVisitorFace", "One of a visitor's kept crops", {"200": JPEG, **error_answers(404)}),
    )
    def visitor_face(visitor_id: str, face_id: str) -> bytes:
        jpeg = store.visitors.face_jpeg(check_id(visitor_id, "visitor"), check_id(face_id, "face"))
        if jpeg is None:
            raise fail(404, "no such face of that visitor")
        bottle.response.content_type = "image/jpeg"
        return jpeg

    @app.post(
        "/api/visitors/<visitor_id>/register",
        scope=Scope.ADMIN,
        action="visitor.register",
        doc=Doc(
            "registerVisitor",
            "Make a visitor a person from its best encodings; its past results take the name",
            {
                "200": json_answer(
                    obj({"success": BOOLEAN, "person_id": INTEGER, "person": ref("Person")}, ["success", "person_id"])
                ),
                **error_answers(400, 401, 404),
            },
            body=json_request(obj({"name": JSON_NAME}, ["name"])),
        ),
    )
    def register_visitor(visitor_id: str) -> dict[str, Any]:
        name = check_name(json_body().get("name"))
        vid = check_id(visitor_id, "visitor")
        person_id = store.visitors.register(vid, name)
        if person_id is None:
            raise fail(404, f"no visitor {visitor_id}")
        service.gallery_changed()
        log.info("visitor %d registered as %s (person %d)", vid, name, person_id)
        return {
            "success": True,
            "message": f"visitor {vid} is now {name}",
            "person_id": person_id,
            "person": store.gallery.person(person_id),
        }

    @app.post(
        "/api/visitors/merge",
        scope=Scope.ADMIN,
        action="visitor.merge",
        doc=Doc(
            "mergeVisitors",
            "Merge visitors that are one person into the first seen of them",
            {
                "200": json_answer(obj({"success": BOOLEAN, "visitor": VISITOR_DETAIL}, ["success", "visitor"])),
                **error_answers(400, 401, 404),
            },
            body=json_request(MERGE_BODY),
        ),
    )
    def merge_visitors() -> dict[str, Any]:
        ids = json_body().get("ids")
        if (
            not isinstance(ids, list)
            or len(ids) < 2
            or len(ids) > MAX_MERGE
            or any(isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= MAX_ID for i in ids)
        ):
            raise fail(400, f"ids must be a list of 2 to {MAX_MERGE} visitor ids")
        merged = store.visitors.merge(ids)
        if merged is None:
            raise fail(404, "one of those visitors does not exist")
        log.info("merged visitors %s into %d", ", ".join(map(str, ids)), merged)
        return {
            "success": True,
            "message": f"{len(set(ids))} visitors merged into {merged}",
            "visitor": store.visitors.get(merged, sightings=0),
        }

    @app.delete(
        "/api/visitors/<visitor_id>",
        scope=Scope.ADMIN,
        action="visitor.delete",
        doc=Doc(
            "deleteVisitor",
            "Forget a visitor: every crop, encoding and result of it",
            {"200": json_answer(ref("Success")), **error_answers(401, 404)},
        ),
    )
    def delete_visitor(visitor_id: str) -> dict[str, Any]:
        vid = _visitor_id(visitor_id)
        if not store.visitors.delete(vid):
            raise fail(404, f"no visitor {visitor_id}")
        log.info("visitor %d forgotten with its crops, encodings and results", vid)
        return {"success": True, "message": f"visitor {vid} and every crop, encoding and result of it deleted"}
