"""`python -m bench.blazeface_fit`: fit the BlazeFace-to-dlib box mapping on the shared photos.

Each photo is also shrunk until its face is 90, 60 and 40 pixels wide, the sizes of the clip's
faces at downscale 0.5, since HOG's box relative to the face changes with its size.

For every face both HOG and BlazeFace find on a photo (matched by overlap, faces cut by the
photo's edge left out), the mapping's four numbers are the medians of: centre offset over the
BlazeFace box size (x, y) and the size ratios (width, height). It prints them, ready for
`CALIBRATED` in pipeline/detectors/blazeface.py, and, per face, the distance between the encoding
from the mapped BlazeFace box and the one from the HOG box, before and after the fit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from bench.fixtures import faces_dir

PHOTOS = (
    "alex-lacamoire.png",
    "biden.jpg",
    "lin-manuel-miranda.png",
    "obama-1080p.jpg",
    "obama-480p.jpg",
    "obama-720p.jpg",
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "obama_small.jpg",
    "two_people.jpg",
)


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Overlap of two (top, right, bottom, left) boxes."""
    top, bottom = max(a[0], b[0]), min(a[2], b[2])
    left, right = max(a[3], b[3]), min(a[1], b[1])
    inter = max(bottom - top, 0) * max(right - left, 0)
    area = (a[2] - a[0]) * (a[1] - a[3]) + (b[2] - b[0]) * (b[1] - b[3]) - inter
    return inter / area if area > 0 else 0.0


@dataclass(frozen=True)
class Pair:
    """One face as HOG boxed it and as BlazeFace (unmapped) boxed it, in one image."""

    image: str
    hog: tuple[int, int, int, int]
    cx: float
    cy: float
    w: float
    h: float


def pairs_on(image: str, rgb: np.ndarray, hog, blaze) -> list[Pair]:
    """Faces both find, matched by the best overlap of HOG's box with BlazeFace's own (unmapped) box."""
    from pipeline.detectors.blazeface import IDENTITY

    height, width = rgb.shape[:2]
    raw = blaze.locate_raw(rgb)
    found = []
    for box in hog.locate(rgb):
        scored = [(box_iou(box, IDENTITY.apply(f.cx, f.cy, f.w, f.h, height, width)), f) for f in raw]
        best = max(scored, default=(0.0, None), key=lambda s: s[0])
        if best[1] is not None and best[0] >= 0.3:
            f = best[1]
            found.append(Pair(image, box, f.cx, f.cy, f.w, f.h))
    return found


FACE_WIDTHS = (40, 60, 90, 0)  # HOG face width in pixels the photo is shrunk to (0: as it is): clip faces are 25-60


def at_face_widths(rgb: np.ndarray, hog) -> list[tuple[int, np.ndarray]]:
    """The photo at the sizes where its (first) HOG face is FACE_WIDTHS wide: the clip's faces are small."""
    boxes = hog.locate(rgb)
    if not boxes:
        return []
    face_width = boxes[0][1] - boxes[0][3]
    shrunk = [(0, rgb)]
    for width in FACE_WIDTHS:
        if 0 < width < face_width:
            factor = width / face_width
            shrunk.append((width, cv2.resize(rgb, (0, 0), fx=factor, fy=factor, interpolation=cv2.INTER_AREA)))
    return shrunk


def fit(pairs: list[Pair]):
    """The median mapping over `pairs`: centre offset as a fraction of BlazeFace's size, and size ratios."""
    from pipeline.detectors.blazeface import BoxMapping

    dx = [((p.hog[1] + p.hog[3]) / 2 - p.cx) / p.w for p in pairs]
    dy = [((p.hog[0] + p.hog[2]) / 2 - p.cy) / p.h for p in pairs]
    sw = [(p.hog[1] - p.hog[3]) / p.w for p in pairs]
    sh = [(p.hog[2] - p.hog[0]) / p.h for p in pairs]
    return BoxMapping(*(round(statistics.median(v), 3) for v in (dx, dy, sw, sh)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=None, help="folder of the shared photos")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import face_recognition

    from facegate.faces import load_rgb
    from pipeline.detectors.blazeface import IDENTITY
    from pipeline.detectors.factory import make_detector
    from pipeline.detectors.locator import DetectorOptions

    folder = args.faces or faces_dir()
    hog = make_detector("hog")
    for range_name in ("full", "short"):
        blaze = make_detector("blazeface", DetectorOptions(blazeface_range=range_name))
        images = {}
        for name in PHOTOS:
            for width, rgb in at_face_widths(load_rgb(folder / name), hog):
                images[f"{name}@{width}"] = rgb
        pairs = []
        for name, rgb in images.items():
            height, width = rgb.shape[:2]
            pairs += [
                p
                for p in pairs_on(name, rgb, hog, blaze)
                if p.hog[0] > 0 and p.hog[3] > 0 and p.hog[2] < height and p.hog[1] < width
            ]
        mapping = fit(pairs)
        print(f"{range_name}-range: {len(pairs)} faces -> {mapping}")
        for label, used in (("unmapped", IDENTITY), ("fitted", mapping)):
            distances = []
            for p in pairs:
                rgb = images[p.image]
                mapped = used.apply(p.cx, p.cy, p.w, p.h, *rgb.shape[:2])
                a, b = face_recognition.face_encodings(rgb, [p.hog, mapped])
                distances.append(float(np.linalg.norm(a - b)))
            print(
                f"  {label:9s} encoding distance to the HOG box's: median {statistics.median(distances):.3f}, "
                f"max {max(distances):.3f}  ({' '.join(f'{d:.3f}' for d in distances)})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
