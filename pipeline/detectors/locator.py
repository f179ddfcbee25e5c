"""The face-locator interface every detector implements, its box type, options and model-file error.

A locator takes the shrunk RGB frame the detect stage already makes and returns face boxes in
that image's pixels as (top, right, bottom, left), the rectangle dlib's 5-point landmark model
expects, so encodings stay comparable with the registered (dlib/HOG) ones whatever finds the face.
Model files are loaded at construction, and a missing or unreadable one raises ModelFileError
there, never later in the frame loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from facegate.dlib_models import CssBox as CssBox  # the box every locator returns, declared once
from facegate.settings import HOG_INPUTS

BLAZEFACE_RANGES = ("full", "short")


class ModelFileError(RuntimeError):
    """A detector's model file is missing or unreadable; `path` says which, the message says why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"face detector model {path}: {reason}")
        self.path = path
        self.reason = reason


class FaceLocator(Protocol):
    """What every detector offers: its name and `locate`."""

    name: str

    def locate(self, rgb_small: np.ndarray) -> list[CssBox]:
        """Every face in an HxWx3 uint8 RGB image, as (top, right, bottom, left) in its pixels."""
        ...


@dataclass(frozen=True)
class DetectorOptions:
    """How to build a detector. `upsample` is dlib's (hog/cnn), `hog_input` HOG's; the rest are BlazeFace's."""

    upsample: int = 1
    hog_input: str = HOG_INPUTS[0]  # the setting's default, grey (pipeline/detectors/dlib_locator.py)
    blazeface_range: str = "full"  # "full" (faces up to ~5 m, 192x192 input) or "short" (~2 m, 128x128)
    min_score: float = 0.5  # BlazeFace confidence below which a candidate is no face
    model_path: Path | None = None  # a BlazeFace .tflite other than the one the wheel ships

    def __post_init__(self) -> None:
        if self.upsample < 0 or self.upsample > 3:
            raise ValueError(f"upsample must be 0..3, not {self.upsample}")
        if self.hog_input not in HOG_INPUTS:
            raise ValueError(f"hog_input must be one of {', '.join(HOG_INPUTS)}, not {self.hog_input!r}")
        if self.blazeface_range not in BLAZEFACE_RANGES:
            raise ValueError(
                f"blazeface_range must be one of {', '.join(BLAZEFACE_RANGES)}, not {self.blazeface_range!r}"
            )
        if not 0.0 < self.min_score < 1.0:
            raise ValueError(f"min_score must be in (0, 1), not {self.min_score}")
