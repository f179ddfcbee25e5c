"""The detectors behind make_detector: BlazeFace finds and names the photos' faces as HOG does; bad model files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.blazeface_input import padded_first
from facegate import dlib_models
from facegate.faces import encode_single_face, load_rgb
from pipeline.detectors.blazeface import bundled_model_path
from pipeline.detectors.factory import make_detector
from pipeline.detectors.locator import DetectorOptions, ModelFileError

REPO = Path(__file__).resolve().parents[2]
LIN, ALEX, UNKNOWN = "Lin-Manuel Miranda", "Alex Lacamoire", "Unknown"
EXPECTED = {
    "lin-manuel-miranda.png": [LIN],
    "alex-lacamoire.png": [ALEX],
    "obama.jpg": [UNKNOWN],
    "obama2.jpg": [UNKNOWN],
    "obama-480p.jpg": [UNKNOWN],
    "obama-1080p.jpg": [UNKNOWN],
    "obama_small.jpg": [UNKNOWN],
    "biden.jpg": [UNKNOWN],
    "two_people.jpg": [UNKNOWN, UNKNOWN],
}


@pytest.fixture(scope="module")
def gallery(faces: Path) -> tuple[np.ndarray, list[str]]:
    """Lin and Alex encoded from their photos with HOG, as `register` does."""
    return (
        np.array(
            [encode_single_face(faces / "lin-manuel-miranda.png"), encode_single_face(faces / "alex-lacamoire.png")]
        ),
        [LIN, ALEX],
    )


def names_of(rgb: np.ndarray, boxes: list, gallery: tuple[np.ndarray, list[str]]) -> list[str]:
    import face_recognition

    known, names = gallery
    found = []
    for encoding in face_recognition.face_encodings(rgb, boxes):
        distances = np.linalg.norm(known - encoding, axis=1)
        found.append(names[int(np.argmin(distances))] if distances.min() <= 0.6 else UNKNOWN)
    return found


def overlap(a: tuple, b: tuple) -> float:
    top, bottom, left, right = max(a[0], b[0]), min(a[2], b[2]), max(a[3], b[3]), min(a[1], b[1])
    inter = max(bottom - top, 0) * max(right - left, 0)
    return inter / ((a[2] - a[0]) * (a[1] - a[3]) + (b[2] - b[0]) * (b[1] - b[3]) - inter)


@pytest.mark.parametrize("blazeface_range", ["full", "short"])
def test_blazeface_finds_and_names_every_face_hog_finds_on_the_photos(
    faces: Path, gallery: tuple[np.ndarray, list[str]], blazeface_range: str
) -> None:
    hog = make_detector("hog")
    blaze = make_detector("blazeface", DetectorOptions(blazeface_range=blazeface_range))
    for image, expected in EXPECTED.items():
        rgb = load_rgb(faces / image)
        hog_boxes, blaze_boxes = hog.locate(rgb), blaze.locate(rgb)
        assert len(hog_boxes) == len(expected), image
        assert len(blaze_boxes) == len(expected), (image, blaze_boxes)
        left_to_right = sorted(blaze_boxes, key=lambda b: b[3])
        for hog_box, blaze_box in zip(sorted(hog_boxes, key=lambda b: b[3]), left_to_right, strict=True):
            assert overlap(hog_box, blaze_box) >= 0.5, (image, hog_box, blaze_box)
        assert sorted(names_of(rgb, left_to_right, gallery)) == sorted(expected), image


def test_blazeface_boxes_are_in_the_small_images_pixels(faces: Path) -> None:
    rgb = load_rgb(faces / "obama-1080p.jpg")
    full = make_detector("blazeface").locate(rgb)
    half = make_detector("blazeface").locate(rgb[::2, ::2].copy())
    assert len(full) == len(half) == 1
    assert all(abs(f / 2 - h) <= 4 for f, h in zip(full[0], half[0], strict=True)), (full, half)


def test_a_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "face.tflite"
    with pytest.raises(ModelFileError, match=r"face detector model .*nowhere/face\.tflite: no such file") as caught:
        make_detector("blazeface", DetectorOptions(model_path=missing))
    assert caught.value.path == missing


def test_a_corrupt_model_file_is_a_clear_error(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(bundled_model_path("full").read_bytes()[:5000])
    with pytest.raises(ModelFileError, match=r"corrupt\.tflite: not a usable \.tflite model") as caught:
        make_detector("blazeface", DetectorOptions(model_path=corrupt))
    assert caught.value.path == corrupt
    assert "\n" not in str(caught.value)


def test_a_model_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    short = bundled_model_path("short")
    with pytest.raises(ModelFileError, match="not a BlazeFace full-range model"):
        make_detector("blazeface", DetectorOptions(model_path=short, blazeface_range="full"))


def test_unknown_detectors_and_options_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown detector 'yolo'; use one of hog, cnn, blazeface"):
        make_detector("yolo")
    with pytest.raises(ValueError, match="blazeface_range must be one of full, short"):
        DetectorOptions(blazeface_range="medium")
    with pytest.raises(ValueError, match="min_score"):
        DetectorOptions(min_score=1.5)


@pytest.mark.parametrize("upsample", [0, 1])
def test_dlibs_locations_are_face_recognitions_on_every_photo(faces: Path, upsample: int) -> None:
    import face_recognition

    checked = 0
    for name in EXPECTED:
        rgb = load_rgb(faces / name)
        ours = dlib_models.face_locations(rgb, upsample=upsample, model="hog")
        assert ours == face_recognition.face_locations(rgb, number_of_times_to_upsample=upsample, model="hog"), name
        checked += len(ours)
    assert checked >= len(EXPECTED) - 2  # faces were found (two small photos have none at upsample 0)


def test_a_dlib_box_past_the_edge_is_clipped_to_the_image(faces: Path) -> None:
    rgb = load_rgb(faces / "obama_partial_face.jpg")
    (box,) = dlib_models.face_locations(rgb)
    top, right, bottom, left = box
    assert 0 <= top < bottom <= rgb.shape[0] and 0 <= left < right <= rgb.shape[1]
    assert 0 in (top, left) or right == rgb.shape[1] or bottom == rgb.shape[0], box


def test_the_stages_never_load_face_recognitions_unused_models() -> None:
    """The forkserver's preload (every stage module, the models the stages use) leaves face_recognition out:
    its import would load the 68-point landmark model the container image does not ship."""
    script = "import sys, pipeline.supervision.preload; print('face_recognition' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-2000:]


@pytest.mark.parametrize(("blazeface_range", "rows", "cols"), [("full", 128, 192), ("short", 80, 128)])
def test_blazeface_shrinks_before_padding_and_gets_the_squares_middle_rows(
    faces: Path, blazeface_range: str, rows: int, cols: int
) -> None:
    """A 16:9 frame's input is the middle rows of the square it was letterboxed into before
    (pipeline/detectors/blazeface_shape.py), built by shrinking first."""
    import cv2

    blaze = make_detector("blazeface", DetectorOptions(blazeface_range=blazeface_range))
    cap = cv2.VideoCapture(str(faces / "short_hamilton_clip.mp4"))
    ok, frame = cap.read()
    cap.release()
    assert ok
    for rgb in (frame, cv2.resize(frame, (320, 180), interpolation=cv2.INTER_AREA)):  # the pipeline's downscale
        tensor, scale, pad_top, pad_left = blaze._tensor(rgb)  # type: ignore[attr-defined]
        size = blaze.spec.input_size  # type: ignore[attr-defined]
        assert tensor.shape == (1, rows, cols, 3) and scale == size / rgb.shape[1]
        inner_rows = round(rgb.shape[0] * scale)  # 108 of 128 rows (full), 72 of 80 (short)
        assert (pad_top, pad_left) == ((rows - inner_rows) // 2 / scale, 0)  # in the frame's pixels
        first = (size - rows) // 2
        assert np.abs(tensor[0] - padded_first(rgb, size)[first : first + rows]).max() <= 1e-6
