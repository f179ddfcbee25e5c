"""Reading the per-frame traces (pipeline.emit.trace_line's format) and comparing two of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_trace(path: str | Path) -> list[dict[str, Any]]:
    """One dict per line: {"frame", "pts", "faces": [{"box", "name", "distance", "track"}], "lost"?}."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def frames_naming(trace: list[dict[str, Any]], name: str) -> int:
    """Frames in which at least one face carries `name`."""
    return sum(1 for line in trace if any(face["name"] == name for face in line["faces"]))


def faces_per_frame(trace: list[dict[str, Any]]) -> list[int]:
    return [len(line["faces"]) for line in trace]


def compare(loop: list[dict[str, Any]], replay: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """How the replay's trace stands against the loop's: frames covered, faces per frame, frames naming `name`."""
    frames = [line["frame"] for line in replay]
    loop_faces, replay_faces = faces_per_frame(loop), faces_per_frame(replay)
    return {
        "loop_frames": len(loop),
        "replay_frames": len(replay),
        "replay_every_frame_once": frames == list(range(len(loop))),
        "faces_per_frame_equal": loop_faces == replay_faces,
        "frames_faces_differ": sum(1 for a, b in zip(loop_faces, replay_faces, strict=False) if a != b),
        "frames_with_a_face": sum(1 for n in loop_faces if n),
        "named_frames": {"loop": frames_naming(loop, name), "replay": frames_naming(replay, name)},
    }
