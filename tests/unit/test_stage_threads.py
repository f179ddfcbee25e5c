"""Every stage process runs OpenCV's loops on its own one thread (facegate/procutil.py `one_opencv_thread`):
the stages are processes already, and OpenCV's pool in each of them only spun against the others."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import os
import cv2
before = cv2.getNumThreads()
from facegate.procutil import become_stage
become_stage("threads-test", os.getppid())
print(before, cv2.getNumThreads(), flush=True)
"""


def test_a_stage_process_runs_opencv_on_one_thread() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    before, after = (int(n) for n in done.stdout.split())
    assert after == 1 and before >= 1  # OpenCV's own default is one thread per core it may use
