"""Routes for live operation: cameras, what a camera sees (snapshot, MJPEG), unknown faces, metrics.

Frames for snapshots and MJPEG are copied out of the camera's ring only when a client asks,
and the MJPEG rate is capped, so watching a camera never slows recognition. An MJPEG client
holds one server thread for as long as it watches, so the number at once is capped too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import bottle

from control import metrics
from control.cluster import send_to_home
from control.masking import keep_camera_password
from control.service import ServiceError
from control.validation import check_id, check_name, fail, json_body
from facegate.camera import MAX_CAMERAS
from facegate.settings import SettingError

MJPEG_BOUNDARY = "facegateframe"
MJPEG_MAX_FPS = 10.0
MJPEG_DEFAULT_FPS = 5.0
MJPEG_MAX_CLIENTS = 4


def _camera_or_404(service: Any, camera_id: str) -> dict[str, Any]:
    found = next((c for c in service.status()["cameras"] if c["id"] == camera_id), None)
    if found is None:
        raise fail(404, f"no camera {camera_id!r}")
    return found


def _with_urls(camera: dict[str, Any]) -> dict[str, Any]:
    """A camera with the URLs of its pictures, so clients never build them."""
    quoted = quote(camera["id"], safe="")
    return {**camera, "snapshot": f"/api/cameras/{quoted}/snapshot.jpg", "mjpeg": f"/api/cameras/{quoted}/stream.mjpg"}


def install(app: bottle.Bottle, service: Any) -> None:
    """Add the live-operation routes to the API app."""
    watchers = threading.BoundedSemaphore(MJPEG_MAX_CLIENTS)

    @app.get("/api/cameras")
    def list_cameras() -> dict[str, Any]:
        return {"cameras": [_with_urls(c) for c in service.status()["cameras"]]}

    @app.post("/api/cameras")
    def add_camera() -> dict[str, Any]:
        if len(service.camera_list()) >= MAX_CAMERAS:
            raise fail(409, f"at most {MAX_CAMERAS} cameras; remove one first")
        try:
            entry = service.add_camera(json_body())
        except SettingError as exc:
            raise fail(400, str(exc)) from None
        except ServiceError as exc:
            raise fail(409, str(exc)) from None
        bottle.response.status = 201
        return {"success": True, "camera": _with_urls(_camera_or_404(service, entry.id))}

    @app.put("/api/cameras/<camera_id>")
    def update_camera(camera_id: str) -> dict[str, Any]:
        body = keep_camera_password(service, camera_id, json_body())
        if "id" in body and body["id"] != camera_id:
            raise fail(400, "a camera's id cannot be changed")
        try:
            entry = service.update_camera(camera_id, body)
        except SettingError as exc:
            raise fail(400, str(exc)) from None
        if entry is None:
            raise fail(404, f"no camera {camera_id!r}")
        return {"success": True, "camera": _with_urls(_camera_or_404(service, camera_id))}

    @app.delete("/api/cameras/<camera_id>")
    def delete_camera(camera_id: str) -> dict[str, Any]:
        if not service.delete_camera(camera_id):
            raise fail(404, f"no camera {camera_id!r}")
        return {"success": True, "message": f"camera {camera_id} removed"}

    @app.get("/api/cameras/<camera_id>/snapshot.jpg")
    def snapshot(camera_id: str) -> bytes:
        _camera_or_404(service, camera_id)
        send_to_home(service, camera_id)
        jpeg = service.snapshot(camera_id)
        if jpeg is None:  # the camera exists, but is stopped or not live yet
            raise fail(409, f"camera {camera_id!r} has no frame yet")
        bottle.response.content_type = "image/jpeg"
        bottle.response.set_header("Cache-Control", "no-store")
        return jpeg

    @app.get("/api/cameras/<camera_id>/stream.mjpg")
    def stream(camera_id: str) -> Iterator[bytes]:
        _camera_or_404(service, camera_id)
        send_to_home(service, camera_id)
        try:
            fps = float(bottle.request.query.get("fps", MJPEG_DEFAULT_FPS))
        except ValueError:
            raise fail(400, "fps must be a number") from None
        if not 0 < fps <= MJPEG_MAX_FPS:
            raise fail(400, f"fps must be in (0, {MJPEG_MAX_FPS:g}]")
        if not watchers.acquire(blocking=False):
            raise fail(503, f"at most {MJPEG_MAX_CLIENTS} MJPEG viewers at once")
        bottle.response.content_type = f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}"
        bottle.response.set_header("Cache-Control", "no-store")
        return _frames(service, camera_id, 1.0 / fps, watchers)

    @app.get("/api/unknown")
    def unknown_faces() -> dict[str, Any]:
        faces = service.store.unknown.recent(200)
        for face in faces:
            face["image"] = f"/api/unknown/{face['id']}.jpg"
        return {"unknown": faces, "total": len(faces)}

    @app.get("/api/unknown/<unknown_id>.jpg")
    def unknown_image(unknown_id: str) -> bytes:
        face = service.store.unknown.get(check_id(unknown_id, "unknown face"))
        if face is None:
            raise fail(404, "no such unknown face")
        bottle.response.content_type = "image/jpeg"
        return face["jpeg"]

    @app.post("/api/unknown/<unknown_id>/register")
    def register_unknown(unknown_id: str) -> dict[str, Any]:
        name = check_name(json_body().get("name"))
        face = service.store.unknown.get(check_id(unknown_id, "unknown face"))
        if face is None:
            raise fail(404, "no such unknown face")
        person_id = service.store.gallery.register(name, [face["encoding"]])
        service.store.unknown.delete(face["id"])
        service.gallery_changed()
        return {"success": True, "message": f"{name} registered from unknown face {face['id']}",
                "person_id": person_id, "total_users": service.store.gallery.count_people()}

    @app.delete("/api/unknown/<unknown_id>")
    def delete_unknown(unknown_id: str) -> dict[str, Any]:
        if not service.store.unknown.delete(check_id(unknown_id, "unknown face")):
            raise fail(404, "no such unknown face")
        return {"success": True}

    @app.get("/metrics")
    def prometheus() -> bytes:
        bottle.response.content_type = metrics.CONTENT_TYPE
        return metrics.render(service)


def _frames(service: Any, camera_id: str, interval: float, watchers: threading.BoundedSemaphore) -> Iterator[bytes]:
    """Multipart JPEG parts at most every `interval` seconds, until the client goes away."""
    try:
        next_at = time.monotonic()
        while True:
            jpeg = service.snapshot(camera_id)
            if jpeg is not None:
                yield (f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                       .encode() + jpeg + b"\r\n")
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
            if service.is_closing() or camera_id not in service.cameras():
                return
    finally:
        watchers.release()
