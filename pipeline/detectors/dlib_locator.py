"""dlib's detectors (HOG, or the CNN), called exactly as the reference loop (`bench/loop.py`) calls them."""

from __future__ import annotations

import numpy as np

from pipeline.detectors.locator import CssBox


class DlibDetector:
    """face_recognition.face_locations with a fixed model ("hog" or "cnn") and upsample count."""

    def __init__(self, model: str, *, upsample: int = 1) -> None:
        import face_recognition  # loads dlib's models: a second or so

        self.name = model
        self.upsample = upsample
        self._locations = face_recognition.face_locations

    def locate(self, rgb_small: np.ndarray) -> list[CssBox]:
        found = self._locations(rgb_small, number_of_times_to_upsample=self.upsample, model=self.name)
        return [(int(top), int(right), int(bottom), int(left)) for top, right, bottom, left in found]
