"""The gallery API over real HTTP with the shared photos: top-k recognition, verification, and bad input.

One supervisor (real models, SQLite) with Lin-Manuel Miranda and Alex Lacamoire registered,
and Barack Obama added from obama.jpg by the module.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facegate.store import Store
from tests.support.service_proc import ServiceProcess
from tests.support.supervisor_cli import copy_gallery

OBAMA = "Barack Obama"


@pytest.fixture(scope="module")
def api(gallery_dir: Path, faces: Path, tmp_path_factory: pytest.TempPathFactory) -> ServiceProcess:
    service = ServiceProcess(copy_gallery(gallery_dir, tmp_path_factory.mktemp("gallery-api")))
    service.start()
    try:
        answer = service.post(
            "/api/register",
            data={"name": OBAMA},
            files={"image": ("o.jpg", (faces / "obama.jpg").read_bytes(), "image/jpeg")},
        )
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
    assert (
        len(
            api.post("/api/recognize?top=1", files={"image": photo(faces, "obama2.jpg")}).json()["faces"][0][
                "candidates"
            ]
        )
        == 1
    )
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
        strict = api.post(
            "/api/verify", files={"image1": photo(faces, "obama.jpg"), "image2": photo(faces, "obama2.jpg")}
        ).json()
        assert strict["same_person"] is False and strict["threshold"] == 0.3
    finally:
        assert api.put("/api/config", json={"threshold": 0.6}).status_code == 200
    as_text = {
        f"image{n}_base64": base64.b64encode((faces / name).read_bytes()).decode()
        for n, name in ((1, "obama.jpg"), (2, "biden.jpg"))
    }
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
    assert "2 faces" in error(
        api.post("/api/verify", files={"image1": photo(faces, "two_people.jpg"), "image2": photo(faces, "obama.jpg")}),
        400,
    )
    assert "decodable" in error(
        api.post("/api/verify", files={"image1": ("x", b"junk", "image/png"), "image2": photo(faces, "obama.jpg")}), 400
    )
    assert error(api.post("/api/verify", data={"person_id": "999999"}, files={"image": photo(faces, "obama.jpg")}), 404)
    assert error(api.post("/api/verify", data={"person_id": "abc"}, files={"image": photo(faces, "obama.jpg")}), 400)
    assert "base64" in error(api.post("/api/verify", json={"image1_base64": "%%", "image2_base64": "%%"}), 400)


def test_rename_a_person(api: ServiceProcess, faces: Path) -> None:
    lin = person_id(api, "Lin-Manuel Miranda")
    taken = api.put(f"/api/persons/{lin}", json={"name": "Alex Lacamoire"})
    assert taken.status_code == 409 and "in use" in taken.json()["error"]
    assert api.put(f"/api/persons/{lin}", json={"name": ""}).status_code == 400
    assert api.put(f"/api/persons/{lin}", json={"nick": "L"}).status_code == 400
    assert api.put("/api/persons/999999", json={"name": "Nobody"}).status_code == 404
    renamed = api.put(f"/api/persons/{lin}", json={"name": "Lin"})
    assert renamed.status_code == 200 and renamed.json()["person"]["name"] == "Lin"
    named = api.post("/api/recognize", files={"image": photo(faces, "lin-manuel-miranda.png")}).json()
    assert named["faces"][0]["name"] == "Lin"
    assert api.put(f"/api/persons/{lin}", json={"name": "Lin-Manuel Miranda"}).status_code == 200


def test_encodings_their_crops_and_deleting_one(api: ServiceProcess, faces: Path) -> None:
    obama = person_id(api, OBAMA)
    added = api.post(f"/api/persons/{obama}/faces", files=[("image", photo(faces, "obama3.jpg"))])
    assert added.status_code == 200, added.text
    far = np.zeros(128)
    far[0] = 1.0  # as numbers: no crop
    assert api.post(f"/api/persons/{obama}/faces", json={"encoding": far.tolist()}).status_code == 200
    listed = api.get(f"/api/persons/{obama}/encodings").json()
    assert listed["total"] == 3
    with_crop = [e for e in listed["encodings"] if e["image"]]
    assert len(with_crop) == 2 and all(e["created_at"].endswith("Z") for e in listed["encodings"])
    crop = api.get(with_crop[0]["image"])
    assert crop.status_code == 200 and crop.headers["Content-Type"] == "image/jpeg"
    width, height = Image.open(io.BytesIO(crop.content)).size
    assert 0 < max(width, height) <= 160
    numbers_only = next(e for e in listed["encodings"] if e["image"] is None)
    assert api.get(f"/api/persons/{obama}/encodings/{numbers_only['id']}.jpg").status_code == 404
    gone = api.delete(f"/api/persons/{obama}/encodings/{numbers_only['id']}")
    assert gone.status_code == 200 and gone.json()["person"]["encodings"] == 2
    assert api.delete(f"/api/persons/{obama}/encodings/{numbers_only['id']}").status_code == 404
    other = person_id(api, "Alex Lacamoire")
    assert api.delete(f"/api/persons/{other}/encodings/{with_crop[0]['id']}").status_code == 404
    assert api.get(f"/api/persons/{other}/encodings/{with_crop[0]['id']}.jpg").status_code == 404
    store = Store(api.data_dir)
    try:
        assert len(store.gallery.person_vectors(obama)) == 2
    finally:
        store.close()
    assert api.get("/api/persons/999999/encodings").status_code == 404
