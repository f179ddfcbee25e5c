"""Face crops as small JPEGs: what the pipeline keeps of an unknown face and enrollment keeps of a photo.

Both sides crop the same way (a quarter of the box as margin, at most 160 px on the longer side),
so a crop shown for an encoding looks alike whichever door the face came through.
"""

from __future__ import annotations

import cv2
import numpy as np

from facegate.records import Box


def to_jpeg(frame: np.ndarray, quality: int = 80) -> bytes:
    """A BGR (or grey) image as JPEG bytes."""
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def face_crop(frame: np.ndarray, box: Box, size: int = 160) -> bytes:
    """A JPEG of the face of a BGR frame with a margin around it, at most `size` pixels on its longer side."""
    top, right, bottom, left = box
    height, width = frame.shape[:2]
    pad_y, pad_x = (bottom - top) // 4, (right - left) // 4
    crop = frame[max(top - pad_y, 0) : min(bottom + pad_y, height), max(left - pad_x, 0) : min(right + pad_x, width)]
    if crop.size == 0:
        raise ValueError("empty crop")
    scale = size / max(crop.shape[:2])
    if scale < 1.0:
        crop = cv2.resize(crop, (0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return to_jpeg(crop, 85)
