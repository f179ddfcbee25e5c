"""The detect-gating settings through the API of a real service: global ones in PUT /api/config, a camera's own
detect_fps in /api/cameras, and the detector given on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.service_proc import ServiceProcess
from tests.support.supervisor_cli import copy_gallery


@pytest.fixture(scope="module")
def api(gallery_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ServiceProcess:
    data_dir = copy_gallery(gallery_dir, tmp_path_factory.mktemp("gating-api"))
    service = ServiceProcess(data_dir, "--detector", "blazeface", "--detect-fps", "3")
    service.start()
    try:
        yield service
    finally:
        assert service.stop() == 0, service.log()[-3000:]


def test_the_command_line_sets_the_detector_and_the_rate(api: ServiceProcess) -> None:
    config = api.get("/api/config").json()["config"]
    assert (config["detector"], config["detect_fps"], config["motion_threshold"]) == ("blazeface", 3.0, 25)


@pytest.mark.parametrize(
    "body",
    [
        {"detect_fps": 61},
        {"detect_fps": 0.01},
        {"detector": "yolo"},
        {"motion_threshold": 0},
        {"motion_min_area": 5000},
        {"detector_model": "x.tflite"},
    ],
)
def test_bad_gating_settings_are_400(api: ServiceProcess, body: dict) -> None:
    answer = api.put("/api/config", json=body)
    assert answer.status_code == 400 and next(iter(body)) in answer.json()["error"]


def test_gating_settings_are_changed_live_and_a_camera_has_its_own_rate(api: ServiceProcess) -> None:
    done = api.put(
        "/api/config",
        json={"detect_fps": 2, "detector": "hog", "motion_min_area": 30, "stream_url": "rtsp://127.0.0.1:9/none"},
    )
    assert done.status_code == 200, done.text
    assert {k: done.json()["config"][k] for k in ("detect_fps", "detector", "motion_min_area")} == {
        "detect_fps": 2.0,
        "detector": "hog",
        "motion_min_area": 30,
    }
    added = api.post("/api/cameras", json={"id": "door", "stream_url": "rtsp://127.0.0.1:9/door", "detect_fps": 1})
    assert added.status_code == 201, added.text
    cameras = {c["id"]: c for c in api.get("/api/cameras").json()["cameras"]}
    assert (cameras["door"]["detect_fps"], cameras["cam0"]["detect_fps"]) == (1.0, 2.0)
    assert api.put("/api/cameras/door", json={"detect_fps": 100}).status_code == 400
    assert api.put("/api/cameras/door", json={"detect_fps": None}).json()["camera"]["detect_fps"] == 2.0
    refused = api.put("/api/cameras/cam0", json={"detect_fps": 4})
    assert refused.status_code == 409 and "global detect_fps" in refused.json()["error"]
