"""The known faces, held as one matrix so a face is matched against all of them in one pass.

Distances are Euclidean, as face_recognition's `face_distance`. The nearest row is the one that
minimises |b|^2/2 - a.b (the squared distance is twice that plus |a|^2), with the halved squared
norms precomputed: one float32 matrix-vector product and one subtraction per face. The product
is an einsum, which runs on one core: OpenBLAS's threaded gemv waits for a second core that the
detect workers hold, and was measured 3-5x slower that way under load. Only the winner's distance
is then computed exactly (float64), so it agrees with face_recognition to ~1e-8. 100,000 known
encodings cost about 2 ms per face (bench/nearest.py).
"""

from __future__ import annotations

import numpy as np

UNKNOWN = "Unknown"


class Gallery:
    def __init__(self, vectors: np.ndarray, names: list[str]) -> None:
        if len(vectors) != len(names):
            raise ValueError("one name per encoding")
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, 128)
        self.names = list(names)
        self.half_norms = 0.5 * np.einsum("ij,ij->i", self.vectors, self.vectors)

    def __len__(self) -> int:
        return len(self.names)

    def nearest(self, encoding: np.ndarray) -> tuple[str | None, float]:
        """The closest known name and its distance; (None, inf) for an empty gallery."""
        if not self.names:
            return None, float("inf")
        query = np.asarray(encoding, dtype=np.float64).reshape(128)
        scores = np.einsum("ij,j->i", self.vectors, query.astype(np.float32))
        np.subtract(self.half_norms, scores, out=scores)
        best = int(np.argmin(scores))
        difference = self.vectors[best].astype(np.float64) - query
        return self.names[best], float(np.sqrt(difference @ difference))

    def identify(self, encoding: np.ndarray, threshold: float) -> tuple[str, float]:
        """(name, distance) of the closest known face within the threshold, else ("Unknown", distance).

        With nobody registered the distance is 1.0: JSON has no infinity, and nothing is that far.
        """
        name, distance = self.nearest(encoding)
        if name is None:
            return UNKNOWN, 1.0
        if distance > threshold:
            return UNKNOWN, distance
        return name, distance
