"""`python -m bench.startup`: what starting the pipeline costs, and where a stage process's start-up goes.

Three figures, each the median of three fresh interpreters (a cold start every time):
* the steps of a stage's start-up, each timed after the ones before it: the Python start itself,
  numpy + OpenCV, dlib, face_recognition (which loads dlib's detector, landmark and encoding
  models), the pipeline's own modules, and a BlazeFace interpreter;
* a pipeline (emit, match, two detect workers) from `start()` to ready, a SIGKILLed detect worker
  until it is back (a new pid) and ready again, and the `shutdown()`; CPU seconds of the stages'
  start-ups (the `cpu_ready_s` of their stats rows) added up;
* `supervisor.py replay` of one second of the clip, the whole process, as a user runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.fixtures import CLIP, REPO, faces_dir, supervisor_env
from bench.videos import fps_of, frames_of, write

TRIAL_TIMEOUT_S = 180.0

STEPS = (
    ("numpy + cv2", "import numpy, cv2"),
    ("dlib", "import dlib"),
    ("face_recognition (dlib models)", "import face_recognition"),
    ("pipeline modules", "import pipeline.detect, pipeline.match, pipeline.capture, pipeline.emit"),
    ("blazeface interpreter", "from pipeline.detectors.factory import make_detector; make_detector('blazeface')"),
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
    done = subprocess.run(
        [sys.executable, "-c", f"STEPS = {STEPS!r}\n{PROBE}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    total = (time.perf_counter() - started) * 1000.0
    steps = json.loads(done.stdout.strip().splitlines()[-1])
    return {"interpreter start": total - sum(steps.values()), **steps, "total": total}


def _wait(condition: Any, timeout: float) -> float:
    """Seconds until `condition()` is true (polled every 10 ms); raises after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"not reached in {timeout:.0f} s")
        time.sleep(0.01)
    return time.monotonic() - started


def pipeline_trial(data_dir: str) -> dict[str, float]:
    """One cold pipeline in this process: start to ready, a killed detect worker back, shutdown (seconds)."""
    from pipeline.supervision.runner import Pipeline

    pipeline = Pipeline(data_dir, {"workers": 2}, follow_config=False, deliver_webhooks=False, log_level="WARNING")

    def detect_1() -> Any:
        return next(row for row in pipeline.stage_figures() if row.name == "detect-1")

    out: dict[str, float] = {}
    started = time.monotonic()
    try:
        pipeline.start()
        if not pipeline.wait_ready(TRIAL_TIMEOUT_S):
            raise RuntimeError("the pipeline did not become ready")
        out["ready_s"] = time.monotonic() - started
        out["start_cpu_s"] = sum(row.cpu_ready_s for row in pipeline.stage_figures())
        victim = int(detect_1().pid)
        os.kill(victim, signal.SIGKILL)
        out["detect_back_s"] = _wait(
            lambda: detect_1().alive and int(detect_1().pid) not in (0, victim), TRIAL_TIMEOUT_S
        )
        out["detect_ready_s"] = out["detect_back_s"] + _wait(lambda: detect_1().ready > 0, TRIAL_TIMEOUT_S)
    finally:
        stopping = time.monotonic()
        pipeline.shutdown()
        out["shutdown_s"] = time.monotonic() - stopping
    return out


def pipeline_once(data_dir: Path) -> dict[str, float]:
    code = (
        f"import json; from bench.startup import pipeline_trial; print(json.dumps(pipeline_trial({str(data_dir)!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=supervisor_env(),
        capture_output=True,
        text=True,
        timeout=TRIAL_TIMEOUT_S * 2,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pipeline trial failed: {done.stderr.strip()[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def replay_once(video: Path, data_dir: Path) -> float:
    """Wall seconds of `supervisor.py replay video`, interpreter start to exit."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "supervisor.py", "--data-dir", str(data_dir), "replay", str(video), "--no-progress"],
        cwd=REPO,
        env=supervisor_env(),
        capture_output=True,
        text=True,
        timeout=TRIAL_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise RuntimeError(f"replay failed: {done.stderr.strip()[-1500:]}")
    return time.monotonic() - started


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0]}


def measure(runs: int = 3) -> dict[str, Any]:
    """Every start-up figure, each the median of `runs` cold starts."""
    out: dict[str, Any] = {
        "load_before": [round(v, 2) for v in os.getloadavg()],
        "steps_ms": _medians([once() for _ in range(runs)]),
    }
    with tempfile.TemporaryDirectory(prefix="facegate-startup-") as tmp:
        work = Path(tmp)
        out["pipeline"] = _medians([pipeline_once(work / "data") for _ in range(runs)])
        clip = faces_dir() / CLIP
        fps = fps_of(clip)
        second = write(work / "second.mp4", (f for i, f in enumerate(frames_of(clip)) if i < round(fps)), fps)
        out["replay_1s_wall_s"] = round(statistics.median(replay_once(second, work / "data") for _ in range(runs)), 3)
    return out


def markdown(result: dict[str, Any]) -> str:
    steps = result["steps_ms"]
    lines = [
        f"Load average before: {' '.join(map(str, result['load_before']))}",
        "",
        "| a stage's start-up step | ms |",
        "|---|---|",
    ]
    lines += [f"| {label} | {ms:.0f} |" for label, ms in steps.items()]
    p = result["pipeline"]
    lines += [
        "",
        "| pipeline (emit, match, 2 detect), median of 3 cold starts | s |",
        "|---|---|",
        f"| start() to ready | {p['ready_s']:.2f} |",
        f"| CPU of the stages' start-ups, added up (not a forkserver's one import) | {p['start_cpu_s']:.2f} |",
        f"| a SIGKILLed detect worker back (new pid) | {p['detect_back_s']:.2f} |",
        f"| ... and ready again | {p['detect_ready_s']:.2f} |",
        f"| shutdown() | {p['shutdown_s']:.2f} |",
        f"| `supervisor.py replay` of 1 s of the clip, whole process | {result['replay_1s_wall_s']:.2f} |",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="cold starts per figure (the median is shown)")
    args = parser.parse_args(argv)
    result = measure(args.runs)
    print(json.dumps(result, indent=2))
    print(markdown(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
