"""The cameras over HTTP: list them with their state and picture URLs, add, change and remove one.

A camera's settings are checked by facegate.settings (`check_camera`); a body the OpenAPI schema
refuses is explained in that check's words. A camera's password never leaves in an answer
(control/masking.py) and is kept when a change sends the masked URL back.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import bottle

from control.declaration import Doc, Scope
from control.masking import keep_camera_password
from control.openapi import (
    BOOLEAN,
    CAMERA_BODY,
    CAMERA_CHANGE,
    INTEGER,
    LIMIT,
    OFFSET,
    STRING,
    error_answers,
    json_answer,
    json_request,
    links_to,
    obj,
    ref,
)
from control.service_api import ServiceApi
from control.validation import check_limit, check_offset, fail, json_body
from facegate.camera import check_camera
from facegate.camera_board import PAGE_DEFAULT, STATES, select

CAMERA_OPS = ("updateCamera", "deleteCamera", "getCameraSnapshot")  # what a camera's id links to
CAMERA_ANSWER = obj({"success": BOOLEAN, "camera": ref("Camera")}, ["success", "camera"])
CAMERA_FILTERS = (
    {**LIMIT, "schema": {**LIMIT["schema"], "default": PAGE_DEFAULT}},
    OFFSET,
    {"name": "node", "in": "query", "schema": STRING, "description": "only the cameras this node runs"},
    {"name": "state", "in": "query", "schema": {"type": "string", "enum": list(STATES)}},
)


def camera_or_404(service: ServiceApi, camera_id: str) -> dict[str, Any]:
    """The camera as the cluster shows it (facegate/camera_board.py); a 404 when there is no such camera."""
    found = next((c for c in service.camera_board() if c["id"] == camera_id), None)
    if found is None:
        raise fail(404, f"no camera {camera_id!r}")
    return found


def _with_urls(camera: dict[str, Any]) -> dict[str, Any]:
    """A camera with the URLs of its pictures, so clients never build them."""
    quoted = quote(camera["id"], safe="")
    return {**camera, "snapshot": f"/api/cameras/{quoted}/snapshot.jpg", "mjpeg": f"/api/cameras/{quoted}/stream.mjpg"}


def _explain_change(body: dict[str, Any]) -> Any:
    """A camera change checked as a whole camera would be (its id and URL stand in when left out)."""
    return check_camera({"id": "x", "stream_url": "x", **body})


def install(app: bottle.Bottle, service: ServiceApi) -> None:
    """Add the camera routes to the API app."""

    @app.get(
        "/api/cameras",
        scope=Scope.READ,
        doc=Doc(
            "listCameras",
            "The cluster's cameras and their state, oldest first, paged and filtered",
            {
                "200": json_answer(
                    obj(
                        {
                            "cameras": {"type": "array", "items": ref("Camera")},
                            "total": INTEGER,
                            "limit": INTEGER,
                            "offset": INTEGER,
                        },
                        ["cameras", "total"],
                    ),
                    links=links_to("camera_id", "$response.body#/cameras/0/id", *CAMERA_OPS),
                ),
                **error_answers(400),
            },
            parameters=CAMERA_FILTERS,
        ),
    )
    def list_cameras() -> dict[str, Any]:
        query = bottle.request.query
        limit, offset = check_limit(query.get("limit"), PAGE_DEFAULT), check_offset(query.get("offset"))
        state = query.get("state")  # an empty one is no state either: a 400, as the document has it
        if state is not None and state not in STATES:
            raise fail(400, f"state must be one of {', '.join(STATES)}")
        chosen = select(service.camera_board(), node=query.get("node") or None, state=state)
        return {
            "cameras": [_with_urls(c) for c in chosen[offset : offset + limit]],
            "total": len(chosen),
            "limit": limit,
            "offset": offset,
        }

    @app.post(
        "/api/cameras",
        scope=Scope.ADMIN,
        action="camera.add",
        explain=check_camera,
        doc=Doc(
            "addCamera",
            "Add a camera",
            {
                "201": json_answer(
                    CAMERA_ANSWER, "Created", links=links_to("camera_id", "$response.body#/camera/id", *CAMERA_OPS)
                ),
                **error_answers(400, 401, 409, 413),
            },
            body=json_request(CAMERA_BODY),
        ),
    )
    def add_camera() -> dict[str, Any]:
        entry = service.add_camera(json_body())  # SettingError: 400, Conflict (id taken): 409
        bottle.response.status = 201
        return {"success": True, "camera": _with_urls(camera_or_404(service, entry.id))}

    @app.put(
        "/api/cameras/<camera_id>",
        scope=Scope.ADMIN,
        action="camera.update",
        explain=_explain_change,
        doc=Doc(
            "updateCamera",
            "Change a camera",
            {"200": json_answer(CAMERA_ANSWER), **error_answers(400, 401, 404, 409, 413)},
            body=json_request(CAMERA_CHANGE),
        ),
    )
    def update_camera(camera_id: str) -> dict[str, Any]:
        body = keep_camera_password(service, camera_id, json_body())
        if "id" in body and body["id"] != camera_id:
            raise fail(400, "a camera's id cannot be changed")
        if service.update_camera(camera_id, body) is None:  # SettingError: 400; the default's detect_fps: 409
            raise fail(404, f"no camera {camera_id!r}")
        return {"success": True, "camera": _with_urls(camera_or_404(service, camera_id))}

    @app.delete(
        "/api/cameras/<camera_id>",
        scope=Scope.ADMIN,
        action="camera.delete",
        doc=Doc("deleteCamera", "Remove a camera", {"200": json_answer(ref("Success")), **error_answers(401, 404)}),
    )
    def delete_camera(camera_id: str) -> dict[str, Any]:
        if not service.delete_camera(camera_id):
            raise fail(404, f"no camera {camera_id!r}")
        return {"success": True, "message": f"camera {camera_id} removed"}
