"""`python -m bench.camera_race`: many cameras added at once through several nodes of one PostgreSQL.

Two real nodes (`supervisor.py`) share a throwaway database; threads held at one barrier POST
`--cameras` cameras, half through each node, all at the same moment. It reports the answers
counted by status code (and their distinct error texts), how many cameras the cluster then lists,
how many of the ids that got a 2xx are missing (a lost write), and, a few ticks later, how many
are placed on a node and how many wait (`unassigned`). The streams are loopback URLs nothing
listens on and recognition stays stopped; only the bookkeeping is measured.

Needs the PostgreSQL server binaries (as the tests). Prints markdown and writes
bench/results/camera_race.json.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.fixtures import REPO

RESULTS = REPO / "bench" / "results"


def race(nodes: list[Any], count: int) -> list[tuple[str, int, str]]:
    """(camera id, status, error text) of `count` POSTs fired together, spread over the nodes."""
    barrier = threading.Barrier(count)
    answers: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def add(i: int) -> None:
        node, camera_id = nodes[i % len(nodes)], f"cam{i}"
        barrier.wait(timeout=60)
        reply = node.post("/api/cameras", json={"id": camera_id, "stream_url": f"rtsp://127.0.0.1:9/{camera_id}"})
        is_json = reply.headers.get("content-type", "").startswith("application/json")
        error = reply.json().get("error", "") if is_json else ""
        with lock:
            answers.append((camera_id, reply.status_code, error))

    threads = [threading.Thread(target=add, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def listed_ids(node: Any) -> set[str]:
    """Every camera id the cluster lists, through every page."""
    ids: set[str] = set()
    offset = 0
    while offset < 10_000:
        page = node.get("/api/cameras", params={"limit": 1000, "offset": offset}).json()
        ids |= {c["id"] for c in page["cameras"]}
        if "total" not in page or offset + 1000 >= page["total"]:
            return ids
        offset += 1000
    return ids


def placement(node: Any, settle_s: float = 20.0) -> collections.Counter:
    """Cameras per node (None: unassigned) once the placement stops changing (two equal reads 2 s apart)."""

    def read() -> collections.Counter:
        page = node.get("/api/cameras", params={"limit": 1000}).json()
        return collections.Counter(c.get("node") for c in page["cameras"])

    seen, deadline = read(), time.monotonic() + settle_s
    while time.monotonic() < deadline:
        time.sleep(2.0)
        now = read()
        if now == seen:
            break
        seen = now
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.camera_race", description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=48, help="cameras added at once (default 48)")
    parser.add_argument("--max-cameras", type=int, default=16, help="cameras each node runs (default 16)")
    args = parser.parse_args(argv)
    from tests.support.pgserver import PostgresServer
    from tests.support.service_proc import ServiceProcess

    with tempfile.TemporaryDirectory(prefix="facegate-bench-race-") as tmp, PostgresServer() as server:
        url = server.create_database("race")
        nodes = [
            ServiceProcess(
                Path(tmp) / name,
                "--database-url",
                url,
                "--node-id",
                name,
                "--workers",
                "1",
                "--max-cameras",
                str(args.max_cameras),
            )
            for name in ("node-a", "node-b")
        ]
        try:
            for node in nodes:
                node.start(timeout=120)
            answers = race(nodes, args.cameras)
            kept = listed_ids(nodes[0])
            placed = placement(nodes[1])
        finally:
            for node in nodes:
                if node.proc is not None and node.proc.poll() is None:
                    node.stop(timeout=60)
    by_status = collections.Counter(status for _, status, _ in answers)
    errors = collections.Counter(f"{status} {error}" for _, status, error in answers if status >= 400)
    lost = sorted(cid for cid, status, _ in answers if 200 <= status < 300 and cid not in kept)
    waiting = placed.pop(None, 0)
    report = {
        "cameras": args.cameras,
        "by_status": dict(sorted(by_status.items())),
        "errors": dict(errors),
        "listed": len(kept),
        "accepted_but_missing": lost,
        "placed": dict(sorted(placed.items())),
        "unassigned": waiting,
    }
    print("| what | figure |\n|---|---|")
    print(f"| POSTs answered, by status | {', '.join(f'{s}: {n}' for s, n in sorted(by_status.items()))} |")
    for text, n in errors.most_common():
        print(f"| {n} x | {text} |")
    print(f"| cameras listed afterwards | {len(kept)} of {args.cameras} |")
    print(f"| accepted (2xx) but missing | {len(lost)} {lost[:5]} |")
    per_node = ", ".join(f"{n}: {c}" for n, c in sorted(placed.items()))
    print(f"| placed on a node | {sum(placed.values())} ({per_node}) |")
    print(f"| unassigned (waiting for room) | {waiting} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "camera_race.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
