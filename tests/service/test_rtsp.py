"""Real RTSP cameras end to end: GStreamer's RTSP server (tests/support/rtsp_server.py) and a real supervisor.

The shared clip, played six times over, is served as H.264 and as H.265 from 127.0.0.1 by one
server, and by a second one that wants a login. One supervisor serves the module with Lin-Manuel
Miranda and Alex Lacamoire registered; every test adds the cameras it needs and removes them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.capture import READ_TIMEOUT_MS
from pipeline.supervision.watchdog import STALL_S
from tests.service.test_live_api import (
    LIN,
    add_camera,
    camera,
    capture_pids,
    go_live,
    process_row,
    remove_camera,
    results,
    seconds,
    state,
    wait,
)
from tests.support.rtsp_server import RtspCamera, prepare
from tests.support.service_proc import ServiceProcess
from tests.support.supervisor_cli import copy_gallery
from tests.support.webhook_receiver import free_port

CODECS = ("h264", "h265")
USER, PASSWORD = "operator", "door-Secret-42"


@pytest.fixture(scope="module")
def videos(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("rtsp")
    return {codec: prepare(clip, folder, codec) for codec in CODECS}


@pytest.fixture(scope="module")
def rtsp(videos: dict[str, Path]) -> Iterator[RtspCamera]:
    server = RtspCamera(videos, free_port()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def svc(gallery_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    # an operator's own FFmpeg option: OpenCV then forgets its TCP default, so facegate has to ask for TCP itself
    service = ServiceProcess(
        copy_gallery(gallery_dir, tmp_path_factory.mktemp("rtsp_service")),
        env={"OPENCV_FFMPEG_CAPTURE_OPTIONS": "max_delay;500000"},
    )
    with service.serving():
        yield service


def lin_after(svc: ServiceProcess, camera_id: str, since: float, timeout: float = 120) -> list[dict]:
    """Lin-Manuel Miranda's results from `camera_id` captured after `since` (epoch seconds), waited for."""
    return wait(
        lambda: [r for r in results(svc, LIN, camera_id) if seconds(r["timestamp"]) > since],
        timeout,
        f"Lin-Manuel Miranda on {camera_id}",
        svc,
    )


@pytest.mark.parametrize("codec", CODECS)
def test_lin_is_named_over_rtsp_which_is_read_over_tcp(svc: ServiceProcess, rtsp: RtspCamera, codec: str) -> None:
    camera_id = f"rtsp-{codec}"
    asked_before = len(rtsp.setups)
    add_camera(svc, camera_id, rtsp.url(codec))
    try:
        go_live(svc, camera_id)
        assert lin_after(svc, camera_id, 0)[0]["camera_id"] == camera_id
        asked = rtsp.setups[asked_before:]
        assert asked and all(t.startswith("RTP/AVP/TCP") for t in asked), asked
    finally:
        remove_camera(svc, camera_id)


def test_a_rebooted_rtsp_camera_is_reconnecting_then_live_and_lin_named_again(
    svc: ServiceProcess, rtsp: RtspCamera
) -> None:
    add_camera(svc, "porch", rtsp.url("h264"))
    try:
        go_live(svc, "porch")
        lin_after(svc, "porch", 0)
        [pid] = capture_pids(svc, "porch")

        rtsp.stop()
        wait(lambda: state(svc, "porch") == "reconnecting", 60, "porch reconnecting", svc)
        assert camera(svc, "porch")["error"]
        back_at = time.time()
        rtsp.start()  # the same port: the camera rebooted
        go_live(svc, "porch", timeout=90)
        assert camera(svc, "porch")["error"] is None
        lin_after(svc, "porch", back_at)
        assert capture_pids(svc, "porch") == [pid], "the capture process reconnected by itself"
        assert process_row(svc, "capture porch")["restarts"] == 0
    finally:
        remove_camera(svc, "porch")


def test_a_stalled_rtsp_camera_is_reconnecting_after_the_read_timeout_and_never_restarted(
    svc: ServiceProcess, rtsp: RtspCamera
) -> None:
    add_camera(svc, "hall", rtsp.url("h265"))
    try:
        go_live(svc, "hall")
        [pid] = capture_pids(svc, "hall")
        stalled_at = time.monotonic()
        rtsp.pause()  # the connection stays open and no more packets come
        try:
            wait(lambda: state(svc, "hall") == "reconnecting", 60, "hall reconnecting", svc)
            assert time.monotonic() - stalled_at >= READ_TIMEOUT_MS / 1000 - 0.5, "not before the read timeout"
            assert camera(svc, "hall")["error"] == "stream stalled or closed"
            # for longer than the supervisor's no-progress limit: a capture retrying a hung camera is not a hung stage
            until = time.monotonic() + STALL_S + 10
            while time.monotonic() < until:
                assert state(svc, "hall") == "reconnecting"
                assert capture_pids(svc, "hall") == [pid]
                time.sleep(1.0)
            assert process_row(svc, "capture hall")["restarts"] == 0
            assert "capture hall made no progress" not in svc.log()
        finally:
            rtsp.stop()  # then a reboot brings it back
            rtsp.start()
        go_live(svc, "hall", timeout=90)
    finally:
        remove_camera(svc, "hall")


def test_a_wrong_password_is_failed_with_the_cameras_401_and_the_password_masked(
    svc: ServiceProcess, videos: dict[str, Path]
) -> None:
    locked = RtspCamera({"h264": videos["h264"]}, free_port(), user=USER, password=PASSWORD).start()
    wrong = "not-the-" + PASSWORD
    try:
        add_camera(svc, "gate", locked.url("h264", password=wrong))
        found = wait(lambda: (c := camera(svc, "gate")) and c["state"] == "failed" and c, 60, "gate failed", svc)
        assert "401" in found["error"] and "Unauthorized" in found["error"], found
        for answer in (svc.get("/api/status").text, svc.get("/api/cameras").text, svc.get("/metrics").text):
            assert wrong not in answer
        assert found["stream_url"] == f"rtsp://{USER}:***@127.0.0.1:{locked.port}/h264"

        assert svc.put("/api/cameras/gate", json={"stream_url": locked.url("h264")}).status_code == 200
        go_live(svc, "gate")  # the right password: the same server lets the camera in
        assert camera(svc, "gate")["error"] is None
    finally:
        locked.stop()
        remove_camera(svc, "gate")
