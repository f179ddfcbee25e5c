"""'That was not X', end to end: a running service, replays of clips built from the shared photos.

Barack Obama is registered from obama.jpg. With `threshold` raised to 0.85 the shared Biden photo
(0.84 from obama.jpg) is named Barack Obama, by /api/recognize and by a replay. Rejecting that
replay's result makes Biden no longer Obama, while the other Obama photos still are.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.clips import build_clip
from tests.support.scenes import OBAMA, replay_results, service_knowing_obama
from tests.support.service_proc import ServiceProcess

LIN = "Lin-Manuel Miranda"


@pytest.fixture(scope="module")
def api(faces: Path, tmp_path_factory: pytest.TempPathFactory) -> ServiceProcess:
    with service_knowing_obama(faces, tmp_path_factory.mktemp("reject")) as service:
        yield service


def named(api: ServiceProcess, photo: Path) -> str:
    answer = api.post("/api/recognize", files={"image": (photo.name, photo.read_bytes(), "image/jpeg")})
    assert answer.status_code == 200, answer.text
    faces = answer.json()["faces"]
    assert len(faces) == 1
    return faces[0]["name"]


def test_biden_is_no_longer_obama_once_rejected(api: ServiceProcess, faces: Path, tmp_path: Path) -> None:
    biden_clip = build_clip(tmp_path / "biden.mp4", [(None, 0.5), (faces / "biden.jpg", 2.0), (None, 0.5)])
    assert named(api, faces / "biden.jpg") == "Unknown"  # at the default threshold 0.6
    assert api.put("/api/config", json={"threshold": 0.85}).status_code == 200
    assert named(api, faces / "biden.jpg") == OBAMA

    first = replay_results(api, biden_clip)
    assert [r["name"] for r in first] == [OBAMA], first
    rejected = api.post(f"/api/results/{first[0]['event_id']}/reject", json={})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["rejected"] == OBAMA
    assert api.get(f"/api/results/{first[0]['event_id']}/crop.jpg").headers["Content-Type"] == "image/jpeg"

    assert named(api, faces / "biden.jpg") == "Unknown"
    for photo in ("obama2.jpg", "obama3.jpg", "obama_partial_face.jpg", "obama-720p.jpg"):
        assert named(api, faces / photo) == OBAMA, photo
    again = replay_results(api, biden_clip)
    assert again and all(r["name"] != OBAMA for r in again), again
    relabelled = next(
        r for r in api.get("/api/results?limit=1000").json()["results"] if r["event_id"] == first[0]["event_id"]
    )
    assert relabelled["name"] == "Unknown"

    # a result that named no one, or no result at all
    assert api.post(f"/api/results/{again[0]['event_id']}/reject", json={}).status_code == 409
    assert api.post("/api/results/evt_nosuch/reject", json={}).status_code == 404


def test_reject_with_who_it_was(api: ServiceProcess, faces: Path, tmp_path: Path) -> None:
    lin_clip = build_clip(tmp_path / "lin.mp4", [(None, 0.5), (faces / "lin-manuel-miranda.png", 2.0), (None, 0.5)])
    assert api.put("/api/config", json={"threshold": 0.85}).status_code == 200
    seen = replay_results(api, lin_clip)
    assert [r["name"] for r in seen] == [OBAMA], seen  # 0.71 from obama.jpg
    answer = api.post(f"/api/results/{seen[0]['event_id']}/reject", json={"name": LIN})
    assert answer.status_code == 200, answer.text
    assert named(api, faces / "lin-manuel-miranda.png") == LIN
    assert any(p["name"] == LIN for p in api.get("/api/persons").json()["persons"])
    assert api.get(f"/api/results/{LIN}").json()["total"] == 1
    assert api.post(f"/api/results/{seen[0]['event_id']}/reject", json={"name": ""}).status_code == 400
