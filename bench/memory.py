"""Memory per camera: what one more camera costs in RAM and in /dev/shm, at 640x360 and at 1920x1080.

Each camera is a capture process and a ring of frame slots in shared memory. The pipeline runs live
in this process (it is the supervisor) with 1 camera and then with `--cameras` cameras, each playing
the shared clip (640x360) or the clip resized to 1920x1080 (made with OpenCV in a temporary folder;
MPEG-4 part 2, which OpenCV writes everywhere). Once every camera is live and has run for a while,
every process of the run is read from /proc/<pid>/smaps_rollup (PSS: shared pages divided among
the processes that map them, so the sum over processes counts each page once) and the run's
segments from /dev/shm. The figures:

* capture: one capture process's own memory (PSS without its share of the ring), averaged;
* ring: the size of one camera's segment in /dev/shm (slots x width x height x 3 bytes);
* per camera: the growth of the whole run's PSS from 1 camera to N, divided by N - 1 (the ring's
  pages included, once), which is what to budget for one more camera.

`python -m bench.memory [--cameras 4] [--sizes 640x360,1920x1080] [--settle-s 15]`
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

import cv2
from setproctitle import setproctitle

from bench.fixtures import CLIP, faces_dir
from bench.live_cameras import live_cameras
from bench.videos import fps_of, frames_of, write

MB = 2**20
SIZES = ((640, 360), (1920, 1080))
ROLLUP_FIELDS = ("Pss", "Pss_Anon", "Pss_File", "Pss_Shmem")


def resized(source: Path, target: Path, width: int, height: int) -> Path:
    """`source` at width x height (the clip as a higher-resolution camera would send it)."""
    frames = (cv2.resize(f, (width, height), interpolation=cv2.INTER_LINEAR) for f in frames_of(source))
    return write(target, frames, fps_of(source))


def rollup(pid: int) -> dict[str, int]:
    """A process's PSS figures in bytes from /proc/<pid>/smaps_rollup (empty once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ROLLUP_FIELDS:
            found[key] = int(rest.split()[0]) * 1024
    return found


def descendants(root: int) -> list[int]:
    """Every process under `root` (the supervisor's forkserver and the stages it forked)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def segments(prefix: str) -> dict[str, int]:
    """This run's shared-memory segments and their sizes in bytes."""
    return {p.name: p.stat().st_size for p in Path("/dev/shm").glob(prefix + "*")}


def trial(data_dir: Path, video: Path, cameras: int, settle_s: float) -> dict[str, Any]:
    """Run `cameras` live copies of `video`; once all are live and settled, the run's memory."""
    from pipeline.transport.shm import run_prefix

    with live_cameras(data_dir, video, cameras, {}, ready_s=180.0) as pipeline:
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline:
            states = [s.state for s in pipeline.camera_status.values()]
            rings = [n for n in segments(run_prefix()) if "-cam" in n]
            if len(rings) == cameras and states.count("live") == cameras:
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"not every camera went live: {dict(pipeline.camera_status)}")
        time.sleep(settle_s)  # every slot of every ring written, decoders at their steady size
        kinds = {int(row.pid): row.kind for row in pipeline.stage_figures() if row.pid}
        processes = [
            {"pid": pid, "kind": kinds.get(pid, "supervisor" if pid == os.getpid() else "other"), **rollup(pid)}
            for pid in [os.getpid(), *descendants(os.getpid())]
        ]
        shm = segments(run_prefix())
    captures = [p for p in processes if p["kind"] == "capture"]
    rings = [size for name, size in shm.items() if "-cam" in name]
    return {
        "cameras": cameras,
        "total_pss_mb": round(sum(p.get("Pss", 0) for p in processes) / MB, 1),
        "capture_mb": round(sum(p.get("Pss", 0) - p.get("Pss_Shmem", 0) for p in captures) / len(captures) / MB, 1),
        "ring_mb": round(sum(rings) / len(rings) / MB, 1),
        "shm_mb": round(sum(shm.values()) / MB, 1),
        "by_kind_mb": {
            kind: round(sum(p.get("Pss", 0) for p in processes if p["kind"] == kind) / MB, 1)
            for kind in sorted({p["kind"] for p in processes})
        },
    }


def measure(sizes: tuple[tuple[int, int], ...] = SIZES, cameras: int = 4, settle_s: float = 15.0) -> dict[str, Any]:
    """Memory of 1 and of `cameras` cameras at each frame size; what one more camera costs."""
    from bench.fixtures import register_people
    from pipeline.transport.ring_allocator import ring_slots

    # this process is the supervisor: its title tells a supervisor starting meanwhile that its segments are live
    # (a start unlinks the segments of pids that are not facegate's)
    setproctitle("facegate: bench.memory")
    workers = os.cpu_count() or 1
    out: dict[str, Any] = {"detect_workers": workers, "cameras": cameras, "sizes": []}
    with tempfile.TemporaryDirectory(prefix="facegate-memory-") as tmp:
        work = Path(tmp)
        register_people(work / "data", faces_dir())
        for width, height in sizes:
            print(f"[memory] {width}x{height}", file=sys.stderr, flush=True)
            video = resized(faces_dir() / CLIP, work / f"clip-{width}x{height}.mp4", width, height)
            one, many = trial(work / "data", video, 1, settle_s), trial(work / "data", video, cameras, settle_s)
            per_camera = (many["total_pss_mb"] - one["total_pss_mb"]) / (cameras - 1)
            out["sizes"].append(
                {
                    "size": f"{width}x{height}",
                    "slots": ring_slots((height, width, 3), cameras, workers),
                    "capture_mb": many["capture_mb"],
                    "ring_mb": many["ring_mb"],
                    "per_camera_mb": round(per_camera, 1),
                    "base_mb": round(one["total_pss_mb"] - per_camera, 1),
                    "shm_other_mb": round(many["shm_mb"] - cameras * many["ring_mb"], 1),
                    "trials": [one, many],
                }
            )
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Memory per camera ({result['detect_workers']} detect workers; 1 and {result['cameras']} cameras):",
        "",
        "| frame size | capture process | ring in /dev/shm (slots) | one more camera, all told | "
        "the rest (supervisor, detect, match, emit) |",
        "|---|---|---|---|---|",
    ]
    for row in result["sizes"]:
        lines.append(
            f"| {row['size']} | {row['capture_mb']} MB | {row['ring_mb']} MB ({row['slots']}) | "
            f"{row['per_camera_mb']} MB | {row['base_mb']} MB |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=4, help="the second trial's camera count (at least 2)")
    parser.add_argument("--sizes", default=",".join(f"{w}x{h}" for w, h in SIZES), help="e.g. 640x360,1280x720")
    parser.add_argument("--settle-s", type=float, default=15.0, help="seconds the cameras run before reading")
    args = parser.parse_args(argv)
    if args.cameras < 2:
        parser.error("--cameras must be at least 2")
    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the running pipeline shuts down
    os.environ.setdefault("FACEGATE_WEBHOOKS", "off")
    sizes = tuple((int(w), int(h)) for w, h in (s.split("x") for s in args.sizes.split(",")))
    out = measure(sizes, args.cameras, args.settle_s)
    print(json.dumps(out, indent=2))
    print(markdown(out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
