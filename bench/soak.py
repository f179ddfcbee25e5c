"""Soak: run the real service on the clip in a loop at its own pace, and watch memory and file descriptors.

`python -m bench.soak [--minutes 10]` (or `make soak`) starts `supervisor.py` on a temporary data dir
with Lin-Manuel Miranda and Alex Lacamoire registered, points it at the clip (a file in live mode
loops at 30 fps), samples every process of the run, and reports the growth between the first and
the last minutes. Not part of `make test`: it takes ten minutes by design.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench.fixtures import AUTH_HEADERS, CLIP, REPO, faces_dir, register_people, stop, supervisor_env

RESULTS = REPO / "bench" / "results"


def _children(root: int) -> list[int]:
    """`root` and every process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        kids = [pid for pid, ppid in parents.items() if ppid == parent]
        found += kids
        frontier += kids
    return found


def sample(root: int) -> dict[str, float]:
    """Summed resident memory (MB), open file descriptors and thread count over the run's processes."""
    rss_kb, fds, threads, processes = 0, 0, 0, 0
    for pid in _children(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
        processes += 1
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss_kb += int(line.split()[1])
            elif line.startswith("Threads:"):
                threads += int(line.split()[1])
    return {"rss_mb": round(rss_kb / 1024, 1), "fds": fds, "threads": threads, "processes": processes}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(minutes: float, every_s: float) -> dict[str, Any]:
    faces, env = faces_dir(), supervisor_env()
    with tempfile.TemporaryDirectory(prefix="facegate-soak-") as data:
        register_people(Path(data), faces)
        port = _free_port()
        log = open(Path(data) / "supervisor.log", "w")
        proc = subprocess.Popen(
            [
                sys.executable,
                "supervisor.py",
                "--data-dir",
                data,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--stream-url",
                str(faces / CLIP),
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        samples: list[dict[str, Any]] = []
        try:
            started = time.monotonic()
            end = started + minutes * 60
            while time.monotonic() < end and proc.poll() is None:
                time.sleep(every_s)
                point = sample(proc.pid)
                try:
                    status = requests.get(f"http://127.0.0.1:{port}/api/status", headers=AUTH_HEADERS, timeout=5).json()
                    point["fps"] = sum(c.get("fps", 0) for c in status.get("cameras", []))
                    point["total_results"] = status.get("total_results")
                except (requests.RequestException, ValueError):
                    point["fps"] = None
                point["t_s"] = round(time.monotonic() - started, 1)
                samples.append(point)
                print(json.dumps(point), flush=True)
        finally:
            stop(proc)
            log.close()
    return summarize(samples, minutes)


def summarize(samples: list[dict[str, Any]], minutes: float) -> dict[str, Any]:
    """Compare the second minute (after warm-up) with the last one."""
    if len(samples) < 4:
        return {"minutes": minutes, "samples": samples, "error": "too few samples"}
    warm = [s for s in samples if 60 <= s["t_s"] < 120] or samples[1:2]
    last = [s for s in samples if s["t_s"] >= samples[-1]["t_s"] - 60] or samples[-1:]

    def mean(points: list[dict[str, Any]], key: str) -> float:
        values = [p[key] for p in points if p.get(key) is not None]
        return round(sum(values) / len(values), 2) if values else 0.0

    report = {"minutes": minutes, "samples": len(samples)}
    for key in ("rss_mb", "fds", "threads", "processes", "fps"):
        report[key] = {
            "warm": mean(warm, key),
            "last": mean(last, key),
            "max": max((s[key] for s in samples if s.get(key) is not None), default=0),
        }
    report["rss_growth_pct"] = round(100 * (report["rss_mb"]["last"] / max(report["rss_mb"]["warm"], 1) - 1), 2)
    report["fd_growth"] = report["fds"]["last"] - report["fds"]["warm"]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=15.0, help="seconds between samples")
    args = parser.parse_args()
    report = run(args.minutes, args.every)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
