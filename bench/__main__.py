"""`python -m bench` (`make bench`): the old single loop and the pipeline on the same clip, in one run.

Registers Lin-Manuel Miranda and Alex Lacamoire into a temporary data dir, then runs, one after
another so they never share the cores: the old loop (bench/loop.py) and `supervisor.py replay`
unpaced (throughput, per-stage figures, memory), three times each, alternated; the replay paced at
the clip's 30 fps (latency), the frame-transport comparison (bench/transport.py), the
nearest-match timing (bench/nearest.py), how soon a killed stage is back (bench/restart.py), what a
slow webhook receiver costs (bench/slow_receiver.py), what a camera going down costs the others
(bench/camera_down.py) and the API flood against live recognition (bench/flood.py; `--parts flood`
runs just that).
Prints a markdown table and writes it to bench/results/TABLE.md, all figures to latest.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import (
    camera_down,
    capacity,
    encoder,
    flood,
    memory,
    nearest,
    ratio,
    report,
    restart,
    search,
    slow_receiver,
    startup,
    time_to_name,
    transport,
)
from bench.fixtures import CLIP, DOWNSCALE, LIN, MODEL, REPO, THRESHOLD, faces_dir, register_people
from bench.loop import known_faces, run_loop
from bench.replayrun import run_replay
from bench.traces import compare, read_trace

RESULTS = REPO / "bench" / "results"
RUNS = 3  # loop and replay each; the table shows the median and the spread


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def run(clip: Path, workers: int | None) -> dict[str, Any]:
    """Every measurement of the bench, on `clip`, as one dict (see bench/report.py for the tables)."""
    started = time.monotonic()
    meta: dict[str, Any] = {
        "clip": clip.name,
        "started_at": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "commit": _commit(),
        "load_before": _load(),
        "settings": {
            "downscale": DOWNSCALE,
            "model": MODEL,
            "threshold": THRESHOLD,
            "workers": workers or os.cpu_count(),
        },
    }
    with tempfile.TemporaryDirectory(prefix="facegate-bench-") as tmp:
        work = Path(tmp)
        _say("registering Lin-Manuel Miranda and Alex Lacamoire")
        register_people(work / "data", faces_dir())
        known, names = known_faces(work / "data")

        loops, replays = [], []
        for run_no in range(1, RUNS + 1):  # alternated, so that a change of load hits both sides alike
            _say(f"old single-process loop, run {run_no} of {RUNS}")
            loops.append(
                run_loop(
                    clip, known, names, threshold=THRESHOLD, downscale=DOWNSCALE, trace=work / f"loop{run_no}.jsonl"
                )
            )
            _say(f"supervisor.py replay, run {run_no} of {RUNS}")
            replays.append(run_replay(clip, work / "data", work / f"replay{run_no}.jsonl", workers=workers))
        loop, replay = loops[0], replays[0]
        loop["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        traces = compare(read_trace(work / "loop1.jsonl"), read_trace(work / "replay1.jsonl"), LIN)

        _say("supervisor.py replay --pace")
        paced = run_replay(clip, work / "data", work / "paced.jsonl", pace=True, workers=workers)

        _say("serving the clip: each stage killed once, time until it is back")
        restarts = restart.measure(clip, work / "data")

        _say("webhooks: a receiver that answers at once and one that answers late, three runs each")
        receivers = slow_receiver.measure(clip, work / "data", work)

        _say("two cameras: one goes down and comes back")
        cameras_down = camera_down.measure(clip, work / "data")
    meta["frames"] = loop["frames"]

    _say("frame transport: shared memory vs pickled")
    moved = transport.measure()
    _say("nearest match: 1k / 10k / 100k known, galleries from real encodings")
    matched = nearest.measure(faces_dir())

    meta["load_after"] = _load()
    meta["runtime_s"] = round(time.monotonic() - started, 1)
    results = {
        "meta": meta,
        "loop": loop,
        "replay": replay,
        "replay_paced": paced,
        "traces": traces,
        "transport": moved,
        "nearest": matched,
        "restarts": restarts,
        "slow_receiver": receivers,
        "camera_down": cameras_down,
        "runs": {"loop_fps": [r["fps"] for r in loops], "replay_fps": [r["fps"] for r in replays]},
    }
    results["targets"] = report.target_rows(results)
    results["stages"] = report.stage_rows(results)
    return results


@dataclass(frozen=True)
class Part:
    """A bench part after the pipeline one: its key in --parts and the results, what it says as it starts,
    its section title, and how it measures (given the clip) and reports."""

    key: str
    says: str
    title: str
    measure: Callable[[Path], Any]
    markdown: Callable[[Any], str]


PARTS = (
    Part(
        "encoder",
        "encoding a face: dlib-bin against the same network on numpy and on ONNX Runtime",
        "Encoding a face",
        lambda clip: encoder.measure(),
        encoder.markdown,
    ),
    Part(
        "time_to_name",
        "time to name per detect_fps",
        "Time to name vs cost",
        lambda clip: time_to_name.measure(),
        time_to_name.markdown,
    ),
    Part(
        "capacity",
        "capacity: cameras kept up with, per detector; idle cost",
        "Cameras per machine",
        lambda clip: capacity.measure(["blazeface", "hog"], budget_s=300.0),
        capacity.markdown,
    ),
    Part(
        "ratio",
        "replay vs loop, whole process, three runs each",
        "Replay vs loop",
        lambda clip: ratio.measure(),
        ratio.markdown,
    ),
    Part(
        "flood",
        f"flood: {flood.CLIENTS} parallel /api/recognize against a live camera",
        "API flood vs live recognition",
        lambda clip: flood.measure(clip, faces_dir()),
        flood.markdown,
    ),
    Part(
        "startup",
        "start-up: a stage's steps, the pipeline's start, a killed detect worker back",
        "Start-up",
        lambda clip: startup.measure(),
        startup.markdown,
    ),
    Part(
        "search",
        "search by photo over 100,000 stored sightings",
        "Search by photo",
        lambda clip: search.measure(),
        search.markdown,
    ),
    Part(
        "memory",
        "memory per camera: RAM and /dev/shm at 640x360 and 1920x1080",
        "Memory per camera",
        lambda clip: memory.measure(),
        memory.markdown,
    ),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, help=f"video to run (default: the test data's {CLIP})")
    parser.add_argument("--workers", type=int, help="detect workers for the replay (default: cores)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where latest.json and TABLE.md go")
    parser.add_argument(
        "--parts",
        default=",".join(["pipeline", *(part.key for part in PARTS)]),
        help="which parts to run (each also runs alone: python -m bench.capacity, ...)",
    )
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    clip = (args.clip or faces_dir() / CLIP).resolve()
    if not clip.is_file():
        print(f"error: {clip}: no such file", file=sys.stderr)
        return 2
    try:
        results = run(clip, args.workers) if "pipeline" in parts else {}
        table = report.markdown(results) if results else ""
        for part in PARTS:
            if part.key in parts:
                _say(part.says)
                results[part.key] = part.measure(clip)
                table += f"\n## {part.title}\n\n" + part.markdown(results[part.key])
    except (RuntimeError, subprocess.SubprocessError) as exc:  # a replay or register that failed: say so in a line
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.results / "TABLE.md").write_text(table)
    print(table, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
