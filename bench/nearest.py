"""Nearest known face for one face, against 1,000 / 10,000 / 100,000 known encodings (pipeline.recognition.known_faces).

The two-stage search prunes with the gallery's principal axes, so its cost depends on how the
encodings are spread: isotropic noise would flatter or wrong it. The galleries are therefore
shaped like real encodings: every row is a real face_recognition encoding of a test photo
(mean, spread and principal axes of real faces) moved by a perturbation of the size that tells
two people apart (about 0.34 in distance). Two kinds of query, both against the same target:
a registered person (a gallery row moved as far as another photo of that person would be) and a
stranger (an encoding of a person left out of the gallery, moved likewise). Every query's answer
is also checked against face_recognition.face_distance: the same index and distance within 1e-6.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.recognition.known_faces import Gallery

SIZES = (1_000, 10_000, 100_000)
QUERIES = 200
WARMUP = 10
THRESHOLD = 0.6
TOLERANCE = 1e-6


PERTURBATION = 0.03  # per coordinate: sqrt(128) * 0.03 = 0.34, a face apart
STRANGER_PHOTO = "biden.jpg"  # the person left out of every gallery
LEFT_OUT = {STRANGER_PHOTO, "two_people.jpg"}  # two_people.jpg shows him too


def real_encodings(faces: Path) -> tuple[np.ndarray, np.ndarray]:
    """Encodings of every face in the test photos: (in the galleries, strangers), each (n, 128)."""
    import face_recognition

    kept, strangers = [], []
    for photo in sorted(faces.glob("*.jpg")) + sorted(faces.glob("*.png")):
        if photo.name in LEFT_OUT and photo.name != STRANGER_PHOTO:
            continue
        found = face_recognition.face_encodings(face_recognition.load_image_file(photo))
        (strangers if photo.name == STRANGER_PHOTO else kept).extend(found)
    if not kept or not strangers:
        raise RuntimeError(f"no faces found in the photos of {faces}")
    return np.array(kept), np.array(strangers)


def realistic_gallery(size: int, base: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """`size` encodings, each a real one moved by a perturbation; one name per row, so a name tells which row won."""
    rows = base[rng.integers(0, len(base), size)] + rng.normal(0.0, PERTURBATION, (size, 128))
    return rows, [f"person {i}" for i in range(size)]


def check_answers(vectors: np.ndarray, names: list[str], gallery: Gallery, queries: np.ndarray) -> float:
    """The largest distance error against face_recognition; raises if any nearest row differs."""
    import face_recognition

    worst = 0.0
    for query in queries:
        expected = face_recognition.face_distance(vectors, query)
        best = int(np.argmin(expected))
        name, distance = gallery.nearest(query)
        if name != names[best]:
            raise AssertionError(f"nearest is {name}, face_recognition says {names[best]}")
        worst = max(worst, abs(distance - float(expected[best])))
    if worst > TOLERANCE:
        raise AssertionError(f"distance differs from face_recognition by {worst:.2e}")
    return worst


def _time_queries(gallery: Gallery, asked: np.ndarray) -> list[float]:
    for query in asked[:WARMUP]:
        gallery.identify(query, THRESHOLD)
    ms = []
    for query in asked[WARMUP:]:
        started = time.perf_counter()
        gallery.identify(query, THRESHOLD)
        ms.append((time.perf_counter() - started) * 1000.0)
    return ms


def time_size(size: int, queries: int, rng: np.random.Generator, real: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    """ms per face for a registered person's face and for a stranger's (a person the gallery lacks)."""
    base, outsiders = real
    vectors, names = realistic_gallery(size, base, rng)
    gallery = Gallery(vectors, names)
    asked = queries + WARMUP
    known = vectors[rng.integers(0, size, asked)] + rng.normal(0.0, PERTURBATION, (asked, 128))
    strangers = outsiders[rng.integers(0, len(outsiders), asked)] + rng.normal(0.0, PERTURBATION, (asked, 128))
    ms, stranger_ms = _time_queries(gallery, known), _time_queries(gallery, strangers)
    worst = max(
        check_answers(vectors, names, gallery, known[WARMUP : WARMUP + 20]),
        check_answers(vectors, names, gallery, strangers[WARMUP : WARMUP + 10]),
    )
    p50, p95 = np.percentile(ms, (50, 95))
    return {
        "known": size,
        "queries": queries,
        "ms_p50": round(float(p50), 4),
        "ms_p95": round(float(p95), 4),
        "ms_mean": round(float(np.mean(ms)), 4),
        "stranger_ms_p50": round(float(np.percentile(stranger_ms, 50)), 4),
        "stranger_ms_p95": round(float(np.percentile(stranger_ms, 95)), 4),
        "known_named": sum(gallery.identify(q, THRESHOLD)[0] != "Unknown" for q in known[WARMUP:]),
        "strangers_named": sum(gallery.identify(q, THRESHOLD)[0] != "Unknown" for q in strangers[WARMUP:]),
        "max_distance_error": float(f"{worst:.2e}"),
    }


def measure(faces: Path, sizes: tuple[int, ...] = SIZES, queries: int = QUERIES, seed: int = 0) -> list[dict[str, Any]]:
    """ms per face for each gallery size, galleries built from the real encodings of the photos in `faces`."""
    rng = np.random.default_rng(seed)
    real = real_encodings(faces)
    return [time_size(size, queries, rng, real) for size in sizes]


if __name__ == "__main__":
    import json

    from bench.fixtures import faces_dir

    print(json.dumps(measure(faces_dir()), indent=2))
