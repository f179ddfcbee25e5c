"""Where a camera's CPU goes: per stage, per frame kind, per queue hop, and inside each stage.

The set-up is the capacity bench's (bench/capacity.py): N cameras each playing the shared clip at
15 fps as a looping file, the pipeline live in this process (the supervisor, whose hub threads
route every message). After a warm-up, two windows:

1. **CPU**: each stage's CPU seconds and counters from the stats board, the hub's message counts
   (`Pipeline.route_counts`) and this process's own CPU, over the window. Gives CPU ms per second
   and per frame for each stage kind, frames per second by kind (detected or not), and
   messages per offered frame (each message is two queue hops: into the hub and out of it).
2. **Samples**: py-spy (from the package registry; `pip install py-spy`) samples every stage process
   and this one for the window, without stopping them. The samples name where the time goes inside
   each stage: the functions most often on CPU (leaf) and the project's functions most often on
   the stack (inclusive). py-spy's own CPU falls in this window only, not in the first.

`python -m bench.profile [--cameras 8] [--detector blazeface] [--window-s 30] [--no-samples] [--idle]`
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.capacity import CAMERA_FPS
from bench.fixtures import CLIP, REPO, faces_dir, register_people
from bench.live_cameras import live_cameras
from bench.videos import retimed, still
from pipeline.runtime.stats import process_cpu_s

WARMUP_S = 10.0
WINDOW_S = 30.0
SAMPLE_RATE_HZ = 50
OWN_CODE = ("pipeline/", "facegate/", "control/", "entry/")  # inclusive figures are kept for these files only
# A thread blocked in these is waiting, not working, though py-spy (without --idle) still samples some of them.
WAITING = ("_PollLikeSelector.select ", "Condition.wait ", "Popen._wait ", "select (")


@dataclass(frozen=True)
class StageTotals:
    """A stage kind's counters added over its processes, at one moment."""

    processes: int
    cpu_s: float
    frames_in: float
    frames_out: float
    faces: float
    encodings: float


def stage_totals(pipeline: Any) -> dict[str, StageTotals]:
    rows_by_kind: dict[str, list[Any]] = defaultdict(list)
    for row in pipeline.stage_figures():
        rows_by_kind[str(row.kind)].append(row)
    return {
        kind: StageTotals(
            processes=len(rows),
            cpu_s=sum(r.cpu_s for r in rows),
            frames_in=sum(r.frames_in for r in rows),
            frames_out=sum(r.frames_out for r in rows),
            faces=sum(r.faces for r in rows),
            encodings=sum(r.encodings for r in rows),
        )
        for kind, rows in rows_by_kind.items()
    }


