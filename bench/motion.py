"""`python -m bench.motion`: what an idle camera costs: decoding a 640x360 frame plus the motion check.

Decodes the shared clip (timed per frame), then runs the motion detector on each decoded frame
and on one frame repeated (the static scene, the idle camera's case). At 15 fps one core's share
is (decode ms + motion ms) x 15 / 1000; the issue's target is at most 3% of a core.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2

from bench.fixtures import CLIP, faces_dir
from pipeline.gating.motion import MotionDetector

FPS = 15


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=None)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args(argv)
    clip = (args.faces or faces_dir()) / CLIP
    cv2.setNumThreads(1)  # one camera's share of a core, as a capture process would use it
    decode_ms, frames = [], []
    for _ in range(max(1, args.passes)):
        cap = cv2.VideoCapture(str(clip))
        while len(frames) < 5000:
            started = time.perf_counter()
            ok, frame = cap.read()
            if not ok:
                break
            decode_ms.append((time.perf_counter() - started) * 1000.0)
            frames.append(frame)
        cap.release()
    rows = []
    for label, sequence in (("clip (moving)", frames), ("static scene", [frames[100]] * len(frames))):
        detector = MotionDetector()
        motion_ms, changed = [], 0
        for frame in sequence:
            started = time.perf_counter()
            changed += detector.changed(frame)
            motion_ms.append((time.perf_counter() - started) * 1000.0)
        rows.append((label, statistics.fmean(motion_ms), statistics.median(motion_ms), changed, len(sequence)))
    decode_mean = statistics.fmean(decode_ms)
    print(
        f"{frames[0].shape[1]}x{frames[0].shape[0]} frames, {len(decode_ms)} decoded; "
        f"decode ms/frame mean {decode_mean:.3f}, p50 {statistics.median(decode_ms):.3f}"
    )
    print("| scene | motion ms/frame mean | p50 | frames changed | decode + motion, % of a core at 15 fps |")
    print("|---|---|---|---|---|")
    for label, mean, p50, changed, total in rows:
        print(f"| {label} | {mean:.3f} | {p50:.3f} | {changed}/{total} | {(decode_mean + mean) * FPS / 10:.2f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
