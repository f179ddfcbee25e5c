"""Negatives in the gallery ("that was not X"), on small hand-made encodings where every distance is known."""

from __future__ import annotations

import numpy as np

from pipeline.recognition.known_faces import UNKNOWN, Gallery


def point(*head: float) -> np.ndarray:
    """An encoding whose first coordinates are `head` and the rest 0: distances are plain geometry."""
    vector = np.zeros(128)
    vector[: len(head)] = head
    return vector


def test_a_face_nearer_a_negative_than_the_person_is_not_named_them() -> None:
    gallery = Gallery(np.array([point(0.0), point(1.0)]), ["X", "Y"], {"X": np.array([point(0.5, 0.1)])})
    name, distance = gallery.identify(point(0.5, 0.05), threshold=0.8)  # X at 0.5025, X's negative at 0.05
    assert (name, round(distance, 4)) == ("Y", 0.5025)
    # nearer X (0.2) than X's negative (0.31): still X
    assert gallery.identify(point(0.2), threshold=0.8) == ("X", 0.2)


def test_the_next_nearest_person_is_taken_when_the_nearest_is_rejected() -> None:
    gallery = Gallery(np.array([point(0.0), point(1.0)]), ["X", "Y"], {"X": np.array([point(0.45)])})
    name, distance = gallery.identify(point(0.45), threshold=0.6)
    assert (name, round(distance, 6)) == ("Y", 0.55)
    assert gallery.identify(point(0.45), threshold=0.5)[0] == UNKNOWN  # Y is too far, X is rejected


def test_without_negatives_nothing_changes() -> None:
    gallery = Gallery(np.array([point(0.0), point(1.0)]), ["X", "Y"])
    assert gallery.identify(point(0.45), threshold=0.6) == ("X", 0.45)
    assert gallery.nearest_people(point(0.45), 5) == [("X", 0.45), ("Y", 0.55)]
