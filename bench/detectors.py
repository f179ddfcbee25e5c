"""`python -m bench.detectors`: HOG on colour (the old script's) against HOG on grey and BlazeFace (short and
full range) on the shared clip and photos.

Lin-Manuel Miranda and Alex Lacamoire are encoded from their photos with HOG, as `register` does.
Then, per detector, every frame of the clip is shrunk as the detect stage shrinks it (downscale
0.5, BGR to RGB), located (timed alone: ms/frame), every face found is encoded from its box and
named as the old loop names (nearest within the threshold). The figures the issue asks for:
frames naming Lin (at least HOG's), faces whose name disagrees with HOG's on the same face (a wrong
name), and for faces both find, the distance between the encoding from the detector's box and the
one from HOG's box (median at most 0.07). The photos get the same check: every face HOG finds is
found, and named the same.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from bench.blazeface_fit import PHOTOS, box_iou
from bench.fixtures import CLIP, DOWNSCALE, LIN, PEOPLE, THRESHOLD, faces_dir
from bench.loop import UNKNOWN, name_face

MATCH_IOU = 0.3  # two boxes are the same face when they overlap this much


@dataclass
class Row:
    """One detector's figures on the clip."""

    detector: str
    ms_per_frame_p50: float = 0.0
    ms_per_frame_mean: float = 0.0
    faces: int = 0
    frames_naming_lin: int = 0
    names: dict[str, int] = field(default_factory=dict)
    shared_with_hog: int = 0
    missed_vs_hog: int = 0
    name_differs_from_hog: int = 0
    extra_faces_named: int = 0
    extra_named: list[str] = field(default_factory=list)  # "frame name" of each, for a person to check by eye
    differs: list[str] = field(default_factory=list)  # "frame HOG's name -> this one's"
    distance_to_hog_median: float | None = None
    distance_to_hog_p90: float | None = None
    photos_missed_vs_hog: int = 0
    photos_name_differs: int = 0


def read_frames(clip: Path, downscale: float) -> list[np.ndarray]:
    """Every frame of the clip as the detect stage sees it: shrunk, RGB."""
    from pipeline.detect import shrink

    cap = cv2.VideoCapture(str(clip))
    frames = []
    try:
        while len(frames) < 10_000:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(shrink(frame, downscale))
    finally:
        cap.release()
    if not frames:
        raise RuntimeError(f"{clip}: no frames")
    return frames


def detectors() -> dict[str, object]:
    from pipeline.detectors.factory import make_detector
    from pipeline.detectors.locator import DetectorOptions

    return {  # "hog" first: the old script's detector (colour), the reference every other row is compared with
        "hog": make_detector("hog", DetectorOptions(hog_input="colour")),
        "hog-grey": make_detector("hog", DetectorOptions(hog_input="grey")),
        "blazeface-short": make_detector("blazeface", DetectorOptions(blazeface_range="short")),
        "blazeface-full": make_detector("blazeface", DetectorOptions(blazeface_range="full")),
    }


def label(rgb: np.ndarray, boxes: list, known: np.ndarray, names: list[str]) -> list[tuple[tuple, str, np.ndarray]]:
    """Each box with its name and encoding."""
    import face_recognition

    encodings = face_recognition.face_encodings(rgb, boxes) if boxes else []
    return [
        (tuple(box), name_face(face_recognition.face_distance(known, enc), names, THRESHOLD)[0], enc)
        for box, enc in zip(boxes, encodings, strict=True)
    ]


def pair_up(reference: list, other: list) -> tuple[list[tuple], list, list]:
    """Faces of `other` matched to `reference` ones by best overlap: (pairs, unmatched reference, unmatched other)."""
    pairs, left = [], list(other)
    missed = []
    for ref in reference:
        best = max(left, default=None, key=lambda o: box_iou(ref[0], o[0]))
        if best is not None and box_iou(ref[0], best[0]) >= MATCH_IOU:
            pairs.append((ref, best))
            left.remove(best)
        else:
            missed.append(ref)
    return pairs, missed, left


