"""The videos the capacity, time-to-name and ratio benchmarks play, written into a temporary folder."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np


def frames_of(source: Path) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(source))
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame
    finally:
        cap.release()


def fps_of(source: Path) -> float:
    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    cap.release()
    return fps


def write(target: Path, frames: Iterable[np.ndarray], fps: float) -> Path:
    """An mp4 (MPEG-4 part 2, which OpenCV writes everywhere) of `frames` at `fps`."""
    writer = None
    for frame in frames:
        if writer is None:
            writer = cv2.VideoWriter(
                str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frame.shape[1], frame.shape[0])
            )
        writer.write(frame)
    if writer is not None:
        writer.release()
    return target


def empty_scene(height: int = 360, width: int = 640) -> np.ndarray:
    """A still scene with no face: smooth texture and an edge or two, the same every frame."""
    rng = np.random.default_rng(7)
    scene = cv2.resize(
        rng.integers(40, 200, (9, 16, 3), dtype=np.uint8), (width, height), interpolation=cv2.INTER_CUBIC
    )
    cv2.rectangle(scene, (width * 2 // 3, height // 6), (width * 7 // 8, height * 5 // 6), (30, 30, 30), 4)
    return scene


def retimed(source: Path, target: Path, fps: float) -> Path:
    """`source` at `fps` by keeping every n-th frame."""
    every = max(1, round(fps_of(source) / fps))
    return write(target, (f for i, f in enumerate(frames_of(source)) if i % every == 0), fps)


def repeated(source: Path, target: Path, times: int = 3) -> Path:
    """`source` `times` over, as one file."""
    return write(target, (f for _ in range(times) for f in frames_of(source)), fps_of(source))


def still(target: Path, seconds: float, fps: float) -> Path:
    scene = empty_scene()
    return write(target, (scene for _ in range(round(seconds * fps))), fps)
