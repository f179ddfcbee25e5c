"""Regions a camera ignores: polygons in frame-relative coordinates, checked once and asked of each face.

A camera's `ignore_regions` (facegate/camera.py) hold a poster, a TV or a mirror that keeps being
"recognized": a face whose box centre lies inside one is dropped right after detection, before it
is encoded (pipeline/detect.py), so it is never matched, stored or sent, and the overlay shades the
regions (pipeline/view/overlay.py). Coordinates are fractions of the frame's width (x) and height (y),
so the regions survive a change of the stream's resolution. `Polygons` is the setting kind: its
check names the polygon and the point at fault, its schema says the same bounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from facegate.setting_kinds import Kind, Schema, SettingError

Point = tuple[float, float]
Polygon = tuple[Point, ...]
Regions = tuple[Polygon, ...]

MIN_POINTS = 3
MAX_POINTS = 32
MAX_POLYGONS = 16


def inside(x: float, y: float, polygon: Sequence[Point]) -> bool:
    """Whether (x, y) lies inside the polygon (even-odd rule; a point on an edge may fall either way)."""
    found = False
    j = len(polygon) - 1
    for i, (xi, yi) in enumerate(polygon):
        xj, yj = polygon[j]
        if (yi > y) != (yj > y) and x < xi + (y - yi) * (xj - xi) / (yj - yi):
            found = not found
        j = i
    return found


def ignored(box: tuple[int, int, int, int], height: int, width: int, regions: Regions) -> bool:
    """Whether a face box (top, right, bottom, left, in pixels of a `width` x `height` frame) has its centre
    inside one of the regions."""
    if not regions or height <= 0 or width <= 0:
        return False
    top, right, bottom, left = box
    x, y = (left + right) / 2 / width, (top + bottom) / 2 / height
    return any(inside(x, y, polygon) for polygon in regions)


def _coordinate(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if 0.0 <= value <= 1.0 else None


def _polygon(name: str, value: Any) -> Polygon:
    if not isinstance(value, list | tuple):
        raise SettingError(f"{name}: a polygon must be a list of [x, y] points")
    if len(value) < MIN_POINTS:
        raise SettingError(f"{name}: a polygon needs at least {MIN_POINTS} points")
    if len(value) > MAX_POINTS:
        raise SettingError(f"{name}: a polygon has at most {MAX_POINTS} points")
    points = []
    for i, point in enumerate(value):
        xy = [_coordinate(v) for v in point] if isinstance(point, list | tuple) and len(point) == 2 else None
        if xy is None or xy[0] is None or xy[1] is None:
            raise SettingError(f"{name}[{i}]: a point must be [x, y], each in [0, 1] (a fraction of the frame)")
        points.append((xy[0], xy[1]))
    return tuple(points)


@dataclass(frozen=True)
class Polygons(Kind):
    """At most MAX_POLYGONS polygons of MIN_POINTS to MAX_POINTS [x, y] points, each coordinate in [0, 1]."""

    python_type = tuple

    def check(self, name: str, value: Any) -> Regions:
        if not isinstance(value, list | tuple):
            raise SettingError(f"{name} must be a list of polygons")
        if len(value) > MAX_POLYGONS:
            raise SettingError(f"{name}: at most {MAX_POLYGONS} polygons")
        return tuple(_polygon(f"{name}[{i}]", polygon) for i, polygon in enumerate(value))

    def schema(self) -> Schema:
        coordinate = {"type": "number", "minimum": 0, "maximum": 1}
        point = {"type": "array", "items": coordinate, "minItems": 2, "maxItems": 2}
        polygon = {"type": "array", "items": point, "minItems": MIN_POINTS, "maxItems": MAX_POINTS}
        return {"type": "array", "items": polygon, "maxItems": MAX_POLYGONS}

    def load(self, value: Any) -> Regions:
        return tuple(tuple((float(x), float(y)) for x, y in polygon) for polygon in value or ())

    def dump(self, value: Any) -> list[list[list[float]]]:
        return [[[x, y] for x, y in polygon] for polygon in value or ()]

    def takes(self) -> str:
        return f"up to {MAX_POLYGONS} polygons of {MIN_POINTS}-{MAX_POINTS} [x, y] points in [0, 1]"

    def samples(self) -> list[Any]:
        square = [[0.6, 0.1], [0.9, 0.1], [0.9, 0.5], [0.6, 0.5]]
        return [
            [],
            [square],
            [[[0, 0], [1, 0], [1, 1]]],
            [square[:2]],
            [[*square[:3], [1.5, 0.5]]],
            [[[0, 0], [1, 0], [-0.1, 1]]],
            [[[0, 0], [1, 0], [1]]],
            [[[0, 0], [1, 0], [1, 1, 1]]],
            [[[0, 0], [1, 0], ["1", 1]]],
            [[[0, 0], [1, 0], [True, 1]]],
            [[[i / 40, 0.5] for i in range(MAX_POINTS + 1)]],
            [square] * MAX_POLYGONS,
            [square] * (MAX_POLYGONS + 1),
            [[]],
            [3],
            {},
            "x",
            None,
        ]
