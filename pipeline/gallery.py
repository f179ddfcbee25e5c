"""The known faces, held as one matrix so a face is matched against all of them in one product.

Distances are Euclidean, as face_recognition's `face_distance`, computed as
|a|^2 + |b|^2 - 2ab with the gallery's squared norms precomputed: one matrix-vector product
per face, so 100,000 known encodings cost about a millisecond.
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
        self.norms = np.einsum("ij,ij->i", self.vectors, self.vectors)

    def __len__(self) -> int:
        return len(self.names)

    def nearest(self, encoding: np.ndarray) -> tuple[str | None, float]:
        """The closest known name and its distance; (None, inf) for an empty gallery."""
        if not self.names:
            return None, float("inf")
        query = np.asarray(encoding, dtype=np.float32).reshape(128)
        squared = self.norms - 2.0 * (self.vectors @ query) + float(query @ query)
        best = int(np.argmin(squared))
        return self.names[best], float(np.sqrt(max(float(squared[best]), 0.0)))

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
