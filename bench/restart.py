"""How soon a killed stage is back: the README promises "within 5 s"; the tests check only that it comes back.

Serves the clip as a live camera with `supervisor.py` on 127.0.0.1, SIGKILLs one stage at a time
(detect-1, match, capture cam0) and times, from the kill, until a new process with that title runs
and until frames flow through emit again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from bench.fixtures import AUTH_HEADERS, REPO, stop, supervisor_env
from bench.soak import _free_port as free_port

STAGES = ("detect-1", "match", "capture cam0")
LIMIT_S = 60.0  # bound of every wait
POLL_S = 0.02


def _child(root: int, title: str) -> int | None:
    """The process titled `facegate: {title}` that descends from `root` (stages are the children of the
    supervisor's forkserver, pipeline/supervision/launcher.py, so grandchildren of the supervisor)."""
    parents, titles = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            titles[int(entry.name)] = (
                (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            )
        except (OSError, IndexError, ValueError):
            continue
    for pid, cmdline in titles.items():
        ancestor, hops = parents.get(pid), 0
        while cmdline == f"facegate: {title}" and ancestor and hops < 8:
            if ancestor == root:
                return pid
            ancestor, hops = parents.get(ancestor), hops + 1
    return None


def _frames_done(url: str) -> int:
    try:
        stages = requests.get(url + "/api/stats", headers=AUTH_HEADERS, timeout=5).json()["pipeline"]["stages"]
    except (requests.RequestException, ValueError, KeyError):
        return -1
    return int(stages.get("emit", {}).get("frames_out", 0))


def _until(condition: Any, what: str) -> float:
    """Seconds until `condition()` is true (bounded by LIMIT_S)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > LIMIT_S:
            raise RuntimeError(f"no {what} within {LIMIT_S:.0f} s")
        time.sleep(POLL_S)
    return time.monotonic() - started


def measure(clip: Path, data_dir: Path) -> list[dict[str, Any]]:
    """For each stage: seconds from its SIGKILL to a new process, and to frames through emit again."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (data_dir / "restart-bench.log").open("ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "supervisor.py",
            "--data-dir",
            str(data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--stream-url",
            str(clip),
        ],
        cwd=REPO,
        env=supervisor_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    rows = []
    try:
        _until(lambda: _frames_done(url) > 30, "frames after start")
        for title in STAGES:
            old = _child(proc.pid, title)
            if old is None:
                raise RuntimeError(f"no stage {title}")
            killed = time.monotonic()
            os.kill(old, signal.SIGKILL)
            _until(lambda t=title, o=old: _child(proc.pid, t) not in (None, o), f"new {title}")
            back = time.monotonic() - killed
            before = _frames_done(url)
            _until(lambda b=before: _frames_done(url) > b + 10, f"frames after {title} came back")
            rows.append(
                {"stage": title, "new_process_s": round(back, 2), "frames_again_s": round(time.monotonic() - killed, 2)}
            )
    finally:
        stop(proc, 60.0)
        log.close()
    return rows


if __name__ == "__main__":
    import json
    import tempfile

    from bench.fixtures import CLIP, faces_dir, register_people

    with tempfile.TemporaryDirectory(prefix="facegate-bench-") as tmp:
        register_people(Path(tmp) / "data", faces_dir())
        print(json.dumps(measure(faces_dir() / CLIP, Path(tmp) / "data"), indent=2))
