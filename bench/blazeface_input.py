"""`python -m bench.blazeface_input`: what making BlazeFace's square input costs, padded first or shrunk first.

BlazeFace takes a square (192x192 full range, 128x128 short); a 16:9 frame is letterboxed into it.
Padding the frame to a square and then shrinking it resizes the padding too; shrinking the frame
and padding after resizes only the picture and gives the same input (tests/unit/test_detectors.py).
This times both on the shared clip at the pipeline's default downscale (0.5: 320x180).
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np

from bench.fixtures import CLIP, faces_dir
from pipeline.detect import shrink
from pipeline.detectors.blazeface import MODELS, BlazeFace


def padded_first(rgb: np.ndarray, size: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    square = cv2.copyMakeBorder(rgb, top, side - height - top, left, side - width - left, cv2.BORDER_CONSTANT)
    small = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) * (2.0 / 255.0) - 1.0


def cpu_ms_each(fn: object, items: list[np.ndarray], passes: int) -> float:
    started = time.process_time()
    for _ in range(passes):
        for item in items:
            fn(item)  # type: ignore[operator]
    return (time.process_time() - started) * 1000.0 / (passes * len(items))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--downscale", type=float, default=0.5)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)  # one detect worker's thread
    cap = cv2.VideoCapture(str(faces_dir() / CLIP))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(shrink(frame, args.downscale))
    cap.release()
    out = {}
    for range_name, spec in MODELS.items():
        detector, size = BlazeFace(range_name), spec.input_size
        out[range_name] = {
            "input": size,
            "padded_first_ms": round(cpu_ms_each(lambda f, s=size: padded_first(f, s), frames, args.passes), 3),
            "shrunk_first_ms": round(cpu_ms_each(detector._tensor, frames, args.passes), 3),
            "locate_ms": round(cpu_ms_each(detector.locate, frames, 1), 3),
        }
    print(json.dumps({"frames": len(frames), "size": list(frames[0].shape[:2]), "models": out}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
