"""`python -m bench.encoder`: a face encoding by dlib-bin's own network against facegate/encoder.py.

The same faces, the same chips: every face HOG finds on the shared photos is encoded by
`face_recognition.face_encodings` (dlib, built without BLAS) and by `facegate.encoder.face_encodings`
(the same network on numpy's OpenBLAS, one thread: bench/__init__.py sets it), one face per call
and four per call. Reported: ms per face (median of the rounds) and the largest difference
between the two encodings of a face.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from typing import Any

import numpy as np

from bench.fixtures import faces_dir

PHOTOS = ("lin-manuel-miranda.png", "alex-lacamoire.png", "obama.jpg", "biden.jpg", "two_people.jpg")
ROUNDS = 5
BATCH = 4


def _ms_per_face(encode: Any, faces: list[tuple[np.ndarray, tuple]], batch: int) -> float:
    """Median over ROUNDS of the ms per face, encoding each photo's first face `batch` times per call."""
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for rgb, box in faces:
            encode(rgb, [box] * batch)
        rounds.append((time.perf_counter() - started) * 1000.0 / (len(faces) * batch))
    return statistics.median(rounds)


def measure() -> dict[str, Any]:
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    import face_recognition

    from facegate import encoder
    from facegate.faces import load_rgb

    faces, largest = [], 0.0
    for name in PHOTOS:
        rgb = load_rgb(faces_dir() / name)
        boxes = face_recognition.face_locations(rgb)
        for ours, dlibs in zip(
            encoder.face_encodings(rgb, boxes), face_recognition.face_encodings(rgb, boxes), strict=True
        ):
            largest = max(largest, float(np.abs(ours - dlibs).max()))
        faces.append((rgb, boxes[0]))
    encoder.face_encodings(*faces[0][:1], [faces[0][1]])  # load the network outside the timing
    out: dict[str, Any] = {"photos": len(faces), "largest_difference": largest}
    for label, encode in (("dlib", face_recognition.face_encodings), ("numpy", encoder.face_encodings)):
        out[label] = {
            "ms_per_face_alone": round(_ms_per_face(encode, faces, 1), 2),
            f"ms_per_face_{BATCH}_at_once": round(_ms_per_face(encode, faces, BATCH), 2),
        }
    out["speedup_alone"] = round(out["dlib"]["ms_per_face_alone"] / out["numpy"]["ms_per_face_alone"], 2)
    return out


def markdown(result: dict[str, Any]) -> str:
    dlib, ours = result["dlib"], result["numpy"]
    return (
        "| encoder | ms per face, alone | ms per face, 4 at once |\n|---|---|---|\n"
        f"| dlib-bin | {dlib['ms_per_face_alone']} | {dlib[f'ms_per_face_{BATCH}_at_once']} |\n"
        f"| numpy (facegate/encoder.py) | {ours['ms_per_face_alone']} | {ours[f'ms_per_face_{BATCH}_at_once']} |\n"
        f"\n{result['speedup_alone']}x faster alone; largest difference between the two encodings of a face: "
        f"{result['largest_difference']:.1e}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.encoder", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    result = measure()
    print(json.dumps(result, indent=2))
    print(markdown(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
