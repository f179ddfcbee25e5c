"""A detector by name: `make_detector("hog" | "cnn" | "blazeface")`, and the start-time model-file check.

Each detector's module is imported only when it is asked for (dlib's models take a second to load,
BlazeFace needs the LiteRT interpreter).
"""

from __future__ import annotations

from pathlib import Path

from facegate.settings import DETECTORS, Settings  # the names, kept with the settings that choose one
from pipeline.detectors.locator import DetectorOptions, FaceLocator, ModelFileError


def make_detector(name: str, options: DetectorOptions | None = None) -> FaceLocator:
    """The locator called `name` (one of DETECTORS), models loaded; ValueError for an unknown name."""
    options = options or DetectorOptions()
    if name in ("hog", "cnn"):
        from pipeline.detectors.dlib_locator import DlibDetector

        return DlibDetector(name, upsample=options.upsample, grey=options.hog_input == "grey")
    if name == "blazeface":
        from pipeline.detectors.blazeface import BlazeFace

        return BlazeFace(options.blazeface_range, min_score=options.min_score, model_path=options.model_path)
    raise ValueError(f"unknown detector {name!r}; use one of {', '.join(DETECTORS)}")


def options_from(settings: Settings) -> DetectorOptions:
    """The detector options a run's settings ask for."""
    model = Path(settings.detector_model) if settings.detector_model else None
    return DetectorOptions(upsample=settings.upsample, hog_input=settings.hog_input, model_path=model)


def check_model_files(settings: Settings) -> None:
    """Raise ModelFileError now, at start, for a model file the run's detector would fail to load later
    in a stage process (where it would only crash and be restarted). BlazeFace is loaded (milliseconds);
    dlib's files are only looked for, since loading them takes a second."""
    if settings.face_detector == "blazeface":
        make_detector("blazeface", options_from(settings))
    import face_recognition_models as dlib_models

    wanted = [dlib_models.pose_predictor_five_point_model_location(), dlib_models.face_recognition_model_location()]
    if settings.face_detector == "cnn":
        wanted.append(dlib_models.cnn_face_detector_model_location())
    for path in map(Path, wanted):
        if not path.is_file() or path.stat().st_size == 0:
            raise ModelFileError(path, "no such file" if not path.exists() else "empty file")
