"""`python -m bench.decode_paced`: what one 15 fps camera's capture loop costs, paced as live and back to back.

A live camera hands over one frame every 1/15 s, so its capture process sleeps between frames and
decodes each one with cold caches: on the 2-core test VM that costs about twice the CPU of decoding the
same frames back to back. This measures the capture loop's work (decode into a buffer, then the
motion check) both ways, each with OpenCV's own thread pool and with one thread (what the stages
use: facegate/procutil.py `one_opencv_thread`). Each variant runs in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from bench.fixtures import CLIP, faces_dir
from bench.videos import retimed
from pipeline.gating.motion import MotionDetector
from pipeline.runtime.stats import process_cpu_s

FPS = 15.0


def loop(video: Path, frames: int, *, paced: bool, one_thread: bool) -> float:
    """CPU ms per frame of decoding `frames` frames of `video` (looping) with the motion check on each."""
    if one_thread:
        cv2.setNumThreads(1)
    motion, buffer = MotionDetector(), np.empty((360, 640, 3), np.uint8)
    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    for _ in range(3):
        cap.read(image=buffer)
    started, used, done = time.monotonic(), process_cpu_s(), 0
    while done < frames:
        wait = started + done / FPS - time.monotonic()
        if paced and wait > 0:
            time.sleep(wait)
        ok, _ = cap.read(image=buffer)
        if not ok:
            cap.release()
            cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
            continue
        motion.changed(buffer)
        done += 1
    return (process_cpu_s() - used) * 1000.0 / frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--one", nargs=3, metavar=("VIDEO", "PACED", "ONE_THREAD"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        video, paced, one_thread = Path(args.one[0]), args.one[1] == "1", args.one[2] == "1"
        print(round(loop(video, args.frames, paced=paced, one_thread=one_thread), 3))
        return 0
    out = {}
    with tempfile.TemporaryDirectory(prefix="facegate-decode-") as tmp:
        video = retimed(faces_dir() / CLIP, Path(tmp) / "clip15.mp4", FPS)
        for paced in (True, False):
            for one_thread in (False, True):
                command = [sys.executable, "-m", "bench.decode_paced", "--frames", str(args.frames)]
                command += ["--one", str(video), str(int(paced)), str(int(one_thread))]
                done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
                key = f"{'paced' if paced else 'back_to_back'}_{'one_thread' if one_thread else 'opencv_pool'}"
                out[key] = float(done.stdout.strip().splitlines()[-1])
    print(json.dumps({"fps": FPS, "frames": args.frames, "cpu_ms_per_frame": out}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