def cpu_window(pipeline: Any, window_s: float) -> dict[str, Any]:
    """The first window: CPU and counters per stage kind, frames by kind, messages per frame."""
    before, routes_before, own_before = stage_totals(pipeline), pipeline.route_counts(), process_cpu_s()
    started = time.monotonic()
    time.sleep(window_s)
    after, routes_after, own_after = stage_totals(pipeline), pipeline.route_counts(), process_cpu_s()
    elapsed = time.monotonic() - started
    offered = max(after["capture"].frames_in - before["capture"].frames_in, 1.0)
    stages: dict[str, Any] = {}
    for kind, now in after.items():
        was = before.get(kind, StageTotals(0, 0.0, 0.0, 0.0, 0.0, 0.0))
        cpu_s = now.cpu_s - was.cpu_s
        handled = max(now.frames_out - was.frames_out, 1.0)
        stages[kind] = {
            "processes": now.processes,
            "cores": round(cpu_s / elapsed, 3),
            "cpu_ms_per_s": round(1000.0 * cpu_s / elapsed, 1),
            "frames_per_s": round((now.frames_out - was.frames_out) / elapsed, 1),
            "cpu_ms_per_frame": round(1000.0 * cpu_s / handled, 3),
            "cpu_ms_per_offered_frame": round(1000.0 * cpu_s / offered, 3),
        }
    own = own_after - own_before
    stages["supervisor"] = {
        "processes": 1,
        "cores": round(own / elapsed, 3),
        "cpu_ms_per_s": round(1000.0 * own / elapsed, 1),
        "cpu_ms_per_offered_frame": round(1000.0 * own / offered, 3),
    }
    messages = routes_after.messages - routes_before.messages
    detect = {k: after["detect"].__dict__[k] - before["detect"].__dict__[k] for k in ("faces", "encodings")}
    total_cpu_s = sum(s["cores"] for s in stages.values()) * elapsed
    return {
        "window_s": round(elapsed, 1),
        "offered_fps": round(offered / elapsed, 1),
        "through": round((after["match"].frames_out - before["match"].frames_out) / offered, 3),
        "cores": round(total_cpu_s / elapsed, 3),
        "stages": stages,
        "frames_per_s": {
            "detected": round((routes_after.detected - routes_before.detected) / elapsed, 1),
            "undetected": round((routes_after.undetected - routes_before.undetected) / elapsed, 1),
        },
        "messages_per_offered_frame": {k: round(v / offered, 3) for k, v in sorted(messages.items())},
        "queue_hops_per_offered_frame": round(2 * sum(messages.values()) / offered, 2),
        "faces_per_s": round(detect["faces"] / elapsed, 1),
        "encodings_per_s": round(detect["encodings"] / elapsed, 1),
        "encodings_per_face_sighting": round(detect["encodings"] / max(detect["faces"], 1.0), 3),
    }


class Samples:
    """py-spy's raw samples (one line per distinct stack: `frame;frame;...;frame count`), added up per stage kind:
    how often each function was the one on CPU (leaf), and how often each of the project's was on the stack."""

    def __init__(self) -> None:
        self.samples: Counter[str] = Counter()
        self.leaf: dict[str, Counter[str]] = defaultdict(Counter)
        self.inclusive: dict[str, Counter[str]] = defaultdict(Counter)

    def add(self, kind: str, raw: str) -> None:
        for line in raw.splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count, frames = int(count_text), stack.split(";")
            if frames[-1].startswith(WAITING):
                continue
            self.samples[kind] += count
            self.leaf[kind][frames[-1]] += count
            for frame in set(frames):
                if any(part in frame for part in OWN_CODE):
                    self.inclusive[kind][frame] += count

    def summary(self, window_s: float, top: int) -> dict[str, Any]:
        """Per stage kind: samples, the cores they amount to, and the `top` functions as shares of the samples."""

        def share(counter: Counter[str], total: int) -> list[list[Any]]:
            ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:top]  # ties by name: stable
            return [[name, round(count / max(total, 1), 3)] for name, count in ranked]

        return {
            kind: {
                "samples": total,
                "cores_sampled": round(total / SAMPLE_RATE_HZ / window_s, 3),
                "leaf": share(self.leaf[kind], total),
                "inclusive": share(self.inclusive[kind], total),
            }
            for kind, total in sorted(self.samples.items())
        }


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is missing: pip install py-spy (or run with --no-samples)")
    return found


