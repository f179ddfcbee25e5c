"""Camera sources and secrets end to end: a real supervisor over real HTTP, probed as an attacker would.

The service's media dir holds a copy of the clip; the operator started it with `--stream-url` naming a
file outside that dir (the command line may name any file). Through the API, sources nobody meant
(nested protocols after `file://`, files outside the media dir, control characters) are 400s and
change nothing. Two cameras carry passwords that a pattern would cut short (a quote inside, a
`loginpas=` parameter); neither leaves through any answer, the metrics page, the audit or the log.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from tests.support.service_proc import ServiceProcess, poll_until
from tests.support.supervisor_cli import copy_gallery
from tests.support.webhook_receiver import free_port

QUOTED_PASSWORD = "Se'cr\"et1"  # the example: a quote of each kind inside
QUERY_PASSWORD = "Qp'9\"zz-lp"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, clip: Path) -> Path:
    """A media dir with the clip in it, beside a file and a link that lead out of it."""
    root = tmp_path_factory.mktemp("sources")
    folder = root / "media"
    folder.mkdir()
    shutil.copy(clip, folder / "door.mp4")
    shutil.copy(clip, root / "outside.mp4")
    (folder / "link.mp4").symlink_to(root / "outside.mp4")
    return folder


@pytest.fixture(scope="module")
def svc(gallery_dir: Path, media: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    data_dir = copy_gallery(gallery_dir, tmp_path_factory.mktemp("sources_data"))
    service = ServiceProcess(
        data_dir, "--stream-url", str(media.parent / "outside.mp4"), env={"FACEGATE_MEDIA_DIR": str(media)}
    )
    service.start(timeout=120)
    try:
        yield service
    finally:
        assert service.stop(timeout=60) == 0, service.log()[-3000:]


def _error(response: requests.Response, status: int = 400) -> str:
    assert response.status_code == status, (
        response.request.method,
        response.url,
        response.status_code,
        response.text[:300],
    )
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()["error"]


def _cameras(svc: ServiceProcess) -> dict[str, dict]:
    return {c["id"]: c for c in svc.get("/api/cameras").json()["cameras"]}


def _probes(media: Path) -> list[str]:
    return [
        "file://gopher://127.0.0.1:6379/_INFO",
        "file://tcp://127.0.0.1:25",
        "/etc/hostname",
        "file:///etc/passwd",
        str(media.parent / "outside.mp4"),
        f"{media}/../outside.mp4",
        str(media / "link.mp4"),
        "rtsp://127.0.0.1/live\r\nX-Injected: 1",
        f"file://{media}/door.mp4\n",
        "tcp://127.0.0.1:25",
        "concat:/etc/passwd|/etc/hostname",
    ]


def test_sources_nobody_meant_are_400s_through_every_door(svc: ServiceProcess, media: Path) -> None:
    before = _cameras(svc)
    config_before = svc.get("/api/config").json()["config"]
    assert svc.post("/api/cameras", json={"id": "hall", "stream_url": str(media / "door.mp4")}).status_code == 201
    for probe in _probes(media):
        _error(svc.post("/api/cameras", json={"id": "probe", "stream_url": probe}))
        _error(svc.put("/api/cameras/hall", json={"stream_url": probe}))
        if probe != config_before["stream_url"]:  # cam0 may keep the operator's file (the next test)
            _error(svc.put("/api/cameras/cam0", json={"stream_url": probe}))
            _error(svc.put("/api/config", json={"stream_url": probe}))
        _error(svc.put("/api/config", json={"cameras": [{"id": "probe", "stream_url": probe}]}))
    assert "media dir" in _error(svc.post("/api/cameras", json={"id": "probe", "stream_url": "/etc/hostname"}))
    cameras = _cameras(svc)
    assert set(cameras) == set(before) | {"hall"} and cameras["hall"]["stream_url"] == str(media / "door.mp4")
    after = svc.get("/api/config").json()["config"]
    assert (after["stream_url"], after["cameras"]) == (
        config_before["stream_url"],
        [{"id": "hall", "stream_url": str(media / "door.mp4"), "name": None, "enabled": True}],
    )
    assert svc.delete("/api/cameras/hall").status_code == 200


def test_files_in_the_media_dir_play_and_the_operators_own_file_stays(svc: ServiceProcess, media: Path) -> None:
    outside = str(media.parent / "outside.mp4")
    assert _cameras(svc)["cam0"]["stream_url"] == outside, "the command line named a file outside the media dir"
    renamed = svc.put("/api/cameras/cam0", json={"stream_url": outside, "name": "Operator's file"})
    assert renamed.status_code == 200, renamed.text  # unchanged, so not refused
    for source in (str(media / "door.mp4"), f"file://{media}/door.mp4"):
        added = svc.post("/api/cameras", json={"id": "door", "stream_url": source})
        assert added.status_code == 201, added.text
        assert svc.post("/api/start").status_code == 200
        live = poll_until(lambda: _cameras(svc)["door"]["state"] == "live", 60)
        assert live, (_cameras(svc)["door"], svc.log()[-2000:])
        assert svc.delete("/api/cameras/door").status_code == 200
    assert poll_until(lambda: _cameras(svc)["cam0"]["state"] == "live", 60), "the operator's file plays"
    assert svc.post("/api/stop").status_code == 200


def _forms(secret: str) -> list[str]:
    """The secret, and the forms it takes in JSON, in a Python repr, in a URL and cut at its quotes."""
    return [
        secret,
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
        *(part for part in secret.replace('"', "'").split("'") if len(part) >= 3),
    ]


def test_passwords_that_patterns_miss_leave_through_no_door(svc: ServiceProcess) -> None:
    quoted = f"rtsp://admin:{QUOTED_PASSWORD}@127.0.0.1:{free_port()}/live"
    query = f"http://127.0.0.1:{free_port()}/snap.cgi?user=admin&loginpas={QUERY_PASSWORD}&res=1"
    assert svc.post("/api/cameras", json={"id": "quoted", "stream_url": quoted}).status_code == 201
    assert svc.post("/api/cameras", json={"id": "query", "stream_url": query}).status_code == 201
    assert svc.post("/api/start").status_code == 200
    try:
        failed = poll_until(lambda: all(_cameras(svc)[c]["error"] for c in ("quoted", "query")), 60)
        assert failed, _cameras(svc)  # both tried, failed, and have an error to show
        shown = _cameras(svc)
        assert shown["quoted"]["stream_url"] == quoted.replace(QUOTED_PASSWORD, "***")
        assert shown["query"]["stream_url"] == query.replace(QUERY_PASSWORD, "***")
        said = {
            path: svc.get(path).text
            for path in ("/api/status", "/api/cameras", "/api/config", "/api/audit?limit=1000", "/metrics")
        }
        assert "loginpas=***" in said["/metrics"] and "admin:***@" in said["/api/config"]
        added = [
            row
            for row in svc.get("/api/audit?action=camera.add&limit=1000").json()["audit"]
            if row["target"] in ("quoted", "query")
        ]
        assert len(added) == 2 and all("***" in row["details"]["request"]["stream_url"] for row in added)
        said["log"] = svc.log()
        assert "admin:***@" in said["log"], "the log names the camera, masked"
        for where, text in said.items():
            for secret in (QUOTED_PASSWORD, QUERY_PASSWORD):
                for form in _forms(secret):
                    assert form not in text, f"{where} gives away {form!r}"
    finally:
        svc.post("/api/stop")
        svc.delete("/api/cameras/quoted")
        svc.delete("/api/cameras/query")


def test_the_name_unknown_is_reserved_and_ids_take_only_ascii_digits(svc: ServiceProcess, faces: Path) -> None:
    photo = (faces / "obama.jpg").read_bytes()
    for name in ("Unknown", " unknown ", "UNKNOWN"):
        refused = svc.post("/api/register", data={"name": name}, files={"image": ("o.jpg", photo, "image/jpeg")})
        assert "reserved" in _error(refused)
    assert svc.get("/api/persons").json()["total"] == 2
    for path in ("/api/persons/²", "/api/persons/١٢", "/api/visitors/²"):
        assert "0-9" in _error(svc.get(path))
    assert "0-9" in _error(svc.delete("/api/persons/²"))
    _error(svc.get("/api/persons/abc"), 404)
