"""dlib's detectors (HOG, or the CNN) on the detect stage's shrunk frame, HOG on its grey by default.

HOG on grey is the same detector on the frame's luminance instead of its three colours: its gradient
features are computed once a pixel instead of three times (the strongest of the three is what colour
keeps), so a frame costs a fifth less (`python -m bench.detectors`: 17.2 vs 21.7 ms on the clip at 0.5
scale). On the clip it finds every face colour HOG finds and 8 more (a real face in the audience, named
Unknown), with 119 of 135 boxes identical, names Lin in the same 121 frames and nobody else, and on the
photos finds the same faces (two boxes shifted, one of them a face cut by the border). `hog_input: colour`
gives the old script's detector exactly (the reference loop, `bench/loop.py`). Registered photos are always
located in colour (facegate/faces.py), as the old script did.
"""

from __future__ import annotations

import cv2
import numpy as np

from facegate.dlib_models import face_locations
from pipeline.detectors.locator import CssBox


class DlibDetector:
    """dlib's face locations (facegate/dlib_models.py) with a fixed model ("hog" or "cnn") and upsample count;
    `grey`: HOG looks at the frame's grey (the CNN always takes its colours)."""

    def __init__(self, model: str, *, upsample: int = 1, grey: bool = False) -> None:
        self.name = model
        self.upsample = upsample
        self.grey = grey and model == "hog"

    def locate(self, rgb_small: np.ndarray) -> list[CssBox]:
        image = cv2.cvtColor(rgb_small, cv2.COLOR_RGB2GRAY) if self.grey else rgb_small
        found = face_locations(image, upsample=self.upsample, model=self.name)
        return [(int(top), int(right), int(bottom), int(left)) for top, right, bottom, left in found]
