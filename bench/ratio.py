"""The replay against the old loop, whole process each (start-up included), on the clip three times over.

Three runs each side, alternating so load drifts hit both; the median and the spread (min..max) of
the wall time of each, and the ratio of the medians. The replay runs at the default detect_fps
(the point of it) and, for reference, with every frame detected (`--detect-fps 0`, as the loop).

`python -m bench.ratio [--runs 3]`
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.fixtures import CLIP, DOWNSCALE, REPO, THRESHOLD, faces_dir, register_people, supervisor_env
from bench.replayrun import replay_command
from bench.videos import repeated

TIMEOUT_S = 900.0


def timed(command: list[str]) -> float:
    started = time.monotonic()
    done = subprocess.run(command, cwd=REPO, env=supervisor_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed: {done.stderr[-800:]}")
    return time.monotonic() - started


def loop_command(video: Path, data_dir: Path) -> list[str]:
    code = (
        "import sys; from bench.loop import known_faces, run_loop; k, n = known_faces(sys.argv[2]); "
        f"run_loop(sys.argv[1], k, n, threshold={THRESHOLD}, downscale={DOWNSCALE})"
    )
    return [sys.executable, "-c", code, str(video), str(data_dir)]


def spread(values: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(values), 2),
        "min_s": round(min(values), 2),
        "max_s": round(max(values), 2),
    }


def measure(runs: int = 3) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="facegate-ratio-") as tmp:
        work = Path(tmp)
        register_people(work / "data", faces_dir())
        video = repeated(faces_dir() / CLIP, work / "clip3x.mp4")
        walls: dict[str, list[float]] = {"loop": [], "replay": [], "replay_every_frame": []}
        for run in range(runs):
            print(f"[ratio] run {run + 1} of {runs}", file=sys.stderr, flush=True)
            walls["loop"].append(timed(loop_command(video, work / "data")))
            walls["replay"].append(
                timed(replay_command(video, work / "data", work / "r.jsonl", pace=False, workers=None, detect_fps=None))
            )
            walls["replay_every_frame"].append(
                timed(replay_command(video, work / "data", work / "e.jsonl", pace=False, workers=None, detect_fps=0.0))
            )
    result: dict[str, Any] = {name: spread(values) for name, values in walls.items()}
    loop = result["loop"]["median_s"]
    result["ratio"] = round(loop / result["replay"]["median_s"], 2)
    result["ratio_every_frame"] = round(loop / result["replay_every_frame"]["median_s"], 2)
    return result


def markdown(result: dict[str, Any]) -> str:
    rows = [
        ("old loop", result["loop"]),
        ("replay, default detect_fps", result["replay"]),
        ("replay, every frame detected", result["replay_every_frame"]),
    ]
    lines = ["| run (the clip 3x, whole process) | median s | min..max s |", "|---|---|---|"]
    lines += [f"| {name} | {r['median_s']} | {r['min_s']}..{r['max_s']} |" for name, r in rows]
    lines.append(
        f"\nReplay vs loop: {result['ratio']}x at the default detect_fps, "
        f"{result['ratio_every_frame']}x detecting every frame"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ratio", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    result = measure(args.runs)
    print(json.dumps(result, indent=2))
    print(markdown(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
