"""Regions a camera ignores: which face centres fall inside, what a camera may hold, and how the overlay shades them."""

from __future__ import annotations

import numpy as np
import pytest

from facegate.camera import Camera, check_camera
from facegate.regions import MAX_POINTS, MAX_POLYGONS, ignored, inside
from facegate.settings import SettingError, Settings
from pipeline.view.overlay import shade_regions

SQUARE = ((0.6, 0.1), (0.9, 0.1), (0.9, 0.5), (0.6, 0.5))
# a U: its notch (x 0.4..0.6, y below 0.6) is outside, though inside the U's bounding box
U_SHAPE = ((0.2, 0.2), (0.4, 0.2), (0.4, 0.6), (0.6, 0.6), (0.6, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8))


@pytest.mark.parametrize(
    ("x", "y", "polygon", "expected"),
    [
        (0.75, 0.3, SQUARE, True),
        (0.5, 0.3, SQUARE, False),
        (0.75, 0.6, SQUARE, False),
        (0.95, 0.3, SQUARE, False),
        (0.3, 0.5, U_SHAPE, True),
        (0.5, 0.4, U_SHAPE, False),  # in the notch
        (0.5, 0.7, U_SHAPE, True),  # below the notch
        (0.1, 0.5, U_SHAPE, False),
        (0.5, 0.5, ((0, 0), (1, 0), (1, 1), (0, 1)), True),
    ],
)
def test_a_point_is_inside_a_polygon_by_the_even_odd_rule(x: float, y: float, polygon: tuple, expected: bool) -> None:
    assert inside(x, y, polygon) is expected


def test_a_face_is_ignored_when_its_box_centre_lies_in_a_region() -> None:
    height, width = 360, 640
    in_square = (72, 544, 144, 480)  # centre (512, 108): x 0.8, y 0.3
    straddling = (72, 420, 144, 340)  # centre (380, 108): x 0.59, the box reaches into the square but not its centre
    assert ignored(in_square, height, width, (SQUARE,))
    assert not ignored(straddling, height, width, (SQUARE,))
    assert not ignored(in_square, height, width, ())
    assert ignored(straddling, height, width, (U_SHAPE, SQUARE)) is inside(380 / 640, 108 / 360, U_SHAPE)


def _refusal(regions: object) -> str:
    with pytest.raises(SettingError) as refused:
        check_camera({"id": "door", "stream_url": "rtsp://door.local/live", "ignore_regions": regions})
    return str(refused.value)


def test_bad_regions_are_refused_naming_the_polygon_and_the_point() -> None:
    square = [list(p) for p in SQUARE]
    assert "ignore_regions[0]: a polygon needs at least 3 points" in _refusal([square[:2]])
    assert "ignore_regions[1][2]: a point must be [x, y], each in [0, 1]" in _refusal([square, [*square[:2], [1.5, 0]]])
    assert "ignore_regions[0][0]" in _refusal([[[-0.1, 0], *square[1:]]])
    assert "ignore_regions[0][1]" in _refusal([[[0, 0], [0.5], [1, 1]]])
    assert "ignore_regions[0][2]" in _refusal([[[0, 0], [1, 0], [True, 1]]])
    assert f"at most {MAX_POLYGONS} polygons" in _refusal([square] * (MAX_POLYGONS + 1))
    assert f"ignore_regions[0]: a polygon has at most {MAX_POINTS} points" in _refusal(
        [[[i / 40, 0.5] for i in range(MAX_POINTS + 1)]]
    )
    assert "must be a list of polygons" in _refusal({"x": 1})


def test_regions_and_the_smallest_face_are_kept_through_the_json_form() -> None:
    body = {"id": "door", "stream_url": "rtsp://door.local/live", "ignore_regions": [[[0, 0], [1, 0], [1, 1]]]}
    camera = check_camera({**body, "min_face_px": 90})
    assert camera.ignore_regions == (((0.0, 0.0), (1.0, 0.0), (1.0, 1.0)),)
    assert Camera.from_dict(camera.to_dict()) == camera
    plain = check_camera({"id": "hall", "stream_url": "rtsp://hall.local/live"})
    assert set(plain.to_dict()) == {"id", "stream_url", "name", "enabled"}
    settings = Settings.of({"min_face_px": 40, "cameras": [camera.to_dict(), plain.to_dict()]})
    assert settings.own_or_global("min_face_px", settings.camera("door")) == 90
    assert settings.own_or_global("min_face_px", settings.camera("hall")) == 40
    assert settings.own_or_global("min_face_px", None) == 40


def test_the_overlay_shades_the_regions_and_nothing_else() -> None:
    frame = np.full((360, 640, 3), 250, np.uint8)
    shaded = shade_regions(frame.copy(), (SQUARE,))
    changed = np.abs(shaded.astype(int) - frame.astype(int)).max(axis=2) > 30
    assert changed[108, 512] and changed[60, 420] and changed[170, 570]  # inside the square, near its corners
    assert not changed[108, 300] and not changed[300, 512] and not changed[20, 620]  # outside it
    assert changed.sum() == pytest.approx(0.3 * 640 * 0.4 * 360, rel=0.05)
    assert (shade_regions(frame.copy(), ()) == frame).all()
