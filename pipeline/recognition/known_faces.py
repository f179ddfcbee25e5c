"""The known faces, held as matrices so a face is matched against all of them in one pass.

Distances are Euclidean, as face_recognition's `face_distance`. The nearest row is the one that
minimises |b|^2/2 - a.b (the squared distance is twice that plus |a|^2), with the halved squared
norms precomputed: a float32 matrix-vector product and a subtraction per face. The product is an
einsum, which runs on one core: OpenBLAS's threaded gemv waits for a second core that the detect
workers hold, and was measured 3-5x slower that way under load. Only the winner's distance is
then computed exactly (float64), so it agrees with face_recognition to ~1e-8.

A large gallery is memory-bound (100,000 x 128 floats is 51 MB read per face, ~2 ms), so it is
searched in two stages, still exactly. The encodings are rotated onto their principal axes (a
rotation keeps every distance) and the first PREFIX_DIMS coordinates are kept apart: the distance
over those is a lower bound of the full one. Stage one reads only that prefix; the best row there
is measured exactly, and only rows whose lower bound is not beyond it can be nearer. A face of a
registered person leaves a handful of such rows, read exactly; a face that resembles nobody can
leave most of them, and then the remaining coordinates are read for all rows, which costs no more
than the single pass. See bench/nearest.py for the figures.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from facegate.records import ENCODING_SIZE, UNKNOWN

TWO_STAGE_FROM = 20_000  # rows; below this one pass fits in cache and is as fast
PREFIX_DIMS = 32
MAX_CANDIDATE_SHARE = 1 / 16  # beyond this share of rows, read the rest of every row instead


class Gallery:
    def __init__(
        self, vectors: np.ndarray, names: list[str], negatives: Mapping[str, np.ndarray] | None = None
    ) -> None:
        """`negatives`: name → (m, 128) encodings of faces that were wrongly given that name ("that was not X")."""
        if len(vectors) != len(names):
            raise ValueError("one name per encoding")
        self.negatives = {
            name: np.asarray(rows, dtype=np.float64).reshape(-1, ENCODING_SIZE)
            for name, rows in (negatives or {}).items()
            if len(rows)
        }
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, ENCODING_SIZE)
        self.names = list(names)
        self.half_norms = half_squared_norms(self.vectors)
        self.rotation: np.ndarray | None = None
        if len(self.names) >= TWO_STAGE_FROM:
            self._prepare_two_stage()

    def __len__(self) -> int:
        return len(self.names)

    def _prepare_two_stage(self) -> None:
        """Principal axes of the gallery, and the rotated rows split into prefix and rest."""
        _, axes = np.linalg.eigh(np.cov(self.vectors, rowvar=False, dtype=np.float64))
        self.rotation = np.ascontiguousarray(axes[:, ::-1])  # largest variance first
        rotated = self.vectors.astype(np.float64) @ self.rotation
        self.prefix = np.ascontiguousarray(rotated[:, :PREFIX_DIMS], dtype=np.float32)
        self.rest = np.ascontiguousarray(rotated[:, PREFIX_DIMS:], dtype=np.float32)
        self.prefix_half_norms = half_squared_norms(self.prefix)
        self.rest_half_norms = half_squared_norms(self.rest)

    def nearest(self, encoding: np.ndarray) -> tuple[str | None, float]:
        """The closest known name and its distance; (None, inf) for an empty gallery."""
        if not self.names:
            return None, float("inf")
        query = np.asarray(encoding, dtype=np.float64).reshape(ENCODING_SIZE)
        if self.rotation is None:
            scores = np.einsum("ij,j->i", self.vectors, query.astype(np.float32))
            np.subtract(self.half_norms, scores, out=scores)
            best = int(np.argmin(scores))
        else:
            best = self._nearest_two_stage(query)
        return self.names[best], float(np.sqrt(self._squared_distances(np.array([best]), query)[0]))

    def _nearest_two_stage(self, query: np.ndarray) -> int:
        rotated = query @ self.rotation
        head = rotated[:PREFIX_DIMS]
        scores = np.einsum("ij,j->i", self.prefix, head.astype(np.float32))
        np.subtract(self.prefix_half_norms, scores, out=scores)  # prefix distance^2/2 - |head|^2/2
        first = int(np.argmin(scores))
        bound = self._squared_distances(np.array([first]), query)[0]
        limit = 0.5 * (bound - head @ head)
        limit += 1e-5 * (1.0 + abs(limit))  # float32 rounding must not drop the true nearest
        within = scores <= limit
        if np.count_nonzero(within) <= MAX_CANDIDATE_SHARE * len(self.names):
            candidates = np.flatnonzero(within)
            return int(candidates[np.argmin(self._squared_distances(candidates, query))])
        scores += self.rest_half_norms
        scores -= np.einsum("ij,j->i", self.rest, rotated[PREFIX_DIMS:].astype(np.float32))
        return int(np.argmin(scores))

    def _squared_distances(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        difference = self.vectors[rows].astype(np.float64) - query
        squared: np.ndarray = np.einsum("ij,ij->i", difference, difference)
        return squared

    def nearest_people(self, encoding: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The `k` nearest people, each at the distance of their nearest encoding, nearest first.

        Exact over every row (float64): this serves `POST /api/recognize?top=k`, not the per-frame path.
        """
        if not self.names:
            return []
        query = np.asarray(encoding, dtype=np.float64).reshape(ENCODING_SIZE)
        distances = np.sqrt(self._squared_distances(np.arange(len(self.names)), query))
        best: dict[str, float] = {}
        for name, distance in zip(self.names, distances.tolist(), strict=True):
            if distance < best.get(name, float("inf")):
                best[name] = distance
        return sorted(best.items(), key=lambda item: item[1])[:k]

    def rejected(self, name: str, encoding: np.ndarray, distance: float) -> bool:
        """True when the face is nearer to one of `name`'s negatives than to `name`'s own nearest encoding."""
        rows = self.negatives.get(name)
        if rows is None:
            return False
        query = np.asarray(encoding, dtype=np.float64).reshape(ENCODING_SIZE)
        return float(np.min(np.linalg.norm(rows - query, axis=1))) < distance

    def _nearest_not_rejected(self, encoding: np.ndarray, nearest: float) -> tuple[str | None, float]:
        """The nearest person the face is not rejected for; (None, nearest distance) when it is for all."""
        for name, distance in self.nearest_people(encoding, len(self.names)):
            if not self.rejected(name, encoding, distance):
                return name, distance
        return None, nearest

    def identify(self, encoding: np.ndarray, threshold: float) -> tuple[str, float]:
        """(name, distance) of the closest known face within the threshold, else ("Unknown", distance).

        A person the face is rejected for (nearer one of their negatives than their own encodings) is passed
        over for the next nearest.

        With nobody registered the distance is 1.0: JSON has no infinity, and nothing is that far.
        """
        name, distance = self.nearest(encoding)
        if name is None:
            return UNKNOWN, 1.0
        if name in self.negatives and self.rejected(name, encoding, distance):
            name, distance = self._nearest_not_rejected(encoding, distance)
        if name is None or distance > threshold:
            return UNKNOWN, distance
        return name, distance


def half_squared_norms(rows: np.ndarray) -> np.ndarray:
    halves: np.ndarray = 0.5 * np.einsum("ij,ij->i", rows, rows)
    return halves
