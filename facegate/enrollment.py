"""Enrollment that says why: a photo for a person is checked before its encoding joins the gallery.

A gallery gets silently worse when it takes whatever it is given: a face a few pixels wide, a
blurred one, or the same photo five times (which weighs one picture five times in every vote).
Each photo is therefore refused, with a reason a person understands, when

* it does not hold exactly one face, or is not an image (`facegate.faces`);
* the face is narrower than `min_face_px` pixels;
* the face is blurry: the variance of the Laplacian of the face, scaled to SHARPNESS_SIZE pixels
  square so the figure does not depend on the photo's resolution, is under BLUR_FLOOR;
* its encoding lies within DUPLICATE_DISTANCE of one the person already has (or of another
  photo of the same request).

BLUR_FLOOR and DUPLICATE_DISTANCE were calibrated on the shared test photos by
`python -m bench.enrollment` (see the README, "Enrollment").
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facegate.crops import face_crop
from facegate.faces import MAX_PIXELS, FaceImageError, load_rgb, locate_and_encode
from facegate.records import ENCODING_SIZE, Box

SHARPNESS_SIZE = 128  # px: the face is resized to this square before its Laplacian is measured
BLUR_FLOOR = 20.0  # sharpest shared photo face 776, least sharp 61; blurred by 2% of the face width: at most 9
DUPLICATE_DISTANCE = 0.2  # a re-saved copy of a shared photo: at most 0.151; another photo of a person: 0.253 up

# reasons, as the API answers them
NOT_ONE_FACE = "not_one_face"
NOT_AN_IMAGE = "not_an_image"
TOO_SMALL = "too_small"
BLURRY = "blurry"
DUPLICATE = "duplicate"


class EnrollmentRefused(ValueError):
    """A photo (or encoding) is refused: `reason` is one of the constants above, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class EnrollmentRules:
    """What a photo must meet; `min_face_px` is the runtime setting of the same name (0: any size)."""

    min_face_px: int = 0
    max_pixels: int = MAX_PIXELS  # larger photos are refused before they are decoded
    blur_floor: float = BLUR_FLOOR
    duplicate_distance: float = DUPLICATE_DISTANCE


@dataclass(frozen=True)
class EnrolledFace:
    """A photo that passed: its encoding, the JPEG crop shown for it, and the figures it was judged by."""

    encoding: np.ndarray  # (128,) float64
    crop: bytes | None
    box: Box | None
    sharpness: float | None


def sharpness(rgb: np.ndarray, box: Box) -> float:
    """Variance of the Laplacian of the face's grey crop at SHARPNESS_SIZE square: higher is sharper."""
    top, right, bottom, left = box
    height, width = rgb.shape[:2]
    crop = rgb[max(top, 0) : min(bottom, height), max(left, 0) : min(right, width)]
    if crop.size == 0:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (SHARPNESS_SIZE, SHARPNESS_SIZE), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def nearest_distance(encoding: np.ndarray, others: np.ndarray) -> float:
    """The smallest Euclidean distance from `encoding` to the rows of `others` (inf when there are none)."""
    rows = np.asarray(others, dtype=np.float64).reshape(-1, ENCODING_SIZE)
    if not len(rows):
        return float("inf")
    return float(np.min(np.linalg.norm(rows - np.asarray(encoding, dtype=np.float64), axis=1)))


def check_duplicate(encoding: np.ndarray, existing: np.ndarray, rules: EnrollmentRules) -> None:
    distance = nearest_distance(encoding, existing)
    if distance <= rules.duplicate_distance:
        raise EnrollmentRefused(
            DUPLICATE,
            f"near-duplicate of an encoding the person already has (distance "
            f"{distance:.3f} <= {rules.duplicate_distance:g})",
        )


