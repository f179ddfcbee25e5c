"""Face locators behind one small interface, so the detect stage can switch detectors by name.

A locator takes the shrunk RGB frame the detect stage already makes and returns face boxes in
that image's pixels as (top, right, bottom, left), the rectangle dlib's 5-point landmark model
expects, so encodings stay comparable with the registered (dlib/HOG) ones whatever finds the face.
`make_detector("hog" | "cnn" | "blazeface")` builds one; model files are loaded at construction,
and a missing or unreadable one raises ModelFileError there, never later in the frame loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from facegate.settings import DETECTORS, Settings  # the names, kept with the settings that choose one

CssBox = tuple[int, int, int, int]  # (top, right, bottom, left) in the located image's pixels
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
    """How to build a detector. `upsample` is dlib's (hog/cnn); the rest are BlazeFace's."""

    upsample: int = 1
    blazeface_range: str = "full"  # "full" (faces up to ~5 m, 192x192 input) or "short" (~2 m, 128x128)
    min_score: float = 0.5  # BlazeFace confidence below which a candidate is no face
    model_path: Path | None = None  # a BlazeFace .tflite other than the one the wheel ships

    def __post_init__(self) -> None:
        if self.upsample < 0 or self.upsample > 3:
            raise ValueError(f"upsample must be 0..3, not {self.upsample}")
        if self.blazeface_range not in BLAZEFACE_RANGES:
            raise ValueError(f"blazeface_range must be one of {', '.join(BLAZEFACE_RANGES)}, "
                             f"not {self.blazeface_range!r}")
        if not 0.0 < self.min_score < 1.0:
            raise ValueError(f"min_score must be in (0, 1), not {self.min_score}")


def make_detector(name: str, options: DetectorOptions | None = None) -> FaceLocator:
    """The locator called `name` (one of DETECTORS), models loaded; ValueError for an unknown name."""
    options = options or DetectorOptions()
    if name in ("hog", "cnn"):
        from pipeline.detectors.dlib_detector import DlibDetector

        return DlibDetector(name, upsample=options.upsample)
    if name == "blazeface":
        from pipeline.detectors.blazeface import BlazeFace

        return BlazeFace(options.blazeface_range, min_score=options.min_score, model_path=options.model_path)
    raise ValueError(f"unknown detector {name!r}; use one of {', '.join(DETECTORS)}")


def options_from(settings: Settings) -> DetectorOptions:
    """The detector options a run's settings ask for."""
    model = Path(settings.detector_model) if settings.detector_model else None
    return DetectorOptions(upsample=settings.upsample, model_path=model)


def check_model_files(settings: Settings) -> None:
    """Raise ModelFileError now, at start, for a model file the run's detector would fail to load later
    in a stage process (where it would only crash and be restarted). BlazeFace is loaded (milliseconds);
    dlib's files are only looked for, since loading them takes a second."""
    if settings.face_detector == "blazeface":
        make_detector("blazeface", options_from(settings))
    import face_recognition_models as dlib_models

    wanted = [dlib_models.pose_predictor_five_point_model_location(),
              dlib_models.face_recognition_model_location()]
    if settings.face_detector == "cnn":
        wanted.append(dlib_models.cnn_face_detector_model_location())
    for path in map(Path, wanted):
        if not path.is_file() or path.stat().st_size == 0:
            raise ModelFileError(path, "no such file" if not path.exists() else "empty file")
