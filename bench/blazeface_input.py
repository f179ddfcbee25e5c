"""`python -m bench.blazeface_input`: what BlazeFace's input costs, and what sizing it to the frame saves.

BlazeFace's files take a square (192x192 full range, 128x128 short); a 16:9 frame letterboxed into it
is 44% black. Two measurements on the shared clip at the pipeline's default downscale (0.5: 320x180),
one thread:
- Making the input: padding the frame to a square and then shrinking it resizes the padding too;
  shrinking the frame and padding after resizes only the picture (the same input: tests/unit/test_detectors.py).
- Running it: `locate` on the square input and on the input sized to the frame
  (pipeline/detectors/blazeface_shape.py), CPU ms a frame; the faces each finds on the clip's frames at
  three thresholds; and the logit shift that makes the sized input find as many faces as the square at
  0.5, which is `ModelSpec.sized_logit_shift` in pipeline/detectors/blazeface.py.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import cv2
import numpy as np

from bench.fixtures import CLIP, faces_dir
from pipeline.detect import shrink
from pipeline.detectors.blazeface import MODELS, BlazeFace

THRESHOLDS = (0.4, 0.5, 0.6)


def padded_first(rgb: np.ndarray, size: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    square = cv2.copyMakeBorder(rgb, top, side - height - top, left, side - width - left, cv2.BORDER_CONSTANT)
    small = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) * (2.0 / 255.0) - 1.0


def on_square(range_name: str, min_score: float) -> BlazeFace:
    """A detector that letterboxes every frame into the model's square, as before inputs were sized."""
    detector = BlazeFace(range_name, min_score=min_score)
    side = detector.spec.input_size
    detector._for_input = lambda rows, cols: detector._sized[side, side]  # type: ignore[method-assign]
    return detector


def on_sized(range_name: str, min_score: float, shift: float | None = None) -> BlazeFace:
    """A detector on inputs sized to the frame; `shift` in place of the model's own logit shift."""
    detector = BlazeFace(range_name, min_score=min_score)
    if shift is not None:
        detector.spec = replace(detector.spec, sized_logit_shift=shift)
    return detector


def faces_found(detector: BlazeFace, frames: list[np.ndarray]) -> int:
    return sum(len(detector.locate_raw(frame)) for frame in frames)


def fitted_shift(range_name: str, frames: list[np.ndarray], target: int) -> float:
    """The logit shift, to 0.01, at which the sized input finds `target` faces at 0.5 (the closest count)."""
    counts = {shift: faces_found(on_sized(range_name, 0.5, shift / 100), frames) for shift in range(0, -61, -2)}
    near = min(counts, key=lambda shift: (abs(counts[shift] - target), -shift))
    fine = {
        shift: faces_found(on_sized(range_name, 0.5, shift / 100), frames) for shift in range(near + 1, near - 2, -1)
    }
    return min(fine, key=lambda shift: (abs(fine[shift] - target), -shift)) / 100


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
    parser.add_argument("--fit", action="store_true", help="fit the sized input's logit shift again (~1 min)")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)  # one detect worker's thread
    cap = cv2.VideoCapture(str(faces_dir() / CLIP))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(shrink(frame, args.downscale), cv2.COLOR_BGR2RGB))  # as detect gives it
    cap.release()
    out = {}
    for range_name, spec in MODELS.items():
        detector, size = BlazeFace(range_name), spec.input_size
        out[range_name] = {
            "input": size,
            "padded_first_ms": round(cpu_ms_each(lambda f, s=size: padded_first(f, s), frames, args.passes), 3),
            "shrunk_first_ms": round(cpu_ms_each(detector._tensor, frames, args.passes), 3),
            "locate_ms": round(cpu_ms_each(on_square(range_name, 0.5).locate, frames, args.passes), 3),
            "locate_sized_ms": round(cpu_ms_each(detector.locate, frames, args.passes), 3),
            "sized_input": list(detector._tensor(frames[0])[0].shape[1:3]),
            "faces_square": {t: faces_found(on_square(range_name, t), frames) for t in THRESHOLDS},
            "faces_sized": {t: faces_found(on_sized(range_name, t), frames) for t in THRESHOLDS},
            "sized_logit_shift": spec.sized_logit_shift,
        }
        if args.fit:
            out[range_name]["fitted_shift"] = fitted_shift(range_name, frames, out[range_name]["faces_square"][0.5])
    print(json.dumps({"frames": len(frames), "size": list(frames[0].shape[:2]), "models": out}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
