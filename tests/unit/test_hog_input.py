"""HOG on the frame's grey (the pipeline's default) finds the faces HOG on its colours (the old script's) finds."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from facegate.faces import load_rgb
from facegate.settings import Settings
from pipeline.detect import shrink
from pipeline.detectors.factory import make_detector, options_from
from pipeline.detectors.locator import DetectorOptions
from pipeline.transport.track_hints import iou

PHOTOS = [  # the shared photos up to 1.2 megapixels (a look at biden.jpg, upsampled, takes a second)
    "lin-manuel-miranda.png",
    "alex-lacamoire.png",
    "obama.jpg",
    "obama2.jpg",
    "obama-480p.jpg",
    "obama-720p.jpg",
    "obama_small.jpg",
    "obama_partial_face.jpg",
    "two_people.jpg",
]


def colour_and_grey() -> tuple:
    return make_detector("hog", DetectorOptions(hog_input="colour")), make_detector("hog", DetectorOptions())


def partners(colour: list, grey: list) -> list[float]:
    """For each face HOG on colour found, the best overlap of a face HOG on grey found."""
    return [max((iou(c, g) for g in grey), default=0.0) for c in colour]


def test_the_pipeline_looks_at_grey_unless_told_colour() -> None:
    assert Settings().hog_input == "grey"
    assert options_from(Settings()).hog_input == "grey"
    assert make_detector("hog", options_from(Settings())).grey
    assert not make_detector("hog", options_from(Settings(hog_input="colour"))).grey
    assert not make_detector("cnn", DetectorOptions(hog_input="grey")).grey  # the CNN takes colour only
    with pytest.raises(ValueError, match="hog_input must be one of grey, colour, not 'sepia'"):
        DetectorOptions(hog_input="sepia")


def test_hog_on_colour_is_the_old_scripts_detector(faces: Path) -> None:
    import face_recognition

    colour, _ = colour_and_grey()
    for name in PHOTOS:
        rgb = load_rgb(faces / name)
        assert colour.locate(rgb) == face_recognition.face_locations(rgb), name


def test_hog_on_grey_finds_the_faces_of_every_photo(faces: Path) -> None:
    colour, grey = colour_and_grey()
    found = 0
    for name in PHOTOS:
        rgb = load_rgb(faces / name)
        on_colour, on_grey = colour.locate(rgb), grey.locate(rgb)
        assert len(on_grey) == len(on_colour), name
        assert all(best >= 0.5 for best in partners(on_colour, on_grey)), (name, on_colour, on_grey)
        found += len(on_grey)
    assert found == len(PHOTOS) + 1  # two_people.jpg has two


def test_hog_on_grey_finds_every_face_of_the_clip_that_colour_finds(clip: Path) -> None:
    """Every fifth frame of the clip as the detect stage shrinks it (0.5): nothing colour finds is missed, most
    boxes are the very same, and grey finds a few faces more (someone in the audience, frames 227-248)."""
    colour, grey = colour_and_grey()
    cap = cv2.VideoCapture(str(clip))
    on_colour, on_grey, frames = [], [], 0
    try:
        for index in range(300):
            ok, frame = cap.read()
            if not ok:
                break
            if index % 5 == 0:
                rgb = shrink(frame, 0.5)
                on_colour.append(colour.locate(rgb))
                on_grey.append(grey.locate(rgb))
                frames += 1
    finally:
        cap.release()
    assert frames == 55
    best = [b for c, g in zip(on_colour, on_grey, strict=True) for b in partners(c, g)]
    assert len(best) == sum(map(len, on_colour)) == 27
    assert best == [1.0] * 27  # on these frames, every box the very same (on all 275: 119 of 135, the rest >= 0.3)
    assert sum(map(len, on_grey)) == 29
