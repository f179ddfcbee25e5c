"""`python -m bench.decode_paced`: what one 15 fps camera's capture loop costs, paced as live and back to back.

A live camera hands over one frame every 1/15 s, so its capture process sleeps between frames and
decodes each one with cold caches: on the 2-core test VM that costs about twice the CPU of decoding the
same frames back to back. This measures the capture loop's work (decode into a buffer, then the
motion check) both ways, each with OpenCV's own thread pool and with one thread (what the stages
use: facegate/procutil.py `one_opencv_thread`), and paced in groups of 3 (one wake per group, what a
quiet scene is read in: pipeline/gating/frame_gate.py), with FFmpeg's decoder on OpenCV's default
threads (one a core) and on one (what capture opens: pipeline/capture.py `DECODER_THREADS`), on the
clip and on a still scene. Each variant runs in a fresh process.
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
from bench.videos import retimed, still
from pipeline.gating.motion import MotionDetector
from pipeline.runtime.stats import process_cpu_s

FPS = 15.0


def loop(video: Path, frames: int, *, paced: bool, one_thread: bool, group: int = 1, decoder_threads: int = 0) -> float:
    """CPU ms per frame of decoding `frames` frames of `video` (looping) with the motion check on each;
    paced, the first frame of each `group` waits until the group's last one is due."""
    if one_thread:
        cv2.setNumThreads(1)
    motion, buffer = MotionDetector(), np.empty((360, 640, 3), np.uint8)
    params = [cv2.CAP_PROP_N_THREADS, decoder_threads] if decoder_threads else []
    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG, params)
    for _ in range(3):
        cap.read(image=buffer)
    started, used, done = time.monotonic(), process_cpu_s(), 0
    while done < frames:
        wait = started + (done + group - 1) / FPS - time.monotonic()
        if paced and done % group == 0 and wait > 0:
            time.sleep(wait)
        ok, _ = cap.read(image=buffer)
        if not ok:
            cap.release()
            cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG, params)
            continue
        motion.changed(buffer)
        done += 1
    return (process_cpu_s() - used) * 1000.0 / frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument(
        "--one", nargs=5, metavar=("VIDEO", "PACED", "ONE_THREAD", "GROUP", "DECODER_THREADS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.one:
        paced, one_thread, group, decoder_threads = (int(value) for value in args.one[1:])
        ms = loop(
            Path(args.one[0]), args.frames, paced=bool(paced), one_thread=bool(one_thread), group=group,
            decoder_threads=decoder_threads,
        )  # fmt: skip
        print(round(ms, 3))
        return 0
    variants = {  # name: (paced, one thread, group, FFmpeg's decoder threads: 0 = OpenCV's default, one a core)
        "paced_opencv_pool": (True, False, 1, 0),
        "paced_one_thread": (True, True, 1, 0),
        "paced_in_groups_of_3_one_thread": (True, True, 3, 0),
        "paced_in_groups_of_3_one_thread_one_decoder_thread": (True, True, 3, 1),
        "back_to_back_opencv_pool": (False, False, 1, 0),
        "back_to_back_one_thread": (False, True, 1, 0),
        "back_to_back_one_thread_one_decoder_thread": (False, True, 1, 1),
    }
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="facegate-decode-") as tmp:
        videos = {
            "clip": retimed(faces_dir() / CLIP, Path(tmp) / "clip15.mp4", FPS),
            "still": still(Path(tmp) / "still.mp4", 10.0, FPS),
        }
        for scene, video in videos.items():
            for name, (paced, one_thread, group, decoder_threads) in variants.items():
                command = [sys.executable, "-m", "bench.decode_paced", "--frames", str(args.frames)]
                command += ["--one", str(video), *(str(int(v)) for v in (paced, one_thread, group, decoder_threads))]
                done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
                out.setdefault(scene, {})[name] = float(done.stdout.strip().splitlines()[-1])
    print(json.dumps({"fps": FPS, "frames": args.frames, "cpu_ms_per_frame": out}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
