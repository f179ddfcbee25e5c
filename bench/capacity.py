"""Cameras per machine: how many live 15 fps cameras the pipeline keeps up with, and what an idle one costs.

Each camera plays a looping file at its own rate, as a live camera would: the shared clip at 15 fps
(every other frame of the 30 fps clip), or, for the idle cost, a still scene with no face. The
pipeline runs live in this process (it is the supervisor) with the default settings but the
detector under test. After a warm-up, a window of stream time is measured from the stages' own
counters: frames offered (read by capture), dropped (no free slot), shed (chosen for detection but
sent on undetected, detection being backed up) and through match. Keeping up means at least 97% of
the offered frames went through match, at most 2% were dropped, and at most 2% of the frames chosen
for detection were shed. The search steps the camera count up until a step fails or the time budget
is spent. Idle cameras are measured at 4 and at 12: per camera at each, and what one more adds (the
slope), since part of the per-camera figure at 4 is the stages' own wake-ups, there with no camera.

`python -m bench.capacity [--detectors hog,blazeface] [--idle-only] [--steps 12,16,20]`
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.fixtures import CLIP, faces_dir, register_people
from bench.live_cameras import live_cameras
from bench.videos import retimed, still
from pipeline.runtime.stats import process_cpu_s

CAMERA_FPS = 15.0
STEPS = (2, 4, 8, 12, 16, 20, 24, 28, 32)
WARMUP_S = 10.0
WINDOW_S = 30.0
THROUGH_MIN = 0.97
DROPPED_MAX = 0.02
SHED_MAX = 0.02  # of the frames the gate chose for detection: more, and the cameras get fewer detections than asked


def _totals(pipeline: Any) -> dict[str, float]:
    rows = pipeline.stage_figures()
    return {
        "offered": sum(r.frames_in for r in rows if r.kind == "capture"),
        "dropped": sum(r.drops for r in rows if r.kind == "capture"),
        "shed": sum(r.shed for r in rows if r.kind == "capture"),
        "through": sum(r.frames_out for r in rows if r.kind == "match"),
        "detected": sum(r.frames_out for r in rows if r.kind == "detect"),
        "cpu_s": sum(r.cpu_s for r in rows),
        "capture_cpu_s": sum(r.cpu_s for r in rows if r.kind == "capture"),
        "restarts": sum(r.restarts for r in rows),
        "supervisor_cpu_s": process_cpu_s(),  # the hub's routing threads: this process is the supervisor
    }


def trial(
    data_dir: Path,
    video: Path,
    cameras: int,
    detector: str,
    window_s: float = WINDOW_S,
    more: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run `cameras` copies of `video` live for a warm-up and a measured window; the window's figures.
    `more`: other settings than the defaults (e.g. min_face_px)."""
    with live_cameras(data_dir, video, cameras, {**(more or {}), "detector": detector}) as pipeline:
        time.sleep(WARMUP_S)
        before, started = _totals(pipeline), time.monotonic()
        time.sleep(window_s)
        after, elapsed = _totals(pipeline), time.monotonic() - started
    delta = {k: after[k] - before[k] for k in after}
    offered = max(delta["offered"], 1.0)
    through, dropped = delta["through"] / offered, delta["dropped"] / offered
    shed = delta["shed"] / max(delta["detected"] + delta["shed"], 1.0)
    return {
        "cameras": cameras,
        "detector": detector,
        "offered_fps": round(delta["offered"] / elapsed, 1),
        "through": round(through, 3),
        "dropped": round(dropped, 3),
        "shed": round(shed, 3),
        "detected_fps": round(delta["detected"] / elapsed, 1),
        "cores": round(delta["cpu_s"] / elapsed, 2),
        "capture_cores": round(delta["capture_cpu_s"] / elapsed, 3),
        "supervisor_cores": round(delta["supervisor_cpu_s"] / elapsed, 3),
        # every stage and the supervisor's routing, per camera: what one camera with a face in view costs
        "cores_per_camera": round((delta["cpu_s"] + delta["supervisor_cpu_s"]) / elapsed / cameras, 3),
        "restarts": int(delta["restarts"]),
        "keeps_up": through >= THROUGH_MIN and dropped <= DROPPED_MAX and shed <= SHED_MAX,
    }


def capacity(
    data_dir: Path, video: Path, detector: str, budget_s: float, counts: tuple[int, ...] = STEPS
) -> dict[str, Any]:
    """Step the camera count up through `counts` until a step falls behind or the budget is spent."""
    deadline = time.monotonic() + budget_s
    steps, best = [], 0
    for cameras in counts:
        if time.monotonic() > deadline:
            break
        print(f"[capacity] {detector}: {cameras} cameras", file=sys.stderr, flush=True)
        result = trial(data_dir, video, cameras, detector)
        steps.append(result)
        if not result["keeps_up"]:
            break
        best = cameras
    kept = next((s for s in reversed(steps) if s["keeps_up"]), None)
    return {
        "detector": detector,
        "cameras": best,
        "cores": kept["cores"] if kept else None,
        "searched_to": steps[-1]["cameras"] if steps else 0,
        "steps": steps,
    }


