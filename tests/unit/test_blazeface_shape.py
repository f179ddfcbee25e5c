"""BlazeFace on inputs sized to the frame: their shapes, the rewritten models, the fall-back, and the same faces."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.blazeface_input import faces_found, on_sized, on_square
from pipeline.detect import shrink
from pipeline.detectors import blazeface
from pipeline.detectors.blazeface import MODELS, BlazeFace
from pipeline.detectors.blazeface_shape import SizingError, input_shape, sized_model


@pytest.mark.parametrize(
    ("height", "width", "range_name", "expected"),
    [
        (180, 320, "full", (128, 192, 0.6)),  # 16:9 at the pipeline's downscale
        (360, 640, "full", (128, 192, 0.3)),
        (320, 180, "full", (192, 128, 0.6)),  # a camera on its side
        (240, 320, "full", (160, 192, 0.6)),  # 4:3: 144 rows of picture
        (200, 200, "full", (192, 192, 0.96)),  # square: the model's own input
        (10, 1000, "full", (32, 192, 0.192)),  # a strip: one stride of rows at least
        (180, 320, "short", (80, 128, 0.4)),
        (240, 320, "short", (96, 128, 0.4)),
    ],
)
def test_an_input_holds_the_picture_at_the_squares_scale_in_whole_strides(
    height: int, width: int, range_name: str, expected: tuple[int, int, float]
) -> None:
    spec = MODELS[range_name]
    rows, cols, scale = input_shape(height, width, spec.input_size, spec.stride)
    assert (rows, cols) == expected[:2] and scale == pytest.approx(expected[2])


@pytest.mark.parametrize(("range_name", "rows", "cols", "anchors"), [("full", 128, 192, 1536), ("short", 80, 128, 560)])
def test_a_sized_model_takes_its_input_and_gives_an_anchor_per_cell_of_it(
    range_name: str, rows: int, cols: int, anchors: int
) -> None:
    """Full range: a 32x48 grid of one anchor; short: 10x16 cells of two and 5x8 of six."""
    detector = BlazeFace(range_name)
    sized = detector._for_input(rows, cols)
    square = detector._sized[detector.spec.input_size, detector.spec.input_size]
    assert sized is not square and sized.logit_shift == detector.spec.sized_logit_shift < 0
    assert list(sized.interpreter.get_input_details()[0]["shape"]) == [1, rows, cols, 3]
    assert sorted(list(o["shape"]) for o in sized.interpreter.get_output_details()) == [
        [1, anchors, 1],
        [1, anchors, 16],
    ]
    assert len(sized.anchors) == anchors
    first_centre = {"full": 2.0, "short": 4.0}[range_name]  # half of the finest grid's 4 or 8 pixel cell
    assert tuple(sized.anchors[0]) == (first_centre, first_centre)
    assert tuple(sized.anchors[-1]) == (
        cols - first_centre * (1 if range_name == "full" else 2),
        rows - first_centre * (1 if range_name == "full" else 2),
    )


def test_a_model_that_cannot_be_sized_is_refused_with_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    model = blazeface.bundled_model_path("full").read_bytes()
    with pytest.raises(SizingError, match="an upsampling to 12x12 cannot follow a 96x184 input"):
        sized_model(model, 96, 184, size=192, stride=8)  # the 12x12 map's cells are 16 pixels: 184 is 11.5
    with pytest.raises(SizingError, match=r"not a readable \.tflite model"):
        sized_model(b"\x00" * 64, 128, 192, size=192, stride=32)
    # 112 rows fit the upsampling sizes, but the 6x6 map's 32-pixel cells would make 3.5 rows: the interpreter
    # would stretch 4 of them to 7. Refused, and the detector keeps its square.
    with pytest.raises(SizingError, match="a 112x192 input is not made of whole 32-pixel cells within 192x192"):
        sized_model(model, 112, 192, size=192, stride=32)
    detector = BlazeFace("full")
    with caplog.at_level(logging.WARNING, logger="pipeline.detectors.blazeface"):
        assert detector._for_input(112, 192) is detector._sized[192, 192]
    assert "runs at its square input for 192x112" in caplog.text


def test_a_model_that_cannot_be_sized_runs_at_its_square_and_says_so_once(
    faces: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(model: bytes, rows: int, cols: int, *, size: int, stride: int) -> bytes:
        raise SizingError("a layout of its own")

    monkeypatch.setattr(blazeface, "sized_model", refuse)
    detector, square = BlazeFace("full"), on_square("full", 0.5)
    rgb = cv2.cvtColor(cv2.imread(str(faces / "two_people.jpg")), cv2.COLOR_BGR2RGB)
    with caplog.at_level(logging.WARNING, logger="pipeline.detectors.blazeface"):
        for _ in range(3):
            assert detector.locate(rgb) == square.locate(rgb) != []
    assert detector._tensor(rgb)[0].shape == (1, 192, 192, 3)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "runs at its square input" in warnings[0] and "a layout of its own" in warnings[0]


@pytest.fixture(scope="module")
def clip_frames(clip: Path) -> list[np.ndarray]:
    """The clip's 275 frames as detect gives them: shrunk to 320x180, RGB."""
    cap = cv2.VideoCapture(str(clip))
    frames = []
    while len(frames) < 400:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(shrink(frame, 0.5), cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


@pytest.mark.parametrize("range_name", ["full", "short"])
def test_the_sized_input_finds_as_many_faces_on_the_clip_as_the_square(
    clip_frames: list[np.ndarray], range_name: str
) -> None:
    """The logit shift keeps the default threshold's meaning: within 2% of the square's count (full range:
    187 faces in the clip's 275 frames). Unshifted, the sized input finds a fifth fewer (149)."""
    assert len(clip_frames) == 275
    square = faces_found(on_square(range_name, 0.5), clip_frames)
    assert square == {"full": 187, "short": 125}[range_name]
    assert abs(faces_found(on_sized(range_name, 0.5), clip_frames) - square) <= 0.02 * square
    assert faces_found(on_sized(range_name, 0.5, shift=0.0), clip_frames) < 0.9 * square
