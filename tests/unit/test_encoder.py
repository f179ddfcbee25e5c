"""The encoding network run on numpy (facegate/encoder.py) and on ONNX Runtime (facegate/encoder_onnx.py):
dlib's encodings, and a bad model file refused.

Real photos, real dlib models: every face HOG finds on the shared photos is encoded by dlib and by
both of facegate's paths, and all must agree to within float32 rounding, one face at a time and
several at once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facegate import encoder, encoder_model, encoder_onnx
from facegate.faces import load_rgb
from facegate.settings import ENCODERS

PHOTOS = [
    "lin-manuel-miranda.png",
    "alex-lacamoire.png",
    "obama.jpg",
    "obama2.jpg",
    "obama_small.jpg",
    "obama_partial_face.jpg",
    "biden.jpg",
    "two_people.jpg",
]


@pytest.mark.parametrize("path", ENCODERS)
def test_encodings_equal_dlibs_own_on_every_face_of_the_shared_photos(faces: Path, path: str) -> None:
    import face_recognition

    compared = 0
    for image in PHOTOS:
        rgb = load_rgb(faces / image)
        boxes = face_recognition.face_locations(rgb)
        assert boxes, image
        ours = encoder.face_encodings(rgb, boxes, encoder=path)
        dlibs = face_recognition.face_encodings(rgb, boxes)
        assert len(ours) == len(dlibs) == len(boxes), image
        for mine, theirs in zip(ours, dlibs, strict=True):
            assert mine.shape == (128,) and mine.dtype == np.float64
            assert np.abs(mine - theirs).max() < 1e-5, image
            compared += 1
    assert compared == len(PHOTOS) + 1  # two_people has two faces


def test_onnx_encodes_every_face_of_the_shared_photos_as_numpy_does(faces: Path) -> None:
    """The two paths on the same chips: all faces at once, and each alone."""
    import face_recognition

    chips = []
    for image in PHOTOS:
        rgb = load_rgb(faces / image)
        chips.extend(encoder.face_chips(rgb, face_recognition.face_locations(rgb)))
    batch, network = np.stack(chips), encoder_model.network()
    on_numpy, on_onnx = encoder.forward(network, batch), encoder_onnx.forward(network, batch)
    assert on_onnx.shape == on_numpy.shape == (len(PHOTOS) + 1, 128) and on_onnx.dtype == np.float32
    assert np.abs(on_onnx - on_numpy).max() < 1e-5
    alone = np.concatenate([encoder_onnx.forward(network, chip[None]) for chip in batch])
    assert np.abs(alone - on_numpy).max() < 1e-5


@pytest.mark.parametrize("path", ENCODERS)
def test_a_batch_of_faces_encodes_as_each_face_alone(faces: Path, path: str) -> None:
    import face_recognition

    rgb = load_rgb(faces / "two_people.jpg")
    boxes = face_recognition.face_locations(rgb)
    together = encoder.face_encodings(rgb, boxes, encoder=path)
    alone = [encoder.face_encodings(rgb, [box], encoder=path)[0] for box in boxes]
    assert len(together) == 2
    for a, b in zip(together, alone, strict=True):
        assert np.abs(a - b).max() < 1e-5
    assert np.linalg.norm(together[0] - together[1]) > 0.6  # Obama and Biden stay two people
    assert encoder.face_encodings(rgb, []) == []


def test_the_same_person_is_near_and_another_far(faces: Path) -> None:
    from facegate.faces import encode_single_face

    obama, obama2, biden = (encode_single_face(faces / name) for name in ("obama.jpg", "obama2.jpg", "biden.jpg"))
    assert np.linalg.norm(obama - obama2) < 0.6
    assert np.linalg.norm(obama - biden) > 0.6


@pytest.mark.parametrize("damage", ["truncated", "another model", "not a model"])
def test_a_damaged_model_file_is_refused_with_a_clear_error(tmp_path: Path, damage: str) -> None:
    real = encoder_model.model_path()
    bad = tmp_path / "model.dat"
    if damage == "truncated":
        bad.write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    elif damage == "another model":
        bad.write_bytes((real.parent / "shape_predictor_5_face_landmarks.dat").read_bytes())
    else:
        bad.write_bytes(b"\x00" * 4096)
    with pytest.raises(encoder_model.ModelFormatError, match=r"model\.dat"):
        encoder_model.load_network(bad)
