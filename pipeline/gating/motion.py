"""Motion gating: is anything moving in this frame? A cheap check that keeps idle cameras off the detector.

The frame is shrunk to a small grayscale copy (about 1/16 of the pixels of 640x360), compared
with a running average of the recent copies, and the pixels that differ by more than a threshold
are grouped into regions; only regions of at least `min_area` small-copy pixels count, so sensor
noise and compression flicker do not. The average then takes in a fraction of the new frame, so a
scene that changes and then holds still (a door left open) stops counting as motion. A change
over most of the picture (lights switched on) resets the average at once. Frigate's improved
motion detector was the reference for the idea; this is written for this project.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Region = tuple[int, int, int, int]  # (top, right, bottom, left) in full-frame pixels


@dataclass(frozen=True)
class MotionConfig:
    """Units: `height` in pixels of the small copy; `threshold` in grey levels (0-255); `min_area` in small-copy
    pixels; `alpha` is the weight of each new frame in the running average; `reset_fraction` of changed pixels
    that resets the average (a lighting change)."""

    height: int = 90
    threshold: int = 25
    min_area: int = 12
    alpha: float = 0.2
    reset_fraction: float = 0.8

    def __post_init__(self) -> None:
        if not 16 <= self.height <= 720:
            raise ValueError(f"motion height must be 16..720 pixels, not {self.height}")
        if not 1 <= self.threshold <= 254:
            raise ValueError(f"motion threshold must be 1..254 grey levels, not {self.threshold}")
        if not 1 <= self.min_area <= self.height * self.height:
            raise ValueError(f"motion min_area must be 1..{self.height * self.height} pixels, not {self.min_area}")
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"motion alpha must be in (0, 1], not {self.alpha}")
        if not 0.0 < self.reset_fraction <= 1.0:
            raise ValueError(f"motion reset_fraction must be in (0, 1], not {self.reset_fraction}")


class MotionDetector:
    """One per camera: `regions(frame)` says where the frame moved, `changed(frame)` whether it did."""

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()
        self._average: np.ndarray | None = None
        self._shape: tuple[int, int] | None = None
        self._kernel = np.ones((3, 3), np.uint8)
        self._unseen = 0  # frames passed over since the last look (see `skip`)

    def _small_gray(self, frame_bgr: np.ndarray) -> np.ndarray:
        height, width = frame_bgr.shape[:2]
        small_h = min(self.config.height, height)
        small_w = max(1, round(width * small_h / height))
        small = frame_bgr
        # Halving first where the blocks nest (640x360 to 160x90: 4x4 blocks, twice 2x2): OpenCV's area
        # average has a fast path for exactly 2x, and the means are the same but for rounding, at a third
        # of the cost of one quarter-size resize (bench/motion.py).
        while small.shape[0] % (2 * small_h) == 0 and small.shape[1] % (2 * small_w) == 0:
            small = cv2.resize(small, (small.shape[1] // 2, small.shape[0] // 2), interpolation=cv2.INTER_AREA)
        if small.shape[:2] != (small_h, small_w):
            small = cv2.resize(small, (small_w, small_h), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small

    def reset(self) -> None:
        """Forget the scene: the next frame counts as changed (a new stream, a camera moved)."""
        self._average = None
        self._unseen = 0

    def skip(self) -> None:
        """A frame nobody needs motion for (pipeline/gating/frame_gate.py): not looked at. The next look weighs
        its frame as the frames passed over would have been together, so the scene settles in the same
        stream time however many frames are looked at."""
        self._unseen += 1

    def _weight(self) -> float:
        """The new frame's weight in the running average: `alpha` per frame since the last look."""
        frames, self._unseen = self._unseen + 1, 0
        return 1.0 - (1.0 - self.config.alpha) ** frames

    def regions(self, frame_bgr: np.ndarray) -> list[Region]:
        """Regions that moved since the scene settled, in full-frame pixels; all of the frame for the first one."""
        height, width = frame_bgr.shape[:2]
        gray, weight = self._small_gray(frame_bgr), self._weight()
        if self._average is None or self._shape != (height, width):
            self._average = gray.astype(np.float32)
            self._shape = (height, width)
            return [(0, width, height, 0)]
        diff = cv2.absdiff(gray, cv2.convertScaleAbs(self._average))
        mask = cv2.threshold(diff, self.config.threshold, 255, cv2.THRESH_BINARY)[1]
        changed = cv2.countNonZero(mask)
        if changed >= self.config.reset_fraction * mask.size:
            self._average = gray.astype(np.float32)
            return [(0, width, height, 0)]
        cv2.accumulateWeighted(gray, self._average, weight)
        if changed < self.config.min_area:
            return []
        mask = cv2.dilate(mask, self._kernel)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        fy, fx = height / gray.shape[0], width / gray.shape[1]
        found = []
        for label in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[label])
            if area >= self.config.min_area:
                right, bottom = min(int((x + w) * fx + 0.999), width), min(int((y + h) * fy + 0.999), height)
                found.append((int(y * fy), right, bottom, int(x * fx)))
        return found

    def changed(self, frame_bgr: np.ndarray) -> bool:
        """Whether anything moved enough to be worth a detection."""
        return bool(self.regions(frame_bgr))