def enroll_photo(data: bytes, rules: EnrollmentRules, existing: np.ndarray, *, model: str = "hog") -> EnrolledFace:
    """Check one photo for a person whose encodings are `existing` (n, 128); EnrollmentRefused says why not."""
    try:
        rgb = load_rgb(data, max_pixels=rules.max_pixels)
        faces = locate_and_encode(rgb, model=model)
    except FaceImageError as exc:
        raise EnrollmentRefused(NOT_AN_IMAGE, str(exc)) from None
    if len(faces) != 1:
        found = "no face" if not faces else f"{len(faces)} faces"
        raise EnrollmentRefused(NOT_ONE_FACE, f"expected exactly one face, found {found}")
    box, encoding = faces[0]
    width = box[1] - box[3]
    if width < rules.min_face_px:
        raise EnrollmentRefused(
            TOO_SMALL, f"face is {width} px wide; at least {rules.min_face_px} px (min_face_px) are needed"
        )
    sharp = sharpness(rgb, box)
    if sharp < rules.blur_floor:
        raise EnrollmentRefused(BLURRY, f"face is blurry (sharpness {sharp:.1f}, at least {rules.blur_floor:g})")
    check_duplicate(encoding, existing, rules)
    crop = face_crop(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), box)
    return EnrolledFace(np.asarray(encoding, dtype=np.float64), crop, box, round(sharp, 1))


def enroll_encoding(encoding: np.ndarray, rules: EnrollmentRules, existing: np.ndarray) -> EnrolledFace:
    """An encoding sent as numbers: only the near-duplicate check applies (there is no picture to judge)."""
    check_duplicate(encoding, existing, rules)
    return EnrolledFace(np.asarray(encoding, dtype=np.float64), None, None, None)


@dataclass(frozen=True)
class Submitted:
    """One thing sent to enroll: a photo's bytes or an encoding's numbers, with the label the answer names."""

    label: str
    photo: bytes | None = None
    encoding: np.ndarray | None = None


@dataclass(frozen=True)
class Verdict:
    """The answer for one submitted file: accepted (with its face) or refused (with the reason)."""

    label: str
    face: EnrolledFace | None = None
    reason: str | None = None
    message: str | None = None

    @property
    def accepted(self) -> bool:
        return self.face is not None

    def as_json(self) -> dict[str, object]:
        if self.face is not None:
            return {"file": self.label, "accepted": True, "sharpness": self.face.sharpness}
        return {"file": self.label, "accepted": False, "reason": self.reason, "error": self.message}


def judge_all(
    submitted: list[Submitted], rules: EnrollmentRules, existing: np.ndarray, *, model: str = "hog"
) -> list[Verdict]:
    """A verdict for each item, in order; an item that duplicates an earlier accepted one of the same batch is
    refused as well, so a batch never stores one picture twice."""
    known = np.asarray(existing, dtype=np.float64).reshape(-1, ENCODING_SIZE)
    verdicts = []
    for item in submitted:
        try:
            if item.photo is not None:
                face = enroll_photo(item.photo, rules, known, model=model)
            elif item.encoding is not None:
                face = enroll_encoding(item.encoding, rules, known)
            else:
                raise EnrollmentRefused(NOT_AN_IMAGE, "nothing was sent")
        except EnrollmentRefused as refused:
            verdicts.append(Verdict(item.label, reason=refused.reason, message=str(refused)))
            continue
        known = np.vstack([known, face.encoding])
        verdicts.append(Verdict(item.label, face=face))
    return verdicts


SHARP_ENOUGH = 200.0  # sharpness beyond which a face counts as fully sharp when ranking a visitor's faces


def crop_quality(jpeg: bytes | None, face_width: int) -> float:
    """How good a face crop is to keep for a visitor: its width in pixels, discounted when blurry.

    Larger and sharper is better (the best crops to show, the best encodings to match with later).
    """
    if not jpeg:
        return float(face_width) * 0.1
    grey = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None or grey.size == 0:
        return float(face_width) * 0.1
    sharp = sharpness(cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB), (0, grey.shape[1], grey.shape[0], 0))
    return float(face_width) * min(sharp, SHARP_ENOUGH) / SHARP_ENOUGH
