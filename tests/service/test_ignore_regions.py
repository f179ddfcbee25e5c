"""Regions a camera ignores and its own smallest face, end to end: a real supervisor, real models, the shared clip.

Three cameras play the same clip (Lin-Manuel Miranda in most frames): one sees the whole frame, one
ignores all of it, one wants faces wider than any in the clip. Only the first names Lin, in results
and webhooks; then the two others are changed through the API and name him too, with the same
capture processes (the change applies live). Bad regions are refused with a 400 naming the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import requests

from tests.service import test_live_api
from tests.support.service_proc import ServiceProcess, children, poll_until
from tests.support.supervisor_cli import copy_gallery
from tests.support.webhook_receiver import WebhookReceiver

LIN = "Lin-Manuel Miranda"
WHOLE_FRAME = [[[0, 0], [1, 0], [1, 1], [0, 1]]]
CORNER = [[[0, 0], [0.05, 0], [0, 0.05]]]  # no face of the clip has its centre there
WIDER_THAN_ANY_FACE = 1000  # the clip is 640x360
CLIP_FRAMES = 275

receiver = test_live_api.receiver  # the fixture: a local webhook receiver for the module


@pytest.fixture(scope="module")
def svc(
    gallery_dir: Path, tmp_path_factory: pytest.TempPathFactory, receiver: WebhookReceiver
) -> Iterator[ServiceProcess]:
    data_dir = copy_gallery(gallery_dir, tmp_path_factory.mktemp("regions"))
    service = ServiceProcess(data_dir, env={"FACEGATE_WEBHOOKS": "on", "NEXTJS_WEBHOOK_URL": receiver.url})
    with service.serving(timeout=120):
        yield service


def wait(condition: Any, timeout: float, what: str, svc: ServiceProcess) -> Any:
    found = poll_until(condition, timeout)
    assert found, f"timed out after {timeout:.0f} s waiting for {what}\n{svc.log()[-4000:]}"
    return found


def refused(response: requests.Response) -> str:
    assert response.status_code == 400, (response.status_code, response.text)
    return str(response.json()["error"])


def listed(svc: ServiceProcess, camera_id: str) -> dict[str, Any]:
    cameras = svc.get("/api/cameras").json()["cameras"]
    return next(c for c in cameras if c["id"] == camera_id)


def lin_on(svc: ServiceProcess, camera_id: str) -> list[dict[str, Any]]:
    found = svc.get(f"/api/results/{LIN}?limit=1000").json()["results"]
    return [r for r in found if r["camera_id"] == camera_id]


def results_on(svc: ServiceProcess, camera_id: str) -> list[dict[str, Any]]:
    return [r for r in svc.get("/api/results?limit=1000").json()["results"] if r["camera_id"] == camera_id]


def frames_out(svc: ServiceProcess, camera_id: str) -> int:
    rows = svc.get("/api/stats").json()["pipeline"]["processes"]
    row = next((r for r in rows if r["name"] == f"capture {camera_id}"), None)
    return int(row["frames_out"]) if row else -1


def capture_pid(svc: ServiceProcess, camera_id: str) -> int | None:
    found = [pid for pid, cmd in children(svc.pid).items() if cmd.strip() == f"facegate: capture {camera_id}"]
    return found[0] if len(found) == 1 else None


def outside_the_shade(jpeg: bytes) -> float:
    """The share of a snapshot's pixels too dark or too bright for a region shaded grey (the clip is mostly dark)."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return float(((image < 40) | (image > 175)).any(axis=2).mean())


def test_bad_regions_and_face_sizes_are_refused_naming_the_field(svc: ServiceProcess, clip: Path) -> None:
    base = {"id": "hall", "stream_url": str(clip), "enabled": False}
    square = [[0.6, 0.1], [0.9, 0.1], [0.9, 0.5], [0.6, 0.5]]
    two_points = refused(svc.post("/api/cameras", json={**base, "ignore_regions": [square[:2]]}))
    assert "ignore_regions[0]: a polygon needs at least 3 points" in two_points
    beyond = refused(svc.post("/api/cameras", json={**base, "ignore_regions": [square, [*square[:3], [1.5, 0.5]]]}))
    assert "ignore_regions[1][3]" in beyond and "[0, 1]" in beyond
    assert "at most 16 polygons" in refused(svc.post("/api/cameras", json={**base, "ignore_regions": [square] * 17}))
    assert "min_face_px" in refused(svc.post("/api/cameras", json={**base, "min_face_px": -1}))
    assert svc.get("/api/cameras").json()["total"] == 0

    created = svc.post("/api/cameras", json={**base, "ignore_regions": [square], "min_face_px": 50})
    assert created.status_code == 201, created.text
    assert created.json()["camera"]["ignore_regions"] == [square] and created.json()["camera"]["min_face_px"] == 50
    assert "ignore_regions[0]" in refused(svc.put("/api/cameras/hall", json={"ignore_regions": [square[:2]]}))
    assert listed(svc, "hall")["ignore_regions"] == [square]  # a refused change changes nothing
    assert svc.put("/api/cameras/hall", json={"ignore_regions": [], "min_face_px": None}).status_code == 200
    hall = listed(svc, "hall")
    assert hall["ignore_regions"] == [] and hall["min_face_px"] == 0  # none, and the global min_face_px
    assert svc.delete("/api/cameras/hall").status_code == 200


def test_a_camera_ignoring_its_frame_names_nobody_while_another_on_the_same_clip_names_lin(
    svc: ServiceProcess, clip: Path, receiver: WebhookReceiver
) -> None:
    cameras = {
        "seen": {},
        "blind": {"ignore_regions": WHOLE_FRAME},
        "far": {"min_face_px": WIDER_THAN_ANY_FACE},
    }
    for camera_id, own in cameras.items():
        assert svc.post("/api/cameras", json={"id": camera_id, "stream_url": str(clip), **own}).status_code == 201
    assert svc.post("/api/start").status_code == 200
    try:
        wait(lambda: lin_on(svc, "seen"), 120, "Lin on the camera that sees the whole frame", svc)
        assert receiver.wait_for(lambda: any(d.payload["camera_id"] == "seen" for d in receiver.accepted()), 30)
        # the other two have played the whole clip twice, through the same detection and matching
        wait(lambda: min(frames_out(svc, c) for c in ("blind", "far")) > 2 * CLIP_FRAMES, 90, "two clip passes", svc)
        for camera_id in ("blind", "far"):
            assert results_on(svc, camera_id) == [], camera_id
            assert not [d for d in receiver.accepted() if d.payload["camera_id"] == camera_id], camera_id
        # the snapshot of the camera that ignores its whole frame is shaded all over; the other one is not
        assert outside_the_shade(svc.get("/api/cameras/blind/snapshot.jpg").content) < 0.05
        assert outside_the_shade(svc.get("/api/cameras/seen/snapshot.jpg").content) > 0.3

        # changed through the API, both name Lin without a restart of their capture
        pids = {camera_id: capture_pid(svc, camera_id) for camera_id in ("blind", "far")}
        assert None not in pids.values()
        assert svc.put("/api/cameras/blind", json={"ignore_regions": CORNER}).status_code == 200
        assert svc.put("/api/cameras/far", json={"min_face_px": None}).status_code == 200
        wait(lambda: lin_on(svc, "blind") and lin_on(svc, "far"), 90, "Lin on the changed cameras", svc)
        assert {camera_id: capture_pid(svc, camera_id) for camera_id in ("blind", "far")} == pids
    finally:
        for camera_id in cameras:
            svc.delete(f"/api/cameras/{camera_id}")
