"""The hint table that lets detect skip encoding faces of known tracks, and the box overlap both use.

Match owns the tracks (pipeline/recognition/tracker.py) and writes one hint row per live track into the
camera's ring segment:
its latest box, the box and media time of its last encoding, the seconds until its next re-check
(match's policy: pipeline/recognition/tracker.py `Track.recheck_interval`), and a claim field. A
detect worker that finds a face overlapping a track whose re-check is not due yet skips the
encoding; when it is due, the worker claims the row so the other workers do not encode the same
face again from the next frames in flight.
"""

from __future__ import annotations

import numpy as np

from facegate.records import Box

HINT_ROWS = 32
HINT = np.dtype(
    [
        ("active", "<f8"),
        ("interval", "<f8"),  # seconds of stream time between encodings of the track
        ("top", "<f8"),
        ("right", "<f8"),
        ("bottom", "<f8"),
        ("left", "<f8"),
        ("enc_top", "<f8"),
        ("enc_right", "<f8"),
        ("enc_bottom", "<f8"),
        ("enc_left", "<f8"),
        ("encoded_pts", "<f8"),
        ("claimed_pts", "<f8"),
        ("track", "<f8"),
    ]
)
MATCH_IOU = 0.3  # a face and a track are the same when their boxes overlap this much
JUMP_IOU = 0.1  # below this overlap with the box last encoded (about a face width away), it is encoded again


def iou(a: Box | np.ndarray, b: Box | np.ndarray) -> float:
    """Intersection over union of two (top, right, bottom, left) boxes."""
    top, bottom = max(a[0], b[0]), min(a[2], b[2])
    left, right = max(a[3], b[3]), min(a[1], b[1])
    inter = max(0.0, bottom - top) * max(0.0, right - left)
    if inter <= 0:
        return 0.0
    area_a = (a[2] - a[0]) * (a[1] - a[3])
    area_b = (b[2] - b[0]) * (b[1] - b[3])
    return float(inter / (area_a + area_b - inter))


class HintTable:
    """A view of the hint rows inside a ring segment (written by match, read and claimed by detect)."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows

    def clear(self) -> None:
        self.rows["active"] = 0.0

    def publish(
        self, row: int, track_id: int, box: Box, interval: float, encoded_pts: float, enc_box: Box | None, fresh: bool
    ) -> None:
        entry = self.rows[row]
        if fresh:
            entry["claimed_pts"] = -1e18
        entry["track"] = track_id
        entry["top"], entry["right"], entry["bottom"], entry["left"] = box
        if enc_box is not None:
            entry["enc_top"], entry["enc_right"], entry["enc_bottom"], entry["enc_left"] = enc_box
        entry["encoded_pts"] = encoded_pts
        entry["interval"] = interval
        entry["active"] = 1.0

    def retire(self, row: int) -> None:
        self.rows["active"][row] = 0.0

    def any_due(self, pts: float) -> bool:
        """Whether any live track's re-check is due at `pts` (stream seconds); capture sends such a frame to
        detection even when nothing moved."""
        active = self.rows[self.rows["active"] > 0]
        if active.size == 0:
            return False
        last = np.maximum(active["encoded_pts"], active["claimed_pts"])
        return bool(np.any(pts - last >= active["interval"]))

    def any_active(self) -> bool:
        """Whether match follows any track on this camera."""
        return bool(np.any(self.rows["active"] > 0))

    def should_encode(self, box: Box, pts: float) -> bool:
        """True unless the face belongs to a track whose encoding is recent enough; claims the re-check."""
        best, best_iou = -1, MATCH_IOU
        for index in np.flatnonzero(self.rows["active"] > 0):
            entry = self.rows[index]
            overlap = iou(box, (entry["top"], entry["right"], entry["bottom"], entry["left"]))
            if overlap >= best_iou:
                best, best_iou = int(index), overlap
        if best < 0:
            return True
        entry = self.rows[best]
        interval = float(entry["interval"])
        last = max(float(entry["encoded_pts"]), float(entry["claimed_pts"]))
        enc_box = (entry["enc_top"], entry["enc_right"], entry["enc_bottom"], entry["enc_left"])
        jumped = iou(box, enc_box) < JUMP_IOU and float(entry["claimed_pts"]) < float(entry["encoded_pts"]) + 1e-9
        if pts - last >= interval or jumped:
            entry["claimed_pts"] = pts
            return True
        return False
