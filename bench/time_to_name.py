"""Time to name vs cost, per detect_fps: the measurement the default detect_fps was chosen from.

A video of several entrances is made from the clip: an empty scene (no face) for 1.5 s, long enough
for match to forget the last track, then 2 s of the clip from a different point each time. Each
entrance is a person appearing. The replay decides in stream time, so the time from an entrance's
first frame to the first frame naming Lin-Manuel Miranda is exact in stream time; a paced replay
at the chosen rate adds the pipeline's own delay (capture to match, p50/p95). The cost is the CPU
of every stage per second of video, on this busy scene (a face in view all the time). HOG looks at
the frames as it does by default (their grey); the other benches that replay (bench/replayrun.py) use
the old loop's colour, to compare like with like.

`python -m bench.time_to_name [--rates 1,2,3,5,10,0]`
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.fixtures import CLIP, LIN, faces_dir, register_people
from bench.replayrun import run_replay
from bench.traces import read_trace
from bench.videos import empty_scene, fps_of, frames_of, write

ENTRANCES = 10
EMPTY_S = 1.5
VISIBLE_S = 2.0
DEFAULT_RATES = (0.0, 1.0, 2.0, 3.0, 5.0, 10.0)  # 0 (every frame) first: it says when each person is in


def entrances_video(clip: Path, target: Path) -> tuple[list[int], float]:
    """Write the entrances video; returns the first frame of each entrance and the fps."""
    frames, fps = list(frames_of(clip)), fps_of(clip)
    height, width = frames[0].shape[:2]
    empty, visible = round(EMPTY_S * fps), round(VISIBLE_S * fps)
    step = max(1, (len(frames) - visible) // ENTRANCES)
    starts = [entrance * (empty + visible) + empty for entrance in range(ENTRANCES)]
    scene = empty_scene(height, width)
    write(
        target,
        (
            frame
            for entrance in range(ENTRANCES)
            for frame in [scene] * empty + frames[entrance * step : entrance * step + visible]
        ),
        fps,
    )
    return starts, fps


def first_faces(every_frame: list[dict[str, Any]], starts: list[int], fps: float) -> list[int]:
    """Per entrance, the first frame a face is found in when every frame is detected: when the person is in."""
    visible = round(VISIBLE_S * fps)
    return [
        next((line["frame"] for line in every_frame[start : start + visible] if line["faces"]), start)
        for start in starts
    ]


def delays_ms(trace: list[dict[str, Any]], ins: list[int], fps: float) -> list[float | None]:
    """Per entrance: stream ms from the first frame the person is in to the first frame naming Lin (None: never)."""
    out: list[float | None] = []
    for first in ins:
        end = next((line["frame"] for line in trace[first:] if not line["faces"] and line["detected"]), len(trace))
        named = next(
            (line for line in trace[first : max(end, first + 1)] if any(face["name"] == LIN for face in line["faces"])),
            None,
        )
        out.append(None if named is None else round((named["pts"] - trace[first]["pts"]) * 1000.0, 1))
    return out


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def measure(rates: tuple[float, ...] = DEFAULT_RATES, default_rate: float = 5.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="facegate-ttn-") as tmp:
        work = Path(tmp)
        register_people(work / "data", faces_dir())
        video = work / "entrances.mp4"
        starts, fps = entrances_video(faces_dir() / CLIP, video)
        seconds = (starts[-1] + round(VISIBLE_S * fps)) / fps
        rows, ins = [], starts
        for rate in sorted(rates, key=lambda r: r != 0.0):
            report = run_replay(video, work / "data", work / f"ttn-{rate:g}.jsonl", detect_fps=rate, hog_input=None)
            trace = read_trace(work / f"ttn-{rate:g}.jsonl")
            if rate == 0.0:
                ins = first_faces(trace, starts, fps)
            delays = delays_ms(trace, ins, fps)
            found = [d for d in delays if d is not None]
            cpu = sum(stage.get("cpu_s", 0.0) - stage.get("cpu_ready_s", 0.0) for stage in report["stages"].values())
            rows.append(
                {
                    "detect_fps": rate,
                    "detected_share": round(report["detected"] / report["frames"], 3),
                    "named": f"{len(found)}/{len(delays)}",
                    "stream_ms_p50": percentile(found, 50),
                    "stream_ms_p95": percentile(found, 95),
                    "cores_per_camera": round(cpu / seconds, 3),
                }
            )
        paced = run_replay(
            video, work / "data", work / "ttn-paced.jsonl", pace=True, detect_fps=default_rate, hog_input=None
        )
        delays = [d for d in delays_ms(read_trace(work / "ttn-paced.jsonl"), ins, fps) if d is not None]
        latency = paced["latency_ms"]
        return {
            "entrances": len(starts),
            "video_s": round(seconds, 1),
            "rates": rows,
            "default": {
                "detect_fps": default_rate,
                "stream_ms_p50": percentile(delays, 50),
                "stream_ms_p95": percentile(delays, 95),
                "latency_ms": latency,
                "time_to_name_ms_p50": round((percentile(delays, 50) or 0.0) + latency["p50"], 1),
                "time_to_name_ms_p95": round((percentile(delays, 95) or 0.0) + latency["p95"], 1),
            },
        }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| detect_fps | frames detected | entrances named | stream ms to name p50 / p95 | cores per camera |",
        "|---|---|---|---|---|",
    ]
    for row in result["rates"]:
        rate = "every frame" if row["detect_fps"] == 0 else f"{row['detect_fps']:g}"
        lines.append(
            f"| {rate} | {row['detected_share']:.0%} | {row['named']} | "
            f"{row['stream_ms_p50']} / {row['stream_ms_p95']} | {row['cores_per_camera']} |"
        )
    d = result["default"]
    lines.append(
        f"\nTime to name at detect_fps {d['detect_fps']:g}, paced (stream delay + capture->match latency): "
        f"p50 {d['time_to_name_ms_p50']} ms, p95 {d['time_to_name_ms_p95']} ms"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.time_to_name", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates",
        default=",".join(f"{r:g}" for r in DEFAULT_RATES),
        help="detect_fps values to compare, 0 = every frame",
    )
    parser.add_argument("--default", type=float, default=5.0, help="the rate measured paced, for time to name")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(tuple(float(r) for r in args.rates.split(",")), args.default)
    print(json.dumps(result, indent=2) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
