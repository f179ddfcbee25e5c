"""Choosing `visitor_threshold`: how far apart sightings of one person are, against sightings of two people.

`python -m bench.visitor_threshold` encodes every face of every 3rd frame of the hamilton clip
(HOG, full size) and the shared photos. A clip face is labelled with the registered person whose
photo is nearest when that is under 0.5 (Lin-Manuel Miranda or Alex Lacamoire), and left out
otherwise; the photos carry their own names (four distinct photos of Obama, one of Biden, Lin,
Alex). Pairs of one person's faces at least 1 s apart in the clip, or from different photos, are
"same"; pairs of different people are "different". For each candidate threshold it prints the
share of same pairs a visitor would join and of different pairs it would wrongly merge, and
writes bench/results/visitor_threshold.json.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import cv2
import numpy as np

from bench.fixtures import CLIP, REPO, faces_dir
from facegate.faces import load_rgb, locate_and_encode

PHOTOS = {
    "obama.jpg": "Obama",
    "obama2.jpg": "Obama",
    "obama3.jpg": "Obama",
    "obama_partial_face.jpg": "Obama",
    "biden.jpg": "Biden",
    "lin-manuel-miranda.png": "Lin",
    "alex-lacamoire.png": "Alex",
}
REFERENCE = {"Lin": "lin-manuel-miranda.png", "Alex": "alex-lacamoire.png"}
LABEL_WITHIN = 0.5
FRAME_STEP = 3
APART_S = 1.0
CANDIDATES = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6)


def clip_faces(faces: Any) -> list[tuple[str, float, np.ndarray]]:
    """(label, seconds, encoding) of the clip's faces near a reference photo."""
    references = {who: locate_and_encode(load_rgb(faces / photo))[0][1] for who, photo in REFERENCE.items()}
    capture = cv2.VideoCapture(str(faces / CLIP))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    found, index = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % FRAME_STEP == 0:
            for _, encoding in locate_and_encode(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)):
                who, distance = min(
                    ((w, float(np.linalg.norm(encoding - r))) for w, r in references.items()), key=lambda item: item[1]
                )
                if distance < LABEL_WITHIN:
                    found.append((who, index / fps, encoding))
        index += 1
    capture.release()
    return found


def pair_distances(
    clip: list[tuple[str, float, np.ndarray]], photos: list[tuple[str, np.ndarray]]
) -> tuple[list[float], list[float]]:
    same, different = [], []
    for (who_a, at_a, enc_a), (who_b, at_b, enc_b) in itertools.combinations(clip, 2):
        distance = float(np.linalg.norm(enc_a - enc_b))
        if who_a != who_b:
            different.append(distance)
        elif abs(at_a - at_b) >= APART_S:
            same.append(distance)
    for (who_a, enc_a), (who_b, enc_b) in itertools.combinations(photos, 2):
        (same if who_a == who_b else different).append(float(np.linalg.norm(enc_a - enc_b)))
    return same, different


def main() -> int:
    faces = faces_dir()
    clip = clip_faces(faces)
    photos = [(who, locate_and_encode(load_rgb(faces / photo))[0][1]) for photo, who in PHOTOS.items()]
    same, different = pair_distances(clip, photos)
    rows = [
        {
            "threshold": t,
            "same_joined": float(np.mean(np.array(same) <= t)),
            "different_merged": float(np.mean(np.array(different) <= t)),
        }
        for t in CANDIDATES
    ]
    print(
        f"{len(clip)} labelled clip faces, {len(photos)} photos: {len(same)} same-person pairs, "
        f"{len(different)} different-person pairs"
    )
    print(
        f"same person: p50 {np.percentile(same, 50):.3f}, p95 {np.percentile(same, 95):.3f}, max {max(same):.3f}; "
        f"different people: min {min(different):.3f}, p5 {np.percentile(different, 5):.3f}"
    )
    print("| visitor_threshold | same-person pairs joined | different-people pairs merged |")
    print("|---|---|---|")
    for row in rows:
        print(f"| {row['threshold']:g} | {row['same_joined']:.1%} | {row['different_merged']:.2%} |")
    out = REPO / "bench" / "results" / "visitor_threshold.json"
    out.write_text(
        json.dumps(
            {"rows": rows, "same": sorted(same), "different_min": min(different), "clip_faces": len(clip)}, indent=2
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
