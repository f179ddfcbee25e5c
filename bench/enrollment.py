"""Calibrating enrollment's refusals on the shared photos: the blur floor and the near-duplicate distance.

`python -m bench.enrollment` prints, for every face of the shared photos, its sharpness
(facegate/enrollment.sharpness: variance of the Laplacian at 128 px square) as it is and blurred
by a Gaussian of sigma 1%, 2% and 3% of the face's width, and then the encoding distances of each
photo to a copy of itself (at 3/4 size, saved again as JPEG quality 70: a near-duplicate) against the
distances between different photos of the same person (the four distinct Obama photos). It checks
the chosen BLUR_FLOOR and DUPLICATE_DISTANCE against them and writes bench/results/enrollment.json.
"""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from bench.fixtures import REPO, faces_dir
from facegate.enrollment import BLUR_FLOOR, DUPLICATE_DISTANCE, sharpness
from facegate.faces import load_rgb, locate_and_encode

PHOTOS = (
    "32bit.png",
    "alex-lacamoire.png",
    "biden.jpg",
    "lin-manuel-miranda.png",
    "obama-1080p.jpg",
    "obama-480p.jpg",
    "obama-720p.jpg",
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "obama_partial_face.jpg",
    "obama_small.jpg",
    "two_people.jpg",
)
DISTINCT_OBAMA = ("obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg")
BLUR_SIGMAS = (0.01, 0.02, 0.03)  # of the face width


def recompressed(rgb: np.ndarray) -> np.ndarray:
    """The photo at three quarters of its size, saved as JPEG quality 70 and read back: a re-upload."""
    small = Image.fromarray(rgb).resize((max(1, rgb.shape[1] * 3 // 4), max(1, rgb.shape[0] * 3 // 4)))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=70)
    return load_rgb(buffer.getvalue())


def sharpness_rows(faces: Path) -> list[dict[str, Any]]:
    rows = []
    for photo in PHOTOS:
        rgb = load_rgb(faces / photo)
        for index, (box, _) in enumerate(locate_and_encode(rgb)):
            width = box[1] - box[3]
            row: dict[str, Any] = {"photo": photo, "face": index, "width": width, "sharp": sharpness(rgb, box)}
            for sigma in BLUR_SIGMAS:
                blurred = cv2.GaussianBlur(rgb, (0, 0), sigma * width)
                row[f"blur_{sigma:g}"] = sharpness(blurred, box)
            rows.append(row)
    return rows


def duplicate_distances(faces: Path) -> dict[str, list[float]]:
    copies = []
    for photo in PHOTOS:
        rgb = load_rgb(faces / photo)
        original, again = locate_and_encode(rgb), locate_and_encode(recompressed(rgb))
        if len(original) == 1 and len(again) == 1:
            copies.append(float(np.linalg.norm(original[0][1] - again[0][1])))
    encodings = [locate_and_encode(load_rgb(faces / photo))[0][1] for photo in DISTINCT_OBAMA]
    different = [float(np.linalg.norm(a - b)) for a, b in itertools.combinations(encodings, 2)]
    return {"copies": copies, "different_photos": different}


def main() -> int:
    faces = faces_dir()
    rows = sharpness_rows(faces)
    print("| photo | face px | sharpness | blurred 1% | 2% | 3% |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['photo']}#{row['face']} | {row['width']} | {row['sharp']:.0f} | "
            + " | ".join(f"{row[f'blur_{s:g}']:.0f}" for s in BLUR_SIGMAS)
            + " |"
        )
    sharp = [r["sharp"] for r in rows]
    blurred = {s: [r[f"blur_{s:g}"] for r in rows] for s in BLUR_SIGMAS}
    distances = duplicate_distances(faces)
    summary = {
        "blur_floor": BLUR_FLOOR,
        "least_sharp_photo": min(sharp),
        "refused_at_floor": {f"{s:g}": sum(v < BLUR_FLOOR for v in blurred[s]) for s in BLUR_SIGMAS},
        "faces": len(rows),
        "sharpest_blurred_2pct": max(blurred[0.02]),
        "duplicate_distance": DUPLICATE_DISTANCE,
        "copy_distance_max": max(distances["copies"]),
        "different_photo_distance_min": min(distances["different_photos"]),
    }
    print(
        f"\nblur floor {BLUR_FLOOR:g}: every photo passes (least sharp {min(sharp):.0f}); refused when blurred by "
        + ", ".join(f"{s:.0%}: {summary['refused_at_floor'][f'{s:g}']}/{len(rows)}" for s in BLUR_SIGMAS)
    )
    print(
        f"near-duplicate distance {DUPLICATE_DISTANCE:g}: a re-saved copy is at most "
        f"{summary['copy_distance_max']:.3f}, a different photo of the same person at least "
        f"{summary['different_photo_distance_min']:.3f}"
    )
    out = REPO / "bench" / "results" / "enrollment.json"
    out.write_text(json.dumps({"summary": summary, "faces": rows, "distances": distances}, indent=2) + "\n")
    ok = (
        min(sharp) >= BLUR_FLOOR
        and max(blurred[0.02]) < BLUR_FLOOR
        and summary["copy_distance_max"] <= DUPLICATE_DISTANCE < summary["different_photo_distance_min"]
    )
    print("the chosen figures separate both groups" if ok else "THE CHOSEN FIGURES DO NOT SEPARATE THE GROUPS")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