def sample_window(pipeline: Any, window_s: float, top: int) -> dict[str, Any]:
    """The second window: py-spy on every stage process and this one; the top functions per stage kind."""
    targets = {f"{row.kind}:{row.name}": int(row.pid) for row in pipeline.stage_figures() if row.pid}
    targets["supervisor:supervisor"] = os.getpid()
    out_dir = Path(tempfile.mkdtemp(prefix="facegate-profile-"))
    procs = {
        key: subprocess.Popen(
            [
                py_spy(),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(window_s)),
                "--rate",
                str(SAMPLE_RATE_HZ),
                "--format",
                "raw",
                "--nolineno",
                "--nonblocking",
                "--output",
                str(out_dir / f"{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for key, pid in targets.items()
    }
    for proc in procs.values():
        try:
            proc.wait(window_s + 60)
        except subprocess.TimeoutExpired:
            proc.kill()
    found = Samples()
    for key, pid in targets.items():
        path = out_dir / f"{pid}.txt"
        if path.exists():
            found.add(key.split(":", 1)[0], path.read_text())
    shutil.rmtree(out_dir, ignore_errors=True)

    return found.summary(window_s, top)


def profile(
    cameras: int, detector: str, window_s: float, *, samples: bool, top: int, idle: bool = False
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="facegate-profile-") as tmp:
        work = Path(tmp)
        register_people(work / "data", faces_dir())
        if idle:  # a still scene with no face: what an idle camera costs
            video = still(work / "still.mp4", 10.0, CAMERA_FPS)
        else:
            video = retimed(faces_dir() / CLIP, work / "clip15.mp4", CAMERA_FPS)
        with live_cameras(work / "data", video, cameras, {"detector": detector}) as pipeline:
            time.sleep(WARMUP_S)
            out: dict[str, Any] = {"cameras": cameras, "detector": detector, "idle": idle, "cpu_count": os.cpu_count()}
            out["cpu"] = cpu_window(pipeline, window_s)
            if samples:
                out["samples"] = sample_window(pipeline, window_s, top)
    return out


def markdown(result: dict[str, Any]) -> str:
    cpu = result["cpu"]
    cameras = result["cameras"]
    lines = [
        f"{cameras} cameras ({result['detector']}), {cpu['offered_fps']} frames/s offered, "
        f"{cpu['through']:.1%} through match; {cpu['cores']} cores in all, "
        f"{cpu['cores'] / cameras:.3f} of a core per camera",
        "",
        "| stage | processes | cores | CPU ms / s per camera | frames / s | CPU ms per frame it handles |",
        "|---|---|---|---|---|---|",
    ]
    for kind, row in cpu["stages"].items():
        lines.append(
            f"| {kind} | {row['processes']} | {row['cores']} | {row['cpu_ms_per_s'] / cameras:.1f} | "
            f"{row.get('frames_per_s', '')} | {row.get('cpu_ms_per_frame', '')} |"
        )
    kinds = cpu["frames_per_s"]
    lines += [
        "",
        f"Frames per second by kind: detected {kinds['detected']}, kept off detection {kinds['undetected']}. "
        f"Queue hops per offered frame: {cpu['queue_hops_per_offered_frame']} "
        f"(messages per frame: {', '.join(f'{k} {v}' for k, v in cpu['messages_per_offered_frame'].items())}). "
        f"Faces located {cpu['faces_per_s']}/s, encoded {cpu['encodings_per_s']}/s: "
        f"{cpu['encodings_per_face_sighting']} encodings per face sighting.",
    ]
    for kind, found in result.get("samples", {}).items():
        lines += ["", f"**{kind}** ({found['cores_sampled']} cores sampled): on CPU in"]
        lines += [f"- {share:.0%} {name}" for name, share in found["leaf"]]
        lines += ["  on the stack (the project's code): " + "; ".join(f"{n} {s:.0%}" for n, s in found["inclusive"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--detector", default="blazeface")
    parser.add_argument("--window-s", type=float, default=WINDOW_S)
    parser.add_argument("--top", type=int, default=10, help="functions listed per stage kind")
    parser.add_argument("--no-samples", action="store_true", help="the CPU window only, no py-spy")
    parser.add_argument("--idle", action="store_true", help="each camera a still scene with no face")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the running pipeline shuts down
    os.environ.setdefault("FACEGATE_WEBHOOKS", "off")
    os.chdir(REPO)
    out = profile(args.cameras, args.detector, args.window_s, samples=not args.no_samples, top=args.top, idle=args.idle)
    print(json.dumps(out, indent=2))
    print(markdown(out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