def measure(clip: Path, faces: Path, *, downscale: float = DOWNSCALE, repeats: int = 1) -> list[Row]:
    """The table's rows: one per detector."""
    import face_recognition

    from facegate.faces import encode_single_face, load_rgb

    known = np.array([encode_single_face(faces / image) for _, image in PEOPLE])
    names = [name for name, _ in PEOPLE]
    frames = read_frames(clip, downscale)
    located: dict[str, list[list]] = {}
    rows: dict[str, Row] = {}
    for name, detector in detectors().items():
        detector.locate(frames[0])  # warm-up: first-call allocations are not a frame's cost
        timings = []
        for _ in range(repeats):
            boxes = []
            for rgb in frames:
                started = time.perf_counter()
                boxes.append(detector.locate(rgb))
                timings.append((time.perf_counter() - started) * 1000.0)
        located[name] = boxes
        rows[name] = Row(name, round(statistics.median(timings), 2), round(statistics.fmean(timings), 2))
    labelled = {
        name: [label(rgb, boxes, known, names) for rgb, boxes in zip(frames, per_frame, strict=True)]
        for name, per_frame in located.items()
    }
    for name, row in rows.items():
        distances = []
        for index, (rgb, hog_faces, faces_here) in enumerate(zip(frames, labelled["hog"], labelled[name], strict=True)):
            row.faces += len(faces_here)
            row.frames_naming_lin += any(n == LIN for _, n, _ in faces_here)
            for _, n, _ in faces_here:
                row.names[n] = row.names.get(n, 0) + 1
            pairs, missed, extra = pair_up(hog_faces, faces_here)
            row.shared_with_hog += len(pairs)
            row.missed_vs_hog += len(missed)
            row.extra_named += [f"{index} {n}" for _, n, _ in extra if n != UNKNOWN]
            row.extra_faces_named = len(row.extra_named)
            for (hog_box, hog_name, _), (_, own_name, own_enc) in pairs:
                if own_name != hog_name:
                    row.differs.append(f"{index} {hog_name} -> {own_name}")
                row.name_differs_from_hog = len(row.differs)
                hog_enc = face_recognition.face_encodings(rgb, [hog_box])[0]
                distances.append(float(np.linalg.norm(hog_enc - own_enc)))
        if distances:
            row.distance_to_hog_median = round(statistics.median(distances), 3)
            row.distance_to_hog_p90 = round(float(np.percentile(distances, 90)), 3)
    detectors_again = detectors()
    for image in PHOTOS:
        rgb = load_rgb(faces / image)
        hog_faces = label(rgb, detectors_again["hog"].locate(rgb), known, names)
        for name, detector in detectors_again.items():
            pairs, missed, _ = pair_up(hog_faces, label(rgb, detector.locate(rgb), known, names))
            rows[name].photos_missed_vs_hog += len(missed)
            rows[name].photos_name_differs += sum(a[1] != b[1] for a, b in pairs)
    return list(rows.values())


COLUMNS = (
    "detector",
    "ms/frame p50",
    "mean",
    "faces",
    "frames naming Lin",
    "names",
    "same face as HOG",
    "HOG faces missed",
    "name differs from HOG",
    "faces HOG missed, named",
    "encoding distance to HOG box p50 / p90",
    "photos: HOG faces missed / name differs",
)


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        named = ", ".join(f"{k} {v}" for k, v in sorted(r.names.items()))
        cells = (
            r.detector,
            r.ms_per_frame_p50,
            r.ms_per_frame_mean,
            r.faces,
            r.frames_naming_lin,
            named,
            r.shared_with_hog,
            r.missed_vs_hog,
            r.name_differs_from_hog,
            r.extra_faces_named,
            f"{r.distance_to_hog_median} / {r.distance_to_hog_p90}",
            f"{r.photos_missed_vs_hog} / {r.photos_name_differs}",
        )
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=None, help="folder of the shared photos and clip")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the clip per detector")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    folder = args.faces or faces_dir()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    rows = measure(folder / CLIP, folder, repeats=max(1, args.repeats))
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        print(f"clip {CLIP}, downscale {DOWNSCALE}, threshold {THRESHOLD}, one thread; load before {load}")
        print(table(rows))
        for r in rows[1:]:
            print(f"{r.detector}: faces HOG did not find, named (frame name): {', '.join(r.extra_named) or 'none'}")
            print(f"{r.detector}: name differs from HOG's on the same face: {', '.join(r.differs) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
