"""The clip and a data dir with the two registered people, made the way a user would make them.

The bench registers through `supervisor.py register` (as tests/conftest.py does) so the known
encodings the old loop and the pipeline compare against are the very same rows of the store.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PEOPLE = (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png"))
LIN = PEOPLE[0][0]
CLIP = "short_hamilton_clip.mp4"
# The old script's settings, given to both the loop and the replay
DOWNSCALE = 0.5
MODEL = "hog"
HOG_INPUT = "colour"  # the old script's HOG looks at the frame's colours (the pipeline's default is grey)
THRESHOLD = 0.6
REGISTER_TIMEOUT_S = 120.0


def faces_dir() -> Path:
    """The verified folder of test images and the clip (see tests/support/testdata.py)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.support.testdata import data_dir

    return data_dir()


BENCH_TOKEN = "facegate-bench-admin-token"  # the admin token of every service the bench starts (closed by default)
AUTH_HEADERS = {"Authorization": f"Bearer {BENCH_TOKEN}"}


def supervisor_env() -> dict[str, str]:
    """The environment every `supervisor.py` the bench starts runs in: quiet, no webhooks going out, and
    BENCH_TOKEN as its admin token."""
    return {**os.environ, "PYTHONWARNINGS": "ignore", "FACEGATE_WEBHOOKS": "off", "FACEGATE_API_TOKEN": BENCH_TOKEN}


def register_people(data_dir: Path, faces: Path) -> None:
    """Register Lin-Manuel Miranda and Alex Lacamoire from their photos into `data_dir`."""
    for name, image in PEOPLE:
        done = subprocess.run(
            [sys.executable, "supervisor.py", "--data-dir", str(data_dir), "register", name, str(faces / image)],
            cwd=REPO,
            env=supervisor_env(),
            capture_output=True,
            text=True,
            timeout=REGISTER_TIMEOUT_S,
        )
        if done.returncode != 0:
            raise RuntimeError(f"register {name} failed: {done.stderr.strip()[-500:]}")


def stop(proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    """SIGTERM a supervisor the bench started (it then unlinks its segments); SIGKILL if it will not go."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def copy_data_dir(source: Path, target: Path) -> Path:
    """A private copy of a registered data dir's store (SQLite's backup, safe while it is open)."""
    target.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source / "facegate.db") as src, sqlite3.connect(target / "facegate.db") as dst:
        src.backup(dst)
    return target
