"""The gallery API over real HTTP with the shared photos: top-k recognition, verification, and bad input.

One supervisor (real models, SQLite) with Lin-Manuel Miranda and Alex Lacamoire registered,
and Barack Obama added from obama.jpg by the module.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.conftest import copy_gallery
from tests.service_proc import ServiceProcess

OBAMA = "Barack Obama"


@pytest.fixture(scope="module")
def api(gallery_dir: Path, faces: Path, tmp_path_factory: pytest.TempPathFactory) -> ServiceProcess:
    service = ServiceProcess(copy_gallery(gallery_dir, tmp_path_factory.mktemp("gallery-api")))
    service.start()
    try:
        answer = service.post("/api/register", data={"name": OBAMA},
                              files={"image": ("o.jpg", (faces / "obama.jpg").read_bytes(), "image/jpeg")})
        assert answer.status_code == 200, answer.text
        yield service
    finally:
        assert service.stop() == 0, service.log()[-3000:]


def photo(faces: Path, name: str) -> tuple[str, bytes, str]:
    return (name, (faces / name).read_bytes(), "application/octet-stream")


def person_id(api: ServiceProcess, name: str) -> int:
    return next(p["id"] for p in api.get("/api/persons").json()["persons"] if p["name"] == name)


def test_recognize_top_k_gives_each_face_its_nearest_people(api: ServiceProcess, faces: Path) -> None:
    answer = api.post("/api/recognize?top=3", files={"image": photo(faces, "obama2.jpg")})
    assert answer.status_code == 200, answer.text
    face = answer.json()["faces"][0]
    assert face["name"] == OBAMA
    names = [c["name"] for c in face["candidates"]]
    assert names[0] == OBAMA and sorted(names) == sorted({OBAMA, "Lin-Manuel Miranda", "Alex Lacamoire"})
    distances = [c["distance"] for c in face["candidates"]]
    assert distances == sorted(distances) and distances[0] == face["distance"]
    assert [c["match"] for c in face["candidates"]] == [True, False, False]
    assert len(api.post("/api/recognize?top=1", files={"image": photo(faces, "obama2.jpg")})
               .json()["faces"][0]["candidates"]) == 1
    plain = api.post("/api/recognize", files={"image": photo(faces, "obama2.jpg")}).json()["faces"][0]
    assert "candidates" not in plain
    two = api.post("/api/recognize?top=2", files={"image": photo(faces, "two_people.jpg")}).json()["faces"]
    assert len(two) == 2 and all(len(f["candidates"]) == 2 for f in two)
    for bad in ("0", "21", "abc", "-1"):
        answer = api.post(f"/api/recognize?top={bad}", files={"image": photo(faces, "obama2.jpg")})
        assert answer.status_code == 400 and "top" in answer.json()["error"]


def test_verify_two_photos(api: ServiceProcess, faces: Path) -> None:
    same = api.post("/api/verify", files={"image1": photo(faces, "obama.jpg"), "image2": photo(faces, "obama2.jpg")})
    assert same.status_code == 200, same.text
    body = same.json()
    assert body["same_person"] is True and 0.3 < body["distance"] < 0.4 and body["threshold"] == 0.6
    assert api.put("/api/config", json={"threshold": 0.3}).status_code == 200
    try:  # the same pair, judged by a stricter threshold
        strict = api.post("/api/verify", files={"image1": photo(faces, "obama.jpg"),
                                                "image2": photo(faces, "obama2.jpg")}).json()
        assert strict["same_person"] is False and strict["threshold"] == 0.3
    finally:
        assert api.put("/api/config", json={"threshold": 0.6}).status_code == 200
    as_text = {f"image{n}_base64": base64.b64encode((faces / name).read_bytes()).decode()
               for n, name in ((1, "obama.jpg"), (2, "biden.jpg"))}
    other = api.post("/api/verify", json=as_text)
    assert other.status_code == 200 and other.json()["same_person"] is False and other.json()["distance"] > 0.6


def test_verify_a_photo_against_a_person(api: ServiceProcess, faces: Path) -> None:
    obama = person_id(api, OBAMA)
    answer = api.post("/api/verify", data={"person_id": str(obama)}, files={"image": photo(faces, "obama3.jpg")})
    assert answer.status_code == 200, answer.text
    assert answer.json()["same_person"] is True and answer.json()["person"] == {"id": obama, "name": OBAMA}
    lin = person_id(api, "Lin-Manuel Miranda")
    answer = api.post("/api/verify", data={"person_id": str(lin)}, files={"image": photo(faces, "obama3.jpg")})
    assert answer.json()["same_person"] is False


def test_verify_refuses_bad_input(api: ServiceProcess, faces: Path) -> None:
    def error(answer, status: int) -> str:
        assert answer.status_code == status, answer.text
        return answer.json()["error"]

    assert "image2" in error(api.post("/api/verify", files={"image1": photo(faces, "obama.jpg")}), 400)
    assert "two photos" in error(api.post("/api/verify", json={}), 400)
    assert "2 faces" in error(api.post("/api/verify", files={"image1": photo(faces, "two_people.jpg"),
                                                             "image2": photo(faces, "obama.jpg")}), 400)
    assert "decodable" in error(api.post("/api/verify", files={"image1": ("x", b"junk", "image/png"),
                                                               "image2": photo(faces, "obama.jpg")}), 400)
    assert error(api.post("/api/verify", data={"person_id": "999999"}, files={"image": photo(faces, "obama.jpg")}),
                 404)
    assert error(api.post("/api/verify", data={"person_id": "abc"}, files={"image": photo(faces, "obama.jpg")}), 400)
    assert "base64" in error(api.post("/api/verify", json={"image1_base64": "%%", "image2_base64": "%%"}), 400)
