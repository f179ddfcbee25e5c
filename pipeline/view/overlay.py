"""Drawing what the pipeline sees: boxes and names over a frame, as a JPEG for snapshots and MJPEG, and the
regions its camera ignores shaded (a face there is never located, facegate/regions.py).

The JPEG helper lives in facegate/crops.py (enrollment uses it too); it is re-exported here.
"""

from __future__ import annotations

import cv2
import numpy as np

from facegate.crops import to_jpeg
from facegate.records import UNKNOWN
from facegate.regions import Regions
from pipeline.transport.messages import FrameResult

KNOWN_COLOUR = (80, 200, 60)  # BGR
UNKNOWN_COLOUR = (40, 60, 230)
IGNORED_COLOUR = (90, 90, 90)
IGNORED_WEIGHT = 0.55  # how much of an ignored region the shade covers

__all__ = ["draw_faces", "shade_regions", "to_jpeg"]


def shade_regions(frame: np.ndarray, regions: Regions) -> np.ndarray:
    """The frame (modified in place) with the regions its camera ignores greyed out and outlined."""
    if not regions:
        return frame
    height, width = frame.shape[:2]
    polygons = [
        np.array([(round(x * (width - 1)), round(y * (height - 1))) for x, y in polygon], np.int32)
        for polygon in regions
    ]
    shade = frame.copy()
    cv2.fillPoly(shade, polygons, IGNORED_COLOUR)
    cv2.addWeighted(shade, IGNORED_WEIGHT, frame, 1 - IGNORED_WEIGHT, 0, dst=frame)
    cv2.polylines(frame, polygons, True, IGNORED_COLOUR, 1, cv2.LINE_AA)
    return frame


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
        cv2.putText(frame, label, (x + 2, y - base - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return frame
