"""Search by photo end to end: a running service, replays of a clip built from the shared photos.

Barack Obama is registered from obama.jpg; the clip shows obama2.jpg, then Biden, then Lin (the two
strangers become visitors). A search with obama3.jpg, a photo none of them came from, finds the
Obama sightings and nothing else; the filters narrow it; deleted sightings are never found again.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from facegate.faces import encode_single_face
from tests.support.clips import build_clip
from tests.support.scenes import OBAMA, replay_into, service_knowing_obama
from tests.support.service_proc import ServiceProcess


@pytest.fixture(scope="module")
def api(faces: Path, tmp_path_factory: pytest.TempPathFactory) -> ServiceProcess:
    def replay_twice(data_dir: Path) -> None:
        clip = build_clip(
            data_dir / "three.mp4",
            [
                (None, 0.5),
                (faces / "obama2.jpg", 2.0),
                (None, 1.5),
                (faces / "biden.jpg", 2.0),
                (None, 1.5),
                (faces / "lin-manuel-miranda.png", 2.0),
                (None, 0.5),
            ],
        )
        for camera in ("door", "hall"):
            replay_into(data_dir, clip, camera=camera)

    with service_knowing_obama(faces, tmp_path_factory.mktemp("search"), replay_twice) as service:
        yield service


def search(api: ServiceProcess, photo: Path, **filters: str):
    return api.post("/api/search", data=filters, files={"image": (photo.name, photo.read_bytes(), "image/jpeg")})


def test_a_different_photo_finds_that_persons_sightings_only(api: ServiceProcess, faces: Path) -> None:
    everything = api.get("/api/results?limit=1000").json()["results"]
    assert sorted(r["name"] for r in everything) == sorted([OBAMA, "Unknown", "Unknown"] * 2)
    answer = search(api, faces / "obama3.jpg")
    assert answer.status_code == 200, answer.text
    found = answer.json()["sightings"]
    expected = {r["event_id"] for r in everything if r["name"] == OBAMA}
    assert {s["event_id"] for s in found} == expected and len(found) == 2
    assert all(s["name"] == OBAMA and 0.3 < s["distance"] < 0.5 for s in found)
    assert sorted(s["camera_id"] for s in found) == ["door", "hall"]
    assert [s["distance"] for s in found] == sorted(s["distance"] for s in found)
    crop = api.get(found[0]["image"])
    assert crop.status_code == 200 and crop.headers["Content-Type"] == "image/jpeg"

    strangers = search(api, faces / "biden.jpg").json()["sightings"]  # a visitor is found too
    assert len(strangers) == 2 and all(s["name"] == "Unknown" and s["visitor_id"] for s in strangers)
    assert len({s["visitor_id"] for s in strangers}) == 1


def test_filters_and_an_encoding_query(api: ServiceProcess, faces: Path) -> None:
    only_hall = search(api, faces / "obama3.jpg", camera="hall").json()["sightings"]
    assert [s["camera_id"] for s in only_hall] == ["hall"]
    first = min(r["timestamp"] for r in api.get("/api/results?limit=1000").json()["results"])
    assert search(api, faces / "obama3.jpg", until="2000-01-01T00:00:00Z").json()["sightings"] == []
    assert len(search(api, faces / "obama3.jpg", since=first).json()["sightings"]) == 2
    encoding = [float(v) for v in encode_single_face(faces / "obama3.jpg")]
    as_numbers = api.post("/api/search", json={"encoding": encoding, "camera": "door"}).json()["sightings"]
    assert [s["camera_id"] for s in as_numbers] == ["door"] and as_numbers[0]["name"] == OBAMA
    as_base64 = api.post(
        "/api/search", json={"image_base64": base64.b64encode((faces / "obama3.jpg").read_bytes()).decode(), "limit": 1}
    ).json()["sightings"]
    assert len(as_base64) == 1


def test_bad_search_requests(api: ServiceProcess, faces: Path) -> None:
    def error(answer) -> str:
        assert answer.status_code == 400, answer.text
        return answer.json()["error"]

    assert "photo" in error(api.post("/api/search", json={}))
    assert "2 faces" in error(search(api, faces / "two_people.jpg"))
    assert "since" in error(search(api, faces / "obama3.jpg", since="yesterday"))
    assert "time zone" in error(search(api, faces / "obama3.jpg", until="2026-01-01T00:00:00"))
    assert "limit" in error(api.post("/api/search", json={"encoding": [0.0] * 128, "limit": 0}))
    assert error(api.post("/api/search", json={"encoding": [0.0] * 3}))


def test_deleted_sightings_are_not_found_again(api: ServiceProcess, faces: Path) -> None:
    strangers = search(api, faces / "biden.jpg").json()["sightings"]
    assert api.delete(f"/api/visitors/{strangers[0]['visitor_id']}").status_code == 200
    assert search(api, faces / "biden.jpg").json()["sightings"] == []
    obama = next(p for p in api.get("/api/persons").json()["persons"] if p["name"] == OBAMA)
    assert api.delete(f"/api/persons/{obama['id']}").status_code == 200
    assert search(api, faces / "obama3.jpg").json()["sightings"] == []
