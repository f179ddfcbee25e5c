"""Nearest known face for one face, against 1,000 / 10,000 / 100,000 known encodings (pipeline.gallery).

The galleries are synthetic (encodings are 128 floats of about face_recognition's scale; the cost
of a brute-force search does not depend on whose faces they are); each query is a known
encoding plus noise, so it is a match, as a registered person in front of a camera would be.
Every query's answer is also checked against face_recognition.face_distance: the same index
and the same distance within 1e-6.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from pipeline.gallery import Gallery

SIZES = (1_000, 10_000, 100_000)
QUERIES = 200
WARMUP = 10
THRESHOLD = 0.6
TOLERANCE = 1e-6


def synthetic_gallery(size: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """`size` encodings with a name each; one name per row, so a name tells which row won."""
    return rng.normal(0.0, 0.09, (size, 128)), [f"person {i}" for i in range(size)]


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


def time_size(size: int, queries: int, rng: np.random.Generator) -> dict[str, Any]:
    vectors, names = synthetic_gallery(size, rng)
    gallery = Gallery(vectors, names)
    asked = vectors[rng.integers(0, size, queries + WARMUP)] + rng.normal(0.0, 0.02, (queries + WARMUP, 128))
    for query in asked[:WARMUP]:
        gallery.identify(query, THRESHOLD)
    ms = []
    for query in asked[WARMUP:]:
        started = time.perf_counter()
        gallery.identify(query, THRESHOLD)
        ms.append((time.perf_counter() - started) * 1000.0)
    worst = check_answers(vectors, names, gallery, asked[WARMUP:WARMUP + 20])
    p50, p95 = np.percentile(ms, (50, 95))
    return {"known": size, "queries": queries, "ms_p50": round(float(p50), 4), "ms_p95": round(float(p95), 4),
            "ms_mean": round(float(np.mean(ms)), 4), "max_distance_error": float(f"{worst:.2e}")}


def measure(sizes: tuple[int, ...] = SIZES, queries: int = QUERIES, seed: int = 0) -> list[dict[str, Any]]:
    """ms per face for each gallery size."""
    rng = np.random.default_rng(seed)
    return [time_size(size, queries, rng) for size in sizes]


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
