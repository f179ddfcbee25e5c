"""`python -m bench.startup`: where a stage process's start-up time goes (imports and model loads).

Each step is timed in a fresh interpreter, after the steps before it, the way a stage process
starts: the Python start itself, numpy + OpenCV, dlib, face_recognition (which loads dlib's
detector, landmark and encoding models), the pipeline's own modules, and a BlazeFace interpreter.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

from bench.fixtures import REPO

STEPS = (
    ("numpy + cv2", "import numpy, cv2"),
    ("dlib", "import dlib"),
    ("face_recognition (dlib models)", "import face_recognition"),
    ("pipeline modules", "import pipeline.detect, pipeline.match, pipeline.capture, pipeline.emit"),
    ("blazeface interpreter", "from pipeline.detectors import make_detector; make_detector('blazeface')"),
)
PROBE = """
import time, json, warnings
warnings.filterwarnings("ignore")
out = {}
for label, code in STEPS:
    started = time.perf_counter()
    exec(code)
    out[label] = (time.perf_counter() - started) * 1000.0
print(json.dumps(out))
"""


def once() -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", f"STEPS = {STEPS!r}\n{PROBE}"], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)
    total = (time.perf_counter() - started) * 1000.0
    steps = json.loads(done.stdout.strip().splitlines()[-1])
    return {"interpreter start": total - sum(steps.values()), **steps, "total": total}


def main() -> int:
    runs = [once() for _ in range(3)]
    print("| step | ms (median of 3 fresh processes) |")
    print("|---|---|")
    for label in runs[0]:
        print(f"| {label} | {statistics.median(r[label] for r in runs):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
