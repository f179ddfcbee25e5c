"""Clips built from the shared photos, for tests that need a person to come, go, and come back.

A scene is a list of (photo or None, seconds): a photo's face, cropped with a margin and scaled to
FACE_PX wide, held still in the middle of a grey 640x360 frame, or an empty grey frame (nobody in
view). A step may give the face another width, the same person nearer or further away. A small
drift each frame keeps the motion gate seeing change, as a person in a doorway would.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facegate.faces import load_rgb, locate_and_encode

SIZE = (640, 360)
FPS = 10
FACE_PX = 140
BACKGROUND = 96


def _face_tile(photo: Path, face_px: int = FACE_PX) -> np.ndarray:
    """The photo's (first) face with a margin of its size around it, scaled so the face is `face_px` wide (BGR)."""
    rgb = load_rgb(photo)
    (top, right, bottom, left), _ = locate_and_encode(rgb)[0]
    side = right - left
    height, width = rgb.shape[:2]
    crop = rgb[
        max(top - side // 2, 0) : min(bottom + side // 2, height),
        max(left - side // 2, 0) : min(right + side // 2, width),
    ]
    scale = face_px / side
    tile = cv2.resize(crop, (0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(tile[: SIZE[1] - 20, : SIZE[0] - 20], cv2.COLOR_RGB2BGR)


def build_clip(path: Path, scene: list[tuple[Path | None, float] | tuple[Path, float, int]]) -> Path:
    """Write `scene` as an MP4 (mp4v) at FPS frames per second; returns `path`. A third item in a step is the
    face's width in pixels (FACE_PX otherwise): the same person nearer or further away."""
    tiles: dict[tuple[Path, int], np.ndarray] = {}
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write mp4v video here")
    try:
        frame_no = 0
        for step in scene:
            photo, seconds = step[0], step[1]
            face_px = int(step[2]) if len(step) > 2 else FACE_PX
            for _ in range(round(seconds * FPS)):
                frame = np.full((SIZE[1], SIZE[0], 3), BACKGROUND, dtype=np.uint8)
                if photo is not None:
                    tile = tiles.get((photo, face_px))
                    if tile is None:
                        tile = tiles[(photo, face_px)] = _face_tile(photo, face_px)
                    drift = frame_no % 5
                    y = (SIZE[1] - tile.shape[0]) // 2
                    x = (SIZE[0] - tile.shape[1]) // 2 + drift
                    frame[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
                writer.write(frame)
                frame_no += 1
    finally:
        writer.release()
    return path
