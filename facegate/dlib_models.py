"""dlib's models that facegate calls, each loaded on its own: HOG, the CNN detector, the 5-point landmarks.

Importing `face_recognition` loads every model it knows at once, among them the 68-point landmark
model (a 100 MB file) and dlib's encoding network, neither of which facegate calls: encodings are
facegate/encoder.py's, chips come from the 5-point landmarks. Loading only what is used keeps the
stage processes smaller and their forkserver quicker to start, and lets the container image leave
the 68-point file out. Boxes are as face_recognition gives them: (top, right, bottom, left) pixels,
clipped to the image (tests/unit/test_detectors.py compares the two on the shared photos).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

CssBox = tuple[int, int, int, int]  # (top, right, bottom, left) in the located image's pixels; every locator's box


@lru_cache(maxsize=1)
def hog_detector() -> Any:
    """dlib's HOG face detector (no model file)."""
    import dlib

    return dlib.get_frontal_face_detector()


@lru_cache(maxsize=1)
def cnn_detector() -> Any:
    """dlib's CNN (MMOD) face detector, from face_recognition_models' file; loaded on first use only."""
    import dlib
    import face_recognition_models

    return dlib.cnn_face_detection_model_v1(face_recognition_models.cnn_face_detector_model_location())


@lru_cache(maxsize=1)
def landmarks_5() -> Any:
    """dlib's 5-point landmark model: what aligns a face into the encoder's 150x150 chip."""
    import dlib
    import face_recognition_models

    return dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())


def face_locations(rgb: np.ndarray, *, upsample: int = 1, model: str = "hog") -> list[CssBox]:
    """Every face dlib's `model` ("hog" or "cnn") finds in an HxWx3 RGB image (or, HOG only, an HxW grey one),
    upsampled `upsample` times first."""
    if model == "cnn":
        rects = [found.rect for found in cnn_detector()(rgb, upsample)]
    else:
        rects = list(hog_detector()(rgb, upsample))
    height, width = rgb.shape[:2]
    return [(max(r.top(), 0), min(r.right(), width), min(r.bottom(), height), max(r.left(), 0)) for r in rects]
