"""Cameras as rows, end to end: adds that race through several nodes, placement as room allows, lists in pages.

Real `supervisor.py` processes on 127.0.0.1 against a fresh database on the session's throwaway
PostgreSQL server (or one SQLite file shared by two processes). Recognition stays stopped: a
camera is placed (its lease taken) whether or not it runs, so no capture process starts and the
cameras' streams are loopback URLs nothing listens on; only the bookkeeping is under test.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.camera_race import listed_ids, race
from tests.service.test_cluster import Cluster
from tests.support.service_proc import ServiceProcess, poll_until

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path, pg_url)
    yield made
    made.close()


def url(camera_id: str) -> str:
    return f"rtsp://127.0.0.1:9/{camera_id}"


def cameras_of(via: ServiceProcess, **filters: Any) -> dict[str, dict[str, Any]]:
    """Camera id -> the camera as node `via` lists it (every page)."""
    found: dict[str, dict[str, Any]] = {}
    for offset in range(0, 5000, 1000):
        page = via.get("/api/cameras", params={"limit": 1000, "offset": offset, **filters}).json()
        found.update((c["id"], c) for c in page["cameras"])
        if offset + 1000 >= page["total"]:
            break
    return found


def placement(node: ServiceProcess) -> collections.Counter:
    """How many cameras each node carries (None: unassigned), as `node` lists them."""
    return collections.Counter(c["node"] for c in cameras_of(node).values())


def held_once(cluster: Cluster) -> bool:
    """No camera under two live nodes, as each live node tells it."""
    for node in cluster.nodes.values():
        if node.proc is None or node.proc.poll() is not None:
            continue
        listed = [c for n in node.get("/api/nodes").json()["nodes"] if n["alive"] for c in n["cameras"]]
        if len(listed) != len(set(listed)):
            return False
    return True


SETTLE_S = 180.0  # a bound for a stuck placement, not a latency target (bench.camera_race measures that)


def settle(node: ServiceProcess, want: dict[Any, int]) -> bool:
    """Wait until `node` lists exactly that many cameras per node (None: unassigned)."""
    return bool(poll_until(lambda: placement(node) == collections.Counter(want), SETTLE_S, 0.5))


def test_48_cameras_at_once_through_two_nodes_are_all_kept_and_placed_as_room_allows(cluster: Cluster) -> None:
    a, b = cluster.start("node-a", max_cameras=16), cluster.start("node-b", max_cameras=16)
    answers = race([a, b], 48)
    assert collections.Counter(status for _, status, _ in answers) == {201: 48}, answers
    assert listed_ids(b) == {f"cam{i}" for i in range(48)}
    assert a.get("/api/cameras", params={"limit": 10}).json()["total"] == 48

    assert settle(a, {"node-a": 16, "node-b": 16, None: 16}), (placement(a), cluster.logs())
    assert held_once(cluster)
    waiting = cameras_of(b, state="unassigned")
    assert len(waiting) == 16 and {c["reason"] for c in waiting.values()} == {"every node is full: 2 nodes x 16"}
    assert all(c["node"] is None for c in waiting.values())
    status = b.get("/api/status").json()
    assert status["camera_states"] == {"stopped": 32, "unassigned": 16} and status["cameras_total"] == 48
    samples = {
        s.labels["state"]: s.value
        for f in text_string_to_metric_families(a.get("/metrics").text)
        if f.name == "facegate_cameras"
        for s in f.samples
    }
    assert samples["unassigned"] == 16 and samples["stopped"] == 32

    cluster.start("node-c", max_cameras=16)  # a third node: the waiting ones are placed on it
    assert settle(b, {"node-a": 16, "node-b": 16, "node-c": 16}), (placement(b), cluster.logs())
    assert held_once(cluster)

    gone = [f"cam{i}" for i in range(0, 48, 6)]  # 8 deletes through two nodes
    for i, camera_id in enumerate(gone):
        assert (a, b)[i % 2].delete(f"/api/cameras/{camera_id}").status_code == 200
    # all 40 placed (a camera may be between two nodes for a tick while the load evens out)
    assert poll_until(lambda: (lambda p: sum(p.values()) == 40 and p[None] == 0)(placement(b)), 30.0, 0.5)
    node_c = cluster.nodes["node-c"]
    a.kill()  # its cameras: to the others as room allows, the rest wait
    assert settle(node_c, {"node-b": 16, "node-c": 16, None: 8}), (placement(node_c), cluster.logs())
    assert held_once(cluster)
    waiting = cameras_of(node_c, state="unassigned")
    assert {c["reason"] for c in waiting.values()} == {"every node is full: 2 nodes x 16"}
    assert set(cameras_of(b, node="node-b")) | set(cameras_of(b, node="node-c")) | set(
        cameras_of(b, state="unassigned")
    ) == {f"cam{i}" for i in range(48)} - set(gone)


def race_changes(nodes: list[ServiceProcess], requests_: list[tuple[str, str, dict | None]]) -> list[int]:
    """Status codes of (method, path, body) requests fired together, spread over the nodes."""
    barrier = threading.Barrier(len(requests_))
    codes = [0] * len(requests_)

    def send(i: int) -> None:
        method, path, body = requests_[i]
        barrier.wait(timeout=60)
        codes[i] = nodes[i % len(nodes)].request(method, path, json=body).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests_))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return codes


def test_adds_updates_and_deletes_racing_on_sqlite_through_two_processes_lose_nothing(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    nodes = [
        ServiceProcess(shared, "--node-id", name, "--workers", "1", "--max-cameras", "4", port=None)
        for name in ("node-a", "node-b")
    ]
    for node in nodes:
        node.log_path = tmp_path / f"{node.args[1]}.log"
    try:
        for node in nodes:
            node.start(timeout=120)
        first = race_changes(
            nodes, [("POST", "/api/cameras", {"id": f"cam{i}", "stream_url": url(f"cam{i}")}) for i in range(30)]
        )
        assert first == [201] * 30
        # at once: new cameras, deletes, partial updates of two fields through two nodes, and updates of
        # cameras being deleted
        batch = [("POST", "/api/cameras", {"id": f"new{i}", "stream_url": url(f"new{i}")}) for i in range(10)]
        batch += [("DELETE", f"/api/cameras/cam{i}", None) for i in range(10)]
        batch += [("PUT", f"/api/cameras/cam{i}", {"name": f"Camera {i}"}) for i in range(10, 20)]
        batch += [("PUT", f"/api/cameras/cam{i}", {"detect_fps": 2.5}) for i in range(10, 20)]
        batch += [("PUT", f"/api/cameras/cam{i}", {"enabled": False}) for i in range(0, 5)]
        codes = race_changes(nodes, batch)
        assert codes[:40] == [201] * 10 + [200] * 10 + [200] * 20
        assert set(codes[40:]) <= {200, 404}  # an update of a deleted camera is a 404, never a revival
        for node in nodes:
            listed = cameras_of(node)
            assert set(listed) == {f"cam{i}" for i in range(10, 30)} | {f"new{i}" for i in range(10)}
            assert all(
                listed[f"cam{i}"]["name"] == f"Camera {i}" and listed[f"cam{i}"]["detect_fps"] == 2.5
                for i in range(10, 20)
            )
            assert all(listed[f"cam{i}"]["name"] is None for i in range(20, 30))
    finally:
        for node in nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.stop(timeout=60)


def test_200_cameras_list_in_pages_and_bad_input_is_refused(tmp_path: Path) -> None:
    node = ServiceProcess(tmp_path / "data", "--workers", "1", "--max-cameras", "16", "--node-id", "solo").start(120)
    try:
        many = [{"id": f"cam{i:03d}", "stream_url": url(f"cam{i:03d}")} for i in range(200)]
        assert node.put("/api/config", json={"cameras": many}).status_code == 200
        seen: list[str] = []
        for offset in range(0, 200, 64):
            page = node.get("/api/cameras", params={"limit": 64, "offset": offset}).json()
            assert page["total"] == 200 and len(page["cameras"]) == min(64, 200 - offset)
            seen += [c["id"] for c in page["cameras"]]
        assert seen == [c["id"] for c in many]  # each once, in the order they were added
        assert len(node.get("/api/cameras").json()["cameras"]) == 100  # the default page
        assert node.get("/api/cameras", params={"offset": 190}).json()["total"] == 200
        # one node of 16: the 17th and later are kept and wait
        assert settle(node, {"solo": 16, None: 184}), node.log()[-3000:]
        assert node.get("/api/cameras", params={"node": "solo", "limit": 5}).json()["total"] == 16
        waiting = node.get("/api/cameras", params={"state": "unassigned", "limit": 1000}).json()
        assert waiting["total"] == 184 and waiting["cameras"][0]["reason"] == "every node is full: 1 node x 16"
        status = node.get("/api/status").json()
        assert status["camera_states"] == {"stopped": 16, "unassigned": 184} and len(status["cameras"]) <= 20

        refused = node.post("/api/cameras", json={"id": "cam007", "stream_url": url("again")})
        assert refused.status_code == 409 and "cam007" in refused.json()["error"]
        unknown = node.post("/api/cameras", json={"id": "x1", "stream_url": url("x1"), "colour": 1, "zoom": 2})
        assert unknown.status_code == 400 and "colour" in unknown.json()["error"] and "zoom" in unknown.json()["error"]
        changed = node.put("/api/cameras/cam001", json={"colour": 1})
        assert changed.status_code == 400 and "colour" in changed.json()["error"]
        for query in ({"limit": 0}, {"limit": "abc"}, {"offset": -1}, {"limit": 1001}, {"state": "asleep"}):
            answer = node.get("/api/cameras", params=query)
            assert answer.status_code == 400 and answer.json()["error"], query
        assert node.get("/api/cameras", params={"limit": 1}).json()["total"] == 200
    finally:
        node.stop(timeout=60)