IDLE_COUNTS = (4, 12)  # the idle cost is measured at both: the node's own fixed cost drops out of the slope


def idle_trial(data_dir: Path, video: Path, cameras: int) -> dict[str, Any]:
    result = trial(data_dir, video, cameras, "hog")
    return {
        "cameras": cameras,
        "percent_of_a_core_per_camera": round(100.0 * result["cores"] / cameras, 2),
        "with_supervisor_percent_per_camera": round(
            100.0 * (result["cores"] + result["supervisor_cores"]) / cameras, 2
        ),
        "capture_percent_per_camera": round(100.0 * result["capture_cores"] / cameras, 2),
        "detected_fps": result["detected_fps"],
        "trial": result,
    }


def idle(data_dir: Path, video: Path, counts: tuple[int, int] = IDLE_COUNTS) -> dict[str, Any]:
    """What idle cameras cost: per camera at each count (which includes a share of the stages' own wake-ups,
    the same with no camera at all), and what one more idle camera adds (the slope between the two counts)."""
    few, many = (idle_trial(data_dir, video, cameras) for cameras in counts)

    def slope(key: str) -> float:
        return round((many[key] * many["cameras"] - few[key] * few["cameras"]) / (many["cameras"] - few["cameras"]), 2)

    return {
        **few,
        "more": many,
        "one_more_percent": slope("percent_of_a_core_per_camera"),
        "one_more_with_supervisor_percent": slope("with_supervisor_percent_per_camera"),
    }


def measure(
    detectors: list[str],
    budget_s: float,
    *,
    idle_cost: bool = True,
    search: bool = True,
    counts: tuple[int, ...] = STEPS,
) -> dict[str, Any]:
    out: dict[str, Any] = {"cores": os.cpu_count(), "camera_fps": CAMERA_FPS}
    with tempfile.TemporaryDirectory(prefix="facegate-capacity-") as tmp:
        work = Path(tmp)
        register_people(work / "data", faces_dir())
        if idle_cost:
            print("[capacity] idle cameras", file=sys.stderr, flush=True)
            out["idle"] = idle(work / "data", still(work / "still.mp4", 10.0, CAMERA_FPS))
        if search:
            video = retimed(faces_dir() / CLIP, work / "clip15.mp4", CAMERA_FPS)
            out["capacity"] = [capacity(work / "data", video, d, budget_s, counts) for d in detectors]
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = []
    if "capacity" in result:
        lines += [
            "| detector | 15 fps cameras kept up with | cores then | per camera"
            " | steps (cameras: through / dropped / shed) |",
            "|---|---|---|---|---|",
        ]
        for row in result["capacity"]:
            steps = ", ".join(
                f"{s['cameras']}: {s['through']:.0%} / {s['dropped']:.0%} / {s['shed']:.0%}" for s in row["steps"]
            )
            kept = next((s for s in reversed(row["steps"]) if s["keeps_up"]), None)
            per_camera = kept["cores_per_camera"] if kept else "-"
            lines.append(f"| {row['detector']} | {row['cameras']} | {row['cores']} | {per_camera} | {steps} |")
    if "idle" in result:
        idle_row = result["idle"]
        for row in (idle_row, idle_row["more"]):
            lines.append(
                f"\nIdle camera (still scene, 15 fps, {row['cameras']} cameras): "
                f"{row['percent_of_a_core_per_camera']}% of a core each, all stages "
                f"(capture: decode + motion {row['capture_percent_per_camera']}%); "
                f"{row['with_supervisor_percent_per_camera']}% with the supervisor's routing"
            )
        lines.append(
            f"\nOne more idle camera ({idle_row['cameras']} -> {idle_row['more']['cameras']}): "
            f"{idle_row['one_more_percent']}% of a core, all stages; "
            f"{idle_row['one_more_with_supervisor_percent']}% with the supervisor's routing"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", default="blazeface,hog")
    parser.add_argument("--budget-s", type=float, default=300.0, help="per detector, for the search")
    parser.add_argument("--idle-only", action="store_true")
    parser.add_argument("--capacity-only", action="store_true")
    parser.add_argument(
        "--steps",
        default=",".join(map(str, STEPS)),
        help="camera counts to try, in order (e.g. 12,16,20 to start near the limit)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the running pipeline shuts down
    os.environ.setdefault("FACEGATE_WEBHOOKS", "off")
    out = measure(
        args.detectors.split(","),
        args.budget_s,
        idle_cost=not args.capacity_only,
        search=not args.idle_only,
        counts=tuple(int(n) for n in args.steps.split(",")),
    )
    print(json.dumps(out, indent=2))
    print(markdown(out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
