"""Nearest known face for one face, against 1,000 / 10,000 / 100,000 known encodings (pipeline.gallery).

The galleries are synthetic (encodings are 128 floats of about face_recognition's scale; the cost
of a brute-force search does not depend on whose faces they are); each query is a known
encoding plus noise, so it is a match, as a registered person in front of a camera would be.
A stranger's face (a fresh draw, near no one) is timed too: it is the slow case of the two-stage
search in pipeline/gallery.py. Every query's answer is also checked against
face_recognition.face_distance: the same index and the same distance within 1e-6.
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


def _time_queries(gallery: Gallery, asked: np.ndarray) -> list[float]:
    for query in asked[:WARMUP]:
        gallery.identify(query, THRESHOLD)
    ms = []
    for query in asked[WARMUP:]:
        started = time.perf_counter()
        gallery.identify(query, THRESHOLD)
        ms.append((time.perf_counter() - started) * 1000.0)
    return ms


def time_size(size: int, queries: int, rng: np.random.Generator) -> dict[str, Any]:
    """ms per face for a registered person's face (the target) and for a stranger's (no one near)."""
    vectors, names = synthetic_gallery(size, rng)
    gallery = Gallery(vectors, names)
    known = vectors[rng.integers(0, size, queries + WARMUP)] + rng.normal(0.0, 0.02, (queries + WARMUP, 128))
    strangers = rng.normal(0.0, 0.09, (queries + WARMUP, 128))
    ms, stranger_ms = _time_queries(gallery, known), _time_queries(gallery, strangers)
    worst = max(check_answers(vectors, names, gallery, known[WARMUP:WARMUP + 20]),
                check_answers(vectors, names, gallery, strangers[WARMUP:WARMUP + 10]))
    p50, p95 = np.percentile(ms, (50, 95))
    return {"known": size, "queries": queries, "ms_p50": round(float(p50), 4), "ms_p95": round(float(p95), 4),
            "ms_mean": round(float(np.mean(ms)), 4),
            "stranger_ms_p50": round(float(np.percentile(stranger_ms, 50)), 4),
            "max_distance_error": float(f"{worst:.2e}")}


def measure(sizes: tuple[int, ...] = SIZES, queries: int = QUERIES, seed: int = 0) -> list[dict[str, Any]]:
    """ms per face for each gallery size."""
    rng = np.random.default_rng(seed)
    return [time_size(size, queries, rng) for size in sizes]


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
