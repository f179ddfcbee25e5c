"""What a camera sees, over HTTP: its latest frame (snapshot) and a live MJPEG view, faces drawn.

Frames for snapshots and MJPEG are copied out of the camera's ring only when a client asks,
and the MJPEG rate is capped, so watching a camera never slows recognition. An MJPEG client
holds one server thread for as long as it watches, so the number at once is capped too (a 503
with Retry-After past it), and a view lets its thread go: it sends a part at once (the headers
with it), a grey placeholder naming the camera's state every second while the camera has no
frame (so a client that left is noticed at the next write), and it ends when the camera is
removed, when the service stops, and after `mjpeg_max_s` (FACEGATE_MJPEG_MAX_S). Asked of a node
that does not run the camera, either is a 307 to the node that does (the picture never travels
twice). Both are `signable`: a browser's <img src> may carry a signed URL for a token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import bottle
import cv2
import numpy as np

from control.cameras.cameras_api import camera_or_404
from control.declaration import Doc, Scope
from control.openapi import ERROR, JPEG, error_answers, json_answer
from control.service_api import ServiceApi
from control.validation import fail
from facegate.crops import to_jpeg

MJPEG_BOUNDARY = "facegateframe"
MJPEG_MAX_FPS = 10
MJPEG_DEFAULT_FPS = 5.0
MJPEG_MAX_CLIENTS = 4
PLACEHOLDER_EVERY_S = 1.0  # a camera without frames still sends a part this often
PLACEHOLDER_SIZE = (240, 320)  # rows, columns
VIEWERS_RETRY_AFTER_S = 5
VIEWERS_FULL = {
    "description": "Every viewer slot is taken; try again after Retry-After seconds",
    "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
    "content": {"application/json": {"schema": ERROR}},
}
ON_ITS_NODE = {"description": "Another node runs the camera: Location is the same request on that node"}


def send_to_home(service: ServiceApi, camera_id: str) -> None:
    """Redirect to the node that runs the camera, when that is another node (else return)."""
    home = service.camera_home(camera_id)
    if home:
        query = bottle.request.query_string
        bottle.redirect(f"{home}{bottle.request.path}{'?' + query if query else ''}", 307)


def placeholder(camera_id: str, state: str, error: str | None = None) -> bytes:
    """A grey JPEG naming the camera and its state (what a view shows while the camera has no frame)."""
    image = np.full((*PLACEHOLDER_SIZE, 3), 96, dtype=np.uint8)
    lines = [camera_id[:30], state, *([error[:36]] if error else [])]
    for row, text in enumerate(lines):
        cv2.putText(
            image,
            text,
            (12, 40 + 36 * row),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6 if row == 2 else 0.9,
            (235, 235, 235),
            2 if row < 2 else 1,
            cv2.LINE_AA,
        )
    return to_jpeg(image)


def _part(jpeg: bytes) -> bytes:
    head = f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode() + jpeg + b"\r\n"


def install(app: bottle.Bottle, service: ServiceApi, max_s: float) -> None:
    """Add the snapshot and MJPEG routes to the API app; a view lasts at most `max_s` seconds."""
    watchers = threading.BoundedSemaphore(MJPEG_MAX_CLIENTS)

    @app.get(
        "/api/cameras/<camera_id>/snapshot.jpg",
        scope=Scope.READ,
        signable=True,
        doc=Doc(
            "getCameraSnapshot",
            "Latest frame with faces drawn",
            {
                "200": JPEG,
                "307": ON_ITS_NODE,
                **error_answers(404),
                "409": json_answer(ERROR, "The camera has no frame yet (stopped or connecting)"),
            },
        ),
    )
    def snapshot(camera_id: str) -> bytes:
        camera_or_404(service, camera_id)
        send_to_home(service, camera_id)
        jpeg = service.snapshot(camera_id)
        if jpeg is None:  # the camera exists, but is stopped or not live yet
            raise fail(409, f"camera {camera_id!r} has no frame yet")
        bottle.response.content_type = "image/jpeg"
        bottle.response.set_header("Cache-Control", "no-store")
        return jpeg

    @app.get(
        "/api/cameras/<camera_id>/stream.mjpg",
        scope=Scope.READ,
        signable=True,
        doc=Doc(
            "getCameraStream",
            "Live MJPEG of the camera with faces drawn",
            {
                "200": {"description": "multipart/x-mixed-replace JPEG stream"},
                "307": ON_ITS_NODE,
                **error_answers(400, 404),
                "503": VIEWERS_FULL,
            },
            parameters=(
                {
                    "name": "fps",
                    "in": "query",
                    "schema": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": MJPEG_MAX_FPS},
                },
            ),
        ),
    )
    def stream(camera_id: str) -> Iterator[bytes]:
        camera_or_404(service, camera_id)
        send_to_home(service, camera_id)
        try:
            fps = float(bottle.request.query.get("fps", MJPEG_DEFAULT_FPS))
        except ValueError:
            raise fail(400, "fps must be a number") from None
        if not 0 < fps <= MJPEG_MAX_FPS:
            raise fail(400, f"fps must be in (0, {MJPEG_MAX_FPS:g}]")
        if not watchers.acquire(blocking=False):
            raise bottle.HTTPError(
                503, f"at most {MJPEG_MAX_CLIENTS} MJPEG viewers at once", **{"Retry-After": str(VIEWERS_RETRY_AFTER_S)}
            )
        bottle.response.content_type = f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}"
        bottle.response.set_header("Cache-Control", "no-store")
        return _frames(service, camera_id, 1.0 / fps, max_s, watchers)


def _frames(
    service: ServiceApi, camera_id: str, interval: float, max_s: float, watchers: threading.BoundedSemaphore
) -> Iterator[bytes]:
    """Multipart JPEG parts at most every `interval` seconds (a placeholder every second while the camera has
    no frame), the first at once; until the client leaves, the camera goes, the service stops or `max_s`."""
    try:
        started = time.monotonic()
        next_at, placeholder_at = started, started
        while True:
            jpeg = service.snapshot(camera_id)
            now = time.monotonic()
            if jpeg is None and now >= placeholder_at:
                shown = next((c for c in service.camera_board() if c["id"] == camera_id), None)
                if shown is None:
                    return  # removed meanwhile
                jpeg = placeholder(camera_id, shown["state"], shown.get("error"))
                placeholder_at = now + PLACEHOLDER_EVERY_S
            if jpeg is not None:
                yield _part(jpeg)  # a client that left makes this write fail: the server closes the generator
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
            if service.is_closing() or camera_id not in service.cameras() or time.monotonic() - started >= max_s:
                return
    finally:
        watchers.release()
