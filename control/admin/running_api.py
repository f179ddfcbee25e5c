"""Whether recognition runs, over HTTP: `GET /api/status`, `POST /api/start`, `POST /api/stop` (the v1 API's JSON).

`/api/status` is public (liveness, no personal data); start and stop answer with the status after.
"""

from __future__ import annotations

import time
from typing import Any

import bottle

from control.declaration import Doc, Scope
from control.openapi import ERROR, error_answers, json_answer, ref
from control.service_api import ServiceApi

STATUS = json_answer(ref("Status"))


def status(service: ServiceApi) -> dict[str, Any]:
    """The v1 API's status answer, with the cameras, workers, uptime, version and node."""
    store, current = service.store, service.status()
    return {
        "active": service.running,
        "encodings_loaded": store.gallery.count_encodings(),
        "stream_url": current.get("stream_url"),
        "total_results": store.results.count(),
        "running": service.running,
        "registered_people": store.gallery.count_people(),
        "cameras": current.get("cameras", []),  # the first few; /api/cameras pages through all of them
        "cameras_total": current.get("cameras_total", 0),
        "camera_states": current.get("camera_states", {}),
        "workers": current.get("workers"),
        "uptime_s": round(time.time() - service.started_at, 1),
        "version": service.version,
        "node": service.node_id,
    }


def install(app: bottle.Bottle, service: ServiceApi) -> None:
    """Add the status, start and stop routes to the API app."""

    @app.get("/api/status", scope=Scope.READ, doc=Doc("getStatus", "Service and camera status", {"200": STATUS}))
    def get_status() -> dict[str, Any]:
        return status(service)

    @app.post(
        "/api/start",
        scope=Scope.ADMIN,
        action="recognition.start",
        doc=Doc(
            "start",
            "Start recognition on the configured cameras",
            {"200": STATUS, **error_answers(401), "400": json_answer(ERROR, "No camera is configured yet")},
        ),
    )
    def start() -> dict[str, Any]:
        service.start()  # ServiceError (no camera): 400
        return {"success": True, "message": "recognition started", **status(service)}

    @app.post(
        "/api/stop",
        scope=Scope.ADMIN,
        action="recognition.stop",
        doc=Doc("stop", "Stop recognition", {"200": STATUS, **error_answers(401)}),
    )
    def stop() -> dict[str, Any]:
        service.stop()
        return {"success": True, "message": "recognition stopped", **status(service)}
