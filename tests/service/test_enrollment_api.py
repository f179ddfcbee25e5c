"""Enrollment that says why, over real HTTP: each refusal reason, and a multi-file upload that is all or nothing.

One supervisor (real models, SQLite) serves the module; the photos are the shared ones, blurred
or resized where a test needs a bad one. What was stored is checked in the database itself.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from facegate.store import Store
from tests.support.service_proc import ServiceProcess
from tests.support.supervisor_cli import cli, copy_gallery

LIN = "Lin-Manuel Miranda"
OBAMA = "Barack Obama"


@pytest.fixture(scope="module")
def api(gallery_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ServiceProcess:
    service = ServiceProcess(copy_gallery(gallery_dir, tmp_path_factory.mktemp("enroll")))
    service.start()
    try:
        yield service
    finally:
        assert service.stop() == 0, service.log()[-3000:]


def blurred(path: Path, radius: float = 8.0) -> bytes:
    """The photo under a Gaussian blur of `radius` px, as JPEG: the face is still found, but soft."""
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").filter(ImageFilter.GaussianBlur(radius)).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def stored_encodings(api: ServiceProcess, name: str) -> int:
    """How many encodings the database holds for `name` (read from the store, not the API)."""
    store = Store(api.data_dir)
    try:
        return store.gallery.all_vectors()[1].count(name)
    finally:
        store.close()


def person_id(api: ServiceProcess, name: str) -> int:
    return next(p["id"] for p in api.get("/api/persons").json()["persons"] if p["name"] == name)


def upload(api: ServiceProcess, pid: int, *photos: tuple[str, bytes]):
    return api.post(f"/api/persons/{pid}/faces", files=[("image", (n, data, "image/jpeg")) for n, data in photos])


@pytest.fixture(scope="module")
def obama(api: ServiceProcess, faces: Path) -> int:
    """Barack Obama, registered from obama.jpg."""
    answer = api.post(
        "/api/register",
        data={"name": OBAMA},
        files={"image": ("obama.jpg", (faces / "obama.jpg").read_bytes(), "image/jpeg")},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["person_id"]


def refusal(answer, reason: str) -> str:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["reason"] == reason and [f["reason"] for f in body["files"]] == [reason]
    return body["error"]


def test_each_refusal_reason(api: ServiceProcess, faces: Path, obama: int) -> None:
    before = stored_encodings(api, OBAMA)
    # the same picture at another resolution is a near-duplicate of obama.jpg
    error = refusal(upload(api, obama, ("obama-720p.jpg", (faces / "obama-720p.jpg").read_bytes())), "duplicate")
    assert "near-duplicate" in error
    assert "blurry" in refusal(upload(api, obama, ("soft.jpg", blurred(faces / "obama2.jpg"))), "blurry")
    assert "2 faces" in refusal(
        upload(api, obama, ("two.jpg", (faces / "two_people.jpg").read_bytes())), "not_one_face"
    )
    assert "decodable" in refusal(upload(api, obama, ("x.jpg", b"not a photo")), "not_an_image")
    assert api.put("/api/config", json={"min_face_px": 150}).status_code == 200
    try:  # obama_small.jpg's face is 108 px wide
        error = refusal(upload(api, obama, ("small.jpg", (faces / "obama_small.jpg").read_bytes())), "too_small")
        assert "108 px" in error and "150" in error
    finally:
        assert api.put("/api/config", json={"min_face_px": 0}).status_code == 200
    assert stored_encodings(api, OBAMA) == before


def test_an_encoding_sent_as_numbers_is_checked_for_duplicates(api: ServiceProcess, faces: Path) -> None:
    lin = person_id(api, LIN)
    vectors, names = Store(api.data_dir).gallery.all_vectors()
    own = vectors[names.index(LIN)]
    answer = api.post(f"/api/persons/{lin}/faces", json={"encoding": [float(v) for v in own + 0.001]})
    assert refusal(answer, "duplicate")
    farther = own + 0.3 / np.sqrt(own.size)  # 0.3 away: another photo of someone, not a copy
    answer = api.post(f"/api/persons/{lin}/faces", json={"encoding": [float(v) for v in farther]})
    assert answer.status_code == 200, answer.text
    assert stored_encodings(api, LIN) == 2


def test_a_registration_photo_is_judged_too(api: ServiceProcess, faces: Path) -> None:
    answer = api.post(
        "/api/register",
        data={"name": "Soft Biden"},
        files={"image": ("b.jpg", blurred(faces / "biden.jpg"), "image/jpeg")},
    )
    assert answer.status_code == 400 and "blurry" in answer.json()["error"]
    assert all(p["name"] != "Soft Biden" for p in api.get("/api/persons").json()["persons"])


def test_several_files_one_bad_stores_none(api: ServiceProcess, faces: Path, obama: int) -> None:
    before = stored_encodings(api, OBAMA)
    photos = [
        ("obama2.jpg", (faces / "obama2.jpg").read_bytes()),
        ("soft.jpg", blurred(faces / "obama3.jpg")),
        ("partial.jpg", (faces / "obama_partial_face.jpg").read_bytes()),
    ]
    answer = upload(api, obama, *photos)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert [(f["file"], f["accepted"], f.get("reason")) for f in body["files"]] == [
        ("obama2.jpg", True, None),
        ("soft.jpg", False, "blurry"),
        ("partial.jpg", True, None),
    ]
    assert "1 of 3 files refused" in body["error"] and "nothing was stored" in body["error"]
    assert stored_encodings(api, OBAMA) == before

    # two copies of one picture in the same request: the second is the duplicate (32bit.png is obama2.jpg)
    answer = upload(api, obama, photos[0], ("32bit.png", (faces / "32bit.png").read_bytes()))
    assert [f.get("reason") for f in answer.json()["files"]] == [None, "duplicate"]
    assert stored_encodings(api, OBAMA) == before

    good = [photos[0], photos[2], ("obama3.jpg", (faces / "obama3.jpg").read_bytes())]
    answer = upload(api, obama, *good)
    assert answer.status_code == 200, answer.text
    assert [f["accepted"] for f in answer.json()["files"]] == [True, True, True]
    assert answer.json()["person"]["encodings"] == before + 3
    assert stored_encodings(api, OBAMA) == before + 3


def test_nothing_to_enroll_is_a_400(api: ServiceProcess, obama: int) -> None:
    assert api.post(f"/api/persons/{obama}/faces", json={}).status_code == 400
    assert api.post(f"/api/persons/{obama}/faces", json={"images_base64": "x"}).status_code == 400
    assert api.post(f"/api/persons/{obama}/faces", json={"encoding": [1, 2]}).status_code == 400
    assert api.post("/api/persons/999999/faces", json={"encoding": [0.0] * 128}).status_code == 404


def test_the_command_line_judges_photos_the_same_way(faces: Path, tmp_path: Path) -> None:
    soft = tmp_path / "soft.jpg"
    soft.write_bytes(blurred(faces / "obama2.jpg"))
    data_dir = str(tmp_path / "data")
    done = cli("--data-dir", data_dir, "register", OBAMA, str(faces / "obama.jpg"), str(soft))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "soft.jpg: face is blurry" in done.stderr and "nothing was stored" in done.stderr
    done = cli("--data-dir", data_dir, "register", OBAMA, str(faces / "obama.jpg"), str(faces / "obama-720p.jpg"))
    assert done.returncode != 0 and "obama-720p.jpg: near-duplicate" in done.stderr
    done = cli("--data-dir", data_dir, "register", OBAMA, str(faces / "obama.jpg"), str(faces / "obama2.jpg"))
    assert done.returncode == 0, done.stderr
    done = cli("--data-dir", data_dir, "register", OBAMA, str(faces / "obama-480p.jpg"))  # obama.jpg again
    assert done.returncode != 0 and "near-duplicate" in done.stderr
    store = Store(data_dir)
    try:
        assert store.gallery.all_vectors()[1] == [OBAMA, OBAMA]
    finally:
        store.close()
