"""dlib's detectors (HOG, or the CNN), called exactly as the reference loop (`bench/loop.py`) calls them."""

from __future__ import annotations

import numpy as np

from facegate.dlib_models import face_locations
from pipeline.detectors.locator import CssBox


class DlibDetector:
    """dlib's face locations (facegate/dlib_models.py) with a fixed model ("hog" or "cnn") and upsample count."""

    def __init__(self, model: str, *, upsample: int = 1) -> None:
        self.name = model
        self.upsample = upsample

    def locate(self, rgb_small: np.ndarray) -> list[CssBox]:
        found = face_locations(rgb_small, upsample=self.upsample, model=self.name)
        return [(int(top), int(right), int(bottom), int(left)) for top, right, bottom, left in found]
