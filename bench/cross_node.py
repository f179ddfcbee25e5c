"""`python -m bench.cross_node`: how fast the nodes of one PostgreSQL database react to each other.

* gallery: from a registration committed by one process to another process's LISTEN hearing it
  (the match stage reloads on its next turn, at most 0.1 s later; polling catches a lost one
  within 0.5 s);
* take-over: two real nodes (`supervisor.py`) split two cameras playing the clip; the one holding
  a camera is SIGKILLed, and the survivor's `/api/nodes` and `/api/status` are polled every 0.1 s:
  seconds until it holds the camera's lease, and until that camera is live on it.

Needs the PostgreSQL server binaries (as the tests). Prints markdown and writes
bench/results/cluster.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.fixtures import REPO
from facegate.db.listen import Listener
from facegate.store import Store

RESULTS = REPO / "bench" / "results"


def gallery_notify_ms(url: str, root: Path, rounds: int) -> list[float]:
    writer, reader = Store(root / "w", database_url=url), Store(root / "r", database_url=url)
    listener = Listener(reader.url, "facegate_gallery_version").start()
    try:
        deadline = time.monotonic() + 10
        while not listener.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        figures = []
        for i in range(rounds):
            listener.changed.clear()
            started = time.perf_counter()
            writer.gallery.register(f"Person {i}", [np.random.default_rng(i).normal(0, 0.1, 128)])
            if not listener.changed.wait(5.0):
                raise RuntimeError("no NOTIFY within 5 s")
            figures.append((time.perf_counter() - started) * 1000.0)
        return figures
    finally:
        listener.stop()
        writer.close()
        reader.close()


def take_over_s(url: str, root: Path, clip: Path) -> tuple[float, float]:
    """(seconds from SIGKILL to the survivor holding the camera, to the camera being live there)."""
    from tests.support.service_proc import ServiceProcess, poll_until

    nodes = {
        name: ServiceProcess(
            root / name, "--database-url", url, "--node-id", name, "--workers", "1", "--max-cameras", "2"
        )
        for name in ("node-a", "node-b")
    }
    try:
        for node in nodes.values():
            node.start(timeout=120)
        a, b = nodes["node-a"], nodes["node-b"]
        cameras = [{"id": "door", "stream_url": str(clip)}, {"id": "hall", "stream_url": str(clip)}]
        a.put("/api/config", json={"cameras": cameras}).raise_for_status()
        a.post("/api/start").raise_for_status()

        def states() -> dict[str, tuple[str, str]]:
            return {c["id"]: (c["state"], c["node"] or "") for c in b.get("/api/status").json()["cameras"]}

        if not poll_until(lambda: sorted(states().values()) == [("live", "node-a"), ("live", "node-b")], 120.0):
            raise RuntimeError(f"cameras did not split: {states()}")
        on_a = next(c for c, (_, n) in states().items() if n == "node-a")
        a.kill()
        killed = time.monotonic()

        def held() -> bool:
            return any(on_a in n["cameras"] for n in b.get("/api/nodes").json()["nodes"] if n["id"] == "node-b")

        if not poll_until(held, 60.0, 0.1):
            raise RuntimeError("the camera was not taken over")
        leased = time.monotonic() - killed
        if not poll_until(lambda: states()[on_a] == ("live", "node-b"), 60.0, 0.1):
            raise RuntimeError("the camera did not go live on the survivor")
        return leased, time.monotonic() - killed
    finally:
        for node in nodes.values():
            if node.proc is not None and node.proc.poll() is None:
                node.stop(timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cross_node", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="registrations timed (default 20)")
    parser.add_argument("--kills", type=int, default=2, help="take-overs timed (default 2)")
    args = parser.parse_args(argv)
    from tests.support.pgserver import PostgresServer
    from tests.support.testdata import data_dir

    clip = data_dir() / "short_hamilton_clip.mp4"
    with tempfile.TemporaryDirectory(prefix="facegate-bench-cluster-") as tmp, PostgresServer() as server:
        root = Path(tmp)
        print("[bench.cross_node] gallery NOTIFY", file=sys.stderr, flush=True)
        notify = gallery_notify_ms(server.create_database("bench"), root / "notify", args.rounds)
        kills = []
        for n in range(args.kills):
            print(f"[bench.cross_node] take-over {n + 1}/{args.kills}", file=sys.stderr, flush=True)
            kills.append(take_over_s(server.create_database("bench"), root / f"kill{n}", clip))
    report = {
        "notify_ms": {"p50": round(statistics.median(notify), 1), "max": round(max(notify), 1), "rounds": len(notify)},
        "take_over_s": [{"lease": round(lease, 1), "live": round(live, 1)} for lease, live in kills],
    }
    print("| what | figure |\n|---|---|")
    print(
        f"| registration on one node heard by another (NOTIFY) | p50 {report['notify_ms']['p50']} ms, "
        f"max {report['notify_ms']['max']} ms ({len(notify)} rounds) |"
    )
    for i, (lease, live) in enumerate(kills, 1):
        print(f"| take-over {i} after SIGKILL | lease {lease:.1f} s, camera live {live:.1f} s |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
