"""`supervisor.py replay` as a user runs it, in a subprocess, with its memory watched from outside.

The pipeline reports its own figures (`--json`); what it cannot see is the memory of every process
of the run at once, so this samples /proc of the replay and all its descendants every ~0.2 s
(bench.soak.sample) and keeps the peak of their summed RSS.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.fixtures import DOWNSCALE, HOG_INPUT, MODEL, REPO, THRESHOLD, stop, supervisor_env
from bench.soak import sample

SAMPLE_EVERY_S = 0.2
TIMEOUT_S = 300.0


def replay_command(
    video: Path,
    data_dir: Path,
    trace: Path,
    *,
    pace: bool,
    workers: int | None,
    detect_fps: float | None = 0.0,
    detector: str | None = None,
    hog_input: str | None = HOG_INPUT,
) -> list[str]:
    """The replay with the loop's settings spelled out (downscale, model, threshold, every frame detected, HOG
    on colour), whatever the store holds; `detect_fps` None leaves the default rate, `detector` another
    locator, `hog_input` None the default (grey)."""
    command = [
        sys.executable,
        "supervisor.py",
        "--data-dir",
        str(data_dir),
        "replay",
        str(video),
        "--json",
        "--trace",
        str(trace),
        "--no-progress",
        "--downscale",
        str(DOWNSCALE),
        "--model",
        MODEL,
        "--threshold",
        str(THRESHOLD),
    ]
    if detect_fps is not None:
        command += ["--detect-fps", f"{detect_fps:g}"]
    if detector is not None:
        command += ["--detector", detector]
    if hog_input is not None:
        command += ["--hog-input", hog_input]
    if pace:
        command.append("--pace")
    if workers is not None:
        command += ["--workers", str(workers)]
    return command


def run_replay(
    video: Path,
    data_dir: Path,
    trace: Path,
    *,
    pace: bool = False,
    workers: int | None = None,
    timeout_s: float = TIMEOUT_S,
    detect_fps: float | None = 0.0,
    detector: str | None = None,
    hog_input: str | None = HOG_INPUT,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The replay's own JSON report, plus `sampled_peak_rss_mb`, `sampled_processes` and `wall_s`.
    `env`: more environment (e.g. webhooks on) over the bench's own."""
    stdout_path, stderr_path = trace.with_suffix(".out"), trace.with_suffix(".err")
    with stdout_path.open("w") as out, stderr_path.open("w") as err:
        started = time.monotonic()
        command = replay_command(
            video,
            data_dir,
            trace,
            pace=pace,
            workers=workers,
            detect_fps=detect_fps,
            detector=detector,
            hog_input=hog_input,
        )
        proc = subprocess.Popen(command, cwd=REPO, env={**supervisor_env(), **(env or {})}, stdout=out, stderr=err)
        peak_mb, most_processes = 0.0, 0
        try:
            while proc.poll() is None:
                if time.monotonic() - started > timeout_s:
                    raise RuntimeError(f"replay did not finish in {timeout_s:.0f} s")
                point = sample(proc.pid)
                peak_mb = max(peak_mb, point["rss_mb"])
                most_processes = max(most_processes, int(point["processes"]))
                time.sleep(SAMPLE_EVERY_S)
        finally:
            stop(proc)
        wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"replay exited with {proc.returncode}: {stderr_path.read_text()[-1500:]}")
    report = json.loads(stdout_path.read_text())
    report.update(sampled_peak_rss_mb=round(peak_mb, 1), sampled_processes=most_processes, wall_s=round(wall, 2))
    return report
