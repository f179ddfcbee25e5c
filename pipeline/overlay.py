"""Drawing what the pipeline sees: boxes and names over a frame, as a JPEG for snapshots and MJPEG."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.gallery import UNKNOWN
from pipeline.messages import FrameResult

KNOWN_COLOUR = (80, 200, 60)  # BGR
UNKNOWN_COLOUR = (40, 60, 230)


def draw_faces(frame: np.ndarray, result: FrameResult | None) -> np.ndarray:
    """The frame (modified in place) with a box and a label for every face of `result`."""
    if result is None:
        return frame
    height, width = frame.shape[:2]
    for face in result.faces:
        top, right, bottom, left = face.box
        colour = UNKNOWN_COLOUR if face.name == UNKNOWN else KNOWN_COLOUR
        cv2.rectangle(frame, (left, top), (right, bottom), colour, 2)
        label = face.name if face.name == UNKNOWN else f"{face.name} {1 - face.distance:.2f}"
        (text_w, text_h), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        y = min(max(bottom + text_h + base + 4, text_h + base), height - 1)
        x = min(max(left, 0), max(width - text_w - 4, 0))
        cv2.rectangle(frame, (x, y - text_h - base - 4), (x + text_w + 4, y), colour, cv2.FILLED)
        cv2.putText(frame, label, (x + 2, y - base - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return frame


def to_jpeg(frame: np.ndarray, quality: int = 80) -> bytes:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def face_crop(frame: np.ndarray, box: tuple[int, int, int, int], size: int = 160) -> bytes:
    """A JPEG of the face with a margin around it, at most `size` pixels on its longer side."""
    top, right, bottom, left = box
    height, width = frame.shape[:2]
    pad_y, pad_x = (bottom - top) // 4, (right - left) // 4
    crop = frame[max(top - pad_y, 0):min(bottom + pad_y, height), max(left - pad_x, 0):min(right + pad_x, width)]
    if crop.size == 0:
        raise ValueError("empty crop")
    scale = size / max(crop.shape[:2])
    if scale < 1.0:
        crop = cv2.resize(crop, (0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return to_jpeg(crop, 85)
